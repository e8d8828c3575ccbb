import Foundation
import LaminaCore
import SBOM
import TestSupport
import Testing

/// Our documents pass the SPDX project's own validator, `pyspdxtools` (spdx-tools).
@Suite(
    .enabled(
        if: SPDXValidator.path != nil,
        "pyspdxtools not found: set LAMINA_PYSPDXTOOLS or put pyspdxtools on PATH (pip install spdx-tools)"))
struct ValidationTests {
    static let digest = try! Digest(.sha256, hex: "69f0237c7f8cf0b8a329d1bf1d6870c870c4ec323e39d3a6da59596632d0f2f4")
    static let layer = try! Digest(.sha256, hex: "c7557730da0e2d7fb242d8d1ac6dcf7e3a2439732aa5981270b4f3a02454b738")

    /// An Alpine-like image whose packages ship no SBOM, with licenses as Alpine writes them.
    static func alpineImage() -> ImageSBOM.Input {
        ImageSBOM.Input(
            imageDigest: digest, layers: [ImageSBOM.Layer(digest: layer, mediaType: "application/vnd.oci.image.layer.v1.tar+gzip")],
            architecture: try! Architecture("arm/v7"), imageName: "senhas", repositoryURL: "registry.example/senhas",
            operatingSystem: OperatingSystemInfo(id: "alpine", name: "Alpine Linux", version: "3.20.3"),
            vcsURL: "https://github.com/example/senhas.git@0123456789abcdef0123456789abcdef01234567",
            created: BuildClock(epoch: 1_700_000_000).rfc3339, creators: ["Tool: lamina (0.1.0)"],
            packages: [
                InstalledPackage(name: "musl", version: "1.2.5-r0", architecture: "armv7", license: "MIT"),
                InstalledPackage(name: "busybox", version: "1.36.1-r29", architecture: "armv7", license: "GPL-2.0-only"),
                InstalledPackage(name: "zlib", version: "1.3.1-r1", architecture: "armv7", license: "Zlib",
                    checksums: [.sha256(layer.hex)]),
                InstalledPackage(name: "ca-certificates-bundle", version: "20240705-r0", architecture: "armv7",
                    license: "MPL-2.0 AND MIT"),
                InstalledPackage(name: "odd", version: "1-r0", architecture: "armv7", license: "custom AND GPL2+ or (MIT"),
                InstalledPackage(name: "tzdata", version: "2024a-r1", architecture: "armv7", license: "Public-Domain"),
                InstalledPackage(name: "nolicense", version: "1-r0", architecture: "armv7"),
                InstalledPackage(name: "g++", version: "13.2.1_git20240309-r0", architecture: "armv7", license: "GPL-3.0-or-later WITH GCC-exception-3.1"),
            ])
    }

    @Test func alpineStyleImageSBOM() throws {
        let document = try ImageSBOM.image(Self.alpineImage())
        #expect(document.packages.count == 4 + 8)
        #expect(document.namespace == "https://spdx.org/spdxdocs/lamina/sbom-sha256:\(Self.layer.hex)")
        let zlib = try #require(document.packages.first { $0.name == "zlib" })
        #expect(zlib.purl == "pkg:apk/alpine/zlib@1.3.1-r1?arch=armv7")
        #expect(zlib.supplier == "Organization: Alpine Linux")
        let image = try #require(document.package(id: document.describes[0]))
        #expect(image.purl?.contains("arch=arm&") == true)
        #expect(document.relationships.filter { $0.type == .contains }.count == 1 + 8)
        #expect(document.relationships.contains { $0.type == .generatedFrom })
        #expect(document.extractedLicenses.map(\.id).sorted() == ["LicenseRef-Public-Domain", "LicenseRef-customC32ANDC32GPL2C43C32orC32C40MIT"])
        #expect(try SPDXValidator.problems(SPDXJSON.encode(document)) == nil)
    }

    @Test func indexSBOM() throws {
        let document = ImageSBOM.index(
            ImageSBOM.IndexInput(
                indexDigest: try Digest(.sha256, hex: String(repeating: "ab", count: 32)),
                images: [ImageSBOM.IndexImage(digest: Self.digest, architecture: .x86_64),
                    ImageSBOM.IndexImage(digest: Self.layer, architecture: .aarch64)],
                imageName: "senhas", supplier: "Organization: Example", vcsURL: "https://example.com/repo",
                created: "1970-01-01T00:00:00Z"))
        #expect(document.relationships.filter { $0.type == .variantOf }.count == 2)
        let problems = try SPDXValidator.problems(SPDXJSON.encode(document))
        #expect(problems == nil, "\(problems ?? "")")
    }

    @Test(.enabled(if: SharedTestData.isAvailable, "needs ../shared/testdata"))
    func enrichedFromMelangeSBOMs() throws {
        let embedded = try ["unbound-libs-1.23.0-r0", "font-ubuntu-0.869-r1", "test-pkg-both-1.0.0-r0"].map {
            try Files.decode("\(Files.apkoSPDX)/apk_sboms/\($0).spdx.json")
        }
        var input = Self.alpineImage()
        input.packages = [
            InstalledPackage(name: "unbound-libs", version: "1.23.0-r0", architecture: "x86_64", embeddedSBOM: embedded[0]),
            InstalledPackage(name: "font-ubuntu", version: "0.869-r1", architecture: "x86_64", embeddedSBOM: embedded[1]),
            InstalledPackage(name: "test-pkg-both", version: "1.0.0-r0", architecture: "x86_64", embeddedSBOM: embedded[2]),
            InstalledPackage(name: "musl", version: "1.2.5-r0", architecture: "x86_64", license: "MIT"),
        ]
        let bytes = SPDXJSON.encode(try ImageSBOM.image(input))
        #expect(try SPDXValidator.problems(bytes) == nil)
    }

    @Test func validatorRejectsBrokenDocuments() throws {
        var document = try ImageSBOM.image(Self.alpineImage())
        document.relationships.append(SBOMRelationship(document.describes[0], .contains, "SPDXRef-Package-missing"))
        let problems = try SPDXValidator.problems(SPDXJSON.encode(document))
        #expect(problems?.contains("SPDXRef-Package-missing") == true)
    }
}
