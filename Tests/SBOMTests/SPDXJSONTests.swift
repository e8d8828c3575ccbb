import Foundation
import LaminaCore
import SBOM
import TestSupport
import Testing

@Suite(.enabled(if: SharedTestData.isAvailable, "needs ../shared/testdata"))
struct SPDXDecodingTests {
    static let broken = "chainguard-dev+apko/internal/cli/testdata/base_image/sboms/sbom-x86_64.spdx.json"

    @Test(arguments: Files.allSPDX().filter { $0 != broken })
    func decodesAndReencodesEveryFile(path: String) throws {
        let bytes = try Files.read(path)
        let document = try SPDXJSON.decode(bytes, what: path)
        #expect(document.id.hasPrefix("SPDXRef-DOCUMENT"))
        #expect(!document.packages.isEmpty)
        #expect(document.created.count >= 20)
        #expect(document.creators.contains { $0.hasPrefix("Tool: ") })
        #expect(!document.describedIDs.isEmpty)
        // What we decode, we write back with the same meaning.
        let again = try SPDXJSON.decode(SPDXJSON.encode(document), what: "re-encoded")
        #expect(again == document)
        // Files written by apko's and melange's Go encoder come back byte for byte when their fields are
        // ones we model in apko's order.
        let original = try JSONSerialization.jsonObject(with: Data(bytes)) as? [String: Any]
        #expect((original?["packages"] as? [Any])?.count == document.packages.count)
        #expect((original?["relationships"] as? [Any])?.count ?? 0 == document.relationships.count)
    }

    @Test func melangeGoldenFields() throws {
        let doc = try Files.decode("chainguard-dev+melange/pkg/build/testdata/goldenfiles/sboms/crane-0.20.2-r1.spdx.json")
        #expect(doc.describes == ["SPDXRef-Package-apk-crane-0.20.2-r1"])
        let crane = try #require(doc.package(id: "SPDXRef-Package-apk-crane-0.20.2-r1"))
        #expect(crane.name == "crane")
        #expect(crane.version == "0.20.2-r1")
        #expect(crane.licenseDeclared == "Apache-2.0")
        #expect(crane.supplier == "Organization: Wolfi")
        #expect(crane.purpose == .application)
        #expect(crane.purl == "pkg:apk/wolfi/crane@0.20.2-r1?arch=x86_64&distro=wolfi")
        #expect(doc.relationships.contains { $0.element == crane.id && $0.type == .describedBy })

        let libattr = try Files.decode("\(Files.apkoSPDX)/apk_sboms/libattr1-2.5.1-r2.spdx.json")
        #expect(libattr.id == "SPDXRef-DOCUMENT-apk-libattr1-2.5.1-r2")
        #expect(libattr.files.count == 1)
        #expect(libattr.files[0].checksums.map(\.algorithm) == ["SHA1", "SHA256", "SHA512"])
        #expect(libattr.packages[0].filesAnalyzed)
        #expect(libattr.packages[0].hasFiles == ["SPDXRef-File--lib-libattr.so.1.1.2501"])
        #expect(libattr.packages[0].verificationCode == "ac84254f783b469f1ea6212ab2645b7c839144f9")

        let describesByRelationship = try Files.decode("\(Files.apkoSPDX)/apk_sboms/test-pkg-describes-1.0.0-r0.spdx.json")
        #expect(describesByRelationship.describes.isEmpty)
        #expect(describesByRelationship.describedIDs == ["SPDXRef-Package-test-pkg-describes-1.0.0-r0"])

        let font = try Files.decode("\(Files.apkoSPDX)/apk_sboms/font-ubuntu-0.869-r1.spdx.json")
        #expect(font.extractedLicenses.map(\.id) == ["LicenseRef-ubuntu-font"])
        #expect(font.extractedLicenses[0].text.hasPrefix("-------------------------------\nUBUNTU FONT LICENCE"))
    }

    @Test func melangeFilesReencodeByteForByte() throws {
        // melange writes the same field order as apko; files without fields we drop round-trip exactly.
        for name in ["libattr1-2.5.1-r2", "unbound-1.23.0-r0", "font-ubuntu-0.869-r1"] {
            let path = "\(Files.apkoSPDX)/apk_sboms/\(name).spdx.json"
            let bytes = try Files.read(path)
            let ours = SPDXJSON.encode(try SPDXJSON.decode(bytes, what: path))
            let same = ours == bytes
            #expect(same, "\(name): \(firstDifference(ours, bytes))")
        }
    }

    @Test func brokenFileNamesTheProblem() throws {
        // apko's base_image SBOM ends its relationships with a trailing comma; Foundation's parser
        // tolerates it (Go's and Python's do not), so the file is still read.
        let tolerated = try Files.decode(Self.broken)
        #expect(tolerated.relationships.last?.related == "SPDXRef-Package-package-y-1.0.0-r0")
        let truncated = Array(try Files.read(Self.broken).prefix(500))
        let error = #expect(throws: LaminaError.self) { try SPDXJSON.decode(truncated, what: Self.broken) }
        #expect(error?.code == .malformed)
        #expect(error?.description.contains("sbom-x86_64.spdx.json") == true)
        #expect(error?.message.contains("not valid JSON") == true)
        let missing = #expect(throws: LaminaError.self) {
            try SPDXJSON.decode(Array(#"{"packages":[{"name":"x"}]}"#.utf8), what: "x.spdx.json")
        }
        #expect(missing?.message == "missing key 'SPDXID' in packages[0]")
    }
}

@Suite struct SPDXEncodingTests {
    @Test func goEscapingAndLayout() {
        let document = SBOMDocument(
            name: "a&b<c>\"d\"\\\n\t\u{1}\u{2028}é/", namespace: "https://example.com/x", created: "1970-01-01T00:00:00Z",
            creators: ["Tool: lamina"], licenseListVersion: nil, describes: [],
            packages: [SBOMPackage(id: "SPDXRef-Package-x", name: "x", attributionText: "thanks")])
        let text = String(decoding: SPDXJSON.encode(document), as: UTF8.self)
        #expect(
            text == """
                {
                  "SPDXID": "SPDXRef-DOCUMENT",
                  "name": "a\\u0026b\\u003cc\\u003e\\"d\\"\\\\\\n\\t\\u0001\\u2028é/",
                  "spdxVersion": "SPDX-2.3",
                  "creationInfo": {
                    "created": "1970-01-01T00:00:00Z",
                    "creators": [
                      "Tool: lamina"
                    ]
                  },
                  "dataLicense": "CC0-1.0",
                  "documentNamespace": "https://example.com/x",
                  "documentDescribes": [],
                  "packages": [
                    {
                      "SPDXID": "SPDXRef-Package-x",
                      "name": "x",
                      "filesAnalyzed": false,
                      "downloadLocation": "NOASSERTION",
                      "attributionTexts": [
                        "thanks"
                      ]
                    }
                  ],
                  "relationships": []
                }

                """)
    }
}
