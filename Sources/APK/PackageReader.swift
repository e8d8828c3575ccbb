import Archive
import LaminaCore

/// A `.SIGN.*` entry of a package or index.
public struct SignatureEntry: Sendable, Hashable {
    public var algorithm: SignatureAlgorithm
    /// The key file name the signature names (must match a file in the keyring).
    public var keyName: String
    public var bytes: [UInt8]
}

/// What reading an `.apk` learned: metadata, signatures, control files and segment digests.
public struct PackageArchive: Sendable {
    public var info: PackageInfo
    public var signatures: [SignatureEntry]
    /// Control-segment members other than `.PKGINFO` (scripts, `.melange.yaml`, …) with their bytes.
    public var controlFiles: [(entry: TarEntry, bytes: [UInt8])]
    /// The package identity (`C:`): SHA-1 of the compressed control member, or of control + data
    /// for legacy packages without `datahash`.
    public var identity: Digest
    /// SHA-256 of the compressed data members (what `datahash` must equal).
    public var dataDigest: Digest?
    /// SHA-1 of the compressed signature member (apko lock files record it).
    public var signatureDigest: Digest?
    /// Compressed byte ranges: signature (if any), control, data.
    public var signatureRange: Range<Int64>?
    public var controlRange: Range<Int64>
    public var dataRange: Range<Int64>
    /// Digests of the signed bytes, one per algorithm that a signature uses.
    var signedDigests: [Digest.Algorithm: SignableDigest]
    /// Data members, when listing was requested.
    public var files: [FileRecord]

    /// The total file size.
    public var fileSize: Int64 { dataRange.upperBound }

    /// A data-segment member as `package info` lists it.
    public struct FileRecord: Sendable, Hashable {
        public var entry: TarEntry
        /// SHA-1 of the content (regular files) or of the link target (symlinks), as apk records it.
        public var sha1: Digest?
    }
}

/// The verdict `apk verify` would give.
public enum VerificationVerdict: Sendable, Equatable, CustomStringConvertible {
    case ok(keyName: String)
    /// No signature by a key in the keyring (or no signature at all).
    case untrusted
    case badSignature(keyName: String)
    case dataHashMismatch(expected: String, actual: String)
    case malformed(String)

    public var isOK: Bool { if case .ok = self { return true } else { return false } }

    public var description: String {
        switch self {
        case .ok(let key): return "OK (signed by \(key))"
        case .untrusted: return "UNTRUSTED (no signature by a key in the keyring)"
        case .badSignature(let key): return "BAD signature (key \(key))"
        case .dataHashMismatch(let expected, let actual): return "datahash mismatch (expected \(expected), got \(actual))"
        case .malformed(let message): return "malformed: \(message)"
        }
    }
}

/// Reads `.apk` files in one streaming pass: signature, control and data segments are told apart by
/// their gzip members, every compressed byte is hashed as it goes by, and data members are handed
/// to a consumer without being held in memory.
public struct PackageReader: Sendable {
    public var limits: SizeLimits
    public init(limits: SizeLimits = .default) { self.limits = limits }

    /// Called for each data member; read its content from `reader` (or leave it to be skipped).
    public typealias DataHandler = (TarEntry, TarReader) throws -> Void

    /// Reads the package at `path`.
    /// - Parameters:
    ///   - listFiles: collect the data members (with SHA-1 of each file) into `files`.
    ///   - onData: receives each data member as it streams by (paths already validated).
    /// - Throws: `.malformed`, `.unsafePath`, `.limitExceeded` naming the file.
    public func read(path: String, listFiles: Bool = false, onData: DataHandler? = nil) throws -> PackageArchive {
        try LaminaError.about(path) {
            try read(source: try FileSource(path: path), name: path, listFiles: listFiles, onData: onData)
        }
    }

