import CZlib
import LaminaCore

/// Decompresses a stream of one or more concatenated gzip members, keeping member boundaries.
///
/// apk hashes the *compressed* bytes of each member (the control member's digest is signed, the
/// data members' SHA-256 is `datahash`), so `onCompressed` receives every consumed input byte
/// together with the index of the member it belongs to, split exactly at member ends.
///
/// By default `read` stops at the end of each member (returns 0); call `nextMember()` to go on.
/// With `continuous = true` it reads across members as one stream (a data section made of several
/// members, as Wolfi's tzdata has).
public final class GzipReader: ByteSource {
    private let source: ByteSource
    private var stream = z_stream()
    private var input: UnsafeMutableRawBufferPointer
    private var inputCount = 0
    private var sourceEnded = false
    private var memberEnded = false
    private var finished = false
    private let limit: Int64
    private let name: String

    /// Called with each run of compressed bytes consumed and the member index it belongs to.
    public var onCompressed: ((UnsafeRawBufferPointer, Int) -> Void)?
    /// Read across member boundaries as if they were one stream.
    public var continuous = false
    /// Index of the member being read (0-based).
    public private(set) var memberIndex = 0
    /// Compressed offset where the current member starts.
    public private(set) var memberStart: Int64 = 0
    /// Compressed byte ranges of the members finished so far.
    public private(set) var memberRanges: [Range<Int64>] = []
    /// Compressed bytes consumed so far.
    public private(set) var compressedOffset: Int64 = 0
    /// Decompressed bytes produced so far (all members).
    public private(set) var decompressedCount: Int64 = 0

    /// - Parameters:
    ///   - limit: the most decompressed bytes to produce before failing with `.limitExceeded`
    ///     (the gzip-bomb guard).
    ///   - name: how errors refer to the stream (usually its file name).
    public init(_ source: ByteSource, limit: Int64 = SizeLimits.default.maxPackageSize, name: String = "gzip stream") throws {
        self.source = source
        self.limit = limit
        self.name = name
        self.input = UnsafeMutableRawBufferPointer.allocate(byteCount: 64 * 1024, alignment: 16)
        let status = lamina_inflateInit2(&stream, 15 + 16)
        if status != Z_OK {
            input.deallocate()
            throw LaminaError(.internal, "zlib inflateInit2 failed (\(status))")
        }
    }

    deinit {
        inflateEnd(&stream)
        input.deallocate()
    }

    /// Whether the current member has been read to its end.
    public var isAtMemberEnd: Bool { memberEnded }

    public func read(into buffer: UnsafeMutableRawBufferPointer) throws -> Int {
        if buffer.count == 0 { return 0 }
        while true {
            if finished { return 0 }
            if memberEnded {
                if !continuous { return 0 }
                if try !nextMember() { return 0 }
            }
            let n = try inflateSome(into: buffer)
            if n > 0 { return n }
        }
    }

    /// Starts the next member. Returns false when the input has no more members.
    /// - Throws: `.malformed` when bytes follow that are not a gzip member.
    public func nextMember() throws -> Bool {
        guard memberEnded else {
            throw LaminaError(.internal, "nextMember() called before the end of member \(memberIndex)", subject: name)
        }
        if stream.avail_in == 0 {
            try refill()
            if stream.avail_in == 0 {
                finished = true
                return false
            }
        }
        // A new member must start with the gzip magic.
        if stream.avail_in >= 1 && stream.next_in[0] != 0x1f {
            throw LaminaError(.malformed, "unexpected data after gzip member \(memberIndex + 1) at offset \(compressedOffset)", subject: name)
        }
        inflateReset(&stream)
        memberEnded = false
        memberIndex += 1
        memberStart = compressedOffset
        return true
    }

    /// Reads and discards the rest of the current member.
    public func skipMember() throws {
        let scratch = UnsafeMutableRawBufferPointer.allocate(byteCount: 64 * 1024, alignment: 16)
        defer { scratch.deallocate() }
        while try read(into: scratch) > 0 {}
    }

    private func refill() throws {
        if sourceEnded { return }
        let n = try source.read(into: input)
        if n == 0 { sourceEnded = true }
        inputCount = n
        stream.next_in = input.baseAddress!.assumingMemoryBound(to: Bytef.self)
        stream.avail_in = uInt(n)
    }

    private func inflateSome(into buffer: UnsafeMutableRawBufferPointer) throws -> Int {
        if stream.avail_in == 0 {
            try refill()
            if stream.avail_in == 0 {
                if decompressedCount == 0 && memberIndex == 0 && compressedOffset == 0 {
                    throw LaminaError(.malformed, "empty file, expected gzip data", subject: name)
                }
                throw LaminaError(.malformed, "truncated gzip data in member \(memberIndex + 1) at offset \(compressedOffset)", subject: name)
            }
        }
        let before = stream.avail_in
        let inputStart = UnsafeRawPointer(stream.next_in!)
        stream.next_out = buffer.baseAddress!.assumingMemoryBound(to: Bytef.self)
        stream.avail_out = uInt(buffer.count)
        let status = inflate(&stream, Z_NO_FLUSH)
        let consumed = Int(before - stream.avail_in)
        let produced = buffer.count - Int(stream.avail_out)
        if consumed > 0 {
            onCompressed?(UnsafeRawBufferPointer(start: inputStart, count: consumed), memberIndex)
            compressedOffset += Int64(consumed)
        }
        decompressedCount += Int64(produced)
        if decompressedCount > limit {
            throw LaminaError(.limitExceeded, "decompresses to more than \(limit) bytes (limit); refusing (possible gzip bomb)", subject: name)
        }
        switch status {
        case Z_OK, Z_BUF_ERROR:
            if status == Z_BUF_ERROR && consumed == 0 && produced == 0 && stream.avail_in != 0 {
                throw LaminaError(.malformed, "corrupt gzip data at offset \(compressedOffset)", subject: name)
            }
        case Z_STREAM_END:
            memberEnded = true
            memberRanges.append(memberStart..<compressedOffset)
        case Z_DATA_ERROR:
            let detail = stream.msg.map { String(cString: $0) } ?? "invalid data"
            throw LaminaError(.malformed, "corrupt gzip data in member \(memberIndex + 1) at offset \(compressedOffset): \(detail)", subject: name)
        case Z_MEM_ERROR:
            throw LaminaError(.io, "zlib ran out of memory", subject: name)
        default:
            throw LaminaError(.malformed, "gzip error \(status) at offset \(compressedOffset)", subject: name)
        }
        return produced
    }
}

