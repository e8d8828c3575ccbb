import LaminaCore
import Testing

@Suite struct DigestTests {
    @Test func hexAndBase64RoundTrip() throws {
        let bytes: [UInt8] = Array(0..<32)
        let digest = Digest(.sha256, bytes: bytes)
        #expect(try Digest(parsing: digest.description) == digest)
        #expect(Base64.decode(digest.base64) == bytes)
        #expect(digest.hex.hasPrefix("000102"))
    }

    @Test(arguments: [
        ("", ""), ("f", "Zg=="), ("fo", "Zm8="), ("foo", "Zm9v"), ("foob", "Zm9vYg=="), ("fooba", "Zm9vYmE="),
        ("foobar", "Zm9vYmFy"),
    ])
    func base64Vectors(plain: String, encoded: String) {
        #expect(Base64.encode(Array(plain.utf8)) == encoded)
        #expect(Base64.decode(encoded) == Array(plain.utf8))
    }

    @Test func rejectsBadDigest() {
        #expect(throws: LaminaError.self) { try Digest(parsing: "sha256:zz") }
        #expect(throws: LaminaError.self) { try Digest(parsing: "md5:00") }
    }
}

@Suite struct ArchitectureTests {
    @Test(arguments: [
        ("amd64", "x86_64"), ("x86_64", "x86_64"), ("arm64", "aarch64"), ("linux/arm64", "aarch64"),
        ("arm/v7", "armv7"), ("armv7", "armv7"), ("arm/v6", "armhf"), ("386", "x86"), ("ppc64le", "ppc64le"),
        ("loong64", "loongarch64"),
    ])
    func spellings(input: String, apk: String) throws {
        #expect(try Architecture(input).apk == apk)
    }

    @Test func ociFields() throws {
        let arm = try Architecture("armv7")
        #expect(arm.oci == "arm")
        #expect(arm.variant == "v7")
        #expect(arm.ociPlatform == "arm/v7")
        #expect(throws: LaminaError.self) { try Architecture("sparc") }
    }
}

@Suite struct BuildClockTests {
    @Test(arguments: [
        (Int64(0), "1970-01-01T00:00:00Z"), (1_700_000_000, "2023-11-14T22:13:20Z"), (951_782_400, "2000-02-29T00:00:00Z"),
    ])
    func rfc3339(epoch: Int64, text: String) { #expect(BuildClock.rfc3339(epoch) == text) }

    @Test func environment() throws {
        #expect(try BuildClock.fromEnvironment([:]).epoch == 0)
        #expect(try BuildClock.fromEnvironment(["SOURCE_DATE_EPOCH": "42"]).epoch == 42)
        #expect(throws: LaminaError.self) { try BuildClock.fromEnvironment(["SOURCE_DATE_EPOCH": "x"]) }
    }
}
