#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#elseif canImport(Darwin)
    import Darwin
#endif
import CZlib
import Foundation
import LaminaCore

/// Compresses into ONE gzip member on several threads at once, the way pigz does.
///
/// The input is cut into fixed-size blocks. Each block is deflated on its own (raw deflate, the
/// same level as `GzipWriter`) with the last 32 KiB of the input before it set as its dictionary,
/// so back-references may reach across block boundaries and the ratio stays close to a single
/// stream. Every block but the last ends on a byte boundary without the final-block bit, so the
/// blocks' outputs simply concatenate into one deflate stream; the last block is finished with
/// `Z_FINISH`. Per-block CRC-32s are combined with `crc32_combine` for the trailer.
///
/// Output layout: the 10-byte `GzipWriter.header(level:)`, the deflate blocks in input order, and
/// the standard trailer (CRC-32 and input size mod 2^32, little-endian).
///
/// **Deterministic.** Block boundaries depend only on the position in the input (never on how the
/// caller splits its `write` calls) and on where the caller explicitly ends blocks (`endBlock`), and
/// each block's bytes depend only on its input, its dictionary and the level. The thread count and
/// timing change nothing: one thread and eight threads give the same bytes. Blocks may also be
/// compressed ahead of time elsewhere (`DeflateBlockCompressor`) and spliced in
/// (`appendCompressedBlock`) without changing a byte.
///
/// **Bounded memory.** At most `2 × threads` blocks are queued or being compressed; `write`
/// blocks (writing finished blocks to the sink) until a slot is free. With the default block
/// size and two threads that is about 1.5 MiB of buffers plus zlib's ~270 KiB state per thread,
/// whatever the input size.
///
/// The writer itself is used from one thread, like every `ByteSink`; the sink is only ever
/// called on that thread. Worker threads start in `init` and stop in `finish()` (or when the
/// writer is released).
public final class ParallelGzipWriter: ByteSink {
    /// Default block size (128 KiB, as pigz). Measured on a 200 MiB layer-like corpus, 64 KiB–1 MiB
    /// blocks cost the same CPU time and differ in size by under 0.02%, so the smaller block wins:
    /// more parallelism on small layers and less memory. With 128 KiB blocks the deflate stream is
    /// byte-for-byte the one `pigz -6 -n` writes.
    public static let defaultBlockSize = 128 * 1024
    /// How much earlier input primes each block (deflate's window).
    static let window = 32 * 1024

    /// Input bytes per block.
    public let blockSize: Int
    /// zlib level, 0–9.
    public let level: Int32
    /// Number of compression threads (1 means compress on the calling thread).
    public let threadCount: Int
    /// Compressed bytes written to the sink, header and trailer included.
    public private(set) var compressedCount: Int64 = 0
    /// Uncompressed bytes accepted so far.
    public private(set) var uncompressedCount: Int64 = 0

    private let sink: ByteSink
    private let pool: WorkerPool<Int, BlockJob, BlockResult>?
    private let inlineDeflater: BlockDeflater?
    private let maxInFlight: Int
    private var current: [UInt8] = []
    private var history: ArraySlice<UInt8> = []
    private var submitted = 0
    private var written = 0
    /// Blocks compressed elsewhere (`appendCompressedBlock`), waiting for their turn in the output.
    private var spliced: [Int: BlockResult] = [:]
    private var crc: uLong = 0
    private var finished = false
    private var failure: (any Error)?

