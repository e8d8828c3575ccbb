import LaminaCore
import SBOM
import TestSupport
import Testing

@Suite struct PackageURLTests {
    static let digest = try! Digest(.sha256, hex: "69f0237c7f8cf0b8a329d1bf1d6870c870c4ec323e39d3a6da59596632d0f2f4")

    @Test func apk() {
        #expect(
            PackageURL.apk(namespace: "Alpine", name: "busybox", version: "1.36.1-r29", architecture: "x86_64")
                .description == "pkg:apk/alpine/busybox@1.36.1-r29?arch=x86_64")
        #expect(
            PackageURL.apk(namespace: "wolfi", name: "crane", version: "0.20.2-r1", architecture: "x86_64",
                distro: "wolfi").description == "pkg:apk/wolfi/crane@0.20.2-r1?arch=x86_64&distro=wolfi")
        #expect(PackageURL.apk(namespace: "alpine", name: "g++", version: "13.2.1_git20240309-r0").description
            == "pkg:apk/alpine/g%2B%2B@13.2.1_git20240309-r0")
    }

    @Test func ociAsApkoWritesIt() {
        let image = PackageURL.oci(
            name: "golden", digest: Self.digest, architecture: "amd64", os: "linux",
            mediaType: "application/vnd.oci.image.manifest.v1+json")
        #expect(
            image.description == "pkg:oci/golden@sha256:\(Self.digest.hex)?arch=amd64"
                + "&mediaType=application%2Fvnd.oci.image.manifest.v1%2Bjson&os=linux")
        let withRepository = PackageURL.oci(
            name: "senhas", digest: Self.digest, mediaType: "application/vnd.oci.image.index.v1+json",
            repositoryURL: "localhost:5000/team/senhas")
        #expect(
            withRepository.description == "pkg:oci/senhas@sha256:\(Self.digest.hex)"
                + "?mediaType=application%2Fvnd.oci.image.index.v1%2Bjson&repository_url=localhost%3A5000%2Fteam%2Fsenhas")
        #expect(PackageURL.oci(name: "image", digest: nil, os: "linux", mediaType: "").description
            == "pkg:oci/image?mediaType=&os=linux")
    }

    @Test func encodingPerSpec() {
        let purl = PackageURL(
            type: "GitHub", namespace: "my org/sub", name: "na@me", version: "1.0 beta+1",
            qualifiers: ["k": "a b&c=d", "empty": ""], subpath: "dir/file name")
        #expect(purl.description == "pkg:github/my%20org/sub/na%40me@1.0%20beta%2B1?k=a%20b%26c%3Dd#dir/file%20name")
        #expect(PackageURL.github(owner: "wolfi-dev", repository: "os", version: "abc").description == "pkg:github/wolfi-dev/os@abc")
        #expect(PackageURL(type: "generic", name: "é").description == "pkg:generic/%C3%A9")
    }
}

@Suite struct SPDXIdentifierTests {
    @Test(arguments: [
        ("SPDXRef-Package-Image-sha256:abc", "SPDXRef-Package-Image-sha256-abc"),
        ("testdata/build_configs/crane.yaml", "testdataC47buildC95configsC47crane.yaml"),
        ("kindest/node:v1.21.1", "kindestC47node-v1.21.1"),
        ("a b", "aC32b"),
        ("é", "C65533C65533"),
        ("", ""),
    ])
    func sanitize(input: String, expected: String) {
        #expect(SPDXIdentifier.sanitize(input) == expected)
        if !input.isEmpty { #expect(SPDXIdentifier.isValid("SPDXRef-" + SPDXIdentifier.sanitize(input))) }
    }

    @Test func validity() {
        #expect(SPDXIdentifier.isValid("SPDXRef-Package-apk-zlib-1.3.1-r0"))
        #expect(!SPDXIdentifier.isValid("SPDXRef-"))
        #expect(!SPDXIdentifier.isValid("SPDXRef-a_b"))
        #expect(!SPDXIdentifier.isValid("Package-x"))
    }
}

@Suite struct LicenseExpressionTests {
    @Test(arguments: [
        ("MIT", "MIT", [String]()),
        ("mit", "MIT", []),
        ("GPL-2.0-or-later AND LGPL-2.1-or-later", "GPL-2.0-or-later AND LGPL-2.1-or-later", []),
        ("(MIT or Apache-2.0) and BSD-3-Clause", "(MIT OR Apache-2.0) AND BSD-3-Clause", []),
        ("GPL-2.0-only WITH Classpath-exception-2.0", "GPL-2.0-only WITH Classpath-exception-2.0", []),
        ("GPL-2.0+", "GPL-2.0+", []),
        ("custom", "LicenseRef-custom", ["LicenseRef-custom"]),
        ("GPL2 AND custom:foo", "LicenseRef-GPL2C32ANDC32custom-foo", ["LicenseRef-GPL2C32ANDC32custom-foo"]),
        ("MIT AND GPL2 AND GPL2", "MIT AND LicenseRef-GPL2 AND LicenseRef-GPL2", ["LicenseRef-GPL2"]),
        ("Public Domain", "LicenseRef-PublicC32Domain", ["LicenseRef-PublicC32Domain"]),
        ("(MIT", "LicenseRef-C40MIT", ["LicenseRef-C40MIT"]),
        ("", "NOASSERTION", []),
        ("NOASSERTION", "NOASSERTION", []),
    ])
    func normalize(raw: String, expression: String, extracted: [String]) {
        let result = LicenseExpression.normalize(raw)
        #expect(result.expression == expression)
        #expect(result.extracted.map(\.id) == extracted)
    }
}

@Suite struct OperatingSystemInfoTests {
    @Test func parsesOSRelease() throws {
        let text = """
            NAME="Alpine Linux"
            ID=alpine
            VERSION_ID=3.20.3
            PRETTY_NAME="Alpine Linux v3.20"
            # comment

            HOME_URL='https://alpinelinux.org/'
            """
        let info = try OperatingSystemInfo.parse(osRelease: text)
        #expect(info == OperatingSystemInfo(id: "alpine", name: "Alpine Linux", version: "3.20.3"))
        #expect(info.supplier == "Organization: Alpine Linux")
        #expect(OperatingSystemInfo(id: "x", name: "", version: "").supplier == "NOASSERTION")
        let error = #expect(throws: LaminaError.self) { try OperatingSystemInfo.parse(osRelease: "ID=a\nbroken\n") }
        #expect(error?.message.contains("line 2") == true)
    }

    @Test(.enabled(if: SharedTestData.isAvailable, "needs ../shared/testdata"))
    func realAlpineOSRelease() throws {
        let text = String(decoding: try Files.read("derived/minirootfs-3.20.3-x86_64/etc/os-release"), as: UTF8.self)
        let info = try OperatingSystemInfo.parse(osRelease: text)
        #expect(info.id == "alpine")
        #expect(info.name == "Alpine Linux")
        #expect(info.version.hasPrefix("3."))
    }
}
