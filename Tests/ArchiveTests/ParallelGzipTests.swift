import Archive
import Foundation
import LaminaCore
import TestSupport
import Testing

@Suite struct ParallelGzipTests {
    static let block = 64 * 1024
    static let gzipAvailable = FileManager.default.isExecutableFile(atPath: "/bin/gzip")
    static let python = CommandRunner.which("python3")
    static let pigz = CommandRunner.which("pigz")
    static let minirootfs = Minirootfs.tarball

    enum Kind: String, CaseIterable, Sendable { case random, text }

    /// Deterministic data: `random` is incompressible bytes, `text` is layer-like (words, binary runs, repeats).
    static func data(_ kind: Kind, count: Int, seed: UInt64 = 7) -> [UInt8] {
        var state = seed
        func next() -> UInt64 {
            state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            return state >> 33
        }
        switch kind {
        case .random:
            return (0..<count).map { _ in UInt8(truncatingIfNeeded: next()) }
        case .text:
            let words = """
                alpha beta gamma delta layer image package index signature digest manifest config build root tree \
                file mode owner group kernel shell library binary static dynamic version release branch commit
                """.split(separator: " ").map { Array($0.utf8) }
            var out = [UInt8]()
            out.reserveCapacity(count + 1024)
            while out.count < count {
                if next() % 10 < 6 {
                    for i in 0..<64 {
                        if i > 0 { out.append(0x20) }
                        out += words[Int(next() % UInt64(words.count))]
                    }
                    out.append(0x0a)
                } else {
                    for _ in 0..<256 { out.append(UInt8(truncatingIfNeeded: next())) }
                    out += [UInt8](repeating: UInt8(truncatingIfNeeded: next()), count: 256)
                }
            }
            return Array(out.prefix(count))
        }
    }

    static func decompress(_ gz: [UInt8]) throws -> [UInt8] {
        try GzipReader(MemorySource(gz), limit: 1 << 32).readAll(limit: 1 << 30)
    }

    static let sizes = [0, 1, block - 1, block, block + 1, 10 * block + 7]

    @Test(arguments: Kind.allCases, sizes)
    func roundTripThroughGzipReader(kind: Kind, size: Int) throws {
        let input = Self.data(kind, count: size)
        let gz = try ParallelGzipWriter.compress(input, blockSize: Self.block, threads: 3)
        #expect(Array(gz.prefix(10)) == GzipWriter.header(level: 6))
        let reader = try GzipReader(MemorySource(gz))
        #expect(try reader.readAll(limit: 1 << 30) == input)
        // Exactly one member, nothing after it.
        #expect(reader.memberRanges == [0..<Int64(gz.count)])
        #expect(try !reader.nextMember())
        // Trailer: CRC-32 and size of the input, little-endian.
        let crc = input.withUnsafeBytes { gzipCRC32($0) }
        let trailer = Array(gz.suffix(8))
        #expect(trailer[0..<4].reversed().reduce(0) { $0 << 8 | UInt32($1) } == crc)
        #expect(trailer[4..<8].reversed().reduce(0) { $0 << 8 | UInt32($1) } == UInt32(size))
    }

    @Test(.enabled(if: gzipAvailable, "needs /bin/gzip"), arguments: Kind.allCases, sizes)
    func systemGzipAcceptsOutput(kind: Kind, size: Int) throws {
        let input = Self.data(kind, count: size)
        let gz = try ParallelGzipWriter.compress(input, blockSize: Self.block, threads: 2)
        try TemporaryDirectory.withSync { dir in
            let path = dir.file("x.gz")
            try AtomicFileSink.write(gz, to: path)
            let test = try CommandRunner.run("/bin/gzip", ["-t", path])
            #expect(test.status == 0, "gzip -t: \(test.stderr)")
            let out = dir.file("x")
            let unzip = try CommandRunner.run("/bin/sh", ["-c", "/bin/gzip -dc '\(path)' > '\(out)'"])
            #expect(unzip.status == 0, "gzip -dc: \(unzip.stderr)")
            #expect(try [UInt8](Data(contentsOf: URL(fileURLWithPath: out))) == input)
        }
    }

    @Test(.enabled(if: python != nil, "needs python3"))
    func pythonZlibAcceptsOutput() throws {
        let input = Self.data(.text, count: 10 * Self.block + 7)
        let gz = try ParallelGzipWriter.compress(input, blockSize: Self.block, threads: 2)
        try TemporaryDirectory.withSync { dir in
            let path = dir.file("x.gz")
            try AtomicFileSink.write(gz, to: path)
            let script = """
                import sys, zlib
                d = zlib.decompressobj(31)
                out = d.decompress(open(sys.argv[1], 'rb').read())
                assert d.eof and not d.unused_data, 'not exactly one member'
                open(sys.argv[2], 'wb').write(out)
                """
            let out = dir.file("x")
            let result = try CommandRunner.run(Self.python ?? "python3", ["-c", script, path, out])
            #expect(result.status == 0, "python: \(result.stderr)")
            #expect(try [UInt8](Data(contentsOf: URL(fileURLWithPath: out))) == input)
        }
    }

