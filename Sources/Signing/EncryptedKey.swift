// Source: cosign `pkg/cosign/keys.go` and go-securesystemslib `encrypted/encrypted.go` (the envelope cosign uses):
// PEM `ENCRYPTED SIGSTORE PRIVATE KEY` (older: `ENCRYPTED COSIGN PRIVATE KEY`) whose body is the JSON
// {"kdf":{"name":"scrypt","params":{"N":…,"r":…,"p":…},"salt":b64},"cipher":{"name":"nacl/secretbox","nonce":b64},
//  "ciphertext":b64}; key = scrypt(password, salt, N, r, p, 32); ciphertext = secretbox(PKCS#8 DER).
import CryptoExtras
import Foundation
import LaminaCore

/// cosign's password-encrypted private key envelope.
public struct EncryptedKey: Sendable, Hashable {
    /// The most memory a key file's scrypt parameters may ask for.
    static let maximumScryptMemory = 256 << 20

    public static let label = "ENCRYPTED SIGSTORE PRIVATE KEY"
    public static let legacyLabel = "ENCRYPTED COSIGN PRIVATE KEY"

    /// scrypt cost parameters.
    public struct ScryptParameters: Sendable, Hashable {
        public var n: Int
        public var r: Int
        public var p: Int
        /// cosign's current parameters (go-securesystemslib's default): N=65536, r=8, p=1.
        public static let cosign = ScryptParameters(n: 65536, r: 8, p: 1)
        public init(n: Int, r: Int, p: Int) {
            self.n = n
            self.r = r
            self.p = p
        }
    }

    public var scrypt: ScryptParameters
    public var salt: [UInt8]
    public var nonce: [UInt8]
    /// Poly1305 tag followed by the encrypted key bytes.
    public var ciphertext: [UInt8]

    public init(scrypt: ScryptParameters, salt: [UInt8], nonce: [UInt8], ciphertext: [UInt8]) {
        self.scrypt = scrypt
        self.salt = salt
        self.nonce = nonce
        self.ciphertext = ciphertext
    }

    /// Encrypts `plaintext` (a PKCS#8 DER key) with a fresh salt and nonce.
    /// - Throws: `LaminaError(.internal)` when scrypt or secretbox fail.
    public static func seal(
        _ plaintext: [UInt8], password: [UInt8], parameters: ScryptParameters = .cosign
    ) throws -> EncryptedKey {
        let salt = SecretBox.randomBytes(32)
        let nonce = SecretBox.randomBytes(SecretBox.nonceBytes)
        let key = try derive(password: password, salt: salt, parameters: parameters)
        return EncryptedKey(
            scrypt: parameters, salt: salt, nonce: nonce, ciphertext: try SecretBox.seal(plaintext, key: key, nonce: nonce))
    }

    /// The decrypted key bytes.
    /// - Throws: `LaminaError(.badSignature)` for a wrong password or altered envelope.
    public func open(password: [UInt8]) throws -> [UInt8] {
        try SecretBox.open(ciphertext, key: try Self.derive(password: password, salt: salt, parameters: scrypt), nonce: nonce)
    }

    static func derive(password: [UInt8], salt: [UInt8], parameters: ScryptParameters) throws -> [UInt8] {
        do {
            let key = try KDF.Scrypt.deriveKey(
                from: password, salt: salt, outputByteCount: SecretBox.keyBytes, rounds: parameters.n,
                blockSize: parameters.r, parallelism: parameters.p)
            return key.withUnsafeBytes { Array($0) }
        } catch {
            throw LaminaError(.internal, "scrypt failed: \(error)", cause: error)
        }
    }

    // MARK: JSON

