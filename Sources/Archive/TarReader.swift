import LaminaCore

/// Streams the members of a tar archive: ustar and GNU headers, PAX extended headers (`path`,
/// `linkpath`, `size`, `uid`, `gid`, `mtime`, `SCHILY.xattr.*`, and any other key kept in
/// `paxRecords`), GNU long names (`L`, `K`).
///
/// As apk does, a stream may end without end-of-archive blocks (apk's signature and control
/// segments are unterminated tars), and a single zero block is skipped.
public final class TarReader {
    private let source: ByteSource
    private let name: String
    private let limits: SizeLimits
    private var remaining: Int64 = 0
    private var padding: Int64 = 0
    private var ended = false
    private var block = [UInt8](repeating: 0, count: 512)
    /// Offset in the (decompressed) stream of the next byte to read.
    public private(set) var offset: Int64 = 0

    public init(_ source: ByteSource, name: String = "tar stream", limits: SizeLimits = .default) {
        self.source = source
        self.name = name
        self.limits = limits
    }

    /// Reads the next member header, skipping the unread content of the previous one.
    /// Returns nil at the end of the archive.
    public func next() throws -> TarEntry? {
        try skipContent()
        if ended { return nil }
        var longName: String?
        var longLink: String?
        var pax: [String: [UInt8]] = [:]
        var sawZeroBlock = false
        while true {
            let headerOffset = offset
            guard try readBlock() else {
                if longName != nil || longLink != nil || !pax.isEmpty {
                    throw LaminaError(.malformed, "tar stream ends after an extended header at offset \(headerOffset)", subject: name)
                }
                ended = true
                return nil
            }
            if block.allSatisfy({ $0 == 0 }) {
                if sawZeroBlock {
                    ended = true
                    return nil
                }
                sawZeroBlock = true
                continue
            }
            sawZeroBlock = false
            try verifyChecksum(at: headerOffset)
            let magic = Array(block[257..<263])
            let isUSTAR = magic == Array("ustar\0".utf8) || magic == Array("ustar ".utf8)
            guard isUSTAR else {
                throw LaminaError(.malformed, "tar header at offset \(headerOffset) is not ustar (apk accepts only ustar/GNU headers)", subject: name)
            }
            let typeflag = block[156]
            let size = try number(124, 12, field: "size", at: headerOffset)
            guard size >= 0 else { throw LaminaError(.malformed, "negative size in tar header at offset \(headerOffset)", subject: name) }
            switch typeflag {
            case UInt8(ascii: "x"), UInt8(ascii: "L"), UInt8(ascii: "K"), UInt8(ascii: "g"):
                guard size <= limits.maxHeaderSize else {
                    throw LaminaError(.limitExceeded, "extended tar header of \(size) bytes at offset \(headerOffset) exceeds the limit", subject: name)
                }
                remaining = size
                padding = (512 - size % 512) % 512
                let body = try readContent(limit: Int(size))
                try skipContent()
                switch typeflag {
                case UInt8(ascii: "x"): pax.merge(try parsePAX(body, at: headerOffset)) { _, new in new }
                case UInt8(ascii: "L"): longName = cString(body[...])
                case UInt8(ascii: "K"): longLink = cString(body[...])
                default: break  // global headers are ignored, as apk does
                }
                continue
            default:
                break
            }
            var entry = try header(at: headerOffset, size: size, typeflag: typeflag)
            if let longName { entry.path = longName }
            if let longLink { entry.linkTarget = longLink }
            try apply(pax, to: &entry, at: headerOffset)
            if entry.kind != .regular { entry.size = 0 }  // header-only types carry no content
            remaining = entry.size
            padding = (512 - remaining % 512) % 512
            return entry
        }
    }

    /// Reads content of the current member; returns 0 at its end.
    public func read(into buffer: UnsafeMutableRawBufferPointer) throws -> Int {
        if remaining == 0 { return 0 }
        let want = Int(min(Int64(buffer.count), remaining))
        let n = try source.read(into: UnsafeMutableRawBufferPointer(rebasing: buffer[0..<want]))
        if n == 0 {
            throw LaminaError(.malformed, "tar stream truncated inside a member's content at offset \(offset)", subject: name)
        }
        remaining -= Int64(n)
        offset += Int64(n)
        return n
    }

