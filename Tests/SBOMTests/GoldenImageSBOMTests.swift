import Foundation
import LaminaCore
import SBOM
import TestSupport
import Testing

/// Rebuilds the SBOMs of apko's golden build (internal/cli/testdata/golden/sboms) from the golden image
/// digests and the melange SBOMs inside the test packages, and compares bytes.
@Suite(.enabled(if: SharedTestData.isAvailable && which("tar") != nil, "needs ../shared/testdata and tar"))
struct GoldenImageSBOMTests {
    static let golden = "\(Files.cli)/golden"

    /// (architecture, manifest digest, layer digest) of the golden index.
    static let images: [(Architecture, String, String)] = [
        (.x86_64, "69f0237c7f8cf0b8a329d1bf1d6870c870c4ec323e39d3a6da59596632d0f2f4",
            "c7557730da0e2d7fb242d8d1ac6dcf7e3a2439732aa5981270b4f3a02454b738"),
        (.aarch64, "124c885f834cfaf1329987457a9651a68c4fb9733d4462ae6288b98011277858",
            "7e0f9d62f6cab4785e18a55f17d03f20ffb776881f1f46258efd9458f7cdaf08"),
    ]

    static let creators = ["Tool: apko (devel)", "Organization: Chainguard, Inc"]

    static func input(_ arch: Architecture, manifest: String, layer: String) throws -> ImageSBOM.Input {
        let dir = "\(Files.cli)/packages/\(arch.apk)"
        // apko installs pretend-baselayout, then replayout, which replaces its os-release.
        let osRelease = try #require(try osRelease(apk: "\(dir)/replayout-1.0.0-r0.apk"))
        let packages = try ["pretend-baselayout", "replayout"].map { name in
            InstalledPackage(
                name: name, version: "1.0.0-r0", architecture: arch.apk, license: "MIT",
                embeddedSBOM: try embeddedSBOM(apk: "\(dir)/\(name)-1.0.0-r0.apk", name: name, version: "1.0.0-r0"))
        }
        return ImageSBOM.Input(
            imageDigest: try Digest(.sha256, hex: manifest),
            layers: [ImageSBOM.Layer(digest: try Digest(.sha256, hex: layer), mediaType: "application/vnd.oci.image.layer.v1.tar+gzip")],
            architecture: arch, imageName: "golden",
            operatingSystem: try OperatingSystemInfo.parse(osRelease: osRelease), created: BuildClock(epoch: 0).rfc3339,
            creators: creators, toolName: "apko", namespace: "https://spdx.org/spdxdocs/apko/", packages: packages)
    }

    @Test(arguments: [0, 1])
    func perArchitectureSBOM(image: Int) throws {
        let (arch, manifest, layer) = Self.images[image]
        let input = try Self.input(arch, manifest: manifest, layer: layer)
        #expect(input.operatingSystem == OperatingSystemInfo(id: "replaces", name: "Replaces", version: "1.0.0"))
        #expect(input.packages.allSatisfy { $0.embeddedSBOM != nil })
        let ours = SPDXJSON.encode(try ImageSBOM.image(input))
        let expected = try Files.read("\(Self.golden)/sboms/sbom-\(arch.apk).spdx.json")
        let same = ours == expected
        #expect(same, "\(firstDifference(ours, expected))")
    }

    @Test func indexSBOM() throws {
        let input = ImageSBOM.IndexInput(
            indexDigest: try Digest(.sha256, hex: "b5f05e6fc882c97d61c1daee566954ae6fc09924f8e152293e2b97a06092069f"),
            images: try Self.images.map { ImageSBOM.IndexImage(digest: try Digest(.sha256, hex: $0.1), architecture: $0.0) },
            imageName: "golden", supplier: "Organization: Chainguard, Inc.", created: "1970-01-01T00:00:00Z",
            creators: Self.creators, toolName: "apko", namespace: "https://spdx.org/spdxdocs/apko/")
        let ours = SPDXJSON.encode(ImageSBOM.index(input))
        let expected = try Files.read("\(Self.golden)/sboms/sbom-index.spdx.json")
        let same = ours == expected
        #expect(same, "\(firstDifference(ours, expected))")
    }
}
