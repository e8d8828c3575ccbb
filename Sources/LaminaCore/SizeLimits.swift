/// Upper bounds on what Lamina will read, so hostile input (gzip bombs, endless headers) fails cleanly.
/// Everything is streamed, so memory stays bounded below these; they bound disk and time.
public struct SizeLimits: Sendable, Hashable {
    /// Largest decompressed size of one package (all its members), in bytes.
    public var maxPackageSize: Int64
    /// Largest decompressed size of an APKINDEX, in bytes.
    public var maxIndexSize: Int64
    /// Largest control segment (`.PKGINFO` + scripts), decompressed.
    public var maxControlSize: Int64
    /// Largest single PAX or GNU long-name header.
    public var maxHeaderSize: Int

    public init(
        maxPackageSize: Int64 = 8 << 30, maxIndexSize: Int64 = 512 << 20, maxControlSize: Int64 = 64 << 20,
        maxHeaderSize: Int = 1 << 20
    ) {
        self.maxPackageSize = maxPackageSize
        self.maxIndexSize = maxIndexSize
        self.maxControlSize = maxControlSize
        self.maxHeaderSize = maxHeaderSize
    }

    public static let `default` = SizeLimits()
}
