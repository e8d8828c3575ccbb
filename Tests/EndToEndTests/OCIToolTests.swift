import Foundation
import TestSupport
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// Runs an installed tool found on PATH or in /usr/sbin, /sbin (runc lives in /usr/sbin).
func runTool(_ name: String, _ arguments: [String]) throws -> CommandResult {
    try CommandRunner.run(CommandRunner.which(name) ?? name, arguments)
}

/// Unpacks `image` (an OCI layout `DIR:REF`) with umoci and runs it with runc; returns stdout.
func unpackAndRun(image: String, in dir: String, name: String) throws -> String {
    let bundle = "\(dir)/bundle-\(name)"
    try check(
        try runTool("umoci", ["unpack", "--image", image, bundle]), "umoci unpack \(image)")
    defer { MountCleanup.unmountAll(under: bundle) }

    // A non-interactive process, and a fresh (empty) network namespace: no path means no sharing with the host.
    let configURL = URL(fileURLWithPath: bundle + "/config.json")
    var config = try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: configURL)) as? [String: Any])
    var process = try #require(config["process"] as? [String: Any])
    process["terminal"] = false
    config["process"] = process
    var linux = try #require(config["linux"] as? [String: Any])
    var namespaces = (linux["namespaces"] as? [[String: Any]]) ?? []
    namespaces.removeAll { $0["type"] as? String == "network" }
    namespaces.append(["type": "network"])
    linux["namespaces"] = namespaces
    config["linux"] = linux
    try JSONSerialization.data(withJSONObject: config, options: [.sortedKeys]).write(to: configURL)

    let state = "\(dir)/runc-state"
    let id = "lamina-e2e-\(name)-\(getpid())"
    defer { _ = try? runTool("runc", ["--root", state, "delete", "--force", id]) }
    let run = try check(
        try runTool("runc", ["--root", state, "run", "--bundle", bundle, id]),
        "runc run \(name)")
    return run.stdout
}

extension EndToEnd {
    @Suite(.enabled(if: have("skopeo"), "skopeo not installed (apt-get install skopeo)"))
    struct Skopeo {
        @Test func inspectSingleArch() throws {
            let images = try sharedImages()
            let r = try check(
                try runTool("skopeo", ["inspect", "oci-archive:" + images.single]),
                "skopeo inspect")
            let info = try #require(try json(r.stdout) as? [String: Any])
            let layers = try #require(info["Layers"] as? [String])
            #expect(layers.count == 1)
            let manifest = try #require(try json(readMember(images.single, "manifest.json")) as? [[String: Any]])
            #expect(
                layers.first.map { "blobs/sha256/" + $0.dropFirst(7) }
                    == (manifest.first?["Layers"] as? [String])?.first)
            #expect(info["Architecture"] as? String == "amd64")
            #expect((info["Env"] as? [String])?.contains("FOO=bar") == true)

            let config = try check(
                try runTool("skopeo", ["inspect", "--config", "oci-archive:" + images.single]),
                "skopeo inspect --config")
            let image = try #require(try json(config.stdout) as? [String: Any])
            let settings = try #require(image["config"] as? [String: Any])
            #expect(settings["Entrypoint"] as? [String] == ["/usr/bin/hello"])
            #expect(settings["User"] as? String == "65532")
            #expect(settings["WorkingDir"] as? String == "/home/nonroot")
        }

        @Test func inspectMultiArchByRefName() throws {
            let images = try sharedImages()
            for (ref, arch, variant) in [
                ("2.0", "amd64", nil), ("2.0-amd64", "amd64", nil), ("2.0-arm64", "arm64", nil),
                ("2.0-arm_v7", "arm", "v7"),
            ] {
                let r = try check(
                    try runTool("skopeo", ["inspect", "oci-archive:\(images.multi):\(ref)"]),
                    "skopeo inspect \(ref)")
                let info = try #require(try json(r.stdout) as? [String: Any])
                #expect(info["Architecture"] as? String == arch, "\(ref)")
                // skopeo 1.9 leaves Variant out of its summary: read the config.
                let config = try check(
                    try runTool("skopeo", ["inspect", "--config", "oci-archive:\(images.multi):\(ref)"]),
                    "skopeo inspect --config \(ref)")
                let image = try #require(try json(config.stdout) as? [String: Any])
                #expect(image["architecture"] as? String == arch, "\(ref)")
                #expect(image["variant"] as? String == variant, "\(ref)")
                #expect((info["Layers"] as? [String])?.count == 1)
            }
        }

