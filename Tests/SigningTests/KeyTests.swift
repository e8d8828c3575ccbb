import Foundation
import LaminaCore
import Signing
import Testing
import TestSupport

enum Fixtures {
    static let cosignKeys = "security/sigstore+cosign/pkg/cosign/keys_test.go.extracted"
    static let rsKeys = "security/sigstore+sigstore-rs/tests/data/keys"
    static let rsVerify = "security/sigstore+sigstore-rs/src/crypto/verification_key.rs.extracted"

    static func text(_ relative: String) throws -> String {
        try String(contentsOfFile: SharedTestData.path(relative), encoding: .utf8)
    }
    static func bytes(_ relative: String) throws -> [UInt8] {
        Array(try Data(contentsOf: URL(fileURLWithPath: SharedTestData.path(relative))))
    }
}

@Suite("cosign keys")
struct KeyTests {
    struct EncryptedCase: Sendable, CustomStringConvertible {
        var file: String
        var password: String
        /// base64 SubjectPublicKeyInfo the decrypted key must have (PROVENANCE.md), or nil to only check it loads.
        var publicKey: String?
        var description: String { file }
    }

    static let encrypted: [EncryptedCase] = [
        EncryptedCase(
            file: "\(Fixtures.cosignKeys)/pemsigstorekey.pem", password: "hello",
            publicKey: "MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAE7z9gA/tqa9iHt/f9F3ulyVi4lwqULfHWfhG2mK4eyJ8LDcLstb+VVhxj3pkMjc3fNo+sSfiIY2NLR7c+DG1V4w=="),
        EncryptedCase(
            file: "\(Fixtures.cosignKeys)/pemcosignkey.pem", password: "hello",
            publicKey: "MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAECYtspttZZ7e9PMd8wyU2CWDlpEXNbqTve0ZBuOXu9xTjtm7Z107cVLCCk96Ma4D0tesnKeCPwrcspLz7GNZJSw=="),
        EncryptedCase(
            file: "\(Fixtures.cosignKeys)/pemcosigneckey.pem", password: "hello",
            publicKey: "MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAE+9E3Qe+h25ofmz3Uo2T004Dfy49iX06MMbxf9rsGmLkOPrS0KYDl1QMfFuSbrtf8wTWNT9HNxrW/Foz39mDhHw=="),
        EncryptedCase(
            file: "\(Fixtures.rsKeys)/cosign_generated_encrypted_empty_private.key", password: "",
            publicKey: "MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEGmsWpZNuu+SUX70n3lVK4JLsaoV7T+rhea2rQUu29EQiatoLB06QdsmSd+GsQGlQzfcDtsKPzb+B2zLggrWZjg=="),
        EncryptedCase(file: "\(Fixtures.rsKeys)/ecdsa_encrypted_private.key", password: "123", publicKey: nil),
        EncryptedCase(file: "\(Fixtures.rsKeys)/ed25519_encrypted_private.key", password: "123", publicKey: nil),
        EncryptedCase(file: "\(Fixtures.rsKeys)/rsa_encrypted_private.key", password: "123", publicKey: nil),
    ]

