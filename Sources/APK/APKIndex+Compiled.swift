import LaminaCore

// The compiled form of a parsed APKINDEX.tar.gz: what reading the archive produced (records, description,
// signatures, where the signed member begins), in a compact binary layout that loads without inflating or
// parsing text. It is a cache of the parse, never a source of trust: loading it needs the archive's own
// bytes, which must hash to the SHA-256 the compiled form was made from, and the signatures are checked
// again over those bytes.
//
// Layout (integers little-endian):
//
//     magic     8 bytes  "LAMIDX\0\u{1}" (the last byte is the layout version)
//     checksum 32 bytes  SHA-256 of everything that follows
//     archive  32 bytes  SHA-256 of the APKINDEX.tar.gz it was compiled from
//     signed    u64      compressed offset where the signed member starts (u64 max: unsigned index)
//     strings   u32 count, then per string: u32 length, UTF-8 bytes
//     description         string id
//     signatures u32 count, then per signature: u8 algorithm, string id of the key name, u32 length, bytes
//     records   u32 count, then per record:
//               11 string ids: name version arch description url license origin maintainer commit
//                              dataHash packager
//               u8 presence bits (buildDate installedSize fileSize providerPriority replacesPriority
//                                 checksum), then an i64 for each present number
//               checksum: u8 algorithm, its bytes
//               depends, provides, installIf, replaces: u32 count, then per atom: string id of the
//                              name, string id of the tag, u8 operator (0: none), string id of the
//                              version, u8 conflict
//               triggers: u32 count, string ids
//
// A string id is an index into the string table; 0xFFFFFFFF means absent.

extension APKIndex {
    static let compiledMagic: [UInt8] = Array("LAMIDX".utf8) + [0, 1]
    private static let none: UInt32 = 0xFFFF_FFFF

    /// The compiled form of this index (see the layout above).
    /// - Throws: `.internal` for an index that was not read from an archive (nothing to key it by).
    public func compiledRepresentation() throws -> [UInt8] {
        guard let archiveDigest, archiveDigest.algorithm == .sha256 else {
            throw LaminaError(.internal, "only an index read from an archive can be compiled")
        }
        var writer = CompiledWriter()
        writer.bytes(archiveDigest.bytes)
        writer.u64(signedOffset.map { UInt64($0) } ?? UInt64.max)
        // The string table comes first in the file but is filled while the rest is written.
        var body = CompiledWriter()
        body.string(description)
        body.u32(UInt32(signatures.count))
        for signature in signatures {
            body.u8(UInt8(SignatureAlgorithm.allCases.firstIndex(of: signature.algorithm)!))
            body.string(signature.keyName)
            body.u32(UInt32(signature.bytes.count))
            body.bytes(signature.bytes)
        }
        body.u32(UInt32(packages.count))
        for info in packages {
            for text in [info.name, info.version, info.arch, info.description, info.url, info.license, info.origin,
                         info.maintainer, info.commit, info.dataHash, info.packager] as [String?] {
                body.string(text)
            }
            let numbers: [Int64?] = [
                info.buildDate, info.installedSize, info.fileSize, info.providerPriority.map(Int64.init),
                info.replacesPriority.map(Int64.init),
            ]
            var presence: UInt8 = info.checksum == nil ? 0 : 32
            for (bit, number) in numbers.enumerated() where number != nil { presence |= 1 << UInt8(bit) }
            body.u8(presence)
            for number in numbers { if let number { body.u64(UInt64(bitPattern: number)) } }
            if let checksum = info.checksum {
                body.u8(Self.algorithmCode(checksum.algorithm))
                body.bytes(checksum.bytes)
            }
            for list in [info.depends, info.provides, info.installIf, info.replaces] {
                body.u32(UInt32(list.count))
                for atom in list {
                    body.string(atom.name)
                    body.string(atom.tag)
                    if let constraint = atom.constraint {
                        body.u8(UInt8(VersionConstraint.Operator.allCases.firstIndex(of: constraint.op)! + 1))
                        body.string(constraint.version)
                    } else {
                        body.u8(0)
                        body.string(nil)
                    }
                    body.u8(atom.isConflict ? 1 : 0)
                }
            }
            body.u32(UInt32(info.triggers.count))
            for trigger in info.triggers { body.string(trigger) }
        }
        writer.u32(UInt32(body.table.count))
        for text in body.table {
            let utf8 = Array(text.utf8)
            writer.u32(UInt32(utf8.count))
            writer.bytes(utf8)
        }
        writer.out += body.out
        return Self.compiledMagic + Hasher.digest(.sha256, writer.out).bytes + writer.out
    }

