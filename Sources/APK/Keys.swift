import Crypto
import CryptoExtras
import Foundation
import LaminaCore

/// The hash an apk signature is made over: `.SIGN.RSA.` is SHA-1, `.SIGN.RSA256.` SHA-256,
/// `.SIGN.RSA512.` SHA-512.
public enum SignatureAlgorithm: String, Sendable, CaseIterable, Hashable {
    case rsaSHA1 = "RSA"
    case rsaSHA256 = "RSA256"
    case rsaSHA512 = "RSA512"

    /// The signature member name for a key file called `keyName`: `.SIGN.RSA256.melange.rsa.pub`.
    public func entryName(keyName: String) -> String { ".SIGN.\(rawValue).\(keyName)" }

    /// Splits `.SIGN.<TYPE>.<keyname>` into algorithm and key name; nil if it is not one.
    public static func parse(entryName: String) -> (SignatureAlgorithm, String)? {
        guard entryName.hasPrefix(".SIGN.") else { return nil }
        let rest = entryName.dropFirst(".SIGN.".count)
        guard let dot = rest.firstIndex(of: ".") else { return nil }
        guard let algorithm = SignatureAlgorithm(rawValue: String(rest[..<dot])) else { return nil }
        let key = String(rest[rest.index(after: dot)...])
        return key.isEmpty ? nil : (algorithm, key)
    }

    /// `sha1`, `sha256`, `sha512`.
    public var digestAlgorithm: LaminaCore.Digest.Algorithm {
        switch self {
        case .rsaSHA1: return .sha1
        case .rsaSHA256: return .sha256
        case .rsaSHA512: return .sha512
        }
    }
}

/// An RSA private key that signs packages and indexes (PKCS#1 v1.5, as apk and openssl do).
public struct SigningKey: Sendable {
    let key: _RSA.Signing.PrivateKey
    /// The name signatures carry: the private key's file name + `.pub` (melange's convention),
    /// which is the file name users install the public key under in `/etc/apk/keys/`.
    public var keyName: String

    public init(key: _RSA.Signing.PrivateKey, keyName: String) {
        self.key = key
        self.keyName = keyName
    }

    /// Generates a new key of `bits` bits (at least 2048).
    public static func generate(bits: Int, keyName: String) throws -> SigningKey {
        guard bits >= 2048 else { throw LaminaError(.invalidInput, "RSA keys must be at least 2048 bits, not \(bits)") }
        guard bits % 8 == 0, bits <= 16384 else { throw LaminaError(.invalidInput, "unsupported RSA key size \(bits)") }
        return SigningKey(key: try _RSA.Signing.PrivateKey(keySize: .init(bitCount: bits)), keyName: keyName)
    }

    /// Loads a PEM private key (PKCS#1 `RSA PRIVATE KEY` or PKCS#8 `PRIVATE KEY`) from `path`;
    /// the key name defaults to `<basename of path>.pub`.
    public static func load(path: String, keyName: String? = nil) throws -> SigningKey {
        let text = try readText(path)
        let name = keyName ?? ((path as NSString).lastPathComponent + ".pub")
        do {
            return SigningKey(key: try _RSA.Signing.PrivateKey(pemRepresentation: text), keyName: name)
        } catch {
            if let key = try? _RSA.Signing.PrivateKey(unsafePEMRepresentation: text) {
                return SigningKey(key: key, keyName: name)
            }
            throw LaminaError(.invalidInput, "not a PEM RSA private key", subject: path)
        }
    }

    /// PKCS#1 PEM (`BEGIN RSA PRIVATE KEY`), as `melange keygen` and `openssl genrsa -traditional` write.
    public var pkcs1PEM: String { key.pemRepresentation }
    /// The public half.
    public var publicKey: PublicKey { PublicKey(key: key.publicKey) }
    public var bitCount: Int { key.keySizeInBits }

    /// Signs `digest` (computed over the signed bytes) with PKCS#1 v1.5.
    public func sign(_ digest: SignableDigest) throws -> [UInt8] {
        let signature: _RSA.Signing.RSASignature
        switch digest.typed {
        case .sha1(let d): signature = try key.signature(for: d, padding: .insecurePKCS1v1_5)
        case .sha256(let d): signature = try key.signature(for: d, padding: .insecurePKCS1v1_5)
        case .sha512(let d): signature = try key.signature(for: d, padding: .insecurePKCS1v1_5)
        }
        return Array(signature.rawRepresentation)
    }
}

/// An RSA public key from a keyring.
public struct PublicKey: Sendable {
    let key: _RSA.Signing.PublicKey

    init(key: _RSA.Signing.PublicKey) { self.key = key }

    /// Parses PEM `PUBLIC KEY` (SPKI) or `RSA PUBLIC KEY` (PKCS#1), of any size apk accepts.
    public init(pem: String, source: String) throws {
        if let key = try? _RSA.Signing.PublicKey(unsafePEMRepresentation: pem) {
            self.key = key
            return
        }
        throw LaminaError(.invalidInput, "not a PEM RSA public key", subject: source)
    }

    /// SPKI PEM (`BEGIN PUBLIC KEY`), the form apk keeps in `/etc/apk/keys/`.
    public var pem: String { key.pemRepresentation }
    public var bitCount: Int { key.keySizeInBits }

    /// Checks a PKCS#1 v1.5 signature over `digest`.
    public func isValid(signature: [UInt8], for digest: SignableDigest) -> Bool {
        let sig = _RSA.Signing.RSASignature(rawRepresentation: signature)
        switch digest.typed {
        case .sha1(let d): return key.isValidSignature(sig, for: d, padding: .insecurePKCS1v1_5)
        case .sha256(let d): return key.isValidSignature(sig, for: d, padding: .insecurePKCS1v1_5)
        case .sha512(let d): return key.isValidSignature(sig, for: d, padding: .insecurePKCS1v1_5)
        }
    }
}

/// Public keys by file name, as apk looks them up: the name after `.SIGN.<TYPE>.` must equal a key's
/// file name.
public struct Keyring: Sendable {
    public private(set) var keys: [String: PublicKey] = [:]

    public init() {}

    /// Adds every regular file of `directory` that holds a PEM public key (others are skipped).
    public mutating func addDirectory(_ directory: String) throws {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: directory, isDirectory: &isDirectory) else {
            throw LaminaError(.notFound, "keyring directory does not exist", subject: directory)
        }
        guard isDirectory.boolValue else {
            try addFile(directory)
            return
        }
        for name in try FileManager.default.contentsOfDirectory(atPath: directory).sorted() {
            let path = directory + "/" + name
            guard let text = try? String(contentsOfFile: path, encoding: .utf8), text.contains("PUBLIC KEY-----") else { continue }
            keys[name] = try PublicKey(pem: text, source: path)
        }
    }

    /// Adds one key file under its file name (or `name`).
    public mutating func addFile(_ path: String, name: String? = nil) throws {
        let text = try readText(path)
        keys[name ?? (path as NSString).lastPathComponent] = try PublicKey(pem: text, source: path)
    }

    /// Adds a key from PEM text.
    public mutating func add(name: String, pem: String) throws {
        keys[name] = try PublicKey(pem: pem, source: name)
    }

    public subscript(name: String) -> PublicKey? { keys[name] }
    public var isEmpty: Bool { keys.isEmpty }
}

func readText(_ path: String) throws -> String {
    guard FileManager.default.fileExists(atPath: path) else { throw LaminaError(.notFound, "no such file", subject: path) }
    do { return try String(contentsOfFile: path, encoding: .utf8) } catch {
        throw LaminaError(.io, "cannot read: \(error.localizedDescription)", subject: path)
    }
}
