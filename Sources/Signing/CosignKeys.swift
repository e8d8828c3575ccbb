// Source: cosign `pkg/cosign/keys.go` (generate-key-pair: ECDSA P-256; import-key-pair accepts RSA PRIVATE KEY,
// EC PRIVATE KEY and PRIVATE KEY), sigstore `pkg/signature` (ECDSA signs the SHA-256 of the message, ASN.1 DER;
// RSA is PKCS#1 v1.5 over SHA-256; Ed25519 signs the message itself).
import Crypto
import CryptoExtras
import Foundation
import LaminaCore

/// A private key that signs cosign payloads: ECDSA P-256 (what cosign generates), RSA or Ed25519.
public struct CosignPrivateKey: Sendable {
    enum Storage: Sendable {
        case p256(P256.Signing.PrivateKey)
        case rsa(_RSA.Signing.PrivateKey)
        case ed25519(Curve25519.Signing.PrivateKey)
    }
    let storage: Storage

    /// A fresh ECDSA P-256 key, as `cosign generate-key-pair` makes.
    public static func generate() -> CosignPrivateKey { CosignPrivateKey(storage: .p256(P256.Signing.PrivateKey())) }

    /// Reads a key file: cosign's encrypted PEM (`ENCRYPTED SIGSTORE PRIVATE KEY` or `ENCRYPTED COSIGN PRIVATE KEY`,
    /// decrypted with `password`), or an unencrypted PKCS#8 `PRIVATE KEY`, SEC1 `EC PRIVATE KEY` or PKCS#1
    /// `RSA PRIVATE KEY`.
    /// - Throws: `LaminaError(.badSignature)` for a wrong password; `.malformed` / `.invalidInput` for anything that
    ///   is not such a key.
    public init(pem text: String, password: () throws -> [UInt8]) throws {
        let block = try PEMBlock(parsing: text)
        switch block.label {
        case EncryptedKey.label, EncryptedKey.legacyLabel:
            let envelope = try EncryptedKey(json: block.bytes)
            try self.init(der: try envelope.open(password: try password()))
        case "PRIVATE KEY", "EC PRIVATE KEY", "RSA PRIVATE KEY":
            try self.init(der: block.bytes)
        default:
            throw LaminaError(
                .invalidInput,
                "PEM '\(block.label)' is not a private key (want ENCRYPTED SIGSTORE PRIVATE KEY, PRIVATE KEY, "
                    + "EC PRIVATE KEY or RSA PRIVATE KEY)")
        }
    }

    /// A PKCS#8 (or SEC1 EC) DER private key: P-256, RSA or Ed25519.
    /// - Throws: `LaminaError(.invalidInput)` for other curves or key types.
    public init(der: [UInt8]) throws {
        if let key = try? P256.Signing.PrivateKey(derRepresentation: der) {
            storage = .p256(key)
        } else if let seed = DERKeys.ed25519Seed(pkcs8: der) {
            storage = .ed25519(try Curve25519.Signing.PrivateKey(rawRepresentation: seed))
        } else if let key = try? _RSA.Signing.PrivateKey(unsafeDERRepresentation: der) {
            storage = .rsa(key)
        } else {
            throw LaminaError(.invalidInput, "the private key is not ECDSA P-256, RSA or Ed25519 (PKCS#8 or SEC1 DER)")
        }
    }

    init(storage: Storage) { self.storage = storage }

    /// The PKCS#8 DER of the key (what cosign encrypts).
    public var pkcs8: [UInt8] {
        switch storage {
        case .p256(let key): return Array(key.derRepresentation)
        case .rsa(let key): return Array(key.pkcs8DERRepresentation)
        case .ed25519(let key): return DERKeys.ed25519PKCS8Prefix + Array(key.rawRepresentation)
        }
    }

    /// The key encrypted as cosign writes it (`ENCRYPTED SIGSTORE PRIVATE KEY`, scrypt N=65536 r=8 p=1).
    /// - Throws: `LaminaError(.internal)` when encryption fails.
    public func encryptedPEM(password: [UInt8], parameters: EncryptedKey.ScryptParameters = .cosign) throws -> String {
        try EncryptedKey.seal(pkcs8, password: password, parameters: parameters).pem
    }

    public var publicKey: CosignPublicKey {
        switch storage {
        case .p256(let key): return CosignPublicKey(storage: .p256(key.publicKey))
        case .rsa(let key): return CosignPublicKey(storage: .rsa(key.publicKey))
        case .ed25519(let key): return CosignPublicKey(storage: .ed25519(key.publicKey))
        }
    }