    /// - Parameters:
    ///   - level: zlib level 0–9 (default 6, as `gzip -6`).
    ///   - blockSize: input bytes per block, 1 KiB–64 MiB. Part of the output's identity: the
    ///     same input, level and block size always give the same bytes.
    ///   - threads: compression threads; nil uses every active processor.
    /// - Throws: `.usage` for an out-of-range level, block size or thread count; `.internal` when
    ///   zlib or thread start-up fails; whatever the sink throws for the header.
    public init(_ sink: ByteSink, level: Int32 = 6, blockSize: Int = defaultBlockSize, threads: Int? = nil) throws {
        guard (0...9).contains(level) else {
            throw LaminaError(.usage, "gzip level \(level) is out of range (0–9)")
        }
        guard (1024...(64 << 20)).contains(blockSize) else {
            throw LaminaError(.usage, "gzip block size \(blockSize) is out of range (1 KiB–64 MiB)")
        }
        let count = threads ?? ProcessInfo.processInfo.activeProcessorCount
        guard (1...1024).contains(count) else {
            throw LaminaError(.usage, "gzip thread count \(count) is out of range (1–1024)")
        }
        self.sink = sink
        self.level = level
        self.blockSize = blockSize
        self.threadCount = count
        self.maxInFlight = 2 * count
        if count == 1 {
            inlineDeflater = try BlockDeflater(level: level)
            pool = nil
        } else {
            inlineDeflater = nil
            pool = WorkerPool(threads: count, name: "lamina-gzip") {
                let deflater = try BlockDeflater(level: level)
                return { try deflater.compress($0) }
            }
        }
        current.reserveCapacity(blockSize)
        let header = GzipWriter.header(level: level)
        try sink.write(header)
        compressedCount = Int64(header.count)
    }

    deinit {
        pool?.shutdown()
    }

    public func write(_ bytes: UnsafeRawBufferPointer) throws {
        try checkUsable()
        do {
            var offset = 0
            while offset < bytes.count {
                // A full block is sent only once more input arrives: the last block must be the
                // one that `finish()` sends, with Z_FINISH.
                if current.count == blockSize { try submit(isLast: false) }
                let n = min(blockSize - current.count, bytes.count - offset)
                current.append(contentsOf: UnsafeRawBufferPointer(rebasing: bytes[offset..<(offset + n)]))
                offset += n
            }
            uncompressedCount += Int64(bytes.count)
        } catch {
            failure = error
            throw error
        }
    }

    /// Compresses what is buffered, writes every block in order and then the CRC-32 and size
    /// trailer, and stops the worker threads. Calling it again does nothing.
    public func finish() throws {
        if finished { return }
        try checkUsable()
        do {
            try submit(isLast: true)
            while written < submitted { try writeNext(wait: true) }
            var trailer = [UInt8](repeating: 0, count: 8)
            let crcValue = UInt32(truncatingIfNeeded: crc)
            let size = UInt32(truncatingIfNeeded: uncompressedCount)
            for i in 0..<4 {
                trailer[i] = UInt8(truncatingIfNeeded: crcValue >> (8 * UInt32(i)))
                trailer[4 + i] = UInt8(truncatingIfNeeded: size >> (8 * UInt32(i)))
            }
            try sink.write(trailer)
            compressedCount += 8
            finished = true
            pool?.shutdown()
        } catch {
            failure = error
            pool?.shutdown()
            throw error
        }
    }

    /// Ends the current block here instead of at the next block-size boundary, so the next byte
    /// starts a new block. Without `keepDictionary` that block also gets no preset dictionary (it
    /// cannot refer back to anything before it), which makes what follows compressible on its own:
    /// see `DeflateBlockCompressor` and `appendCompressedBlock`. Does nothing for the dictionary
    /// when kept and nothing is buffered.
    ///
    /// Where blocks end is part of the output's identity: a caller that ends blocks at positions
    /// chosen from the *content* (never from timing or thread count) keeps the output deterministic.
    public func endBlock(keepDictionary: Bool = true) throws {
        try checkUsable()
        do {
            if !current.isEmpty { try submit(isLast: false) }
            if !keepDictionary { history = [] }
        } catch {
            failure = error
            throw error
        }
    }

