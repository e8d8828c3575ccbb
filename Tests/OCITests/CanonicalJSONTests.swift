import Foundation
import LaminaCore
import OCI
import Testing

@Suite struct CanonicalJSONTests {
    static let digest = Blob.sha256(Array("hello".utf8))

    @Test func knownSHA256() {
        #expect(Self.digest.description == "sha256:2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824")
        #expect(Blob.empty.descriptor.digest.hex == "44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a")
        #expect(Blob.empty.descriptor.size == 2)
        #expect(Blob.empty.descriptor.mediaType == .ociEmpty)
    }

    @Test func sortedCompactUnescaped() throws {
        let descriptor = Descriptor(
            mediaType: .ociLayerGzip, digest: Self.digest, size: 5, urls: ["https://example.com/a/b"],
            annotations: ["z": "é", "a": "x&<>", "B": "q"])
        let text = String(decoding: try canonicalJSON(descriptor), as: UTF8.self)
        #expect(
            text == #"{"annotations":{"B":"q","a":"x&<>","z":"é"},"digest":"# + "\"\(Self.digest)\""
                + #","mediaType":"application/vnd.oci.image.layer.v1.tar+gzip","size":5,"urls":["https://example.com/a/b"]}"#)
        #expect(try canonicalJSON(descriptor) == canonicalJSON(descriptor))
    }

    @Test func emptyCollectionsAreOmittedLikeOmitempty() throws {
        let descriptor = Descriptor(
            mediaType: .ociConfig, digest: Self.digest, size: 5, urls: [], annotations: [:], artifactType: "",
            data: [])
        let text = String(decoding: try canonicalJSON(descriptor), as: UTF8.self)
        #expect(text == #"{"digest":"\#(Self.digest)","mediaType":"application/vnd.oci.image.config.v1+json","size":5}"#)

        let config = ImageConfig(
            architecture: "amd64", history: [], rootfs: .init(diffIDs: []),
            config: .init(env: [], volumes: [], labels: [:]))
        let configText = String(decoding: try canonicalJSON(config), as: UTF8.self)
        #expect(configText == #"{"architecture":"amd64","config":{},"os":"linux","rootfs":{"diff_ids":[],"type":"layers"}}"#)

        // Decoding normalises empties to nil, so values round-trip.
        let decoded = try decodeJSON(
            Descriptor.self,
            from: Array(#"{"mediaType":"a","digest":"\#(Self.digest)","size":1,"annotations":{},"urls":[]}"#.utf8),
            what: "d")
        #expect(decoded.annotations == nil && decoded.urls == nil)
    }

    @Test func setLikeObjectsAndDockerNames() throws {
        let run = ImageConfig.RunConfig(
            user: "65532", exposedPorts: ["8080/tcp", "53/udp"], env: ["PATH=/bin"], entrypoint: ["/app"],
            cmd: ["--help"], volumes: ["/data"], workingDir: "/work", labels: ["k": "v"], stopSignal: "SIGTERM")
        let text = String(decoding: try canonicalJSON(run), as: UTF8.self)
        #expect(
            text == #"{"Cmd":["--help"],"Entrypoint":["/app"],"Env":["PATH=/bin"],"ExposedPorts":{"53/udp":{},"8080/tcp":{}},"#
                + #""Labels":{"k":"v"},"StopSignal":"SIGTERM","User":"65532","Volumes":{"/data":{}},"WorkingDir":"/work"}"#)
        let back = try decodeJSON(ImageConfig.RunConfig.self, from: Array(text.utf8), what: "config")
        #expect(back.exposedPorts == ["53/udp", "8080/tcp"])
        #expect(back.volumes == ["/data"])
        #expect(back.stopSignal == "SIGTERM")
    }

    @Test func armConfigAndPlatformKeys() throws {
        let arch = try Architecture("arm/v7")
        let config = ImageConfig(
            architecture: arch, created: "1970-01-01T00:00:00Z", author: "lamina",
            history: [History(created: "1970-01-01T00:00:00Z", createdBy: "lamina", comment: "one layer")],
            rootfs: .init(diffIDs: [Self.digest]))
        #expect(config.platform == Platform(architecture: "arm", os: "linux", variant: "v7"))
        #expect(config.platform.laminaArchitecture == arch)
        #expect(config.platform.description == "linux/arm/v7")
        var withFeatures = config
        withFeatures.osFeatures = ["erofs"]
        let text = String(decoding: try canonicalJSON(withFeatures), as: UTF8.self)
        #expect(text.contains(#""os.features":["erofs"]"#))
        #expect(text.contains(#""variant":"v7""#))
        #expect(text.contains(#""history":[{"comment":"one layer","created":"1970-01-01T00:00:00Z","created_by":"lamina"}]"#))
        #expect(try decodeJSON(ImageConfig.self, from: Array(text.utf8), what: "config") == withFeatures)
    }

    @Test func descriptorDataIsBase64() throws {
        let descriptor = Descriptor(mediaType: .ociEmpty, digest: Blob.empty.descriptor.digest, size: 2, data: Array("{}".utf8))
        let text = String(decoding: try canonicalJSON(descriptor), as: UTF8.self)
        #expect(text.contains(#""data":"e30=""#))
        #expect(try decodeJSON(Descriptor.self, from: Array(text.utf8), what: "d") == descriptor)
        let bad = Array(#"{"mediaType":"a","digest":"\#(Self.digest)","size":1,"data":"%%"}"#.utf8)
        #expect(throws: LaminaError.self) { try decodeJSON(Descriptor.self, from: bad, what: "d") }
    }

    @Test func artifactManifestWithSubject() throws {
        let subject = Descriptor(mediaType: .ociManifest, digest: Self.digest, size: 560)
        let payload = Blob(bytes: Array("{}".utf8), mediaType: .sigstoreBundle)
        let manifest = Manifest(
            artifactType: .sigstoreBundle, config: Blob.empty.descriptor, layers: [payload.descriptor],
            subject: subject, annotations: ["org.opencontainers.image.created": "1970-01-01T00:00:00Z"])
        let blob = try Blob(manifest: manifest)
        #expect(blob.descriptor.mediaType == .ociManifest)
        let back = try decodeJSON(Manifest.self, from: blob.bytes, what: "m")
        #expect(back == manifest)
        #expect(back.subject?.size == 560)
        #expect(String(decoding: blob.bytes, as: UTF8.self).hasPrefix(#"{"annotations""#))
    }

    @Test func mediaTypeClassification() {
        #expect(MediaType.dockerManifestList.isIndex && MediaType.ociIndex.isIndex)
        #expect(MediaType.dockerManifest.isManifest && !MediaType.ociConfig.isManifest)
        #expect(MediaType.dockerLayerGzip.isLayer && MediaType.ociLayer.isLayer && !MediaType.cosignSimpleSigning.isLayer)
        #expect(MediaType("application/vnd.oci.empty.v1+json") == .ociEmpty)
    }
}
