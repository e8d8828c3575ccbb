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
public final class ContentPrecompressor: @unchecked Sendable {
    // Safety: every mutable stored property (`queue`, `queueHead`, `states`, `closing`, `running`,
    // `spillOffset`, and the spill sink's file position) is touched only while `condition` is
    // locked; the workers own their compressors and buffers.

    /// One precompressed block: where its bytes are in the spill file, and what it stands for.
    public struct Chunk: Sendable {
        public var offset: Int64
        public var size: Int
        public var crc: UInt32
        public var inputCount: Int
    }

    private enum State {
        case queued, running, taken, failed
        case done([Chunk])
    }


    public let level: Int32
    public let blockSize: Int
    private let condition = NSCondition()
    private var queue: [FileContent] = []
    private var queueHead = 0
    private var states: [FileContent: State] = [:]
    private var closing = false
    private var running = 0
    private let spill: AtomicFileSink
    private var spillOffset: Int64 = 0
    private let reader: FileSource

    /// Starts `threads` workers (nil: every active processor).
    /// - Throws: `.io` when the spill file cannot be created in `directory`; `.usage` for a bad level.
    public init(directory: String, level: Int, threads: Int? = nil, blockSize: Int = ParallelGzipWriter.defaultBlockSize) throws {
        self.level = Int32(level)
        self.blockSize = blockSize
        _ = try DeflateBlockCompressor(level: Int32(level), blockSize: blockSize)  // validates the arguments
        let path = directory + "/lamina-precompressed-\(getpid())-\(UInt64.random(in: 0...UInt64.max))"
        spill = try AtomicFileSink(path: path, mode: 0o600)
        try spill.commit(keepOpen: true)
        reader = try FileSource(path: path)
        unlink(path)  // both descriptors stay valid; nothing is left behind however we end
        let count = max(1, threads ?? ProcessInfo.processInfo.activeProcessorCount)
        running = count
        for _ in 0..<count {
            let thread = Thread { [self] in self.work() }
            thread.name = "lamina-precompress"
            thread.start()
        }
    }

    deinit {
        shutdown()
    }

    /// Queues `content` for compression (once; contents below `LayerWriter.isolatedContentSize`, which
    /// the layer does not isolate, are ignored).
    public func enqueue(_ content: FileContent) {
        guard content.size >= LayerWriter.isolatedContentSize, case .file = content else { return }
        condition.withLock {
            guard !closing, states[content] == nil else { return }
            states[content] = .queued
            queue.append(content)
            condition.broadcast()
        }
    }

    /// The blocks of `content`, waiting for them if a worker is on it. Nil when it was never queued,
    /// failed, or is still queued (then it is taken off the queue: the caller compresses it itself).
    public func chunks(for content: FileContent) -> [Chunk]? {
        condition.withLock {
            while true {
                switch states[content] {
                case .done(let chunks)?:
                    states[content] = nil
                    return chunks
                case .running?:
                    condition.wait()
                case .queued?:
                    states[content] = .taken
                    return nil
                default:
                    return nil
                }
            }
        }
    }

    /// Reads a chunk back from the spill file.
    public func block(_ chunk: Chunk) throws -> DeflatedBlock {
        try condition.withLock {
            try reader.seek(to: chunk.offset)
            var out = [UInt8](repeating: 0, count: chunk.size)
            let n = try out.withUnsafeMutableBytes { try reader.readFully(into: $0) }
            guard n == out.count else { throw LaminaError(.io, "precompressed data ended early", subject: reader.path) }
            return DeflatedBlock(output: out, crc: chunk.crc, inputCount: chunk.inputCount, level: level)
        }
    }

    /// Stops the workers (dropping queued work) and waits for them. Idempotent; must be called (the
    /// workers keep the precompressor alive until then).
    public func shutdown() {
        condition.withLock {
            closing = true
            condition.broadcast()
            while running > 0 { condition.wait() }
        }
    }

    private func nextJob() -> FileContent? {
        condition.withLock {
            while true {
                if closing { return nil }
                while queueHead < queue.count {
                    let content = queue[queueHead]
                    queueHead += 1
                    if case .queued? = states[content] {
                        states[content] = .running
                        return content
                    }
                }
                queue.removeAll(keepingCapacity: true)
                queueHead = 0
                condition.wait()
            }
        }
    }

    private func work() {
        defer {
            condition.withLock {
                running -= 1
                condition.broadcast()
            }
        }
        guard let compressor = try? DeflateBlockCompressor(level: level, blockSize: blockSize) else { return }
        while let content = nextJob() {
            let result = try? compress(content, with: compressor)
            condition.withLock {
                states[content] = result.map { .done($0) } ?? .failed
                condition.broadcast()
            }
        }
    }

    /// Compresses one content block by block, appending each block to the spill file.
    private func compress(_ content: FileContent, with compressor: DeflateBlockCompressor) throws -> [Chunk] {
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
            let offset: Int64 = try condition.withLock {
                if closing { throw CancellationError() }
                let at = spillOffset
                try spill.write(deflated.output)
                spillOffset += Int64(deflated.output.count)
                return at
            }
            chunks.append(Chunk(offset: offset, size: deflated.output.count, crc: deflated.crc, inputCount: deflated.inputCount))
            left -= Int64(want)
        }
        return chunks
    }
}
