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
    /// tens of thousands); a parsed record costs ~1.2 KiB, and the text is parsed as it is inflated, so
    /// this bounds a hostile index to ~330 MiB. The reader stops with `.limitExceeded` at the first record
    /// past it. Measured (release build, loaded 2-core machine): a 10^6-record index (410 MB of text,
    /// 104 MB compressed, records like `scripts/bench-apk`'s) is refused at record 250,001 after 2.3 s
    /// of CPU with a peak RSS of 324 MiB; handling all 10^6 would need ~1.3 GiB.
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
