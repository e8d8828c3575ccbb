import Archive
import Crypto
import LaminaCore

/// An incremental hash over any of the digest algorithms apk uses.
public struct Hasher: Sendable {
    private enum State: Sendable {
        case sha1(Insecure.SHA1)
        case sha256(SHA256)
        case sha512(SHA512)
    }
    private var state: State
    public let algorithm: LaminaCore.Digest.Algorithm

    public init(_ algorithm: LaminaCore.Digest.Algorithm) {
        self.algorithm = algorithm
        switch algorithm {
        case .sha1: state = .sha1(Insecure.SHA1())
        case .sha256: state = .sha256(SHA256())
        case .sha512: state = .sha512(SHA512())
        }
    }

    public mutating func update(_ bytes: UnsafeRawBufferPointer) {
        switch state {
        case .sha1(var h): h.update(bufferPointer: bytes); state = .sha1(h)
        case .sha256(var h): h.update(bufferPointer: bytes); state = .sha256(h)
        case .sha512(var h): h.update(bufferPointer: bytes); state = .sha512(h)
        }
    }

    public mutating func update(_ bytes: [UInt8]) { bytes.withUnsafeBytes { update($0) } }

    public func finalize() -> LaminaCore.Digest { finalizeForSignature().digest }

    /// The digest in the form signatures are made and checked over.
    public func finalizeForSignature() -> SignableDigest {
        switch state {
        case .sha1(let h): return SignableDigest(.sha1(h.finalize()))
        case .sha256(let h): return SignableDigest(.sha256(h.finalize()))
        case .sha512(let h): return SignableDigest(.sha512(h.finalize()))
        }
    }

    /// One-shot digest of a buffer, ready to sign or verify.
    public static func signable(_ algorithm: LaminaCore.Digest.Algorithm, _ bytes: [UInt8]) -> SignableDigest {
        var hasher = Hasher(algorithm)
        hasher.update(bytes)
        return hasher.finalizeForSignature()
    }

    /// Digest of a file, streamed (never read whole).
    /// - Throws: `.io` when the file cannot be opened or read.
    public static func digest(_ algorithm: LaminaCore.Digest.Algorithm, file path: String) throws -> LaminaCore.Digest {
        var hasher = Hasher(algorithm)
        try FileSource(path: path).copy(to: CallbackSink { hasher.update($0) })
        return hasher.finalize()
    }

    /// One-shot digest of a buffer.
    public static func digest(_ algorithm: LaminaCore.Digest.Algorithm, _ bytes: [UInt8]) -> LaminaCore.Digest {
        bytes.withUnsafeBytes { digest(algorithm, $0) }
    }

    /// One-shot digest of raw bytes.
    public static func digest(_ algorithm: LaminaCore.Digest.Algorithm, _ bytes: UnsafeRawBufferPointer) -> LaminaCore.Digest {
        var hasher = Hasher(algorithm)
        hasher.update(bytes)
        return hasher.finalize()
    }
}

/// Several hashes at once over the same bytes (apk verifies the control member with whichever
/// algorithm its signature names, and identifies it by SHA-1).
public struct MultiHasher: Sendable {
    private var hashers: [Hasher]
    public init(_ algorithms: [LaminaCore.Digest.Algorithm]) { hashers = algorithms.map(Hasher.init) }
    public mutating func update(_ bytes: UnsafeRawBufferPointer) {
        for index in hashers.indices { hashers[index].update(bytes) }
    }
    public func finalize() -> [LaminaCore.Digest.Algorithm: SignableDigest] {
        Dictionary(uniqueKeysWithValues: hashers.map { ($0.algorithm, $0.finalizeForSignature()) })
    }
}

/// A digest computed by swift-crypto's own hashers, which is what its RSA code can sign or verify
/// (it recognises the hash by the digest's type). Made only by `Hasher`.
public struct SignableDigest: Sendable {
    enum Typed: Sendable {
        case sha1(Insecure.SHA1Digest)
        case sha256(SHA256Digest)
        case sha512(SHA512Digest)
    }
    let typed: Typed
    init(_ typed: Typed) { self.typed = typed }

    public var digest: LaminaCore.Digest {
        switch typed {
        case .sha1(let d): return LaminaCore.Digest(.sha1, bytes: Array(d))
        case .sha256(let d): return LaminaCore.Digest(.sha256, bytes: Array(d))
        case .sha512(let d): return LaminaCore.Digest(.sha512, bytes: Array(d))
        }
    }
}
