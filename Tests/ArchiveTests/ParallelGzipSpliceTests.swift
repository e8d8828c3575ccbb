import Archive
import Foundation
import LaminaCore
import TestSupport
import Testing

/// `endBlock` and `appendCompressedBlock`: blocks made ahead of time splice into the stream and give
/// exactly the bytes the writer would have made itself.
@Suite struct ParallelGzipSpliceTests {
    static let block = 64 * 1024

    /// header, [content], header, [content], trailer — with each content isolated by `endBlock`.
    static func stream(
        pieces: [(prefix: [UInt8], content: [UInt8])], threads: Int, precompress: Bool
    ) throws -> [UInt8] {
        let sink = MemorySink()
        let writer = try ParallelGzipWriter(sink, level: 6, blockSize: block, threads: threads)
        let compressor = try DeflateBlockCompressor(level: 6, blockSize: block)
        for (prefix, content) in pieces {
            try writer.write(prefix)
            try writer.endBlock(keepDictionary: false)
            if precompress {
                var history: ArraySlice<UInt8> = []
                var start = 0
                while start < content.count {
                    let piece = Array(content[start..<min(start + block, content.count)])
                    let deflated = try compressor.compress(piece, dictionary: history)
                    history = DeflateBlockCompressor.window(after: history, block: piece)
                    try piece.withUnsafeBytes { try writer.appendCompressedBlock(deflated, input: $0) }
                    start += block
                }
            } else {
                try writer.write(content)
            }
            try writer.endBlock(keepDictionary: true)
        }
        try writer.write([UInt8](repeating: 0, count: 1024))
        try writer.finish()
        return sink.bytes
    }

    static var pieces: [(prefix: [UInt8], content: [UInt8])] {
        let text = ParallelGzipTests.data(.text, count: 5 * block + 999, seed: 3)
        return [
            (Array("header one".utf8), Array(text.prefix(3 * block + 17))),
            (Array("header two, right after".utf8), Array(text.prefix(block))),  // exactly one block
            ([UInt8](repeating: 0, count: 700), ParallelGzipTests.data(.random, count: 2 * block + 5)),
            (Array("small".utf8), Array(text.suffix(100))),
        ]
    }

    @Test(arguments: [1, 3])
    func splicedBlocksGiveTheWritersOwnBytes(threads: Int) throws {
        let pieces = Self.pieces
        let inline = try Self.stream(pieces: pieces, threads: threads, precompress: false)
        let spliced = try Self.stream(pieces: pieces, threads: threads, precompress: true)
        #expect(spliced == inline)
        #expect(try Self.stream(pieces: pieces, threads: 1, precompress: true) == inline)
        let expected = pieces.flatMap { $0.prefix + $0.content } + [UInt8](repeating: 0, count: 1024)
        #expect(try ParallelGzipTests.decompress(spliced) == expected)
        // Block ends are real: the isolated stream differs from the plain one but is the same data.
        let plain = try ParallelGzipWriter.compress(expected, blockSize: Self.block, threads: threads)
        #expect(plain != inline)
    }

    @Test func systemGzipReadsSplicedStreams() throws {
        guard FileManager.default.isExecutableFile(atPath: "/bin/gzip") else { return }
        try TemporaryDirectory.withSync { dir in
            let bytes = try Self.stream(pieces: Self.pieces, threads: 2, precompress: true)
            try Data(bytes).write(to: URL(fileURLWithPath: dir.file("x.gz")))
            let r = try CommandRunner.run("/bin/gzip", ["-t", dir.file("x.gz")])
            #expect(r.status == 0, "\(r.stderr)")
        }
    }

    @Test func misuseIsRefused() throws {
        let writer = try ParallelGzipWriter(MemorySink(), level: 6, blockSize: Self.block, threads: 1)
        let compressor = try DeflateBlockCompressor(level: 6, blockSize: Self.block)
        let input: [UInt8] = Array("abc".utf8)
        let block = try compressor.compress(input, dictionary: [])
        try writer.write([1])
        // Bytes buffered: must end the block first.
        #expect(throws: LaminaError.self) { try input.withUnsafeBytes { try writer.appendCompressedBlock(block, input: $0) } }
        let other = try ParallelGzipWriter(MemorySink(), level: 9, blockSize: Self.block, threads: 1)
        // Another level, or an input that is not the block's.
        #expect(throws: LaminaError.self) { try input.withUnsafeBytes { try other.appendCompressedBlock(block, input: $0) } }
        let fresh = try ParallelGzipWriter(MemorySink(), level: 6, blockSize: Self.block, threads: 1)
        #expect(throws: LaminaError.self) { try [UInt8]("abcd".utf8).withUnsafeBytes { try fresh.appendCompressedBlock(block, input: $0) } }
        #expect(throws: LaminaError.self) { try compressor.compress([UInt8](repeating: 0, count: Self.block + 1), dictionary: []) }
    }
}
