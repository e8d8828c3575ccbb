import Foundation
import LaminaCore
import SBOM
import TestSupport
import Testing

/// Rebuilds apko's expected image SBOMs (pkg/sbom/generator/spdx/testdata) from the same melange SBOM
/// inputs, and compares bytes.
@Suite(.enabled(if: SharedTestData.isAvailable, "needs ../shared/testdata"))
struct ApkoExpectedSBOMTests {
    struct Case: CustomStringConvertible, Sendable {
        let name: String
        let os: OperatingSystemInfo
        let packages: [(String, String)]
        var description: String { name }
    }

    static let unknown = OperatingSystemInfo(id: "unknown", name: "unknown", version: "3.0")
    static let cases: [Case] = [
        Case(name: "custom-license", os: unknown, packages: [("font-ubuntu", "0.869-r1")]),
        Case(
            name: "no-supplier", os: OperatingSystemInfo(id: "apko-images", name: "Apko Images, Plc", version: "3.0"),
            packages: [("libattr1", "2.5.1-r2")]),
        Case(
            name: "package-deduplicating", os: unknown,
            packages: [("logstash-8", "8.15.3-r4"), ("logstash-8-compat", "8.15.3-r4")]),
        Case(
            name: "unbound-package-dedupe", os: unknown,
            packages: [("unbound-libs", "1.23.0-r0"), ("unbound", "1.23.0-r0"), ("unbound-config", "1.23.0-r0")]),
        Case(name: "describes-relationship", os: unknown, packages: [("test-pkg-describes", "1.0.0-r0")]),
        Case(name: "both-describes-methods", os: unknown, packages: [("test-pkg-both", "1.0.0-r0")]),
    ]

    static func input(_ c: Case) throws -> ImageSBOM.Input {
        ImageSBOM.Input(
            imageDigest: nil, layers: [ImageSBOM.Layer(digest: nil, mediaType: "")], architecture: nil,
            operatingSystem: c.os, created: "0001-01-01T00:00:00Z",
            creators: ["Tool: apko (devel)", "Organization: Chainguard, Inc"], toolName: "apko",
            namespace: "https://spdx.org/spdxdocs/apko/",
            packages: try c.packages.map { name, version in
                InstalledPackage(
                    name: name, version: version, architecture: "x86_64",
                    embeddedSBOM: try Files.decode("\(Files.apkoSPDX)/apk_sboms/\(name)-\(version).spdx.json"))
            },
            includePackagesWithoutSBOM: false)
    }

    @Test(arguments: cases)
    func matchesApkoByteForByte(_ c: Case) throws {
        let ours = SPDXJSON.encode(try ImageSBOM.image(Self.input(c)))
        let expected = try Files.read("\(Files.apkoSPDX)/expected_image_sboms/\(c.name).spdx.json")
        let same = ours == expected
        #expect(same, "\(firstDifference(ours, expected))")
    }

    @Test func zeroTimeFromTheClock() {
        #expect(BuildClock.rfc3339(-62_135_596_800) == "0001-01-01T00:00:00Z")
    }

    @Test func packagesAreUniqueAndReachable() throws {
        for c in Self.cases {
            let document = try ImageSBOM.image(Self.input(c))
            let ids = document.packages.map(\.id)
            #expect(Set(ids).count == ids.count, "\(c.name): unique ids")
            #expect(ids.allSatisfy(SPDXIdentifier.isValid), "\(c.name): valid ids")
            let known = Set(ids)
            #expect(document.relationships.allSatisfy { known.contains($0.element) && known.contains($0.related) })
            #expect(document.packages.allSatisfy { !$0.filesAnalyzed && $0.hasFiles.isEmpty && $0.verificationCode == nil })
        }
    }

    @Test func brokenEmbeddedSBOMIsAnError() throws {
        var embedded = try Files.decode("\(Files.apkoSPDX)/apk_sboms/unbound-1.23.0-r0.spdx.json")
        embedded.packages.removeLast()
        var input = try Self.input(Self.cases[3])
        input.packages = [InstalledPackage(name: "unbound", version: "1.23.0-r0", architecture: "x86_64", embeddedSBOM: embedded)]
        let error = #expect(throws: LaminaError.self) { try ImageSBOM.image(input) }
        #expect(error?.code == .malformed)
        #expect(error?.description.contains("unbound-1.23.0-r0") == true)
        #expect(error?.description.contains("SPDXRef-Package-github.com-NLnetLabs") == true)
    }

    @Test func embeddedSBOMPathsFollowApko() {
        #expect(
            ImageSBOM.embeddedSBOMPaths(name: "zlib", version: "1.3.1-r0") == [
                "var/lib/db/sbom/zlib-1.3.1-r0.spdx.json", "var/lib/db/sbom/zlib-1.3.1.spdx.json",
                "var/lib/db/sbom/zlib.spdx.json",
            ])
        #expect(
            ImageSBOM.embeddedSBOMPaths(name: "x", version: "2-rc") == [
                "var/lib/db/sbom/x-2-rc.spdx.json", "var/lib/db/sbom/x.spdx.json",
            ])
        #expect(ImageSBOM.embeddedSBOMPaths(name: "x", version: "1-r").count == 2)
    }
}