    /// Reads the whole content of the current member, refusing more than `limit` bytes.
    public func readContent(limit: Int) throws -> [UInt8] {
        guard remaining <= Int64(limit) else {
            throw LaminaError(.limitExceeded, "tar member of \(remaining) bytes at offset \(offset) exceeds the limit of \(limit)", subject: name)
        }
        var out = [UInt8](repeating: 0, count: Int(remaining))
        var filled = 0
        while filled < out.count {
            let n = try out.withUnsafeMutableBytes { try read(into: UnsafeMutableRawBufferPointer(rebasing: $0[filled...])) }
            filled += n
        }
        return out
    }

    /// A byte source over the current member's content (valid until `next()`).
    public var content: ByteSource { TarContentSource(reader: self) }

    private func skipContent() throws {
        if remaining == 0 && padding == 0 { return }
        let scratch = UnsafeMutableRawBufferPointer.allocate(byteCount: 64 * 1024, alignment: 16)
        defer { scratch.deallocate() }
        while remaining > 0 {
            _ = try read(into: UnsafeMutableRawBufferPointer(rebasing: scratch[0..<Int(min(remaining, Int64(scratch.count)))]))
        }
        while padding > 0 {
            let n = try source.read(into: UnsafeMutableRawBufferPointer(rebasing: scratch[0..<Int(padding)]))
            if n == 0 {
                // A stream that stops right after a member's content, without padding: accept as its end.
                ended = true
                padding = 0
                return
            }
            padding -= Int64(n)
            offset += Int64(n)
        }
    }

    /// Reads one 512-byte block; false at a clean end of stream.
    private func readBlock() throws -> Bool {
        let n = try block.withUnsafeMutableBytes { try source.readFully(into: $0) }
        if n == 0 { return false }
        if n < 512 {
            throw LaminaError(.malformed, "truncated tar header at offset \(offset) (\(n) of 512 bytes)", subject: name)
        }
        offset += 512
        return true
    }

    private func verifyChecksum(at headerOffset: Int64) throws {
        let stored = try number(148, 8, field: "checksum", at: headerOffset)
        var unsigned: Int64 = 0
        var signed: Int64 = 0
        for i in 0..<512 {
            let byte = (148..<156).contains(i) ? UInt8(ascii: " ") : block[i]
            unsigned += Int64(byte)
            signed += Int64(Int8(bitPattern: byte))
        }
        if stored != unsigned && stored != signed {
            throw LaminaError(.malformed, "tar header at offset \(headerOffset) has a bad checksum (stored \(stored), computed \(unsigned))", subject: name)
        }
    }

    private func header(at headerOffset: Int64, size: Int64, typeflag: UInt8) throws -> TarEntry {
        let kind: TarEntry.Kind
        switch typeflag {
        case UInt8(ascii: "0"), 0, UInt8(ascii: "7"): kind = .regular
        case UInt8(ascii: "1"): kind = .hardLink
        case UInt8(ascii: "2"): kind = .symbolicLink
        case UInt8(ascii: "3"): kind = .characterDevice
        case UInt8(ascii: "4"): kind = .blockDevice
        case UInt8(ascii: "5"): kind = .directory
        case UInt8(ascii: "6"): kind = .fifo
        default:
            throw LaminaError(.malformed, "unsupported tar entry type '\(Character(Unicode.Scalar(typeflag)))' at offset \(headerOffset)", subject: name)
        }
        var path = cString(block[0..<100])
        let prefix = cString(block[345..<500])
        if !prefix.isEmpty && block[257..<263].elementsEqual("ustar\0".utf8) { path = prefix + "/" + path }
        return TarEntry(
            path: path, kind: kind, mode: UInt32(truncatingIfNeeded: try number(100, 8, field: "mode", at: headerOffset)) & 0o7777,
            uid: Int(try number(108, 8, field: "uid", at: headerOffset)), gid: Int(try number(116, 8, field: "gid", at: headerOffset)),
            userName: cString(block[265..<297]), groupName: cString(block[297..<329]), size: size,
            modificationTime: try number(136, 12, field: "mtime", at: headerOffset), linkTarget: cString(block[157..<257]),
            deviceMajor: UInt32(truncatingIfNeeded: try number(329, 8, field: "devmajor", at: headerOffset)),
            deviceMinor: UInt32(truncatingIfNeeded: try number(337, 8, field: "devminor", at: headerOffset)))
    }

