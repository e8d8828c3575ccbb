import APK
import Archive
import Foundation
import LaminaCore
import OCI

/// The result of writing a layer: its compressed file, digests and size.
public struct WrittenLayer: Sendable, Hashable, Codable {
    /// Where the `.tar.gz` is.
    public var path: String
    /// sha256 of the compressed bytes (the blob digest).
    public var digest: Digest
    /// sha256 of the uncompressed tar (the config's `diff_ids` entry).
    public var diffID: Digest
    /// Compressed size.
    public var size: Int64
    /// Uncompressed size.
    public var uncompressedSize: Int64
    /// The layer's media type when it is not gzip-compressed OCI (a base image's docker or plain-tar layer).
    public var mediaType: MediaType? = nil

    /// The layer's descriptor in a manifest.
    public var descriptor: Descriptor { Descriptor(mediaType: mediaType ?? .ociLayerGzip, digest: digest, size: size) }
}

/// Writes a `FileTree` as one reproducible gzip-compressed tar layer, hashing both forms in the
/// same pass.
///
/// The tar streams straight into a `ParallelGzipWriter` (one gzip member, 128 KiB blocks compressed
/// on every core): nothing but a few blocks is ever held in memory.
///
/// **Block layout.** The content of every regular file of at least `isolatedContentSize` bytes
/// starts a new deflate block with no dictionary, is cut into 128 KiB blocks from its own start
/// (each primed with the 32 KiB before it in the file), and is followed by a block end after which
/// the stream starts again without a dictionary. Everything else (headers, padding, small files)
/// flows through 128 KiB blocks, each but the first after a large content primed with the 32 KiB
/// before it. So a large file's compressed blocks depend on nothing but its bytes and the level, and a
/// `ContentPrecompressor` can make them while packages are still being installed; the layer is
/// byte-for-byte the same whether they were made ahead or here, and whatever the thread count.
public enum LayerWriter {
    /// The gzip levels `--compression-level` accepts.
    public static let levels: ClosedRange<Int> = 1...9
    /// The default level (as `gzip -6` and apko).
    public static let defaultLevel = 6
    /// Contents at least this large get blocks of their own (see the type's notes).
    public static let isolatedContentSize: Int64 = 16 * 1024

    /// - Parameters:
    ///   - modificationTime: every entry's mtime (SOURCE_DATE_EPOCH).
    ///   - userNames/groupNames: uid/gid → name for the tar headers.
    ///   - level: gzip level, 1–9.
    ///   - threads: compression threads; nil uses every active processor. Changes speed, never bytes.
    ///   - precompressed: blocks made ahead of time for some contents (same level).
    /// - Throws: `.usage` for a level outside 1–9; I/O errors writing `path`; tree errors (a hardlink to
    ///   nothing). Nothing is left at `path` on failure.
    public static func write(
        _ tree: FileTree, to path: String, modificationTime: Int64, userNames: [Int: String] = [:], groupNames: [Int: String] = [:],
        level: Int = defaultLevel, threads: Int? = nil, precompressed: ContentPrecompressor? = nil
    ) throws -> WrittenLayer {
        guard levels.contains(level) else {
            throw LaminaError(.usage, "compression level \(level) is out of range (\(levels.lowerBound)–\(levels.upperBound))")
        }
        if let precompressed, precompressed.level != Int32(level) || precompressed.blockSize != ParallelGzipWriter.defaultBlockSize {
            throw LaminaError(.internal, "precompressed blocks were made with another level or block size")
        }
        let file = try AtomicFileSink(path: path)
        var compressedHasher = Hasher(.sha256)
        let compressedCounter = CallbackSink { compressedHasher.update($0) }
        let gzip = try ParallelGzipWriter(TeeSink([file, compressedCounter]), level: Int32(level), threads: threads)
        let stream = LayerStream(gzip: gzip, precompressed: precompressed)
        let tar = TarWriter(stream)
        try tree.writeTar(to: tar, modificationTime: modificationTime, userNames: userNames, groupNames: groupNames) { content in
            let source = try content.open()
            guard content.size >= isolatedContentSize else { return source }
            return ContentStartSource(source) { try stream.beginContent(content) }
        }
        try gzip.finish()
        try file.commit()
        return WrittenLayer(
            path: path, digest: compressedHasher.finalize(), diffID: stream.tarHasher.finalize(), size: compressedCounter.count,
            uncompressedSize: stream.count)
    }
}

