/// Upper bounds on what Lamina will read, so hostile input (gzip bombs, endless headers) fails cleanly.
public struct SizeLimits: Sendable, Hashable {
    /// Largest decompressed size of one package (all its members), in bytes.
    public var maxPackageSize: Int64
    /// Largest decompressed size of an APKINDEX, in bytes.
    public var maxIndexSize: Int64
    /// Largest control segment (`.PKGINFO` + scripts), decompressed.
    public var maxControlSize: Int64
    /// Largest single PAX or GNU long-name header.
    public var maxHeaderSize: Int
    /// Largest decompressed/compressed ratio tolerated once more than 1 MiB has come out.
    public var maxCompressionRatio: Int64

    public init(
        maxPackageSize: Int64 = 8 << 30, maxIndexSize: Int64 = 512 << 20, maxControlSize: Int64 = 64 << 20,
        maxHeaderSize: Int = 1 << 20, maxCompressionRatio: Int64 = 1024
    ) {
        self.maxPackageSize = maxPackageSize
        self.maxIndexSize = maxIndexSize
        self.maxControlSize = maxControlSize
        self.maxHeaderSize = maxHeaderSize
        self.maxCompressionRatio = maxCompressionRatio
    }

    public static let `default` = SizeLimits()
}
