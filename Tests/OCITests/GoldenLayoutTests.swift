import Foundation
import LaminaCore
import OCI
import TestSupport
import Testing

/// Reads apko's golden OCI layouts (real bytes written by apko/ggcr) through our types.
@Suite(.enabled(if: SharedTestData.isAvailable, "needs ../shared/testdata"))
struct GoldenLayoutTests {
    static let layouts = ["golden", "base_image", "top_image"]
    static func root(_ name: String) -> String {
        SharedTestData.path("chainguard-dev+apko/internal/cli/testdata/\(name)")
    }

    static func read(_ path: String) throws -> [UInt8] {
        Array(try Data(contentsOf: URL(fileURLWithPath: path)))
    }

    static func blob(_ layout: String, _ digest: Digest) throws -> [UInt8] {
        try read(root(layout) + "/" + ImageLayout.blobPath(digest))
    }

    /// Decodes both documents generically and compares: our encoding loses and invents nothing.
    static func sameJSON(_ a: [UInt8], _ b: [UInt8]) throws -> Bool {
        let x = try JSONSerialization.jsonObject(with: Data(a)) as? NSDictionary
        let y = try JSONSerialization.jsonObject(with: Data(b)) as? NSDictionary
        return x != nil && x == y
    }

    @Test(arguments: layouts)
    func layoutFile(layout: String) throws {
        let bytes = try Self.read(Self.root(layout) + "/oci-layout")
        let object = try JSONSerialization.jsonObject(with: Data(bytes)) as? [String: String]
        #expect(object == ["imageLayoutVersion": "1.0.0"])
        #expect(try Self.sameJSON(bytes, ImageLayout.layoutFileBytes))
    }

    @Test(arguments: layouts)
    func indexManifestsConfigsAndLayers(layout: String) throws {
        let indexBytes = try Self.read(Self.root(layout) + "/index.json")
        let index = try decodeJSON(Index.self, from: indexBytes, what: "\(layout)/index.json")
        #expect(index.schemaVersion == 2)
        #expect(index.mediaType == .ociIndex)
        #expect(index.manifests.map { $0.platform?.architecture } == ["amd64", "arm64"])
        #expect(index.manifests.allSatisfy { $0.platform?.os == "linux" && $0.mediaType == .ociManifest })
        #expect(try Self.sameJSON(indexBytes, canonicalJSON(index)))
        #expect(try decodeJSON(Index.self, from: canonicalJSON(index), what: "re-encoded") == index)

        for entry in index.manifests {
            // The exact original bytes give back the descriptor's digest and size.
            let manifestBytes = try Self.blob(layout, entry.digest)
            let manifestBlob = Blob(bytes: manifestBytes, mediaType: entry.mediaType)
            #expect(manifestBlob.descriptor.digest == entry.digest)
            #expect(manifestBlob.descriptor.size == entry.size)

            let manifest = try decodeJSON(Manifest.self, from: manifestBytes, what: "manifest \(entry.digest)")
            #expect(manifest.schemaVersion == 2)
            #expect(manifest.mediaType == .ociManifest)
            #expect(manifest.config.mediaType == .ociConfig)
            #expect(!manifest.layers.isEmpty)
            #expect(manifest.layers.allSatisfy { $0.mediaType == .ociLayerGzip && $0.mediaType.isLayer })
            #expect(try Self.sameJSON(manifestBytes, canonicalJSON(manifest)))
            if layout != "base_image" {
                #expect(manifest.annotations?["org.opencontainers.image.created"] == "1970-01-01T00:00:00Z")
            } else {
                #expect(manifest.annotations == nil)
            }

            let configBytes = try Self.blob(layout, manifest.config.digest)
            #expect(Blob.sha256(configBytes) == manifest.config.digest)
            #expect(Int64(configBytes.count) == manifest.config.size)
            let config = try decodeJSON(ImageConfig.self, from: configBytes, what: "config \(manifest.config.digest)")
            #expect(config.platform == entry.platform)
            #expect(config.os == "linux")
            #expect(config.author == "github.com/chainguard-dev/apko")
            #expect(config.created == "1970-01-01T00:00:00Z")
            #expect(config.rootfs.type == "layers")
            #expect(config.rootfs.diffIDs.count == manifest.layers.count)
            #expect(config.history?.count == manifest.layers.count)
            #expect(config.history?.allSatisfy { $0.author == "apko" && $0.createdBy == "apko" } == true)
            #expect(config.config.entrypoint == ["/bin/sh", "-l"])
            #expect(config.config.env?.count == 2)
            #expect(config.config.env?.last == "SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt")
            #expect(config.config.user == nil && config.config.cmd == nil)
            #expect(try Self.sameJSON(configBytes, canonicalJSON(config)))
            #expect(try decodeJSON(ImageConfig.self, from: canonicalJSON(config), what: "re-encoded") == config)

            for layer in manifest.layers {
                let layerBytes = try Self.blob(layout, layer.digest)
                #expect(Blob.sha256(layerBytes) == layer.digest)
                #expect(Int64(layerBytes.count) == layer.size)
                #expect(Array(layerBytes.prefix(2)) == [0x1f, 0x8b])
            }
        }
    }