    /// Loads a compiled index made from `archive`, and checks the signatures again over `archive`'s bytes.
    /// - Throws: `.checksumMismatch` when the compiled bytes are damaged or were made from another archive,
    ///   `.malformed` when their layout is wrong.
    public static func loadCompiled(_ compiled: [UInt8], archive: UnsafeRawBufferPointer) throws -> APKIndex {
        try checkCompiled(compiled)
        let archiveDigest = Hasher.digest(.sha256, archive)
        var reader = CompiledReader(compiled, offset: compiledMagic.count + 32)
        let recorded = try reader.bytes(32)
        guard recorded.elementsEqual(archiveDigest.bytes) else {
            throw LaminaError(.checksumMismatch, "compiled from another archive (sha256 \(Hex.encode(recorded)), this one is \(archiveDigest.hex))")
        }
        var index = try reader.index()
        index.archiveDigest = archiveDigest
        if let offset = index.signedOffset {
            guard offset <= archive.count else { throw LaminaError(.malformed, "compiled index: signed member offset past the archive") }
            var hashers = MultiHasher(Array(Set(index.signatures.map(\.algorithm.digestAlgorithm))).sorted { $0.rawValue < $1.rawValue })
            hashers.update(UnsafeRawBufferPointer(rebasing: archive[offset...]))
            index.signedDigests = hashers.finalize()
        }
        return index
    }

    /// Why `compiled` cannot be used, or nil when its magic and checksum hold and it was compiled from the
    /// archive whose SHA-256 is `archiveDigest` (when given).
    public static func damage(ofCompiled compiled: [UInt8], archiveDigest: Digest? = nil) -> String? {
        do {
            try checkCompiled(compiled)
            if let archiveDigest {
                let recorded = compiled[(compiledMagic.count + 32)..<(compiledMagic.count + 64)]
                if !recorded.elementsEqual(archiveDigest.bytes) { return "compiled from another archive (sha256 \(Hex.encode(recorded)))" }
            }
            var reader = CompiledReader(compiled, offset: compiledMagic.count + 64)
            _ = try reader.index()
            return nil
        } catch let error as LaminaError {
            return error.message
        } catch {
            return "\(error)"
        }
    }

    private static func checkCompiled(_ compiled: [UInt8]) throws {
        guard compiled.count >= compiledMagic.count + 64, compiled.prefix(compiledMagic.count).elementsEqual(compiledMagic) else {
            throw LaminaError(.malformed, "not a compiled index of this version")
        }
        let recorded = compiled[compiledMagic.count..<(compiledMagic.count + 32)]
        let actual = compiled.withUnsafeBytes { Hasher.digest(.sha256, UnsafeRawBufferPointer(rebasing: $0[(compiledMagic.count + 32)...])) }
        guard recorded.elementsEqual(actual.bytes) else {
            throw LaminaError(.checksumMismatch, "its bytes hash to \(actual.hex), \(Hex.encode(recorded)) was recorded")
        }
    }

    fileprivate static func algorithmCode(_ algorithm: Digest.Algorithm) -> UInt8 {
        UInt8(Digest.Algorithm.allCases.firstIndex(of: algorithm)!)
    }
}

private struct CompiledWriter {
    var out: [UInt8] = []
    var table: [String] = []
    private var ids: [String: UInt32] = [:]

    mutating func u8(_ value: UInt8) { out.append(value) }
    mutating func u32(_ value: UInt32) { withUnsafeBytes(of: value.littleEndian) { out.append(contentsOf: $0) } }
    mutating func u64(_ value: UInt64) { withUnsafeBytes(of: value.littleEndian) { out.append(contentsOf: $0) } }
    mutating func bytes(_ value: [UInt8]) { out += value }

    mutating func string(_ text: String?) {
        guard let text else { return u32(0xFFFF_FFFF) }
        if let id = ids[text] { return u32(id) }
        let id = UInt32(table.count)
        ids[text] = id
        table.append(text)
        u32(id)
    }
}

private struct CompiledReader {
    let data: [UInt8]
    var offset: Int
    var strings: [String] = []

    init(_ data: [UInt8], offset: Int) {
        self.data = data
        self.offset = offset
    }

    private func short() -> LaminaError { LaminaError(.malformed, "compiled index is truncated at byte \(offset)") }

    mutating func u8() throws -> UInt8 {
        guard offset < data.count else { throw short() }
        defer { offset += 1 }
        return data[offset]
    }

    mutating func u32() throws -> UInt32 {
        guard offset + 4 <= data.count else { throw short() }
        defer { offset += 4 }
        return data.withUnsafeBytes { $0.loadUnaligned(fromByteOffset: offset, as: UInt32.self) }.littleEndian
    }

    mutating func u64() throws -> UInt64 {
        guard offset + 8 <= data.count else { throw short() }
        defer { offset += 8 }
        return data.withUnsafeBytes { $0.loadUnaligned(fromByteOffset: offset, as: UInt64.self) }.littleEndian
    }