    /// Parses the envelope JSON (the PEM body).
    /// - Throws: `LaminaError(.malformed)` naming the missing or bad field; `.invalidInput` for a KDF or cipher
    ///   other than scrypt / nacl secretbox, or scrypt parameters outside N ≤ 2^20 (a power of two), r ≤ 32, p ≤ 16.
    public init(json bytes: [UInt8]) throws {
        guard let object = try? JSONSerialization.jsonObject(with: Data(bytes)) as? [String: Any] else {
            throw LaminaError(.malformed, "encrypted key body is not a JSON object")
        }
        func field<T>(_ value: Any?, _ path: String, as _: T.Type) throws -> T {
            guard let typed = value as? T else { throw LaminaError(.malformed, "encrypted key: missing or bad '\(path)'") }
            return typed
        }
        func base64(_ value: Any?, _ path: String) throws -> [UInt8] {
            guard let bytes = Base64.decode(try field(value, path, as: String.self)) else {
                throw LaminaError(.malformed, "encrypted key: '\(path)' is not base64")
            }
            return bytes
        }
        let kdf = try field(object["kdf"], "kdf", as: [String: Any].self)
        let cipher = try field(object["cipher"], "cipher", as: [String: Any].self)
        let kdfName = try field(kdf["name"], "kdf.name", as: String.self)
        guard kdfName == "scrypt" else { throw LaminaError(.invalidInput, "encrypted key: unsupported kdf '\(kdfName)' (want scrypt)") }
        let cipherName = try field(cipher["name"], "cipher.name", as: String.self)
        guard cipherName == "nacl/secretbox" else {
            throw LaminaError(.invalidInput, "encrypted key: unsupported cipher '\(cipherName)' (want nacl/secretbox)")
        }
        let params = try field(kdf["params"], "kdf.params", as: [String: Any].self)
        let n = try field(params["N"], "kdf.params.N", as: Int.self)
        let r = try field(params["r"], "kdf.params.r", as: Int.self)
        let p = try field(params["p"], "kdf.params.p", as: Int.self)
        guard n > 1, n <= 1 << 20, n & (n - 1) == 0, (1...32).contains(r), (1...16).contains(p) else {
            throw LaminaError(.invalidInput, "encrypted key: scrypt parameters N=\(n) r=\(r) p=\(p) are out of range")
        }
        // scrypt needs 128·N·r bytes and N·r·p block mixes: a key file must not be able to ask for gigabytes or
        // minutes (cosign writes N=65536 r=8 p=1: 64 MiB).
        guard 128 * n * r <= Self.maximumScryptMemory, n * r * p <= 1 << 23 else {
            throw LaminaError(
                .invalidInput,
                "encrypted key: scrypt parameters N=\(n) r=\(r) p=\(p) need \((128 * n * r) >> 20) MiB and \(n * r * p) mixes "
                    + "(at most \(Self.maximumScryptMemory >> 20) MiB and \(1 << 23))")
        }
        let nonce = try base64(cipher["nonce"], "cipher.nonce")
        guard nonce.count == SecretBox.nonceBytes else {
            throw LaminaError(.malformed, "encrypted key: nonce is \(nonce.count) bytes, want \(SecretBox.nonceBytes)")
        }
        self.init(
            scrypt: ScryptParameters(n: n, r: r, p: p), salt: try base64(kdf["salt"], "kdf.salt"), nonce: nonce,
            ciphertext: try base64(object["ciphertext"], "ciphertext"))
    }

    /// The envelope JSON, fields in go-securesystemslib's order (what cosign writes).
    public var json: [UInt8] {
        let text =
            #"{"kdf":{"name":"scrypt","params":{"N":\#(scrypt.n),"r":\#(scrypt.r),"p":\#(scrypt.p)},"salt":"\#(Base64.encode(salt))"},"#
            + #""cipher":{"name":"nacl/secretbox","nonce":"\#(Base64.encode(nonce))"},"ciphertext":"\#(Base64.encode(ciphertext))"}"#
        return Array(text.utf8)
    }

    /// The PEM cosign writes (`ENCRYPTED SIGSTORE PRIVATE KEY`).
    public var pem: String { PEMBlock(label: Self.label, bytes: json).pem }
}