    /// pigz uses the same technique (32 KiB dictionaries, byte-aligning with Z_SYNC_FLUSH or empty
    /// fixed blocks), so for the same block size its deflate stream and trailer match ours exactly;
    /// only the header's OS byte differs (pigz writes 3, we write 255 like `GzipWriter`).
    @Test(.enabled(if: pigz != nil, "needs pigz"), arguments: [64, 128])
    func sameDeflateStreamAsPigz(blockKiB: Int) throws {
        let input = Self.data(.text, count: 3_000_007)
        let ours = try ParallelGzipWriter.compress(input, blockSize: blockKiB * 1024, threads: 2)
        try TemporaryDirectory.withSync { dir in
            let path = dir.file("x")
            try AtomicFileSink.write(input, to: path)
            let result = try CommandRunner.run(
                "/bin/sh", ["-c", "'\(Self.pigz ?? "pigz")' -6 -n -b \(blockKiB) -c '\(path)' > '\(path).gz'"])
            #expect(result.status == 0, "pigz: \(result.stderr)")
            let theirs = [UInt8](try Data(contentsOf: URL(fileURLWithPath: path + ".gz")))
            #expect(theirs.count == ours.count)
            #expect(Array(theirs.dropFirst(10)) == Array(ours.dropFirst(10)))
        }
    }

    @Test func bytesDoNotDependOnThreadCount() throws {
        let input = Self.data(.text, count: 23 * Self.block + 12345)
        let one = try ParallelGzipWriter.compress(input, blockSize: Self.block, threads: 1)
        for threads in [2, 3, 8] {
            let many = try ParallelGzipWriter.compress(input, blockSize: Self.block, threads: threads)
            #expect(many == one, "threads \(threads) differs from threads 1")
        }
        #expect(try Self.decompress(one) == input)
        // A different block size is a different (still valid) stream.
        let other = try ParallelGzipWriter.compress(input, blockSize: 2 * Self.block, threads: 2)
        #expect(other != one)
        #expect(try Self.decompress(other) == input)
    }

    @Test func bytesDoNotDependOnWriteSizes() throws {
        let input = Self.data(.text, count: 5 * Self.block + 999)
        let whole = try ParallelGzipWriter.compress(input, blockSize: Self.block, threads: 2)
        let sink = MemorySink()
        let writer = try ParallelGzipWriter(sink, blockSize: Self.block, threads: 2)
        var offset = 0
        var step = 1
        while offset < input.count {
            let end = min(input.count, offset + step)
            try writer.write(Array(input[offset..<end]))
            offset = end
            step = step * 3 + 1  // 1, 4, 13, 40, … crosses block edges at odd places
            if step > 200_000 { step = 7 }
        }
        try writer.finish()
        #expect(sink.bytes == whole)
        #expect(writer.compressedCount == Int64(whole.count))
        #expect(writer.uncompressedCount == Int64(input.count))
    }

    /// Block dictionaries keep the ratio close to one zlib stream (the brief allows 5%).
    @Test func sizeIsCloseToSingleStream() throws {
        let input = Self.data(.text, count: 8 << 20)
        let single = try GzipWriter.compress(input)
        let parallel = try ParallelGzipWriter.compress(input, threads: 2)
        #expect(try Self.decompress(parallel) == input)
        let ratio = Double(parallel.count) / Double(single.count)
        #expect(ratio < 1.05, "parallel \(parallel.count) vs single \(single.count)")
        #expect(ratio > 0.95)
    }