    /// Appends a block compressed elsewhere by `DeflateBlockCompressor` (with this writer's level),
    /// as if `input` had been written here right after `endBlock`: the output is byte-for-byte the
    /// same. `input` is the block's uncompressed bytes (its tail primes the next block's dictionary).
    /// - Throws: `.internal` when bytes are buffered (call `endBlock` first) or the block does not
    ///   describe `input`; whatever the sink throws.
    public func appendCompressedBlock(_ block: DeflatedBlock, input: UnsafeRawBufferPointer) throws {
        try checkUsable()
        guard current.isEmpty else {
            throw LaminaError(.internal, "appendCompressedBlock with \(current.count) bytes buffered; call endBlock() first")
        }
        guard block.inputCount == input.count, block.level == level else {
            throw LaminaError(.internal, "a precompressed block does not match its input or level")
        }
        do {
            let bytes = [UInt8](input)
            let result = BlockResult(index: submitted, output: block.output, crc: block.crc, inputCount: block.inputCount)
            history = Self.window(after: history, block: bytes)
            uncompressedCount += Int64(input.count)
            if pool == nil {
                submitted += 1
                try emit(result)
                written += 1
                return
            }
            while submitted - written >= maxInFlight { try writeNext(wait: true) }
            spliced[submitted] = result
            submitted += 1
            while written < submitted, try writeNext(wait: false) {}
        } catch {
            failure = error
            throw error
        }
    }

    private func checkUsable() throws {
        if let failure { throw failure }
        if finished { throw LaminaError(.internal, "write to a parallel gzip stream after finish()") }
    }

    /// Hands the buffered input to a worker (or compresses it here with one thread).
    private func submit(isLast: Bool) throws {
        let job = BlockJob(index: submitted, input: current, dictionary: history, isLast: isLast)
        history = Self.window(after: history, block: current)
        current = []
        if !isLast { current.reserveCapacity(blockSize) }
        if let inlineDeflater {
            submitted += 1
            try emit(try inlineDeflater.compress(job))
            written += 1
            return
        }
        guard let pool else { return }
        while submitted - written >= maxInFlight { try writeNext(wait: true) }
        pool.submit(job.index, job)
        submitted += 1
        // Write whatever is already done, without waiting.
        while written < submitted, try writeNext(wait: false) {}
    }

    /// Writes block `written` if it is done (or, with `wait`, once it is). Returns whether it wrote.
    @discardableResult
    private func writeNext(wait: Bool) throws -> Bool {
        if let result = spliced.removeValue(forKey: written) {
            try emit(result)
            written += 1
            return true
        }
        guard let pool else { return false }
        guard let result = try pool.outcome(for: written, wait: wait)?.get() else { return false }
        try emit(result)
        written += 1
        return true
    }

    private func emit(_ result: BlockResult) throws {
        crc = lamina_crc32_combine(crc, uLong(result.crc), Int64(result.inputCount))
        try sink.write(result.output)
        compressedCount += Int64(result.output.count)
    }

    /// The last `window` bytes of input up to the end of `block`.
    static func window(after history: ArraySlice<UInt8>, block: [UInt8]) -> ArraySlice<UInt8> {
        if block.count >= window { return block.suffix(window) }
        return (Array(history) + block).suffix(window)
    }

    /// Compresses `bytes` into one gzip member in memory.
    public static func compress(
        _ bytes: [UInt8], level: Int32 = 6, blockSize: Int = defaultBlockSize, threads: Int? = nil
    ) throws -> [UInt8] {
        let sink = MemorySink()
        let writer = try ParallelGzipWriter(sink, level: level, blockSize: blockSize, threads: threads)
        try writer.write(bytes)
        try writer.finish()
        return sink.bytes
    }
}

/// A compressed block made by `DeflateBlockCompressor`, ready for `appendCompressedBlock`.
public struct DeflatedBlock: Sendable, Hashable {
    /// Raw deflate bytes ending on a byte boundary, without the final-block bit.
    public var output: [UInt8]
    /// CRC-32 of the input.
    public var crc: UInt32
    /// Uncompressed size.
    public var inputCount: Int
    /// The zlib level it was made with.
    public var level: Int32