/// Compresses into one gzip member with a fixed header (MTIME 0, no name, OS 255), so the same
/// input and level always give the same bytes.
public final class GzipWriter: ByteSink {
    private let sink: ByteSink
    private var stream = z_stream()
    private var output: UnsafeMutableRawBufferPointer
    private var crc: uLong = crc32(0, nil, 0)
    private var inputSize: UInt64 = 0
    private var finished = false
    /// Compressed bytes written to the sink, header and trailer included.
    public private(set) var compressedCount: Int64 = 0

    /// - Parameter level: zlib level 1–9 (default 6, as `gzip -6`).
    public init(_ sink: ByteSink, level: Int32 = 6) throws {
        self.sink = sink
        self.output = UnsafeMutableRawBufferPointer.allocate(byteCount: 64 * 1024, alignment: 16)
        let status = lamina_deflateInit2(&stream, level, Z_DEFLATED, -15, 8, Z_DEFAULT_STRATEGY)
        if status != Z_OK {
            output.deallocate()
            throw LaminaError(.internal, "zlib deflateInit2 failed (\(status))")
        }
        try emit(GzipWriter.header(level: level))
    }

    deinit {
        deflateEnd(&stream)
        output.deallocate()
    }

    /// The 10-byte member header Lamina writes.
    public static func header(level: Int32) -> [UInt8] {
        let xfl: UInt8 = level >= 9 ? 2 : (level == 1 ? 4 : 0)
        return [0x1f, 0x8b, 8, 0, 0, 0, 0, 0, xfl, 0xff]
    }

    public func write(_ bytes: UnsafeRawBufferPointer) throws {
        precondition(!finished, "write after finish")
        if bytes.isEmpty { return }
        crc = crc32(crc, bytes.baseAddress!.assumingMemoryBound(to: Bytef.self), uInt(bytes.count))
        inputSize &+= UInt64(bytes.count)
        stream.next_in = UnsafeMutablePointer(mutating: bytes.baseAddress!.assumingMemoryBound(to: Bytef.self))
        stream.avail_in = uInt(bytes.count)
        while stream.avail_in > 0 {
            try deflateStep(flush: Z_NO_FLUSH)
        }
    }

    /// Flushes the deflate stream and writes the CRC-32 and size trailer.
    public func finish() throws {
        if finished { return }
        finished = true
        stream.next_in = nil
        stream.avail_in = 0
        var status: Int32
        repeat { status = try deflateStep(flush: Z_FINISH) } while status != Z_STREAM_END
        var trailer = [UInt8](repeating: 0, count: 8)
        let crcValue = UInt32(truncatingIfNeeded: crc)
        let size = UInt32(truncatingIfNeeded: inputSize)
        for i in 0..<4 {
            trailer[i] = UInt8(truncatingIfNeeded: crcValue >> (8 * UInt32(i)))
            trailer[4 + i] = UInt8(truncatingIfNeeded: size >> (8 * UInt32(i)))
        }
        try emit(trailer)
    }

    @discardableResult
    private func deflateStep(flush: Int32) throws -> Int32 {
        stream.next_out = output.baseAddress!.assumingMemoryBound(to: Bytef.self)
        stream.avail_out = uInt(output.count)
        let status = deflate(&stream, flush)
        if status != Z_OK && status != Z_STREAM_END && status != Z_BUF_ERROR {
            throw LaminaError(.internal, "zlib deflate failed (\(status))")
        }
        let produced = output.count - Int(stream.avail_out)
        if produced > 0 {
            try sink.write(UnsafeRawBufferPointer(rebasing: output[0..<produced]))
            compressedCount += Int64(produced)
        }
        return status
    }

    private func emit(_ bytes: [UInt8]) throws {
        try sink.write(bytes)
        compressedCount += Int64(bytes.count)
    }

    /// Compresses `bytes` into one gzip member in memory.
    public static func compress(_ bytes: [UInt8], level: Int32 = 6) throws -> [UInt8] {
        let sink = MemorySink()
        let writer = try GzipWriter(sink, level: level)
        try writer.write(bytes)
        try writer.finish()
        return sink.bytes
    }
}

/// CRC-32 (gzip's) of a buffer, continuing from `previous`.
public func gzipCRC32(_ bytes: UnsafeRawBufferPointer, previous: UInt32 = 0) -> UInt32 {
    guard let base = bytes.baseAddress else { return previous }
    return UInt32(truncatingIfNeeded: crc32(uLong(previous), base.assumingMemoryBound(to: Bytef.self), uInt(bytes.count)))
}