    @Test func goldenFieldValues() throws {
        let layout = "golden"
        let index = try decodeJSON(Index.self, from: Self.read(Self.root(layout) + "/index.json"), what: "index")
        #expect(index.annotations?["org.opencontainers.image.title"] == "Title")
        #expect(index.manifests.allSatisfy { $0.artifactType == .ociConfig })
        let amd64 = try #require(index.manifests.first)
        #expect(amd64.digest.hex == "69f0237c7f8cf0b8a329d1bf1d6870c870c4ec323e39d3a6da59596632d0f2f4")
        #expect(amd64.size == 560)
        let manifest = try decodeJSON(Manifest.self, from: Self.blob(layout, amd64.digest), what: "manifest")
        #expect(manifest.config.digest.hex == "6c815259150f37d000417f9a93f41bddf74dff905c745986069d4b03e954ac1d")
        #expect(manifest.layers.map(\.size) == [3072])
        let config = try decodeJSON(ImageConfig.self, from: Self.blob(layout, manifest.config.digest), what: "config")
        #expect(config.history?.first?.comment == "Title by Vendor")
        #expect(config.config.labels?["org.opencontainers.image.vendor"] == "Vendor")
        #expect(config.rootfs.diffIDs.first?.hex == "20f698463c2755b6dc42b7d07e959ed7455a06e7367d507e829a315898f21a01")
    }

    @Test(arguments: layouts)
    func canonicalEncodingIsStable(layout: String) throws {
        let index = try decodeJSON(Index.self, from: Self.read(Self.root(layout) + "/index.json"), what: "index")
        for entry in index.manifests {
            let manifest = try decodeJSON(Manifest.self, from: Self.blob(layout, entry.digest), what: "manifest")
            let config = try decodeJSON(ImageConfig.self, from: Self.blob(layout, manifest.config.digest), what: "c")
            let first = try Blob(manifest: manifest)
            let again = try Blob(manifest: decodeJSON(Manifest.self, from: first.bytes, what: "again"))
            #expect(first == again)
            let configBlob = try Blob(config: config)
            #expect(configBlob.descriptor.digest == (try Blob(config: config)).descriptor.digest)
            // Canonical bytes: sorted keys, no whitespace.
            let text = String(decoding: configBlob.bytes, as: UTF8.self)
            #expect(text.hasPrefix(#"{"architecture":"#))
            #expect(!text.contains("\n") && !text.contains("\": ") && !text.contains(", \""))
            #expect(!text.contains("\\/"))
        }
    }

    @Test func brokenDocumentsNameTheKey() throws {
        let bad = Array(#"{"schemaVersion":2,"manifests":[{"mediaType":"x","size":1,"digest":"md5:00"}]}"#.utf8)
        let error = try #require(throws: LaminaError.self) { try decodeJSON(Index.self, from: bad, what: "index.json") }
        #expect(error.code == .malformed)
        #expect(error.description.contains("index.json"))
        #expect(error.description.contains("manifests[0].digest"))

        let missing = Array(#"{"schemaVersion":2,"layers":[]}"#.utf8)
        let missingError = try #require(throws: LaminaError.self) {
            try decodeJSON(Manifest.self, from: missing, what: "m")
        }
        #expect(missingError.message.contains("missing key 'config'"))

        let version = Array(#"{"schemaVersion":1,"manifests":[]}"#.utf8)
        #expect(throws: LaminaError.self) { try decodeJSON(Index.self, from: version, what: "i") }
        #expect(throws: LaminaError.self) { try decodeJSON(Index.self, from: Array("{".utf8), what: "i") }
    }
}