    public init(output: [UInt8], crc: UInt32, inputCount: Int, level: Int32) {
        self.output = output
        self.crc = crc
        self.inputCount = inputCount
        self.level = level
    }
}

/// Compresses a run of bytes that starts a block (after `ParallelGzipWriter.endBlock(keepDictionary:
/// false)`) ahead of time, on any thread, into exactly the blocks the writer would make from it:
/// `blockSize` pieces, each primed with the 32 KiB before it within the run. One instance per
/// thread; not shareable.
public final class DeflateBlockCompressor {
    public let level: Int32
    public let blockSize: Int
    private let deflater: BlockDeflater

    /// - Throws: `.usage` for a bad level or block size; `.internal` when zlib cannot start.
    public init(level: Int32 = 6, blockSize: Int = ParallelGzipWriter.defaultBlockSize) throws {
        guard (0...9).contains(level) else { throw LaminaError(.usage, "gzip level \(level) is out of range (0–9)") }
        guard (1024...(64 << 20)).contains(blockSize) else {
            throw LaminaError(.usage, "gzip block size \(blockSize) is out of range (1 KiB–64 MiB)")
        }
        self.level = level
        self.blockSize = blockSize
        deflater = try BlockDeflater(level: level)
    }

    /// Compresses one block: `input` (at most `blockSize` bytes) with `dictionary` (the up to 32 KiB
    /// of the run before it; empty for the run's first block).
    public func compress(_ input: [UInt8], dictionary: ArraySlice<UInt8>) throws -> DeflatedBlock {
        guard input.count <= blockSize else {
            throw LaminaError(.internal, "block of \(input.count) bytes is larger than the block size \(blockSize)")
        }
        let result = try deflater.compress(BlockJob(index: 0, input: input, dictionary: dictionary.suffix(ParallelGzipWriter.window), isLast: false))
        return DeflatedBlock(output: result.output, crc: result.crc, inputCount: result.inputCount, level: level)
    }

    /// The dictionary for the block after `block`, given the one before it (the writer's rule).
    public static func window(after history: ArraySlice<UInt8>, block: [UInt8]) -> ArraySlice<UInt8> {
        ParallelGzipWriter.window(after: history, block: block)
    }
}

/// One block of input and the 32 KiB of input before it.
struct BlockJob: Sendable {
    var index: Int
    var input: [UInt8]
    var dictionary: ArraySlice<UInt8>
    var isLast: Bool
}

/// A compressed block: raw deflate bytes ending on a byte boundary, and the input's CRC-32.
struct BlockResult: Sendable {
    var index: Int
    var output: [UInt8]
    var crc: UInt32
    var inputCount: Int
}

/// A raw-deflate stream reused block after block. Not shared: each worker thread owns one.
final class BlockDeflater {
    private var stream = z_stream()
    private var scratch: UnsafeMutableRawBufferPointer

    init(level: Int32) throws {
        scratch = UnsafeMutableRawBufferPointer.allocate(byteCount: 64 * 1024, alignment: 16)
        let status = lamina_deflateInit2(&stream, level, Z_DEFLATED, -15, 8, Z_DEFAULT_STRATEGY)
        if status != Z_OK {
            scratch.deallocate()
            throw LaminaError(.internal, "zlib deflateInit2 failed (\(status))")
        }
    }

    deinit {
        deflateEnd(&stream)
        scratch.deallocate()
    }

