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
    /// Most records one APKINDEX may hold. Real indexes hold far fewer (Alpine 3.16 main: 4,929; Wolfi:
    /// tens of thousands); a parsed record costs ~1 KiB, so this bounds a hostile index to a few hundred
    /// MiB. The reader stops with `.limitExceeded` at the first record past it (measured, release build:
    /// a 10^6-record index is refused after ~0.3 s at ~300 MiB peak; see `scripts/bench-apk`).
    public var maxIndexRecords: Int

    public init(
        maxPackageSize: Int64 = 8 << 30, maxIndexSize: Int64 = 512 << 20, maxControlSize: Int64 = 64 << 20,
        maxHeaderSize: Int = 1 << 20, maxIndexRecords: Int = 250_000
    ) {
        self.maxPackageSize = maxPackageSize
        self.maxIndexSize = maxIndexSize
        self.maxControlSize = maxControlSize
        self.maxHeaderSize = maxHeaderSize
        self.maxIndexRecords = maxIndexRecords
    }

    public static let `default` = SizeLimits()
}
