import Foundation
import TestSupport
import Testing

/// Starts one private `docker-registry` on 127.0.0.1 for the suite and always stops it (by pid) afterwards.
struct RegistryScope: SuiteTrait, TestScoping {
    @TaskLocal static var registry: RegistryDaemon?

    var isRecursive: Bool { false }

    func provideScope(for test: Test, testCase: Test.Case?, performing function: @Sendable () async throws -> Void)
        async throws
    {
        let dir = try TemporaryDirectory(prefix: "lamina-registry")
        defer { dir.remove() }
        let registry = try RegistryDaemon.start(in: dir.path)
        defer {
            if !registry.stop() {
                Issue.record("docker-registry did not stop on SIGTERM; killed:\n\(registry.process.logTail())")
            }
        }
        try await Self.$registry.withValue(registry) { try await function() }
    }
}

extension EndToEnd {
    /// `lamina image publish` / `image push` against a real registry (distribution 2.8), checked with skopeo.
    @Suite(
        .serialized,
        .enabled(if: RegistryDaemon.isAvailable, "\(RegistryDaemon.unavailableReason)"),
        .enabled(if: have("skopeo"), "skopeo not installed (apt-get install skopeo)"),
        RegistryScope())
    struct RegistryPublish {
        var registry: RegistryDaemon { get throws { try #require(RegistryScope.registry) } }

        /// Runs lamina with the fixture's build environment and decodes its `--json` output.
        func laminaJSON(_ arguments: [String], _ what: String) throws -> [String: Any] {
            let r = try check(
                try CommandRunner.lamina(arguments + ["--json"], environment: ["SOURCE_DATE_EPOCH": fixtureEpoch]), what)
            return try #require(try json(r.stdout) as? [String: Any], "not JSON: \(r.stdout)")
        }

        /// `skopeo inspect [--raw]` of an image in the test registry.
        func skopeoInspect(_ reference: String, raw: Bool = false) throws -> String {
            try check(
                try runTool("skopeo", ["inspect", "--tls-verify=false"] + (raw ? ["--raw"] : []) + ["docker://" + reference]),
                "skopeo inspect \(reference)"
            ).stdout
        }

        @Test func publishSingleArchThenRepublishUploadsNothing() throws {
            let images = try sharedImages()
            let registry = try registry
            let work = images.fixture.work
            let reference = "\(registry.address)/lamina-e2e/hello:1.0"
            let publish = [
                "image", "publish", "\(work)/single/apko.yaml", reference, "--cache-dir", "\(work)/cache-a", "--offline",
            ]
            let first = try laminaJSON(publish, "lamina image publish")
            let digest = try #require(first["digest"] as? String)
            #expect(first["reference"] as? String == "\(registry.address)/lamina-e2e/hello@\(digest)")
            #expect(first["blobsUploaded"] as? Int == 2)
            #expect(first["blobsSkipped"] as? Int == 0)

            // The same image `image build` wrote into the tarball (same inputs, same date, same cache).
            let index = try #require(try json(readMember(images.single, "index.json")) as? [String: Any])
            let built = try #require((index["manifests"] as? [[String: Any]])?.first?["digest"] as? String)
            #expect(digest == built)

            // skopeo sees our digest and one layer.
            let info = try #require(try json(skopeoInspect(reference)) as? [String: Any])
            #expect(info["Digest"] as? String == digest)
            #expect((info["Layers"] as? [String])?.count == 1)
            #expect(info["Architecture"] as? String == "amd64")

            // Copied back to an OCI layout, the manifest bytes are ours.
            let copy = "\(work)/registry-copy"
            try check(
                try runTool("skopeo", ["copy", "--src-tls-verify=false", "docker://" + reference, "oci:\(copy):copied"]),
                "skopeo copy")
            let copiedIndex = try #require(try json(file: copy + "/index.json") as? [String: Any])
            let copied = try #require((copiedIndex["manifests"] as? [[String: Any]])?.first?["digest"] as? String)
            #expect(copied == digest)
            let hex = String(digest.dropFirst("sha256:".count))
            let copiedBytes = try Data(contentsOf: URL(fileURLWithPath: "\(copy)/blobs/sha256/\(hex)"))
            #expect(String(decoding: copiedBytes, as: UTF8.self) == (try readMember(images.single, "blobs/sha256/\(hex)")))

            // A second publish finds every blob already there (HEAD hits) and uploads nothing.
            let second = try laminaJSON(publish, "lamina image publish (again)")
            #expect(second["digest"] as? String == digest)
            #expect(second["blobsUploaded"] as? Int == 0)
            #expect(second["blobsSkipped"] as? Int == 2)
            #expect(second["bytesUploaded"] as? Int == 0)

            // Plain stdout without --json: exactly the digest reference.
            let plain = try check(
                try CommandRunner.lamina(publish, environment: ["SOURCE_DATE_EPOCH": fixtureEpoch]), "lamina image publish")
            #expect(plain.stdout == "\(registry.address)/lamina-e2e/hello@\(digest)\n")
        }

        @Test func pushMultiArchTarballPushesTheBuiltIndex() throws {
            let images = try sharedImages()
            let registry = try registry
            let reference = "\(registry.address)/lamina-e2e/multi:2.0"
            let result = try laminaJSON(["image", "push", images.multi, reference], "lamina image push")
            let digest = try #require(result["digest"] as? String)
            #expect(result["manifestsPushed"] as? Int == 4)
            let raw = try skopeoInspect(reference, raw: true)
            let index = try #require(try json(raw) as? [String: Any])
            #expect(index["mediaType"] as? String == "application/vnd.oci.image.index.v1+json")
            let platforms = (index["manifests"] as? [[String: Any]] ?? []).compactMap {
                ($0["platform"] as? [String: Any])?["architecture"] as? String
            }
            #expect(platforms == ["amd64", "arm", "arm64"])  // sorted by OCI name: amd64 < arm/v7 < arm64
            // The registry holds the very index blob `image build` stored in the tarball.
            let hex = String(digest.dropFirst("sha256:".count))
            #expect(raw == (try readMember(images.multi, "blobs/sha256/\(hex)")))
            // Each architecture is reachable through it.
            let arm = try #require(try json(
                try check(
                    try runTool("skopeo", ["inspect", "--tls-verify=false", "--override-arch", "arm64", "docker://" + reference]),
                    "skopeo inspect arm64"
                ).stdout) as? [String: Any])
            #expect(arm["Architecture"] as? String == "arm64")
        }