    /// The signature of `message`: ASN.1 DER ECDSA over SHA-256, RSA PKCS#1 v1.5 over SHA-256, or Ed25519.
    /// - Throws: `LaminaError(.internal)` when the crypto library fails.
    public func sign(_ message: [UInt8]) throws -> [UInt8] {
        do {
            switch storage {
            case .p256(let key): return Array(try key.signature(for: message).derRepresentation)
            case .rsa(let key): return Array(try key.signature(for: message, padding: .insecurePKCS1v1_5).rawRepresentation)
            case .ed25519(let key): return Array(try key.signature(for: message))
            }
        } catch {
            throw LaminaError(.internal, "signing failed: \(error)", cause: error)
        }
    }
}

/// A public key that verifies cosign signatures (PKIX `PUBLIC KEY` PEM, as in `cosign.pub`).
public struct CosignPublicKey: Sendable {
    enum Storage: Sendable {
        case p256(P256.Signing.PublicKey)
        case rsa(_RSA.Signing.PublicKey)
        case ed25519(Curve25519.Signing.PublicKey)
    }
    let storage: Storage

    init(storage: Storage) { self.storage = storage }

    /// Reads a `PUBLIC KEY` PEM (SubjectPublicKeyInfo): ECDSA P-256, RSA or Ed25519.
    /// - Throws: `LaminaError(.malformed)` for bad PEM; `.invalidInput` for another label or key type.
    public init(pem text: String) throws {
        let block = try PEMBlock(parsing: text)
        guard block.label == "PUBLIC KEY" else {
            throw LaminaError(.invalidInput, "PEM '\(block.label)' is not a PUBLIC KEY")
        }
        try self.init(der: block.bytes)
    }

    /// A SubjectPublicKeyInfo DER.
    public init(der: [UInt8]) throws {
        if let key = try? P256.Signing.PublicKey(derRepresentation: der) {
            storage = .p256(key)
        } else if der.count == DERKeys.ed25519SPKIPrefix.count + 32, der.starts(with: DERKeys.ed25519SPKIPrefix) {
            storage = .ed25519(try Curve25519.Signing.PublicKey(rawRepresentation: der.suffix(32)))
        } else if let key = try? _RSA.Signing.PublicKey(unsafeDERRepresentation: der) {
            storage = .rsa(key)
        } else {
            throw LaminaError(.invalidInput, "the public key is not ECDSA P-256, RSA or Ed25519")
        }
    }

    /// SubjectPublicKeyInfo DER.
    public var der: [UInt8] {
        switch storage {
        case .p256(let key): return Array(key.derRepresentation)
        case .rsa(let key): return Array(key.derRepresentation)
        case .ed25519(let key): return DERKeys.ed25519SPKIPrefix + Array(key.rawRepresentation)
        }
    }

    /// `-----BEGIN PUBLIC KEY-----` PEM, as in `cosign.pub`.
    public var pem: String { PEMBlock(label: "PUBLIC KEY", bytes: der).pem }

    /// Whether `signature` is this key's signature of `message`.
    public func isValidSignature(_ signature: [UInt8], for message: [UInt8]) -> Bool {
        switch storage {
        case .p256(let key):
            guard let parsed = try? P256.Signing.ECDSASignature(derRepresentation: signature) else { return false }
            return key.isValidSignature(parsed, for: message)
        case .rsa(let key):
            return key.isValidSignature(_RSA.Signing.RSASignature(rawRepresentation: signature), for: message, padding: .insecurePKCS1v1_5)
        case .ed25519(let key):
            return key.isValidSignature(signature, for: message)
        }
    }

    /// `ecdsa-p256`, `rsa-<bits>` or `ed25519`.
    public var algorithm: String {
        switch storage {
        case .p256: return "ecdsa-p256"
        case .rsa(let key): return "rsa-\(key.keySizeInBits)"
        case .ed25519: return "ed25519"
        }
    }
}

/// The fixed DER framing of Ed25519 keys (RFC 8410), which swift-crypto does not parse.
enum DERKeys {
    /// SEQUENCE { SEQUENCE { OID 1.3.101.112 } BIT STRING (33 bytes) }
    static let ed25519SPKIPrefix: [UInt8] = [0x30, 0x2a, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x03, 0x21, 0x00]
    /// PKCS#8 v1: SEQUENCE { INTEGER 0, SEQUENCE { OID 1.3.101.112 }, OCTET STRING { OCTET STRING (32 bytes) } }
    static let ed25519PKCS8Prefix: [UInt8] = [
        0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x04, 0x22, 0x04, 0x20,
    ]

    /// The 32-byte seed of a PKCS#8 Ed25519 key, v1 (48 bytes) or v2 with the public key appended (RFC 8410 §7).
    static func ed25519Seed(pkcs8 der: [UInt8]) -> [UInt8]? {
        let algorithm: [UInt8] = [0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x04, 0x22, 0x04, 0x20]
        guard der.count >= 16, der[0] == 0x30, der[2] == 0x02, der[3] == 0x01, der[4] <= 1,
            Array(der[5..<16]) == algorithm, der.count >= 48
        else { return nil }
        return Array(der[16..<48])
    }
}