    @Test("real encrypted keys decrypt to the documented public key and sign verifiably", .enabled(if: SharedTestData.isAvailable), arguments: encrypted)
    func encryptedFixtures(_ item: EncryptedCase) throws {
        let key = try CosignPrivateKey(pem: try Fixtures.text(item.file)) { Array(item.password.utf8) }
        if let expected = item.publicKey { #expect(Base64.encode(key.publicKey.der) == expected) }
        let message = Array("lamina".utf8)
        let signature = try key.sign(message)
        #expect(key.publicKey.isValidSignature(signature, for: message))
        #expect(!key.publicKey.isValidSignature(signature, for: Array("lamina!".utf8)))
        // A wrong password fails the secretbox MAC.
        #expect(throws: LaminaError.self) { try CosignPrivateKey(pem: try Fixtures.text(item.file)) { Array("wrong".utf8) } }
    }

    @Test("unencrypted sigstore-rs keys give the public key openssl derives", .enabled(if: SharedTestData.isAvailable))
    func unencrypted() throws {
        guard let openssl = CommandRunner.which("openssl") else {
            print("skipped: openssl not installed")
            return
        }
        let path = SharedTestData.path("\(Fixtures.rsKeys)/ecdsa_private.key")
        let ecdsa = try CosignPrivateKey(pem: try String(contentsOfFile: path, encoding: .utf8)) { [] }
        let expected = try CommandRunner.run(openssl, ["pkey", "-in", path, "-pubout"])
        #expect(expected.status == 0)
        #expect(ecdsa.publicKey.pem == expected.stdout)
        // OpenSSL 3 cannot read PKCS#8 v2; the file carries its public key in its last 32 bytes (RFC 8410 §7).
        let ed25519Block = try PEMBlock(parsing: try Fixtures.text("\(Fixtures.rsKeys)/ed25519_private.key"))
        let ed25519 = try CosignPrivateKey(der: ed25519Block.bytes)
        #expect(Array(ed25519.publicKey.der.suffix(32)) == Array(ed25519Block.bytes.suffix(32)))
        let message = Array("x".utf8)
        #expect(ed25519.publicKey.isValidSignature(try ed25519.sign(message), for: message))
    }

    @Test("cosign's CI key parses as an envelope; the empty password fails the MAC", .enabled(if: SharedTestData.isAvailable))
    func ciKey() throws {
        let text = try Fixtures.text("security/sigstore+cosign/.github/workflows/cosign-test.key")
        let block = try PEMBlock(parsing: text)
        #expect(block.label == EncryptedKey.legacyLabel)
        let envelope = try EncryptedKey(json: block.bytes)
        #expect(envelope.scrypt == EncryptedKey.ScryptParameters(n: 32768, r: 8, p: 1))
        #expect(throws: LaminaError.self) { try envelope.open(password: []) }
        _ = try CosignPublicKey(pem: try Fixtures.text("security/sigstore+cosign/.github/workflows/cosign-test.pub"))
    }

    @Test("generated keys round-trip through cosign's encrypted PEM with N=65536 r=8 p=1")
    func roundTrip() throws {
        let key = CosignPrivateKey.generate()
        let pem = try key.encryptedPEM(password: Array("pw".utf8))
        #expect(pem.hasPrefix("-----BEGIN ENCRYPTED SIGSTORE PRIVATE KEY-----\n"))
        let envelope = try EncryptedKey(json: try PEMBlock(parsing: pem).bytes)
        #expect(envelope.scrypt == .cosign)
        #expect(envelope.salt.count == 32 && envelope.nonce.count == 24)
        let json = String(decoding: envelope.json, as: UTF8.self)
        #expect(json.hasPrefix(#"{"kdf":{"name":"scrypt","params":{"N":65536,"r":8,"p":1},"salt":""#))
        let back = try CosignPrivateKey(pem: pem) { Array("pw".utf8) }
        #expect(back.publicKey.der == key.publicKey.der)
        #expect(back.pkcs8 == key.pkcs8)
        let reread = try CosignPublicKey(pem: key.publicKey.pem)
        #expect(reread.der == key.publicKey.der)
        // Tampering with the ciphertext is detected.
        var bad = envelope
        bad.ciphertext[20] ^= 1
        #expect(throws: LaminaError.self) { try bad.open(password: Array("pw".utf8)) }
    }

    @Test("malformed envelopes are refused with the field named")
    func malformed() {
        let cases: [(String, String)] = [
            (#"{"kdf":{"name":"argon2"},"cipher":{"name":"nacl/secretbox"}}"#, "argon2"),
            (#"{"kdf":{"name":"scrypt","params":{"N":3,"r":8,"p":1},"salt":"AA=="},"cipher":{"name":"nacl/secretbox","nonce":"AA=="},"ciphertext":""}"#, "out of range"),
            (#"{"cipher":{"name":"nacl/secretbox"}}"#, "kdf"),
            // 4 GiB of scrypt memory (N=2^20, r=32) and 2^24 mixes (N=2^18, r=8, p=8) are refused before any work.
            (#"{"kdf":{"name":"scrypt","params":{"N":1048576,"r":32,"p":1},"salt":"AA=="},"cipher":{"name":"nacl/secretbox","nonce":"AA=="},"ciphertext":""}"#, "need 4096 MiB"),
            (#"{"kdf":{"name":"scrypt","params":{"N":262144,"r":8,"p":8},"salt":"AA=="},"cipher":{"name":"nacl/secretbox","nonce":"AA=="},"ciphertext":""}"#, "16777216 mixes"),
        ]
        for (json, needle) in cases {
            do {
                _ = try EncryptedKey(json: Array(json.utf8))
                Issue.record("accepted \(json)")
            } catch {
                #expect("\(error)".contains(needle), "\(error)")
            }
        }
    }
}
