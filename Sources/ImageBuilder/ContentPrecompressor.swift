import Archive
import Foundation
import LaminaCore

/// Compresses file contents into deflate blocks in the background while packages are still being
/// installed, so that the layer's compression overlaps the (single-threaded) install instead of
/// following it.
///
/// `LayerWriter` starts every regular file's content on a fresh block with no dictionary and ends a
/// block after it (`ParallelGzipWriter.endBlock`); the content's blocks therefore depend on nothing
/// but its bytes, the level and the block size, and can be made ahead of time by a
/// `DeflateBlockCompressor`. The writer splices them in where the file's content goes; a content
/// that was not precompressed (too small, added after install, not reached yet) is compressed on
/// the spot into the very same bytes. The layer is identical with or without this helper, whatever
/// the thread count or timing.
///
/// Compressed blocks are appended to a spill file in the scratch directory (deleted with the
/// precompressor), so memory stays bounded by one block per worker.
public final class ContentPrecompressor: Sendable {
    /// One precompressed block: where its bytes are in the spill file, and what it stands for.
    public struct Chunk: Sendable {
        public var offset: Int64
        public var size: Int
        public var crc: UInt32
        public var inputCount: Int
    }

    public let level: Int32
    public let blockSize: Int
    private let spill: SpillStore
    private let pool: WorkerPool<FileContent, FileContent, [Chunk]>

    /// Starts `threads` workers (nil: every active processor).
    /// - Throws: `.io` when the spill file cannot be created in `directory`; `.usage` for a bad level.
    public init(directory: String, level: Int, threads: Int? = nil, blockSize: Int = ParallelGzipWriter.defaultBlockSize) throws {
        let level = Int32(level)
        self.level = level
        self.blockSize = blockSize
        _ = try DeflateBlockCompressor(level: level, blockSize: blockSize)  // validates the arguments
        let spill = try SpillStore(directory: directory)
        self.spill = spill
        pool = WorkerPool(threads: threads ?? ProcessInfo.processInfo.activeProcessorCount, name: "lamina-precompress") {
            let compressor = try DeflateBlockCompressor(level: level, blockSize: blockSize)
            return { content in try Self.compress(content, with: compressor, blockSize: blockSize, into: spill) }
        }
    }

    deinit {
        shutdown()
    }

    /// Queues `content` for compression (once; contents below `LayerWriter.isolatedContentSize`, which
    /// the layer does not isolate, are ignored).
    public func enqueue(_ content: FileContent) {
        guard content.size >= LayerWriter.isolatedContentSize, case .file = content else { return }
        pool.submit(content, content)
    }

    /// The blocks of `content`, waiting for them if a worker is on it. Nil when it was never queued,
    /// failed, or is still queued (then it is taken off the queue: the caller compresses it itself).
    public func chunks(for content: FileContent) -> [Chunk]? {
        try? pool.outcome(for: content, wait: true, cancelIfQueued: true)?.get()
    }

    /// Reads a chunk back from the spill file.
    public func block(_ chunk: Chunk) throws -> DeflatedBlock {
        let stored = FileContent.file(path: spill.path, offset: chunk.offset, size: Int64(chunk.size))
        let output = try stored.open().readAll(limit: chunk.size, what: spill.path)
        guard output.count == chunk.size else { throw LaminaError(.io, "precompressed data ended early", subject: spill.path) }
        return DeflatedBlock(output: output, crc: chunk.crc, inputCount: chunk.inputCount, level: level)
    }

    /// Stops the workers (dropping queued work, cutting short a content being compressed) and waits
    /// for them. Idempotent.
    public func shutdown() {
        spill.close()
        pool.shutdown()
    }

    /// Compresses one content block by block, appending each block to the spill file.
    private static func compress(
        _ content: FileContent, with compressor: DeflateBlockCompressor, blockSize: Int, into spill: SpillStore
    ) throws -> [Chunk] {
        let source = try content.open()
        var chunks: [Chunk] = []
        var history: ArraySlice<UInt8> = []
        var left = content.size
        var block = [UInt8](repeating: 0, count: blockSize)
        while left > 0 {
            let want = Int(min(Int64(blockSize), left))
            if block.count != want { block = [UInt8](repeating: 0, count: want) }
            let n = try block.withUnsafeMutableBytes { try source.readFully(into: $0) }
            guard n == want else { throw LaminaError(.io, "content ended early") }
            let deflated = try compressor.compress(block, dictionary: history)
            history = DeflateBlockCompressor.window(after: history, block: block)
            guard case .file(_, let offset, _) = try spill.append(MemorySource(deflated.output)) else { throw CancellationError() }
            chunks.append(Chunk(offset: offset, size: deflated.output.count, crc: deflated.crc, inputCount: deflated.inputCount))
            left -= Int64(want)
        }
        return chunks
    }
}