    /// Deflates one block. A middle block ends on a byte boundary with no final-block bit; the
    /// last block ends the deflate stream.
    func compress(_ job: BlockJob) throws -> BlockResult {
        guard deflateReset(&stream) == Z_OK else { throw LaminaError(.internal, "zlib deflateReset failed") }
        if !job.dictionary.isEmpty {
            let status = job.dictionary.withUnsafeBytes { dict in
                deflateSetDictionary(&stream, dict.baseAddress?.assumingMemoryBound(to: Bytef.self), uInt(dict.count))
            }
            guard status == Z_OK else { throw LaminaError(.internal, "zlib deflateSetDictionary failed (\(status))") }
        }
        let bound = Int(deflateBound(&stream, uLong(job.input.count))) + 64
        if scratch.count < bound {
            scratch.deallocate()
            scratch = UnsafeMutableRawBufferPointer.allocate(byteCount: bound, alignment: 16)
        }
        var produced = 0
        let crc = try job.input.withUnsafeBytes { input -> UInt32 in
            stream.next_in = UnsafeMutablePointer(mutating: input.baseAddress?.assumingMemoryBound(to: Bytef.self))
            stream.avail_in = uInt(input.count)
            if job.isLast {
                try run(Z_FINISH, produced: &produced)
            } else {
                try endOnByteBoundary(produced: &produced)
            }
            stream.next_in = nil
            return gzipCRC32(input)
        }
        let output = Array(UnsafeRawBufferPointer(rebasing: scratch[0..<produced]))
        return BlockResult(index: job.index, output: output, crc: crc, inputCount: job.input.count)
    }

    /// Compresses all input and ends the last deflate block (Z_BLOCK), then pads to a whole byte.
    /// After Z_BLOCK up to 7 bits are pending. An odd count is padded with a sync flush (an empty
    /// stored block, 4–5 bytes); an even count with empty fixed-Huffman blocks of 10 bits each
    /// (header 010 and the 7-bit end code), which reach a byte boundary within three blocks and
    /// cost at most 4 bytes. This is pigz's technique; it also never sets the final-block bit.
    private func endOnByteBoundary(produced: inout Int) throws {
        try run(Z_BLOCK, produced: &produced)
        var bits: Int32 = 0
        guard deflatePending(&stream, nil, &bits) == Z_OK else {
            throw LaminaError(.internal, "zlib deflatePending failed")
        }
        if bits & 1 != 0 {
            try run(Z_SYNC_FLUSH, produced: &produced)
        } else if bits & 7 != 0 {
            repeat {
                guard deflatePrime(&stream, 10, 2) == Z_OK,
                    deflatePending(&stream, nil, &bits) == Z_OK
                else { throw LaminaError(.internal, "zlib deflatePrime failed") }
            } while bits & 7 != 0
            try run(Z_BLOCK, produced: &produced)
        }
    }

    /// Calls deflate with `flush` until it has consumed all input and emitted everything the flush
    /// asks for (the stream end, for Z_FINISH), growing the output buffer if needed.
    private func run(_ flush: Int32, produced: inout Int) throws {
        while true {
            if produced == scratch.count {
                let bigger = UnsafeMutableRawBufferPointer.allocate(byteCount: scratch.count * 2, alignment: 16)
                bigger.copyMemory(from: UnsafeRawBufferPointer(scratch))
                scratch.deallocate()
                scratch = bigger
            }
            stream.next_out = (scratch.baseAddress! + produced).assumingMemoryBound(to: Bytef.self)
            stream.avail_out = uInt(scratch.count - produced)
            let status = deflate(&stream, flush)
            produced = scratch.count - Int(stream.avail_out)
            switch status {
            case Z_STREAM_END:
                return
            case Z_OK, Z_BUF_ERROR:
                // Done when deflate left output room: all input taken and the flush complete.
                if flush != Z_FINISH && stream.avail_out != 0 && stream.avail_in == 0 { return }
                if status == Z_BUF_ERROR && stream.avail_out != 0 {
                    throw LaminaError(.internal, "zlib deflate made no progress")
                }
            default:
                throw LaminaError(.internal, "zlib deflate failed (\(status))")
            }
        }
    }
}
