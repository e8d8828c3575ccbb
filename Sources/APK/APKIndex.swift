import Archive
import LaminaCore

/// An `APKINDEX`: the package records of one repository for one architecture.
public struct APKIndex: Sendable {
    public var packages: [PackageInfo]
    /// The `DESCRIPTION` member (e.g. `v3.16.3-13-g4d933a1fa3`), if any.
    public var description: String?
    /// Signatures found on the `.tar.gz` (empty for text input or unsigned indexes).
    public var signatures: [SignatureEntry]
    var signedDigests: [Digest.Algorithm: SignableDigest]
    /// SHA-256 of the `.tar.gz` bytes it was read from (nil for text input or an index built in memory).
    public internal(set) var archiveDigest: Digest?
    /// Compressed offset where the signed member starts in that archive (nil when it is not signed).
    public internal(set) var signedOffset: Int?

    public init(packages: [PackageInfo], description: String? = nil) {
        self.packages = packages
        self.description = description
        self.signatures = []
        self.signedDigests = [:]
    }
}

// MARK: - Text records

extension APKIndex {
    /// Parses APKINDEX text (also the installed-database header lines): records separated by blank
    /// lines, each line `X:value`. Unknown letters are ignored; lines in any order.
    /// - Throws: `.malformed` naming the line for a record without `P:`/`V:` or a bad field.
    public static func parseText(_ text: String, source: String = "APKINDEX") throws -> [PackageInfo] {
        var text = text
        return try text.withUTF8 { try parseText(bytes: UnsafeRawBufferPointer($0), source: source) }
    }

    /// Renders one record in apk-tools 2.14's order: `C P V A S I T U L`, then `o m t c k` when
    /// set, then `D p i` when not empty.
    public static func renderRecord(_ info: PackageInfo) -> String {
        var out = ""
        func line(_ letter: Character, _ value: String?) {
            if let value, !value.isEmpty { out += "\(letter):\(value)\n" }
        }
        line("C", info.checksum?.apkIdentity)
        line("P", info.name)
        line("V", info.version)
        line("A", info.arch)
        line("S", info.fileSize.map(String.init))
        line("I", info.installedSize.map(String.init))
        // apk-tools writes T, U and L even when empty.
        out += "T:\(info.description ?? "")\nU:\(info.url ?? "")\nL:\(info.license ?? "")\n"
        line("o", info.origin)
        line("m", info.maintainer)
        if let t = info.buildDate, t != 0 { line("t", String(t)) }
        line("c", info.commit)
        line("k", info.providerPriority.map(String.init))
        line("D", info.depends.map(\.description).joined(separator: " "))
        line("p", info.provides.map(\.description).joined(separator: " "))
        line("i", info.installIf.map(\.description).joined(separator: " "))
        return out
    }

    /// The whole APKINDEX text: records sorted by name then version, separated by blank lines.
    public func renderText() -> String {
        packages.map { Self.renderRecord($0) + "\n" }.joined()
    }
}

// MARK: - APKINDEX.tar.gz

extension APKIndex {
    /// Reads `APKINDEX.tar.gz` (signed or not, any number of signatures) or a plain APKINDEX text file.
    public static func read(path: String, limits: SizeLimits = .default) throws -> APKIndex {
        try LaminaError.about(path) {
            let source = try FileSource(path: path)
            var magic = [UInt8](repeating: 0, count: 2)
            let n = try magic.withUnsafeMutableBytes { try source.readFully(into: $0) }
            if n == 2 && magic == [0x1f, 0x8b] {
                try source.seek(to: 0)
                return try read(source: source, name: path, limits: limits)
            }
            try source.seek(to: 0)
            let bytes = try source.readAll(limit: Int(limits.maxIndexSize), what: "index")
            return APKIndex(packages: try bytes.withUnsafeBytes { try parseText(bytes: $0, source: path, maxRecords: limits.maxIndexRecords) })
        }
    }

    /// Reads an index held in memory: `APKINDEX.tar.gz` bytes or plain APKINDEX text, as `read(path:)` does.
    public static func read(bytes: [UInt8], name: String, limits: SizeLimits = .default) throws -> APKIndex {
        if bytes.starts(with: [0x1f, 0x8b]) { return try read(source: MemorySource(bytes), name: name, limits: limits) }
        guard bytes.count <= limits.maxIndexSize else {
            throw LaminaError(.limitExceeded, "index is larger than \(limits.maxIndexSize) bytes (limit)", subject: name)
        }
        return APKIndex(packages: try bytes.withUnsafeBytes { try parseText(bytes: $0, source: name, maxRecords: limits.maxIndexRecords) })
    }

