import Archive
import Foundation
import LaminaCore

// Source: apk-tools 2.14 `src/package.c` (`apk_pkg_add_info`), formats.md §3.3.
//
// The APKINDEX text reader works on bytes: lines are found with a byte scan, numbers and `Q1…`
// checksums are decoded without building a String, and the texts that repeat across records (names,
// dependency names and versions, arch, license, origin, maintainer, URL) are interned, so a repeated
// name costs one String for the whole index. Dependency atoms take a byte-level fast path; anything it
// does not recognise (non-ASCII, an invalid atom) goes to `Dependency(parsing:)`, so results and error
// messages are those of the String parser.

extension APKIndex {
    /// Parses APKINDEX text held in `bytes` (see `parseText(_:source:)`).
    /// - Throws: `.malformed` naming the line for a record without `P:`/`V:` or a bad field,
    ///   `.limitExceeded` past `maxRecords` records (`SizeLimits.maxIndexRecords`).
    public static func parseText(
        bytes: UnsafeRawBufferPointer, source: String = "APKINDEX", maxRecords: Int = SizeLimits.default.maxIndexRecords
    ) throws -> [PackageInfo] {
        var parser = IndexTextParser(source: source, maxRecords: maxRecords)
        _ = try parser.feed(bytes, isLast: true)
        return try parser.end()
    }

    /// Parses APKINDEX text read from `stream` a chunk at a time, so the text is never held whole and a
    /// hostile index is refused as soon as it passes `maxRecords`.
    public static func parseText(stream: ByteSource, source: String, maxRecords: Int = SizeLimits.default.maxIndexRecords) throws
        -> [PackageInfo]
    {
        var parser = IndexTextParser(source: source, maxRecords: maxRecords)
        let chunkSize = 1 << 20
        let chunk = UnsafeMutableRawBufferPointer.allocate(byteCount: chunkSize, alignment: 16)
        defer { chunk.deallocate() }
        // The bytes not parsed yet: the start of a line whose end has not been read.
        var pending: [UInt8] = []
        pending.reserveCapacity(chunkSize * 2)
        while true {
            let n = try stream.read(into: chunk)
            if n == 0 { break }
            pending.append(contentsOf: UnsafeRawBufferPointer(rebasing: chunk[0..<n]))
            let used = try pending.withUnsafeBytes { try parser.feed($0, isLast: false) }
            pending.removeFirst(used)
        }
        _ = try pending.withUnsafeBytes { try parser.feed($0, isLast: true) }
        return try parser.end()
    }
}

/// Interns texts by their bytes: the same bytes always give the same String instance. Lookups compare
/// against a copy of each text's bytes kept in one arena, so a hit costs a hash and a `memcmp`.
struct TextInterner {
    private var slots: [Int32]
    private var hashes: [UInt64] = []
    private var starts: [Int] = []
    private var arena: [UInt8] = []
    private var strings: [String] = []
    private var mask: Int

    init(capacity: Int = 4096) {
        var size = 16
        while size < capacity * 2 { size <<= 1 }
        slots = [Int32](repeating: -1, count: size)
        mask = size - 1
        hashes.reserveCapacity(capacity)
        starts.reserveCapacity(capacity + 1)
        strings.reserveCapacity(capacity)
        arena.reserveCapacity(capacity * 16)
        starts.append(0)
    }

    /// A 64-bit hash of `bytes`, eight bytes at a time.
    static func hash(_ bytes: UnsafeRawBufferPointer) -> UInt64 {
        var hash: UInt64 = 0x9E37_79B9_7F4A_7C15 ^ UInt64(bytes.count)
        var offset = 0
        while offset + 8 <= bytes.count {
            hash = (hash ^ bytes.loadUnaligned(fromByteOffset: offset, as: UInt64.self)) &* 0xFF51_AFD7_ED55_8CCD
            hash ^= hash >> 29
            offset += 8
        }
        var tail: UInt64 = 0
        var shift: UInt64 = 0
        while offset < bytes.count {
            tail |= UInt64(bytes[offset]) << shift
            shift += 8
            offset += 1
        }
        hash = (hash ^ tail) &* 0xC4CE_B9FE_1A85_EC53
        return hash ^ (hash >> 32)
    }

