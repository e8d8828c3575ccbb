import Foundation
import LaminaCore
import OCI
import TestSupport
import Testing

/// Records what a sink receives, as a tar writer would see it.
struct RecordingSink: LayoutSink {
    var calls: [String] = []
    mutating func makeDirectory(path: String) throws { calls.append("dir \(path)") }
    mutating func write(path: String, bytes: [UInt8]) throws { calls.append("bytes \(path) \(bytes.count)") }
    mutating func writeFile(path: String, from sourcePath: String, size: Int64) throws {
        calls.append("file \(path) \(size)")
    }
}

@Suite(.enabled(if: SharedTestData.isAvailable, "needs ../shared/testdata"))
struct ImageLayoutTests {
    static let golden = SharedTestData.path("chainguard-dev+apko/internal/cli/testdata/golden")

    /// The golden per-arch images, with layers read from their files in place.
    static func goldenImages() throws -> [LayoutImage] {
        let index = try decodeJSON(
            Index.self, from: Array(try Data(contentsOf: URL(fileURLWithPath: golden + "/index.json"))), what: "index")
        return try index.manifests.map { entry in
            func read(_ digest: Digest) throws -> [UInt8] {
                Array(try Data(contentsOf: URL(fileURLWithPath: golden + "/" + ImageLayout.blobPath(digest))))
            }
            let manifestBytes = try read(entry.digest)
            let manifest = try decodeJSON(Manifest.self, from: manifestBytes, what: "manifest")
            let arch = try #require(entry.platform?.laminaArchitecture)
            return LayoutImage(
                architecture: arch,
                manifest: Blob(bytes: manifestBytes, mediaType: .ociManifest, artifactType: .ociConfig),
                config: Blob(bytes: try read(manifest.config.digest), mediaType: .ociConfig),
                layers: manifest.layers.map {
                    LayoutBlob(descriptor: $0, file: golden + "/" + ImageLayout.blobPath($0.digest))
                })
        }
    }

    /// Writes the plan to a fresh directory and checks every blob against its name.
    static func writeAndVerify(_ layout: ImageLayout) throws -> (TemporaryDirectory, [String]) {
        let dir = try TemporaryDirectory()
        var sink = try DirectoryLayoutSink(root: dir.path)
        try layout.write(to: &sink)
        let blobDir = dir.url.appendingPathComponent("blobs/sha256")
        let names = try FileManager.default.contentsOfDirectory(atPath: blobDir.path).sorted()
        for name in names {
            let bytes = Array(try Data(contentsOf: blobDir.appendingPathComponent(name)))
            #expect(Blob.sha256(bytes).hex == name, "blob \(name) matches its digest")
        }
        return (dir, names)
    }

    static func readJSON<T: Decodable>(_ type: T.Type, _ dir: TemporaryDirectory, _ name: String) throws -> T {
        try decodeJSON(T.self, from: Array(try Data(contentsOf: dir.url.appendingPathComponent(name))), what: name)
    }

    @Test func singleArchGetsExactlyTheTag() throws {
        let amd64 = try #require(try Self.goldenImages().first)
        let layout = try ImageLayout.plan(images: [amd64], tag: try Reference("senhas:1.0.0"), hostArchitecture: .aarch64)
        #expect(layout.dockerManifest.map(\.repoTags) == [["senhas:1.0.0"]])
        #expect(layout.index.manifests.count == 1)
        let entry = try #require(layout.index.manifests.first)
        #expect(entry.digest == amd64.manifest.descriptor.digest)
        #expect(entry.platform == Platform(architecture: "amd64"))
        #expect(entry.artifactType == .ociConfig)
        #expect(entry.annotations?["org.opencontainers.image.ref.name"] == "1.0.0")
        #expect(entry.annotations?["io.containerd.image.name"] == "docker.io/library/senhas:1.0.0")
        #expect(layout.repositories == ["senhas": ["1.0.0": amd64.layers[0].descriptor.digest.hex]])

        let (dir, blobs) = try Self.writeAndVerify(layout)
        defer { dir.remove() }
        #expect(blobs.count == 3)
        let docker = try Self.readJSON([DockerManifestEntry].self, dir, "manifest.json")
        #expect(docker == layout.dockerManifest)
        #expect(docker[0].config == "blobs/sha256/" + amd64.config.descriptor.digest.hex)
        #expect(docker[0].layers == ["blobs/sha256/c7557730da0e2d7fb242d8d1ac6dcf7e3a2439732aa5981270b4f3a02454b738"])
        for path in [docker[0].config] + docker[0].layers {
            #expect(FileManager.default.fileExists(atPath: dir.file(path)))
        }
        #expect(try Self.readJSON(Index.self, dir, "index.json") == layout.index)
        let layoutFile = try Data(contentsOf: dir.url.appendingPathComponent("oci-layout"))
        #expect(String(decoding: layoutFile, as: UTF8.self) == #"{"imageLayoutVersion":"1.0.0"}"#)
        let repositories = try Self.readJSON([String: [String: String]].self, dir, "repositories")
        #expect(repositories == layout.repositories)
        // No temporary files are left behind.
        let all = try FileManager.default.subpathsOfDirectory(atPath: dir.path)
        #expect(!all.contains { $0.contains(".tmp-") })
    }