    /// Reads an `APKINDEX.tar.gz` stream.
    public static func read(source: ByteSource, name: String, limits: SizeLimits = .default) throws -> APKIndex {
        let gzip = try GzipReader(source, limit: limits.maxIndexSize, name: name)
        final class State {
            var signedMember = -1
            var hashers = MultiHasher([])
            var firstHashers = MultiHasher([.sha1, .sha256, .sha512])
            var archive = Hasher(.sha256)
        }
        let state = State()
        gzip.onCompressed = { bytes, member in
            state.archive.update(bytes)
            if member == 0 { state.firstHashers.update(bytes) }
            if member == state.signedMember { state.hashers.update(bytes) }
        }
        var (members, packages) = try readMember(gzip, name: name, limits: limits)
        var signatures: [SignatureEntry] = []
        var signedOffset: Int?
        var digests: [Digest.Algorithm: SignableDigest]
        if !members.isEmpty, members.allSatisfy({ $0.0.path.hasPrefix(".SIGN.") }) {
            for (entry, bytes) in members {
                if let (algorithm, key) = SignatureAlgorithm.parse(entryName: entry.path) {
                    signatures.append(SignatureEntry(algorithm: algorithm, keyName: key, bytes: bytes))
                }
            }
            guard try gzip.nextMember() else {
                throw LaminaError(.malformed, "index signature is not followed by the index", subject: name)
            }
            // Only the digests the signatures need (the signed member is not read yet).
            state.hashers = MultiHasher(Array(Set(signatures.map(\.algorithm.digestAlgorithm))).sorted { $0.rawValue < $1.rawValue })
            state.signedMember = 1
            signedOffset = Int(gzip.compressedOffset)
            (members, packages) = try readMember(gzip, name: name, limits: limits)
            digests = [:]
            if try gzip.nextMember() {
                throw LaminaError(.malformed, "unexpected gzip member after the index", subject: name)
            }
            digests = state.hashers.finalize()
        } else {
            digests = state.firstHashers.finalize()
            if try gzip.nextMember() {
                throw LaminaError(.malformed, "unexpected gzip member after the index", subject: name)
            }
        }
        guard let packages else {
            throw LaminaError(.malformed, "no APKINDEX member in the archive", subject: name)
        }
        var index = APKIndex(
            packages: packages,
            description: members.first(where: { $0.0.path == "DESCRIPTION" }).map { String(decoding: $0.1, as: UTF8.self) })
        index.signatures = signatures
        index.signedDigests = digests
        index.signedOffset = signedOffset
        index.archiveDigest = state.archive.finalize()
        return index
    }

    /// Reads one gzip member's tar: the first `APKINDEX` entry is parsed as it is inflated (its text is never
    /// held whole), every other entry is returned with its content.
    private static func readMember(_ gzip: GzipReader, name: String, limits: SizeLimits) throws
        -> (entries: [(TarEntry, [UInt8])], packages: [PackageInfo]?)
    {
        let tar = TarReader(gzip, name: name, limits: limits)
        var out: [(TarEntry, [UInt8])] = []
        var packages: [PackageInfo]?
        while let entry = try tar.next() {
            if entry.path == "APKINDEX", packages == nil {
                packages = try parseText(stream: tar.content, source: "\(name): APKINDEX", maxRecords: limits.maxIndexRecords)
                out.append((entry, []))
            } else {
                out.append((entry, try tar.readContent(limit: Int(limits.maxIndexSize))))
            }
        }
        try gzip.skipMember()
        return (out, packages)
    }

    /// Checks the index signatures against `keyring`, as `apk verify` does for an index.
    public func verify(keyring: Keyring) -> VerificationVerdict {
        var badKey: String?
        for signature in signatures {
            guard let key = keyring[signature.keyName], let digest = signedDigests[signature.algorithm.digestAlgorithm] else { continue }
            if key.isValid(signature: signature.bytes, for: digest) { return .ok(keyName: signature.keyName) }
            badKey = badKey ?? signature.keyName
        }
        if let badKey { return .badSignature(keyName: badKey) }
        return .untrusted
    }

    /// Writes a signed `APKINDEX.tar.gz`: a signature member (unless `signingKeys` is empty) and a
    /// member holding `APKINDEX` and `DESCRIPTION`, every tar header owned by root with mtime 0.
    public func archiveBytes(signingKeys: [SigningKey], algorithms: [SignatureAlgorithm] = [.rsaSHA256]) throws -> [UInt8] {
        let sink = MemorySink()
        let tar = TarWriter(sink)
        let entry = { (name: String) in
            TarEntry(path: name, kind: .regular, mode: 0o644, userName: "root", groupName: "root")
        }
        try tar.append(entry("APKINDEX"), bytes: Array(renderText().utf8))
        try tar.append(entry("DESCRIPTION"), bytes: Array((description ?? "").utf8))
        try tar.finish(terminate: true)
        let indexMember = try GzipWriter.compress(sink.bytes)
        let signature = try signatureMember(signing: indexMember, keys: signingKeys, algorithms: algorithms, modificationTime: 0)
        return signature + indexMember
    }
}

/// Builds the gzip member holding `.SIGN.<TYPE>.<key>` entries over `signed` (unterminated tar).
func signatureMember(signing signed: [UInt8], keys: [SigningKey], algorithms: [SignatureAlgorithm], modificationTime: Int64) throws -> [UInt8] {
    if keys.isEmpty { return [] }
    let sink = MemorySink()
    let tar = TarWriter(sink)
    for key in keys {
        for algorithm in algorithms {
            let digest = Hasher.signable(algorithm.digestAlgorithm, signed)
            let bytes = try key.sign(digest)
            try tar.append(
                TarEntry(path: algorithm.entryName(keyName: key.keyName), kind: .regular, mode: 0o644, userName: "root", groupName: "root", modificationTime: modificationTime),
                bytes: bytes)
        }
    }
    try tar.finish(terminate: false)
    return try GzipWriter.compress(sink.bytes)
}