        @Test func pushLayoutDirectoryInChunksGivesTheSameDigestAsTheTarball() throws {
            let images = try sharedImages()
            let registry = try registry
            // Uploaded in 256 KiB PATCH chunks: the registry must reassemble the layer to the same digest.
            let fromLayout = try laminaJSON(
                ["image", "push", images.layout, "\(registry.address)/lamina-e2e/layout:1.0", "--chunk-size", "262144"],
                "lamina image push layout")
            #expect(fromLayout["blobsUploaded"] as? Int == 2)
            let index = try #require(try json(readMember(images.single, "index.json")) as? [String: Any])
            let built = try #require((index["manifests"] as? [[String: Any]])?.first?["digest"] as? String)
            #expect(fromLayout["digest"] as? String == built)
            let info = try #require(try json(skopeoInspect("\(registry.address)/lamina-e2e/layout:1.0")) as? [String: Any])
            #expect(info["Digest"] as? String == built)
        }

        /// `apko publish CONFIG TAG TAG`: one build, every tag pointing at the same image.
        @Test func apkoPublishToSeveralTags() throws {
            let images = try sharedImages()
            let registry = try registry
            let work = images.fixture.work
            let first = "\(registry.address)/lamina-e2e/apko:1.0", second = "\(registry.address)/lamina-e2e/apko:latest"
            let r = try check(
                try CommandRunner.lamina(
                    ["apko", "publish", "\(work)/single/apko.yaml", first, second, "--cache-dir", "\(work)/cache-a", "--offline"],
                    environment: ["SOURCE_DATE_EPOCH": fixtureEpoch]),
                "apko publish")
            let pinned = r.stdout.split(separator: "\n").map(String.init)
            #expect(pinned.count == 2 && pinned[0] == pinned[1] && pinned[0].contains("@sha256:"), "\(r.stdout)")
            for reference in [first, second] {
                let info = try #require(try json(skopeoInspect(reference)) as? [String: Any])
                #expect(pinned.first?.hasSuffix(info["Digest"] as? String ?? "?") == true, "\(reference)")
            }
            // As apko does, the SBOM is attached: sha256-<hex>.sbom holds one text/spdx+json layer, the image's SPDX
            // document (read back by skopeo, not by Lamina).
            let digest = try #require(pinned.first?.split(separator: "@").last.map(String.init))
            let attachment = "\(registry.address)/lamina-e2e/apko:" + digest.replacingOccurrences(of: ":", with: "-") + ".sbom"
            let manifest = try #require(try json(skopeoInspect(attachment, raw: true)) as? [String: Any])
            let layers = try #require(manifest["layers"] as? [[String: Any]])
            #expect(layers.count == 1 && layers.first?["mediaType"] as? String == "text/spdx+json", "\(layers)")
            let copy = work + "/sbom-attachment"
            try? FileManager.default.removeItem(atPath: copy)
            try check(try runTool("skopeo", ["copy", "--src-tls-verify=false", "docker://" + attachment, "dir:" + copy]), "skopeo copy")
            let layerDigest = try #require(layers.first?["digest"] as? String)
            let spdx = try #require(try json(file: copy + "/" + layerDigest.dropFirst(7)) as? [String: Any])
            #expect(spdx["spdxVersion"] as? String == "SPDX-2.3")
            #expect(try String(contentsOfFile: copy + "/" + layerDigest.dropFirst(7), encoding: .utf8).contains(digest.dropFirst(7)))
        }
    }
}