    mutating func intern(_ bytes: UnsafeRawBufferPointer) -> String {
        let hash = Self.hash(bytes)
        var slot = Int(truncatingIfNeeded: hash) & mask
        while true {
            let index = Int(slots[slot])
            if index < 0 { break }
            if hashes[index] == hash, starts[index + 1] - starts[index] == bytes.count,
                bytes.isEmpty || arena.withUnsafeBytes({ memcmp($0.baseAddress! + starts[index], bytes.baseAddress!, bytes.count) == 0 })
            {
                return strings[index]
            }
            slot = (slot + 1) & mask
        }
        let text = String(decoding: bytes, as: UTF8.self)
        slots[slot] = Int32(strings.count)
        hashes.append(hash)
        arena.append(contentsOf: bytes)
        starts.append(arena.count)
        strings.append(text)
        if strings.count * 2 > slots.count { grow() }
        return text
    }

    private mutating func grow() {
        let size = slots.count * 2
        slots = [Int32](repeating: -1, count: size)
        mask = size - 1
        for (index, hash) in hashes.enumerated() {
            var slot = Int(truncatingIfNeeded: hash) & mask
            while slots[slot] >= 0 { slot = (slot + 1) & mask }
            slots[slot] = Int32(index)
        }
    }
}

struct IndexTextParser {
    let source: String
    let maxRecords: Int
    private var fields: RecordFieldReader
    private var packages: [PackageInfo] = []
    private var current = PackageInfo(name: "", version: "")
    private var recordStart = 0
    private var inRecord = false
    private var lineNumber = 0

    init(source: String, maxRecords: Int) {
        self.source = source
        self.maxRecords = maxRecords
        self.fields = RecordFieldReader(source: source)
    }

    /// Parses the complete lines of `bytes` (and, when `isLast`, a final line without its newline); returns
    /// how many bytes were used: the rest is the start of a line to feed again with what follows it.
    mutating func feed(_ bytes: UnsafeRawBufferPointer, isLast: Bool) throws -> Int {
        guard let base = bytes.baseAddress else { return 0 }
        let end = bytes.count
        var position = 0
        while position < end {
            let lineEnd: Int
            if let found = memchr(base + position, 0x0a, end - position) {
                lineEnd = UnsafeRawPointer(found) - base
            } else if isLast {
                lineEnd = end
            } else {
                return position
            }
            var stop = lineEnd
            if stop > position, base.load(fromByteOffset: stop - 1, as: UInt8.self) == 0x0d { stop -= 1 }
            try line(UnsafeRawBufferPointer(start: base + position, count: stop - position))
            position = lineEnd + 1
        }
        return end
    }

    /// Ends the text: the last record needs no blank line after it.
    mutating func end() throws -> [PackageInfo] {
        if inRecord { try finishRecord() }
        return packages
    }

    private mutating func line(_ line: UnsafeRawBufferPointer) throws {
        lineNumber += 1
        if line.isEmpty {
            if inRecord { try finishRecord() }
            return
        }
        if !inRecord {
            inRecord = true
            recordStart = lineNumber
        }
        guard line.count >= 2, line[1] == UInt8(ascii: ":") else {
            throw LaminaError(
                .malformed, "line \(lineNumber): expected 'X:value', got '\(String(decoding: line, as: UTF8.self).prefix(80))'",
                subject: source)
        }
        try fields.apply(line[0], UnsafeRawBufferPointer(rebasing: line[2...]), to: &current, line: lineNumber)
    }

    private mutating func finishRecord() throws {
        inRecord = false
        if current.name.isEmpty || current.version.isEmpty {
            throw LaminaError(.malformed, "line \(recordStart): record without P: (name) or V: (version)", subject: source)
        }
        if packages.count >= maxRecords {
            throw LaminaError(
                .limitExceeded, "line \(recordStart): more than \(maxRecords) records in one index (limit); refusing", subject: source)
        }
        // Moved, not copied: the record's strings are not retained once more and released again.
        var record = PackageInfo(name: "", version: "")
        swap(&record, &current)
        packages.append(consume record)
    }
}

/// Decodes the fields of one record line by line, interning repeated texts.
struct RecordFieldReader {
    let source: String
    var interner = TextInterner()