    /// Reads a package from any byte source.
    public func read(source: ByteSource, name: String, listFiles: Bool = false, onData: DataHandler? = nil) throws -> PackageArchive {
        let gzip = try GzipReader(source, limit: limits.maxPackageSize, name: name)
        // Which member is the control member, whether the data segment is covered by the signature
        // (legacy packages), and the running hashes of each segment.
        final class State {
            var controlMember = -1
            var firstMemberHashers = MultiHasher([.sha1, .sha256, .sha512])
            var controlHashers = MultiHasher([.sha1, .sha256, .sha512])
            var dataHasher = Hasher(.sha256)
            var legacy = false
        }
        let state = State()
        gzip.onCompressed = { bytes, member in
            if member == 0 { state.firstMemberHashers.update(bytes) }
            if state.controlMember >= 0 {
                if member == state.controlMember || (state.legacy && member > state.controlMember) {
                    state.controlHashers.update(bytes)
                }
                if member > state.controlMember { state.dataHasher.update(bytes) }
            }
        }

        // Member 0: the signature tar, or (unsigned packages) the control tar.
        let firstEntries = try readSmallTar(gzip, name: name, what: "first gzip member")
        var signatures: [SignatureEntry] = []
        var controlEntries: [(entry: TarEntry, bytes: [UInt8])]
        var signatureRange: Range<Int64>?
        let controlDigestsFromFirst: Bool
        if !firstEntries.isEmpty, firstEntries.allSatisfy({ $0.entry.path.hasPrefix(".SIGN.") }) {
            for (entry, bytes) in firstEntries {
                guard let (algorithm, keyName) = SignatureAlgorithm.parse(entryName: entry.path) else { continue }
                signatures.append(SignatureEntry(algorithm: algorithm, keyName: keyName, bytes: bytes))
            }
            signatureRange = gzip.memberRanges[0]
            guard try gzip.nextMember() else {
                throw LaminaError(.malformed, "signature segment is not followed by a control segment", subject: name)
            }
            state.controlMember = 1
            controlEntries = try readSmallTar(gzip, name: name, what: "control segment")
            controlDigestsFromFirst = false
        } else {
            state.controlMember = 0
            controlEntries = firstEntries
            controlDigestsFromFirst = true
        }
        let controlRange = gzip.memberRanges[state.controlMember]

        var info = try controlInfo(controlEntries, name: name)
        state.legacy = info.dataHash == nil
        if state.legacy {
            // Without datahash the signature and identity cover control and data together.
            if controlDigestsFromFirst { state.controlHashers = state.firstMemberHashers }
        }
        let firstDigests = state.firstMemberHashers.finalize()
        let controlOnly = controlDigestsFromFirst ? firstDigests : nil

        // Data members: one tar stream across all remaining members.
        let dataStart = gzip.compressedOffset
        let files = try gzip.nextMember() ? try readData(gzip, name: name, listFiles: listFiles, onData: onData) : []
        let dataEnd = gzip.compressedOffset

        // Signed bytes: the control member, or control + data for legacy packages.
        var signedDigests = state.controlHashers.finalize()
        if !state.legacy, let controlOnly { signedDigests = controlOnly }
        guard let identityDigest = signedDigests[.sha1]?.digest else {
            throw LaminaError(.internal, "no SHA-1 of the control segment", subject: name)
        }
        info.checksum = identityDigest
        info.fileSize = dataEnd
        return PackageArchive(
            info: info, signatures: signatures, controlFiles: controlEntries.filter { $0.entry.path != ".PKGINFO" },
            identity: identityDigest, dataDigest: dataEnd > dataStart || !state.legacy ? state.dataHasher.finalize() : nil,
            signatureDigest: signatureRange == nil ? nil : firstDigests[.sha1]?.digest,
            signatureRange: signatureRange, controlRange: controlRange, dataRange: dataStart..<dataEnd,
            signedDigests: signedDigests, files: files)
    }