        /// `TAG` names the image index: `skopeo copy --all` takes every architecture, and docker's manifest.json
        /// still tags each image.
        @Test func copyAllCopiesEveryArchitecture() throws {
            let images = try sharedImages()
            try TemporaryDirectory.withSync { dir in
                let layout = dir.path + "/all"
                try check(
                    try runTool("skopeo", ["copy", "--all", "oci-archive:\(images.multi):2.0", "oci:\(layout):copied"]),
                    "skopeo copy --all")
                let index = try #require(try json(file: layout + "/index.json") as? [String: Any])
                let top = try #require((index["manifests"] as? [[String: Any]])?.first)
                #expect(top["mediaType"] as? String == "application/vnd.oci.image.index.v1+json")
                let digest = try #require(top["digest"] as? String)
                let inner = try #require(
                    try json(file: layout + "/blobs/sha256/" + digest.dropFirst("sha256:".count)) as? [String: Any])
                let platforms = ((inner["manifests"] as? [[String: Any]]) ?? []).compactMap { $0["platform"] as? [String: Any] }
                    .map { ($0["architecture"] as? String ?? "") + (($0["variant"] as? String).map { "/" + $0 } ?? "") }
                #expect(platforms == ["amd64", "arm/v7", "arm64"])
                for platform in ["amd64", "arm64"] {
                    let blob = try #require(
                        ((inner["manifests"] as? [[String: Any]]) ?? []).first { ($0["platform"] as? [String: Any])?["architecture"] as? String == platform }?["digest"] as? String)
                    #expect(FileManager.default.fileExists(atPath: layout + "/blobs/sha256/" + blob.dropFirst("sha256:".count)), "\(platform)")
                }
            }
            let docker = try #require(try json(readMember(images.multi, "manifest.json")) as? [[String: Any]])
            let tags = docker.flatMap { ($0["RepoTags"] as? [String]) ?? [] }
            #expect(Set(tags).isSuperset(of: ["lamina-e2e/multi:2.0-amd64", "lamina-e2e/multi:2.0-arm64", "lamina-e2e/multi:2.0-arm_v7"]), "\(tags)")
        }

        @Test(.enabled(if: have("umoci") && have("runc") && getuid() == 0, "needs umoci, runc and root"))
        func copyThenUnpackAndRun() throws {
            let images = try sharedImages()
            try TemporaryDirectory.withSync { dir in
                let layout = dir.path + "/copied"
                try check(
                    try runTool("skopeo", ["copy", "oci-archive:" + images.single, "oci:\(layout):hello"]),
                    "skopeo copy")
                #expect(FileManager.default.fileExists(atPath: layout + "/index.json"))
                let out = try unpackAndRun(image: layout + ":hello", in: dir.path, name: "copied")
                #expect(out == "Hello from Lamina\n")
            }
        }
    }

    @Suite(
        .enabled(
            if: have("umoci") && have("runc") && getuid() == 0,
            "needs umoci, runc (apt-get install umoci runc) and root"))
    struct UmociRunc {
        /// The `--format oci-layout` folder, as written.
        @Test func layoutFolderRuns() throws {
            let images = try sharedImages()
            try TemporaryDirectory.withSync { dir in
                let out = try unpackAndRun(image: images.layout + ":1.0", in: dir.path, name: "layout")
                #expect(out == "Hello from Lamina\n")
                // umoci applied our config: user, working directory, environment.
                let config = try #require(
                    try JSONSerialization.jsonObject(
                        with: Data(contentsOf: URL(fileURLWithPath: dir.path + "/bundle-layout/config.json")))
                        as? [String: Any])
                let process = try #require(config["process"] as? [String: Any])
                #expect((process["user"] as? [String: Any])?["uid"] as? Int == 65532)
                #expect(process["cwd"] as? String == "/home/nonroot")
                #expect((process["env"] as? [String])?.contains("FOO=bar") == true)
                #expect(process["args"] as? [String] == ["/usr/bin/hello", "--greeting", "two words"])
            }
        }

        /// The tarball, extracted: it is itself a complete layout.
        @Test func extractedTarballRuns() throws {
            let images = try sharedImages()
            try TemporaryDirectory.withSync { dir in
                let layout = dir.path + "/extracted"
                try FileManager.default.createDirectory(atPath: layout, withIntermediateDirectories: true)
                try check(try CommandRunner.run("/bin/tar", ["-xf", images.multi, "-C", layout]), "tar -x")
                // `2.0` names the image index (umoci unpacks one manifest): run the host's own tag.
                #if arch(arm64)
                    let hostTag = "2.0-arm64"
                #else
                    let hostTag = "2.0-amd64"
                #endif
                let out = try unpackAndRun(image: layout + ":" + hostTag, in: dir.path, name: "extracted")
                #expect(out == "Hello from Lamina\n")
            }
        }
    }
}