    /// Real data: the Alpine minirootfs tar (8 MB of binaries and text), recompressed.
    @Test(.enabled(if: FileManager.default.fileExists(atPath: minirootfs), "needs shared testdata"))
    func realRootfsTarRoundTripsAndStaysSmall() throws {
        let tar = try GzipReader(FileSource(path: Self.minirootfs)).readAll(limit: 64 << 20)
        #expect(tar.count == 8_089_600)
        let single = try GzipWriter.compress(tar)
        let parallel = try ParallelGzipWriter.compress(tar, threads: 2)
        #expect(try Self.decompress(parallel) == tar)
        #expect(
            Double(parallel.count) < Double(single.count) * 1.02, "parallel \(parallel.count) vs single \(single.count)")
    }

    /// Each block is primed with the previous 32 KiB of input, so matches reach across block edges.
    @Test func dictionaryBridgesBlocks() throws {
        let repeated = Self.data(.random, count: 200_000)
        // The second copy starts 200 KB back, beyond deflate's 32 KiB window: it cannot shrink…
        let twice = try ParallelGzipWriter.compress(repeated + repeated, blockSize: 200_000, threads: 2)
        #expect(twice.count > 390_000)
        // …but a block that repeats the previous block's last 30 KB costs almost nothing.
        let tail = Array(repeated.suffix(30_000))
        let overlapped = try ParallelGzipWriter.compress(repeated + tail, blockSize: 200_000, threads: 2)
        #expect(try Self.decompress(overlapped) == repeated + tail)
        #expect(overlapped.count < 200_000 + 1_000)
    }

    /// Blocks smaller than the 32 KiB window take their dictionary from several earlier blocks.
    @Test func blocksSmallerThanTheWindow() throws {
        let input = Self.data(.text, count: 100_003)
        let one = try ParallelGzipWriter.compress(input, blockSize: 1024, threads: 1)
        let four = try ParallelGzipWriter.compress(input, blockSize: 1024, threads: 4)
        #expect(one == four)
        #expect(try Self.decompress(four) == input)
        // Matches up to 32 KiB back still work: close to the single stream.
        #expect(Double(four.count) < Double(try GzipWriter.compress(input).count) * 1.05)
    }

    @Test(arguments: [Int32(0), 1, 6, 9])
    func everyLevelRoundTripsWithItsHeader(level: Int32) throws {
        let input = Self.data(.text, count: 3 * Self.block + 5)
        let gz = try ParallelGzipWriter.compress(input, level: level, blockSize: Self.block, threads: 2)
        #expect(Array(gz.prefix(10)) == GzipWriter.header(level: level))
        #expect(try Self.decompress(gz) == input)
    }

    /// Back-pressure: finished blocks reach the sink while input is still being written, so at most
    /// 2 × threads blocks are held.
    @Test func blocksReachTheSinkBeforeFinish() throws {
        let threads = 2
        let blocks = 40
        let input = Self.data(.random, count: blocks * Self.block + 1)
        let sink = MemorySink()
        let writer = try ParallelGzipWriter(sink, blockSize: Self.block, threads: threads)
        try writer.write(input)
        // `blocks` full blocks were submitted; all but the in-flight ones must be written already.
        // Random data does not compress, so each written block is at least its input size.
        let minimumWritten = (blocks - 2 * threads) * Self.block
        #expect(sink.bytes.count >= minimumWritten, "only \(sink.bytes.count) bytes written before finish")
        try writer.finish()
        #expect(try Self.decompress(sink.bytes) == input)
    }

    @Test func misuseAndBadArgumentsThrow() throws {
        let cases: [(Int32, Int, Int)] = [(10, Self.block, 1), (-1, Self.block, 1), (6, 100, 1), (6, Self.block, 0)]
        for (level, block, threads) in cases {
            let error = try #require(throws: LaminaError.self) {
                try ParallelGzipWriter(MemorySink(), level: level, blockSize: block, threads: threads)
            }
            #expect(error.code == .usage)
        }
        let writer = try ParallelGzipWriter(MemorySink(), threads: 2)
        try writer.write([1, 2, 3])
        try writer.finish()
        try writer.finish()  // again: no effect
        #expect(throws: LaminaError.self) { try writer.write([4]) }
    }

    /// A sink failure surfaces as an error from `write`/`finish` (no hang), and sticks.
    @Test(arguments: [1, 3])
    func sinkErrorsPropagate(threads: Int) throws {
        let failing = CallbackSink { bytes in
            if bytes.count > 100 { throw LaminaError(.io, "disk full", subject: "out.gz") }
        }
        let writer = try ParallelGzipWriter(failing, blockSize: Self.block, threads: threads)
        let error = try #require(throws: LaminaError.self) {
            try writer.write(Self.data(.random, count: 20 * Self.block))
            try writer.finish()
        }
        #expect(error.code == .io)
        let again = try #require(throws: LaminaError.self) { try writer.finish() }
        #expect(again.code == .io)
    }

    /// Dropping an unfinished writer stops its threads cleanly.
    @Test func abandonedWriterShutsDown() throws {
        for _ in 0..<20 {
            let writer = try ParallelGzipWriter(MemorySink(), blockSize: Self.block, threads: 4)
            try writer.write(Self.data(.text, count: 3 * Self.block))
            _ = writer
        }
    }
}