/// Calls `onStart` just before the first read (after the tar header went out, before the content).
final class ContentStartSource: ByteSource {
    private let base: ByteSource
    private var onStart: (() throws -> Void)?

    init(_ base: ByteSource, onStart: @escaping () throws -> Void) {
        self.base = base
        self.onStart = onStart
    }

    func read(into buffer: UnsafeMutableRawBufferPointer) throws -> Int {
        if let start = onStart {
            onStart = nil
            try start()
        }
        return try base.read(into: buffer)
    }
}

/// The tar stream on its way into the gzip writer: hashes it (diff_id) and lays out blocks around
/// large contents, splicing in precompressed blocks where it has them.
final class LayerStream: ByteSink {
    let gzip: ParallelGzipWriter
    let precompressed: ContentPrecompressor?
    var tarHasher = Hasher(.sha256)
    private(set) var count: Int64 = 0

    /// Bytes of the current isolated content still to come (0: not inside one).
    private var contentLeft: Int64 = 0
    /// Its precompressed blocks (empty: compress here), the next one, and the input gathered for it.
    private var chunks: [ContentPrecompressor.Chunk] = []
    private var chunkIndex = 0
    private var pending: [UInt8] = []

    init(gzip: ParallelGzipWriter, precompressed: ContentPrecompressor?) {
        self.gzip = gzip
        self.precompressed = precompressed
    }

    /// The next `content.size` bytes are that content: give it blocks of its own.
    func beginContent(_ content: FileContent) throws {
        try gzip.endBlock(keepDictionary: false)
        contentLeft = content.size
        chunkIndex = 0
        pending.removeAll(keepingCapacity: true)
        chunks = precompressed?.chunks(for: content) ?? []
        if chunks.reduce(0, { $0 + Int64($1.inputCount) }) != content.size { chunks = [] }
    }

    func write(_ bytes: UnsafeRawBufferPointer) throws {
        tarHasher.update(bytes)
        count += Int64(bytes.count)
        var offset = 0
        while offset < bytes.count {
            if contentLeft == 0 {
                try gzip.write(UnsafeRawBufferPointer(rebasing: bytes[offset...]))
                return
            }
            let n = Int(min(Int64(bytes.count - offset), contentLeft))
            let piece = UnsafeRawBufferPointer(rebasing: bytes[offset..<(offset + n)])
            if chunks.isEmpty {
                try gzip.write(piece)
            } else {
                try splice(piece)
            }
            offset += n
            contentLeft -= Int64(n)
            if contentLeft == 0 {
                // What follows (padding, the next headers) starts afresh too: such blocks are often tiny,
                // and priming each with 32 KiB of dictionary would cost more CPU than the whole block.
                try gzip.endBlock(keepDictionary: false)
                chunks = []
            }
        }
    }

    /// Gathers each precompressed block's input and hands the block to the writer once complete.
    private func splice(_ piece: UnsafeRawBufferPointer) throws {
        var p = 0
        while p < piece.count {
            guard chunkIndex < chunks.count, let precompressed else {
                throw LaminaError(.internal, "content longer than its precompressed blocks")
            }
            let chunk = chunks[chunkIndex]
            let take = min(chunk.inputCount - pending.count, piece.count - p)
            pending.append(contentsOf: UnsafeRawBufferPointer(rebasing: piece[p..<(p + take)]))
            p += take
            if pending.count == chunk.inputCount {
                let block = try precompressed.block(chunk)
                try pending.withUnsafeBytes { try gzip.appendCompressedBlock(block, input: $0) }
                pending.removeAll(keepingCapacity: true)
                chunkIndex += 1
            }
        }
    }
}
