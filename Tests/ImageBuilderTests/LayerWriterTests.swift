import APK
import Archive
import Foundation
@testable import ImageBuilder
import LaminaCore
import RootFS
import TestSupport
import Testing

@Suite struct LayerWriterTests {
    static let packages = SharedTestData.path("chainguard-dev+apko/internal/cli/testdata/packages/x86_64")
    static let tzdata = packages + "/tzdata-2023c-r0.apk"

    /// The gunzipped bytes of a `.tar.gz` file.
    static func gunzip(_ path: String) throws -> [UInt8] {
        let reader = try GzipReader(FileSource(path: path))
        reader.continuous = true
        return try reader.readAll(limit: 1 << 30)
    }

    static func bytes(_ path: String) throws -> [UInt8] {
        [UInt8](try Data(contentsOf: URL(fileURLWithPath: path)))
    }

    /// A real root: tzdata (hundreds of files, many hardlinks) installed into a fresh tree.
    static func tzdataTree(spill: String) throws -> (RootFSBuilder, FileTree) {
        var builder = try RootFSBuilder(spillDirectory: spill)
        try builder.install(packageAt: tzdata)
        return (builder, builder.tree)
    }

    @Test(.enabled(if: FileManager.default.fileExists(atPath: tzdata), "needs ../shared/testdata"))
    func bytesDoNotDependOnThreadCountAndDigestsMatch() throws {
        try TemporaryDirectory.withSync { dir in
            let (builder, tree) = try Self.tzdataTree(spill: dir.path)
            defer { withExtendedLifetime(builder) {} }
            let one = try LayerWriter.write(tree, to: dir.file("one.tar.gz"), modificationTime: 1_700_000_000, threads: 1)
            let four = try LayerWriter.write(tree, to: dir.file("four.tar.gz"), modificationTime: 1_700_000_000, threads: 4)
            #expect(try Self.bytes(one.path) == Self.bytes(four.path))
            #expect(one.digest == four.digest && one.diffID == four.diffID && one.size == four.size)

            // digest: sha256 of the file; diff_id: sha256 of the tar inside; sizes as recorded.
            let compressed = try Self.bytes(one.path)
            let tar = try Self.gunzip(one.path)
            #expect(one.digest == Hasher.digest(.sha256, compressed))
            #expect(one.diffID == Hasher.digest(.sha256, tar))
            #expect(one.size == Int64(compressed.count))
            #expect(one.uncompressedSize == Int64(tar.count))
            #expect(tar.count > 1 << 20, "tzdata should give a multi-block layer")
            // One gzip member with Lamina's fixed header.
            #expect(Array(compressed.prefix(10)) == GzipWriter.header(level: 6))

            // The tar is the tree's own tar stream.
            let sink = MemorySink()
            try tree.writeTar(to: TarWriter(sink), modificationTime: 1_700_000_000)
            #expect(sink.bytes == tar)
        }
    }

    @Test(.enabled(if: FileManager.default.fileExists(atPath: tzdata), "needs ../shared/testdata"))
    func levelChangesBytesNotContent() throws {
        try TemporaryDirectory.withSync { dir in
            // The builder owns the spill file the tree's contents live in: keep it alive.
            let (builder, tree) = try Self.tzdataTree(spill: dir.path)
            defer { withExtendedLifetime(builder) {} }
            let fast = try LayerWriter.write(tree, to: dir.file("1.tar.gz"), modificationTime: 0, level: 1)
            let best = try LayerWriter.write(tree, to: dir.file("9.tar.gz"), modificationTime: 0, level: 9)
            #expect(fast.diffID == best.diffID)
            #expect(fast.digest != best.digest)
            #expect(fast.size > best.size)
            #expect(try Self.gunzip(fast.path) == Self.gunzip(best.path))
        }
    }

    @Test(arguments: [0, 10, -1])
    func levelOutOfRangeIsAUsageError(level: Int) throws {
        try TemporaryDirectory.withSync { dir in
            let error = #expect(throws: LaminaError.self) {
                try LayerWriter.write(FileTree(), to: dir.file("x.tar.gz"), modificationTime: 0, level: level)
            }
            #expect(error?.code == .usage)
            #expect(!FileManager.default.fileExists(atPath: dir.file("x.tar.gz")))
        }
    }

    /// A package whose hardlink `usr/bin/aa-link` (sorting before its target `usr/bin/zz-target`) was
    /// archived with other metadata than the file: the layer's first name of the inode must carry the
    /// file's mode and owner.
    @Test func hardlinkSortingFirstTakesTheTargetsMetadata() throws {
        try TemporaryDirectory.withSync { dir in
            let apk = dir.file("links-1.0-r0.apk")
            try PackageFixture.writeHardlinkPackage(to: apk)
            var builder = try RootFSBuilder(spillDirectory: dir.path)
            try builder.install(packageAt: apk)
            #expect(builder.tree["usr/bin/aa-link"]?.kind == .hardLink)
            let layer = try LayerWriter.write(
                builder.tree, to: dir.file("layer.tar.gz"), modificationTime: 0, userNames: [0: "root", 42: "daemon"], groupNames: [7: "wheel"])
            let reader = TarReader(MemorySource(try Self.gunzip(layer.path)))
            var entries: [String: TarEntry] = [:]
            var order: [String] = []
            while let entry = try reader.next() {
                entries[entry.path] = entry
                order.append(entry.path)
            }
            #expect(order.firstIndex(of: "usr/bin/aa-link")! < order.firstIndex(of: "usr/bin/zz-target")!)
            let first = try #require(entries["usr/bin/aa-link"])
            #expect(first.kind == .regular)
            #expect(first.mode == 0o4750)
            #expect(first.uid == 42 && first.gid == 7)
            #expect(first.userName == "daemon" && first.groupName == "wheel")
            #expect(first.size == 12)
            let second = try #require(entries["usr/bin/zz-target"])
            #expect(second.kind == .hardLink && second.linkTarget == "usr/bin/aa-link")
        }
    }
}