    mutating func apply(_ letter: UInt8, _ value: UnsafeRawBufferPointer, to current: inout PackageInfo, line: Int) throws {
        func text() -> String { String(decoding: value, as: UTF8.self) }
        func number() throws -> Int64 {
            if let n = Self.decimal(value) { return n }
            guard let n = Int64(text()) else {
                throw LaminaError(
                    .malformed, "line \(line): \(Character(Unicode.Scalar(letter))): expected a number, got '\(text())'", subject: source)
            }
            return n
        }
        switch letter {
        case UInt8(ascii: "C"):
            if let digest = Self.identity(value) {
                current.checksum = digest
            } else {
                do { current.checksum = try Digest(apkIdentity: text()) } catch {
                    throw LaminaError(.malformed, "line \(line): C: is not a Q1 checksum: '\(text())'", subject: source)
                }
            }
        case UInt8(ascii: "P"): current.name = interner.intern(value)
        case UInt8(ascii: "V"): current.version = text()
        case UInt8(ascii: "A"): current.arch = interner.intern(value)
        case UInt8(ascii: "S"): current.fileSize = try number()
        case UInt8(ascii: "I"): current.installedSize = try number()
        case UInt8(ascii: "T"): current.description = text()
        case UInt8(ascii: "U"): current.url = interner.intern(value)
        case UInt8(ascii: "L"): current.license = interner.intern(value)
        case UInt8(ascii: "o"): current.origin = interner.intern(value)
        case UInt8(ascii: "m"): current.maintainer = interner.intern(value)
        case UInt8(ascii: "t"): current.buildDate = try number()
        case UInt8(ascii: "c"): current.commit = text()
        case UInt8(ascii: "k"): current.providerPriority = Int(try number())
        case UInt8(ascii: "q"): current.replacesPriority = Int(try number())
        // Repeated lines add to the list, as apk-tools reads them.
        case UInt8(ascii: "D"): try appendList(value, to: &current.depends, letter: letter, line: line)
        case UInt8(ascii: "p"): try appendList(value, to: &current.provides, letter: letter, line: line)
        case UInt8(ascii: "i"): try appendList(value, to: &current.installIf, letter: letter, line: line)
        case UInt8(ascii: "r"): try appendList(value, to: &current.replaces, letter: letter, line: line)
        default: break
        }
    }

    /// Plain decimal digits (at most 18, so no overflow); nil for anything else (signs, spaces, long
    /// numbers), which `Int64(String)` then decides.
    static func decimal(_ bytes: UnsafeRawBufferPointer) -> Int64? {
        guard !bytes.isEmpty, bytes.count <= 18 else { return nil }
        var n: Int64 = 0
        for byte in bytes {
            guard byte &- 0x30 < 10 else { return nil }
            n = n * 10 + Int64(byte &- 0x30)
        }
        return n
    }

    /// `Q1` + base64 of 20 bytes (SHA-1): decoded in place; nil for any other shape.
    static func identity(_ bytes: UnsafeRawBufferPointer) -> Digest? {
        guard bytes.count == 30, bytes[0] == UInt8(ascii: "Q"), bytes[1] == UInt8(ascii: "1"),
            let decoded = Base64.decode(bytes: UnsafeRawBufferPointer(rebasing: bytes[2...])), decoded.count == 20
        else { return nil }
        return Digest(.sha1, bytes: decoded)
    }

    private mutating func appendList(_ value: UnsafeRawBufferPointer, to list: inout [Dependency], letter: UInt8, line: Int) throws {
        var atoms: [Dependency] = []
        if value.allSatisfy({ $0 < 0x80 }) {
            var start = 0
            var i = 0
            let count = value.count
            while i <= count {
                if i == count || value[i] == 0x20 || value[i] == 0x09 || value[i] == 0x0d || value[i] == 0x0a {
                    if i > start {
                        let atom = UnsafeRawBufferPointer(rebasing: value[start..<i])
                        if let fast = atomFast(atom) {
                            atoms.append(fast)
                        } else {
                            atoms.append(try slowAtom(String(decoding: atom, as: UTF8.self), letter: letter, line: line))
                        }
                    }
                    start = i + 1
                }
                i += 1
            }
        } else {
            do { atoms = try Dependency.parseList(String(decoding: value, as: UTF8.self), validateVersion: false) } catch let error as LaminaError {
                throw LaminaError(.malformed, "line \(line): \(Character(Unicode.Scalar(letter))): \(error.message)", subject: source)
            }
        }
        if list.isEmpty { list = atoms } else { list += atoms }
    }