    @Test func multiArchTagsHostAndEachArch() throws {
        let images = try Self.goldenImages()
        let tag = try Reference("registry.example/senhas:1.0.0")
        let layout = try ImageLayout.plan(
            images: images, tag: tag, hostArchitecture: .aarch64,
            indexAnnotations: ["org.opencontainers.image.created": "1970-01-01T00:00:00Z"])
        #expect(
            layout.dockerManifest.map(\.repoTags) == [
                ["registry.example/senhas:1.0.0-amd64"],
                ["registry.example/senhas:1.0.0", "registry.example/senhas:1.0.0-arm64"],
            ])
        #expect(layout.tags.map(\.architecture) == [.x86_64, .aarch64])
        #expect(
            layout.index.manifests.map { $0.annotations?["org.opencontainers.image.ref.name"] } == [
                "1.0.0-amd64", "1.0.0", "1.0.0-arm64",
            ])
        #expect(layout.index.manifests.map { $0.platform?.architecture } == ["amd64", "arm64", "arm64"])
        #expect(layout.index.annotations?["org.opencontainers.image.created"] == "1970-01-01T00:00:00Z")
        #expect(layout.repositories["registry.example/senhas"]?.keys.sorted() == ["1.0.0", "1.0.0-amd64", "1.0.0-arm64"])

        let (dir, blobs) = try Self.writeAndVerify(layout)
        defer { dir.remove() }
        // The golden directory's blobs are exactly ours.
        let goldenBlobs = try FileManager.default.contentsOfDirectory(atPath: Self.golden + "/blobs/sha256").sorted()
        #expect(blobs == goldenBlobs)
        let index = try Self.readJSON(Index.self, dir, "index.json")
        for entry in index.manifests {
            let manifest = try decodeJSON(
                Manifest.self, from: Array(try Data(contentsOf: URL(fileURLWithPath: dir.file(ImageLayout.blobPath(entry.digest))))),
                what: "manifest")
            #expect(FileManager.default.fileExists(atPath: dir.file(ImageLayout.blobPath(manifest.config.digest))))
        }
    }

    /// With an image index, `index.json` names it `TAG` (skopeo `--all` copies every architecture through it) and the
    /// manifests only `TAG-<arch>`; docker's manifest.json keeps the per-image tags. apko's naming tags each image
    /// `TAG-<arch>` only, also for one architecture; `.unnamed` writes the index itself.
    @Test func imageIndexIsNamedTag() throws {
        let images = try Self.goldenImages()
        let tag = try Reference("senhas:1.0.0")
        let index = try Blob(
            index: Index(
                manifests: images.map {
                    Descriptor(
                        mediaType: .ociManifest, digest: $0.manifest.descriptor.digest, size: $0.manifest.descriptor.size,
                        platform: Platform($0.architecture))
                }))
        let ref = ImageLayout.refNameAnnotation
        let layout = try ImageLayout.plan(images: images, tag: tag, hostArchitecture: .aarch64, index: index)
        #expect(layout.index.manifests.map { $0.annotations?[ref] } == ["1.0.0", "1.0.0-amd64", "1.0.0-arm64"])
        #expect(layout.index.manifests.first?.digest == index.descriptor.digest)
        #expect(layout.index.manifests.first?.mediaType == .ociIndex)
        #expect(layout.dockerManifest.map(\.repoTags) == [["senhas:1.0.0-amd64"], ["senhas:1.0.0", "senhas:1.0.0-arm64"]])
        let (dir, blobs) = try Self.writeAndVerify(layout)
        defer { dir.remove() }
        #expect(blobs.contains(index.descriptor.digest.hex))

        let apko = try ImageLayout.plan(images: images, tag: tag, index: index, naming: .architectureOnly)
        #expect(apko.dockerManifest.map(\.repoTags) == [["senhas:1.0.0-amd64"], ["senhas:1.0.0-arm64"]])
        let single = try ImageLayout.plan(images: [images[0]], tag: tag, index: index, naming: .architectureOnly)
        #expect(single.index.manifests.map { $0.annotations?[ref] } == ["1.0.0", "1.0.0-amd64"])
        #expect(single.dockerManifest.map(\.repoTags) == [["senhas:1.0.0-amd64"]])

        let unnamed = try ImageLayout.plan(images: images, tag: tag, naming: .unnamed, includeDockerFiles: false)
        #expect(unnamed.index.manifests.map(\.digest) == images.map(\.manifest.descriptor.digest))
        #expect(unnamed.index.manifests.allSatisfy { $0.annotations == nil && $0.platform != nil })
    }

    @Test func hostNotBuiltGivesTagToFirstImage() throws {
        let images = try Self.goldenImages()
        let layout = try ImageLayout.plan(images: images, tag: try Reference("x"), hostArchitecture: try Architecture("s390x"))
        #expect(layout.dockerManifest.map(\.repoTags) == [["x:latest", "x:latest-amd64"], ["x:latest-arm64"]])
    }

    @Test func armVariantTagUsesUnderscore() throws {
        let tag = try ImageLayout.architectureTag(try Reference("img:v1"), try Architecture("armv7"))
        #expect(tag.familiarDescription == "img:v1-arm_v7")
        #expect(throws: LaminaError.self) {
            try ImageLayout.architectureTag(try Reference("img:" + String(repeating: "a", count: 126)), .x86_64)
        }
    }

    @Test func entriesAreOrderedForAStreamingTarWriter() throws {
        let images = try Self.goldenImages()
        let extra = try Blob(index: Index(manifests: images.map(\.manifest.descriptor)))
        let layout = try ImageLayout.plan(
            images: images, tag: try Reference("senhas"), hostArchitecture: .x86_64, extraBlobs: [LayoutBlob(extra)])
        var sink = RecordingSink()
        try layout.write(to: &sink)
        #expect(sink.calls.count == 2 + 7 + 4)
        #expect(sink.calls[0] == "dir blobs")
        #expect(sink.calls[1] == "dir blobs/sha256")
        let blobCalls = sink.calls[2..<9]
        #expect(blobCalls.allSatisfy { $0.contains(" blobs/sha256/") })
        let blobPaths = blobCalls.map { String($0.split(separator: " ")[1]) }
        #expect(blobPaths == blobPaths.sorted())
        #expect(blobCalls.filter { $0.hasPrefix("file ") }.count == 2, "layers stream from their files")
        #expect(sink.calls[9...].map { $0.split(separator: " ")[1] } == ["index.json", "manifest.json", "oci-layout", "repositories"])
        #expect(layout.entries.map(\.path) == layout.entries.map(\.path).sorted())
    }

    @Test func plainOCILayoutLeavesOutDockerFiles() throws {
        let images = try Self.goldenImages()
        let layout = try ImageLayout.plan(images: images, tag: try Reference("a:b"), includeDockerFiles: false)
        #expect(!layout.entries.contains { $0.path == "manifest.json" || $0.path == "repositories" })
        #expect(layout.dockerManifest.isEmpty)
    }

    @Test func rejectsBadInput() throws {
        let images = try Self.goldenImages()
        let tag = try Reference("a:b")
        #expect(throws: LaminaError.self) { try ImageLayout.plan(images: [], tag: tag) }
        #expect(throws: LaminaError.self) { try ImageLayout.plan(images: [images[0], images[0]], tag: tag) }
        let digestTag = try Reference("a@sha256:" + images[0].manifest.descriptor.digest.hex)
        let error = #expect(throws: LaminaError.self) { try ImageLayout.plan(images: [images[0]], tag: digestTag) }
        #expect(error?.code == .invalidInput)
        var wrongLayers = images[0]
        wrongLayers.layers = images[1].layers
        #expect(throws: LaminaError.self) { try ImageLayout.plan(images: [wrongLayers], tag: tag) }
        var wrongConfig = images[0]
        wrongConfig.config = images[1].config
        #expect(throws: LaminaError.self) { try ImageLayout.plan(images: [wrongConfig], tag: tag) }
    }

    @Test func directorySinkChecksSizesAndPaths() throws {
        try TemporaryDirectory.withSync { dir in
            var sink = try DirectoryLayoutSink(root: dir.file("out"))
            let source = dir.file("src")
            try Data([1, 2, 3]).write(to: URL(fileURLWithPath: source))
            try sink.makeDirectory(path: "blobs")
            let mismatch = #expect(throws: LaminaError.self) { try sink.writeFile(path: "blobs/x", from: source, size: 4) }
            #expect(mismatch?.code == .checksumMismatch)
            #expect(!FileManager.default.fileExists(atPath: dir.file("out/blobs/x")))
            try sink.writeFile(path: "blobs/x", from: source, size: 3)
            try sink.write(path: "blobs/x", bytes: [9])  // replacing an existing file is allowed
            #expect(Array(try Data(contentsOf: URL(fileURLWithPath: dir.file("out/blobs/x")))) == [9])
            for bad in ["../escape", "/abs", "a//b", "./a", ""] {
                let error = #expect(throws: LaminaError.self) { try sink.write(path: bad, bytes: []) }
                #expect(error?.code == .unsafePath)
            }
            let missing = #expect(throws: LaminaError.self) { try sink.writeFile(path: "y", from: dir.file("nope"), size: 1) }
            #expect(missing?.code == .io)
        }
    }
}