/// Hand-made packages for cases `PackageWriter` (which archives a real directory) cannot produce.
enum PackageFixture {
    /// An unsigned apk: control member (.PKGINFO) + data member holding `usr/bin/zz-target` (mode 04750,
    /// uid 42, gid 7) and the hardlink `usr/bin/aa-link` to it, archived with mode 0644 and owner 0:0.
    static func writeHardlinkPackage(to path: String) throws {
        let data = MemorySink()
        let dataGzip = try GzipWriter(data)
        let tar = TarWriter(dataGzip)
        try tar.append(TarEntry(path: "usr/", kind: .directory, mode: 0o755))
        try tar.append(TarEntry(path: "usr/bin/", kind: .directory, mode: 0o755))
        try tar.append(TarEntry(path: "usr/bin/zz-target", kind: .regular, mode: 0o4750, uid: 42, gid: 7), bytes: Array("hello world\n".utf8))
        try tar.append(TarEntry(path: "usr/bin/aa-link", kind: .hardLink, mode: 0o644, linkTarget: "usr/bin/zz-target"))
        try tar.finish(terminate: true)
        try dataGzip.finish()

        let pkginfo = """
            pkgname = links
            pkgver = 1.0-r0
            arch = x86_64
            size = 12
            datahash = \(Hasher.digest(.sha256, data.bytes).hex)

            """
        let control = MemorySink()
        let controlGzip = try GzipWriter(control)
        let controlTar = TarWriter(controlGzip)
        try controlTar.append(TarEntry(path: ".PKGINFO", kind: .regular, mode: 0o644), bytes: Array(pkginfo.utf8))
        try controlTar.finish(terminate: false)
        try controlGzip.finish()
        try AtomicFileSink.write(control.bytes + data.bytes, to: path)
    }
}

/// Large contents precompressed while "installing" give the very layer written without help.
@Suite struct PrecompressedLayerTests {
    @Test(arguments: [1, 2, 4])
    func precompressedLayerIsIdentical(threads: Int) throws {
        try TemporaryDirectory.withSync { dir in
            let spill = try SpillStore(directory: dir.path)
            var tree = FileTree()
            let sizes = [0, 100, 16 * 1024 - 1, 16 * 1024, 20_000, 128 * 1024, 128 * 1024 + 1, 700_000]
            var contents: [FileContent] = []
            for (i, size) in sizes.enumerated() {
                var bytes = [UInt8]()
                var x = UInt32(i + 1)
                while bytes.count < size {
                    x = x &* 1_103_515_245 &+ 12345
                    bytes += x % 3 == 0 ? Array("layer image package \(x % 97)\n".utf8) : [UInt8(truncatingIfNeeded: x >> 16)]
                }
                let content = try spill.append(MemorySource(Array(bytes.prefix(size))))
                contents.append(content)
                try tree.insert("data/f\(i)", FileNode(kind: .regular, mode: 0o644, content: content))
            }
            // A hardlink to a large file: its content is written once.
            try tree.insert("data/a-link", FileNode(kind: .hardLink, mode: 0o644, linkTarget: "data/f7"))
            let plain = try LayerWriter.write(tree, to: dir.file("plain.tar.gz"), modificationTime: 0, threads: threads)

            let precompressor = try ContentPrecompressor(directory: dir.path, level: 6, threads: threads)
            defer { precompressor.shutdown() }
            for content in contents { precompressor.enqueue(content) }
            let helped = try LayerWriter.write(tree, to: dir.file("helped.tar.gz"), modificationTime: 0, threads: threads, precompressed: precompressor)
            #expect(helped == WrittenLayer(path: helped.path, digest: plain.digest, diffID: plain.diffID, size: plain.size, uncompressedSize: plain.uncompressedSize))
            #expect(try LayerWriterTests.bytes(helped.path) == LayerWriterTests.bytes(plain.path))
            let tar = try LayerWriterTests.gunzip(helped.path)
            #expect(plain.diffID == Hasher.digest(.sha256, tar))

            // Another level's blocks cannot be used.
            #expect(throws: LaminaError.self) {
                try LayerWriter.write(tree, to: dir.file("x.tar.gz"), modificationTime: 0, level: 9, precompressed: precompressor)
            }
        }
    }
}