    private func slowAtom(_ text: String, letter: UInt8, line: Int) throws -> Dependency {
        do { return try Dependency(parsing: text, validateVersion: false) } catch let error as LaminaError {
            throw LaminaError(.malformed, "line \(line): \(Character(Unicode.Scalar(letter))): \(error.message)", subject: source)
        }
    }

    private static func isOperator(_ byte: UInt8) -> Bool {
        byte == UInt8(ascii: "<") || byte == UInt8(ascii: ">") || byte == UInt8(ascii: "=") || byte == UInt8(ascii: "~")
    }

    /// One ASCII atom `[!]name[@tag][op version]` as `Dependency(parsing:validateVersion: false)` reads it, or
    /// nil when the atom is invalid or unusual (the String parser then decides, and words the error).
    private mutating func atomFast(_ atom: UnsafeRawBufferPointer) -> Dependency? {
        var i = 0
        let count = atom.count
        var isConflict = false
        if atom[0] == UInt8(ascii: "!") {
            isConflict = true
            i = 1
        }
        let nameStart = i
        while i < count, !Self.isOperator(atom[i]), atom[i] != UInt8(ascii: "@") {
            guard Dependency.isNameByte(atom[i]) else { return nil }
            i += 1
        }
        guard i > nameStart else { return nil }
        let name = interner.intern(UnsafeRawBufferPointer(rebasing: atom[nameStart..<i]))
        var tag: String?
        if i < count, atom[i] == UInt8(ascii: "@") {
            i += 1
            let tagStart = i
            while i < count, !Self.isOperator(atom[i]) {
                guard Dependency.isTagByte(atom[i]) else { return nil }
                i += 1
            }
            guard i > tagStart else { return nil }
            tag = interner.intern(UnsafeRawBufferPointer(rebasing: atom[tagStart..<i]))
        }
        var constraint: VersionConstraint?
        if i < count {
            let opStart = i
            while i < count, Self.isOperator(atom[i]) { i += 1 }
            guard let op = Self.operatorFor(UnsafeRawBufferPointer(rebasing: atom[opStart..<i])), i < count else { return nil }
            let version = UnsafeRawBufferPointer(rebasing: atom[i...])
            if op != .checksum, version.contains(UInt8(ascii: "@")) { return nil }
            constraint = VersionConstraint(op, interner.intern(version))
        }
        return Dependency(name: name, constraint: constraint, tag: tag, isConflict: isConflict)
    }

    private static func operatorFor(_ bytes: UnsafeRawBufferPointer) -> VersionConstraint.Operator? {
        let a = bytes.count > 0 ? bytes[0] : 0
        let b = bytes.count > 1 ? bytes[1] : 0
        switch (bytes.count, a, b) {
        case (1, UInt8(ascii: "="), _): return .equal
        case (1, UInt8(ascii: "<"), _): return .less
        case (1, UInt8(ascii: ">"), _): return .greater
        case (1, UInt8(ascii: "~"), _): return .fuzzy
        case (2, UInt8(ascii: "<"), UInt8(ascii: "=")): return .lessOrEqual
        case (2, UInt8(ascii: ">"), UInt8(ascii: "=")): return .greaterOrEqual
        case (2, UInt8(ascii: "="), UInt8(ascii: "~")), (2, UInt8(ascii: "~"), UInt8(ascii: "=")): return .fuzzy
        case (2, UInt8(ascii: ">"), UInt8(ascii: "~")): return .greaterOrFuzzy
        case (2, UInt8(ascii: "<"), UInt8(ascii: "~")): return .lessOrFuzzy
        case (2, UInt8(ascii: ">"), UInt8(ascii: "<")), (2, UInt8(ascii: "<"), UInt8(ascii: ">")): return .checksum
        default: return nil
        }
    }
}
