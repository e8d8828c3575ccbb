import APK
import Archive
import Foundation
import LaminaCore

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
}

/// Writes a `FileTree` as one reproducible gzip-compressed tar layer, hashing both forms in the
/// same pass.
///
/// The tar streams straight into a `ParallelGzipWriter` (one gzip member, 128 KiB blocks
/// compressed on every core): nothing but a few blocks is ever held in memory, and the bytes
/// depend only on the tree, the mtime and the level, never on the number of threads.
public enum LayerWriter {
    /// The gzip levels `--compression-level` accepts.
    public static let levels: ClosedRange<Int> = 1...9
    /// The default level (as `gzip -6` and apko).
    public static let defaultLevel = 6

    /// - Parameters:
    ///   - modificationTime: every entry's mtime (SOURCE_DATE_EPOCH).
    ///   - userNames/groupNames: uid/gid → name for the tar headers.
    ///   - level: gzip level, 1–9.
    ///   - threads: compression threads; nil uses every active processor. Changes speed, never bytes.
    /// - Throws: `.usage` for a level outside 1–9; I/O errors writing `path`; tree errors (a hardlink to
    ///   nothing). Nothing is left at `path` on failure.
    public static func write(
        _ tree: FileTree, to path: String, modificationTime: Int64, userNames: [Int: String] = [:], groupNames: [Int: String] = [:],
        level: Int = defaultLevel, threads: Int? = nil
    ) throws -> WrittenLayer {
        guard levels.contains(level) else {
            throw LaminaError(.usage, "compression level \(level) is out of range (\(levels.lowerBound)–\(levels.upperBound))")
        }
        let file = try AtomicFileSink(path: path)
        var compressedHasher = Hasher(.sha256)
        var tarHasher = Hasher(.sha256)
        let compressedCounter = CallbackSink { compressedHasher.update($0) }
        let gzip = try ParallelGzipWriter(TeeSink([file, compressedCounter]), level: Int32(level), threads: threads)
        let tarCounter = CallbackSink { tarHasher.update($0) }
        let tar = TarWriter(TeeSink([tarCounter, gzip]))
        try tree.writeTar(to: tar, modificationTime: modificationTime, userNames: userNames, groupNames: groupNames)
        try gzip.finish()
        try file.commit()
        return WrittenLayer(
            path: path, digest: compressedHasher.finalize(), diffID: tarHasher.finalize(), size: compressedCounter.count,
            uncompressedSize: tarCounter.count)
    }
}
