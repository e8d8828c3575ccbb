import APK
import Archive
import LaminaCore

/// The result of writing a layer: its compressed file, digests and size.
public struct WrittenLayer: Sendable, Hashable {
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
public enum LayerWriter {
    /// - Parameters:
    ///   - modificationTime: every entry's mtime (SOURCE_DATE_EPOCH).
    ///   - compressor: makes the gzip sink (single-stream `GzipWriter` by default).
    public static func write(
        _ tree: FileTree, to path: String, modificationTime: Int64, userNames: [Int: String] = [:], groupNames: [Int: String] = [:],
        level: Int32 = 6
    ) throws -> WrittenLayer {
        let file = try AtomicFileSink(path: path)
        var compressedHasher = Hasher(.sha256)
        var tarHasher = Hasher(.sha256)
        let compressedCounter = CallbackSink { compressedHasher.update($0) }
        let gzip = try GzipWriter(TeeSink([file, compressedCounter]), level: level)
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