    private func apply(_ pax: [String: [UInt8]], to entry: inout TarEntry, at headerOffset: Int64) throws {
        for (key, value) in pax {
            let text = String(decoding: value, as: UTF8.self)
            func int(_ what: String) throws -> Int64 {
                // PAX times may carry a fraction: keep whole seconds.
                let whole = text.split(separator: ".", maxSplits: 1).first.map(String.init) ?? text
                guard let v = Int64(whole) else {
                    throw LaminaError(.malformed, "bad PAX \(what) '\(text)' at offset \(headerOffset)", subject: name)
                }
                return v
            }
            switch key {
            case "path": entry.path = text
            case "linkpath": entry.linkTarget = text
            case "size": entry.size = try int("size")
            case "uid": entry.uid = Int(try int("uid"))
            case "gid": entry.gid = Int(try int("gid"))
            case "uname": entry.userName = text
            case "gname": entry.groupName = text
            case "mtime": entry.modificationTime = try int("mtime")
            case "atime", "ctime": break
            default:
                if key.hasPrefix("SCHILY.xattr.") {
                    entry.xattrs[String(key.dropFirst("SCHILY.xattr.".count))] = value
                } else {
                    entry.paxRecords[key] = text
                }
            }
        }
    }

    private func parsePAX(_ body: [UInt8], at headerOffset: Int64) throws -> [String: [UInt8]] {
        var records: [String: [UInt8]] = [:]
        var index = 0
        while index < body.count {
            if body[index] == 0 { break }
            var length = 0
            var cursor = index
            while cursor < body.count, body[cursor] >= UInt8(ascii: "0"), body[cursor] <= UInt8(ascii: "9") {
                length = length * 10 + Int(body[cursor] - UInt8(ascii: "0"))
                cursor += 1
                if length > body.count { break }
            }
            guard cursor < body.count, body[cursor] == UInt8(ascii: " "), length > 0, index + length <= body.count,
                body[index + length - 1] == UInt8(ascii: "\n")
            else {
                throw LaminaError(.malformed, "malformed PAX record in extended header at offset \(headerOffset)", subject: name)
            }
            let record = body[(cursor + 1)..<(index + length - 1)]
            guard let equals = record.firstIndex(of: UInt8(ascii: "=")) else {
                throw LaminaError(.malformed, "PAX record without '=' at offset \(headerOffset)", subject: name)
            }
            records[String(decoding: record[record.startIndex..<equals], as: UTF8.self)] = Array(record[(equals + 1)...])
            index += length
        }
        return records
    }

    /// Parses an octal (or GNU base-256) numeric field.
    private func number(_ start: Int, _ length: Int, field: String, at headerOffset: Int64) throws -> Int64 {
        let bytes = block[start..<(start + length)]
        if let first = bytes.first, first & 0x80 != 0 {
            // Base-256: big-endian two's complement with the top bit as marker.
            var value: Int64 = first & 0x40 != 0 ? -1 : 0
            value = (value << 8) | Int64(first & 0x7f | (first & 0x40 != 0 ? 0x80 : 0))
            for byte in bytes.dropFirst() {
                guard value.leadingZeroBitCount > 8 || value < 0 else {
                    throw LaminaError(.malformed, "tar \(field) field overflows at offset \(headerOffset)", subject: name)
                }
                value = (value << 8) | Int64(byte)
            }
            return value
        }
        var value: Int64 = 0
        var seenDigit = false
        for byte in bytes {
            if byte == 0 || (byte == UInt8(ascii: " ") && seenDigit) { break }
            if byte == UInt8(ascii: " ") { continue }
            guard byte >= UInt8(ascii: "0"), byte <= UInt8(ascii: "7") else {
                throw LaminaError(.malformed, "tar header at offset \(headerOffset) has a non-octal \(field) field", subject: name)
            }
            value = value * 8 + Int64(byte - UInt8(ascii: "0"))
            seenDigit = true
        }
        return value
    }

    private func cString(_ bytes: ArraySlice<UInt8>) -> String {
        let end = bytes.firstIndex(of: 0) ?? bytes.endIndex
        return String(decoding: bytes[bytes.startIndex..<end], as: UTF8.self)
    }
}

/// The content of the current tar member as a `ByteSource`.
final class TarContentSource: ByteSource {
    let reader: TarReader
    init(reader: TarReader) { self.reader = reader }
    func read(into buffer: UnsafeMutableRawBufferPointer) throws -> Int { try reader.read(into: buffer) }
}