    mutating func bytes(_ count: Int) throws -> ArraySlice<UInt8> {
        guard count >= 0, offset + count <= data.count else { throw short() }
        defer { offset += count }
        return data[offset..<(offset + count)]
    }

    /// A count of items each at least `minimumSize` bytes long: bounded by what is left, so a damaged count
    /// cannot make the reader reserve memory the file does not back.
    mutating func count(minimumSize: Int) throws -> Int {
        let value = Int(try u32())
        guard value * minimumSize <= data.count - offset else {
            throw LaminaError(.malformed, "compiled index: count \(value) at byte \(offset - 4) exceeds the file")
        }
        return value
    }

    mutating func string() throws -> String? {
        let id = try u32()
        if id == 0xFFFF_FFFF { return nil }
        guard Int(id) < strings.count else { throw LaminaError(.malformed, "compiled index: string id \(id) at byte \(offset - 4) out of range") }
        return strings[Int(id)]
    }

    mutating func requiredString() throws -> String {
        guard let text = try string() else { throw LaminaError(.malformed, "compiled index: missing string at byte \(offset - 4)") }
        return text
    }

    mutating func index() throws -> APKIndex {
        let signed = try u64()
        let stringCount = try count(minimumSize: 4)
        strings.reserveCapacity(stringCount)
        for _ in 0..<stringCount {
            let length = Int(try u32())
            guard offset + length <= data.count else { throw short() }
            strings.append(data.withUnsafeBytes { String(decoding: UnsafeRawBufferPointer(rebasing: $0[offset..<(offset + length)]), as: UTF8.self) })
            offset += length
        }
        let description = try string()
        var signatures: [SignatureEntry] = []
        for _ in 0..<(try count(minimumSize: 9)) {
            let code = Int(try u8())
            guard code < SignatureAlgorithm.allCases.count else { throw LaminaError(.malformed, "compiled index: unknown signature algorithm \(code)") }
            let key = try requiredString()
            let length = Int(try u32())
            signatures.append(SignatureEntry(algorithm: SignatureAlgorithm.allCases[code], keyName: key, bytes: Array(try bytes(length))))
        }
        let recordCount = try count(minimumSize: 44 + 1 + 20)
        var packages: [PackageInfo] = []
        packages.reserveCapacity(recordCount)
        for _ in 0..<recordCount {
            var info = PackageInfo(name: try requiredString(), version: try requiredString())
            info.arch = try string()
            info.description = try string()
            info.url = try string()
            info.license = try string()
            info.origin = try string()
            info.maintainer = try string()
            info.commit = try string()
            info.dataHash = try string()
            info.packager = try string()
            let presence = try u8()
            func number(_ bit: UInt8) throws -> Int64? { presence & (1 << bit) == 0 ? nil : Int64(bitPattern: try u64()) }
            info.buildDate = try number(0)
            info.installedSize = try number(1)
            info.fileSize = try number(2)
            info.providerPriority = try number(3).map { Int($0) }
            info.replacesPriority = try number(4).map { Int($0) }
            if presence & 32 != 0 {
                let code = Int(try u8())
                guard code < Digest.Algorithm.allCases.count else { throw LaminaError(.malformed, "compiled index: unknown digest algorithm \(code)") }
                let algorithm = Digest.Algorithm.allCases[code]
                info.checksum = Digest(algorithm, bytes: Array(try bytes(algorithm.byteCount)))
            }
            info.depends = try atoms()
            info.provides = try atoms()
            info.installIf = try atoms()
            info.replaces = try atoms()
            let triggerCount = try count(minimumSize: 4)
            for _ in 0..<triggerCount { info.triggers.append(try requiredString()) }
            packages.append(info)
        }
        guard offset == data.count else { throw LaminaError(.malformed, "compiled index: \(data.count - offset) bytes after the last record") }
        var index = APKIndex(packages: packages, description: description)
        index.signatures = signatures
        index.signedOffset = signed == UInt64.max ? nil : Int(clamping: signed)
        return index
    }

    private mutating func atoms() throws -> [Dependency] {
        let atomCount = try count(minimumSize: 14)
        var out: [Dependency] = []
        out.reserveCapacity(atomCount)
        for _ in 0..<atomCount {
            let name = try requiredString()
            let tag = try string()
            let op = Int(try u8())
            let version = try string()
            let conflict = try u8() != 0
            var constraint: VersionConstraint?
            if op != 0 {
                guard op <= VersionConstraint.Operator.allCases.count, let version else {
                    throw LaminaError(.malformed, "compiled index: bad constraint at byte \(offset)")
                }
                constraint = VersionConstraint(VersionConstraint.Operator.allCases[op - 1], version)
            }
            out.append(Dependency(name: name, constraint: constraint, tag: tag, isConflict: conflict))
        }
        return out
    }
}
