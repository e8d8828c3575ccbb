import LaminaCore

/// Writes deterministic tar archives: ustar headers, with a PAX extended header only when a field
/// does not fit (long or non-ASCII paths, large ids or sizes, xattrs) or when the entry carries
/// PAX records of its own (apk's `APK-TOOLS.checksum.SHA1`). No atime/ctime is ever written.
public final class TarWriter {
    private let sink: ByteSink
    /// Bytes written so far.
    public private(set) var offset: Int64 = 0
    private static let zeroBlock = [UInt8](repeating: 0, count: 512)

    public init(_ sink: ByteSink) { self.sink = sink }

    /// Appends a member whose content (for regular files, exactly `entry.size` bytes) comes from `content`.
    public func append(_ entry: TarEntry, content: ByteSource? = nil) throws {
        try writeHeader(entry)
        guard entry.kind == .regular, entry.size > 0 else { return }
        guard let content else {
            throw LaminaError(.internal, "no content given for '\(entry.path)' of \(entry.size) bytes")
        }
        var left = entry.size
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 128 * 1024, alignment: 16)
        defer { buffer.deallocate() }
        while left > 0 {
            let n = try content.read(into: UnsafeMutableRawBufferPointer(rebasing: buffer[0..<Int(min(left, Int64(buffer.count)))]))
            if n == 0 {
                throw LaminaError(.io, "'\(entry.path)' ended after \(entry.size - left) of \(entry.size) bytes while archiving")
            }
            try emit(UnsafeRawBufferPointer(rebasing: buffer[0..<n]))
            left -= Int64(n)
        }
        try pad(entry.size)
    }

    /// Appends a member with in-memory content (its size is taken from `bytes`).
    public func append(_ entry: TarEntry, bytes: [UInt8]) throws {
        var entry = entry
        entry.size = Int64(bytes.count)
        try append(entry, content: MemorySource(bytes))
    }

    /// Ends the archive. `terminate: false` leaves out the two zero blocks, as apk's signature and
    /// control segments require.
    public func finish(terminate: Bool = true) throws {
        if terminate {
            try emit(Self.zeroBlock)
            try emit(Self.zeroBlock)
        }
    }

    // MARK: - Headers

    private func writeHeader(_ entry: TarEntry) throws {
        var pax: [(String, [UInt8])] = entry.paxRecords.map { ($0.key, Array($0.value.utf8)) }
        for (name, value) in entry.xattrs { pax.append(("SCHILY.xattr." + name, value)) }

        let pathBytes = Array(entry.path.utf8)
        var nameField = pathBytes
        var prefixField: [UInt8] = []
        let ascii = pathBytes.allSatisfy { $0 < 0x80 }
        if !ascii || pathBytes.count > 100 {
            if ascii, let split = Self.splitUSTAR(pathBytes) {
                (prefixField, nameField) = split
            } else {
                pax.append(("path", pathBytes))
                nameField = Array(pathBytes.prefix(100))
            }
        }
        let linkBytes = Array(entry.linkTarget.utf8)
        var linkField = linkBytes
        if linkBytes.count > 100 || !linkBytes.allSatisfy({ $0 < 0x80 }) {
            pax.append(("linkpath", linkBytes))
            linkField = Array(linkBytes.prefix(100))
        }
        let maxOctal7: Int64 = 0o7777777
        let maxOctal11: Int64 = 0o77777777777
        if entry.uid < 0 || Int64(entry.uid) > maxOctal7 { pax.append(("uid", Array(String(entry.uid).utf8))) }
        if entry.gid < 0 || Int64(entry.gid) > maxOctal7 { pax.append(("gid", Array(String(entry.gid).utf8))) }
        if entry.size > maxOctal11 { pax.append(("size", Array(String(entry.size).utf8))) }
        if entry.modificationTime < 0 || entry.modificationTime > maxOctal11 {
            pax.append(("mtime", Array(String(entry.modificationTime).utf8)))
        }
        if entry.userName.utf8.count > 32 { pax.append(("uname", Array(entry.userName.utf8))) }
        if entry.groupName.utf8.count > 32 { pax.append(("gname", Array(entry.groupName.utf8))) }

        if !pax.isEmpty {
            pax.sort { $0.0 < $1.0 }
            var body: [UInt8] = []
            for (key, value) in pax { body += Self.paxRecord(key: key, value: value) }
            let paxName = Self.paxHeaderName(for: entry.path)
            var header = TarEntry(path: "", kind: .regular, mode: 0o644, size: Int64(body.count), modificationTime: clampTime(entry.modificationTime))
            header.path = paxName
            try emit(Self.encodeHeader(header, name: Array(paxName.utf8.prefix(100)), prefix: [], link: [], typeflag: UInt8(ascii: "x")))
            try emit(body)
            try pad(Int64(body.count))
        }
        let fieldSize = entry.kind == .regular ? entry.size : 0
        var headerEntry = entry
        headerEntry.size = fieldSize <= maxOctal11 ? fieldSize : 0
        headerEntry.uid = (0...Int(maxOctal7)).contains(entry.uid) ? entry.uid : 0
        headerEntry.gid = (0...Int(maxOctal7)).contains(entry.gid) ? entry.gid : 0
        headerEntry.modificationTime = clampTime(entry.modificationTime)
        try emit(Self.encodeHeader(headerEntry, name: nameField, prefix: prefixField, link: linkField, typeflag: entry.kind.typeflag))
    }

    private func clampTime(_ t: Int64) -> Int64 { min(max(t, 0), 0o77777777777) }

    /// Name of the PAX pseudo-entry for `path` (`dir/PaxHeaders.0/base`, as Go writes it).
    static func paxHeaderName(for path: String) -> String {
        let trimmed = path.hasSuffix("/") ? String(path.dropLast()) : path
        if let slash = trimmed.lastIndex(of: "/") {
            return String(trimmed[..<slash]) + "/PaxHeaders.0/" + String(trimmed[trimmed.index(after: slash)...])
        }
        return "PaxHeaders.0/" + trimmed
    }

    static func paxRecord(key: String, value: [UInt8]) -> [UInt8] {
        let payload = Array(" \(key)=".utf8) + value + [UInt8(ascii: "\n")]
        var length = payload.count + 1
        while String(length).utf8.count + payload.count != length { length = String(length).utf8.count + payload.count }
        return Array(String(length).utf8) + payload
    }

    /// Splits a long ASCII path into ustar prefix (≤155) and name (≤100) at a slash.
    static func splitUSTAR(_ path: [UInt8]) -> ([UInt8], [UInt8])? {
        guard path.count <= 256 else { return nil }
        for index in stride(from: min(path.count - 1, 155), through: 1, by: -1) where path[index] == UInt8(ascii: "/") {
            let name = Array(path[(index + 1)...])
            if name.count <= 100 && !name.isEmpty { return (Array(path[..<index]), name) }
            return nil
        }
        return nil
    }

    static func encodeHeader(_ entry: TarEntry, name: [UInt8], prefix: [UInt8], link: [UInt8], typeflag: UInt8) -> [UInt8] {
        var block = [UInt8](repeating: 0, count: 512)
        func put(_ bytes: [UInt8], _ start: Int, _ length: Int) {
            for (i, b) in bytes.prefix(length).enumerated() { block[start + i] = b }
        }
        func octal(_ value: Int64, _ start: Int, _ length: Int) {
            let digits = String(value, radix: 8)
            let padded = String(repeating: "0", count: max(0, length - 1 - digits.count)) + digits
            put(Array(padded.utf8), start, length - 1)
        }
        put(name, 0, 100)
        octal(Int64(entry.mode & 0o7777), 100, 8)
        octal(Int64(entry.uid), 108, 8)
        octal(Int64(entry.gid), 116, 8)
        octal(entry.size, 124, 12)
        octal(entry.modificationTime, 136, 12)
        block[156] = typeflag
        put(link, 157, 100)
        put(Array("ustar\0".utf8), 257, 6)
        put(Array("00".utf8), 263, 2)
        put(Array(entry.userName.utf8), 265, 32)
        put(Array(entry.groupName.utf8), 297, 32)
        octal(Int64(entry.deviceMajor), 329, 8)
        octal(Int64(entry.deviceMinor), 337, 8)
        put(prefix, 345, 155)
        for i in 148..<156 { block[i] = UInt8(ascii: " ") }
        let sum = block.reduce(0) { $0 + Int64($1) }
        let digits = String(sum, radix: 8)
        put(Array((String(repeating: "0", count: max(0, 6 - digits.count)) + digits).utf8), 148, 6)
        block[154] = 0
        block[155] = UInt8(ascii: " ")
        return block
    }

    private func pad(_ size: Int64) throws {
        let rest = Int((512 - size % 512) % 512)
        if rest > 0 { try emit(Array(Self.zeroBlock[0..<rest])) }
    }

    private func emit(_ bytes: [UInt8]) throws {
        try sink.write(bytes)
        offset += Int64(bytes.count)
    }

    private func emit(_ bytes: UnsafeRawBufferPointer) throws {
        try sink.write(bytes)
        offset += Int64(bytes.count)
    }
}