    /// The `.PKGINFO` of a control segment, which holds nothing but dot files.
    private func controlInfo(_ controlEntries: [(entry: TarEntry, bytes: [UInt8])], name: String) throws -> PackageInfo {
        guard let pkginfo = controlEntries.first(where: { $0.entry.path == ".PKGINFO" }) else {
            throw LaminaError(.malformed, "no .PKGINFO in the control segment", subject: name)
        }
        if let stray = controlEntries.first(where: { !$0.entry.path.hasPrefix(".") }) {
            throw LaminaError(.malformed, "control segment holds a data file '\(stray.entry.path)'", subject: name)
        }
        return try PKGINFO.parse(String(decoding: pkginfo.bytes, as: UTF8.self), source: "\(name): .PKGINFO")
    }

    /// Reads the data members (one tar stream across every member after the control one), handing each entry
    /// to `onData` and listing it (with its SHA-1) when asked, then drains the gzip stream so every compressed
    /// byte is hashed.
    private func readData(_ gzip: GzipReader, name: String, listFiles: Bool, onData: DataHandler?) throws
        -> [PackageArchive.FileRecord]
    {
        var files: [PackageArchive.FileRecord] = []
        gzip.continuous = true
        let tar = TarReader(gzip, name: "\(name): data", limits: limits)
        while var entry = try tar.next() {
            entry.path = try SafePath.normalize(entry.path)
            if entry.path.isEmpty { continue }
            if entry.kind == .hardLink { entry.linkTarget = try SafePath.normalize(entry.linkTarget) }
            if let onData { try onData(entry, tar) }
            if listFiles {
                var sha1: Digest?
                if entry.kind == .regular {
                    var hasher = Hasher(.sha1)
                    _ = try tar.content.copy(to: CallbackSink { hasher.update($0) })
                    sha1 = hasher.finalize()
                } else if entry.kind == .symbolicLink {
                    sha1 = Hasher.digest(.sha1, Array(entry.linkTarget.utf8))
                }
                files.append(.init(entry: entry, sha1: sha1))
            }
        }
        // Drain what follows the end-of-archive blocks so every compressed byte is hashed.
        let scratch = UnsafeMutableRawBufferPointer.allocate(byteCount: 64 * 1024, alignment: 16)
        defer { scratch.deallocate() }
        while try gzip.read(into: scratch) > 0 {}
        return files
    }

    /// Reads a whole (small) tar member into memory.
    private func readSmallTar(_ gzip: GzipReader, name: String, what: String) throws -> [(entry: TarEntry, bytes: [UInt8])] {
        let tar = TarReader(gzip, name: "\(name): \(what)", limits: limits)
        var entries: [(entry: TarEntry, bytes: [UInt8])] = []
        var total = 0
        while let entry = try tar.next() {
            let bytes = try tar.readContent(limit: Int(limits.maxControlSize) - total)
            total += bytes.count
            entries.append((entry, bytes))
        }
        // Anything after the tar blocks inside this member (there should be nothing) still counts.
        try gzip.skipMember()
        return entries
    }
}

extension PackageArchive {
    /// Checks the signatures against `keyring` and the data segment against `datahash`, as
    /// `apk verify` does: one valid signature by a known key is enough.
    public func verify(keyring: Keyring) -> VerificationVerdict {
        // A bad signature is the strongest verdict (apk stops there); then the data check; then trust.
        var trustedKey: String?
        var badKey: String?
        for signature in signatures {
            guard let key = keyring[signature.keyName] else { continue }
            guard let digest = signedDigests[signature.algorithm.digestAlgorithm] else { continue }
            if key.isValid(signature: signature.bytes, for: digest) {
                trustedKey = trustedKey ?? signature.keyName
            } else {
                badKey = badKey ?? signature.keyName
            }
        }
        if trustedKey == nil, let badKey { return .badSignature(keyName: badKey) }
        if let expected = info.dataHash {
            let actual = dataDigest?.hex ?? ""
            if expected.lowercased() != actual { return .dataHashMismatch(expected: expected, actual: actual) }
        }
        if let trustedKey { return .ok(keyName: trustedKey) }
        return .untrusted
    }
}
