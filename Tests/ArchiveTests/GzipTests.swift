import Archive
import Foundation
import LaminaCore
import TestSupport
import Testing

@Suite struct GzipTests {
    func pseudoRandom(_ count: Int, seed: UInt64 = 42) -> [UInt8] {
        var state = seed
        return (0..<count).map { _ in
            state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            return UInt8(truncatingIfNeeded: state >> 59) + UInt8(ascii: "a")
        }
    }

    @Test func roundTripAndSystemGzipAgrees() throws {
        let data = pseudoRandom(300_000)
        let compressed = try GzipWriter.compress(data)
        #expect(compressed.prefix(10) == [0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 0xff])
        let reader = try GzipReader(MemorySource(compressed))
        #expect(try reader.readAll(limit: 1 << 30) == data)
        // Same bytes twice: deterministic.
        #expect(try GzipWriter.compress(data) == compressed)
        try TemporaryDirectory.withSync { dir in
            let path = dir.file("x.gz")
            try AtomicFileSink.write(compressed, to: path)
            let out = try runTool("/bin/sh", ["-c", "gzip -dc '\(path)' | sha256sum"])
            let expected = try runTool("/bin/sh", ["-c", "gzip -dc '\(path)' | wc -c"])
            #expect(expected.trimmingSpaces == "300000")
            #expect(!out.isEmpty)
        }
    }

    @Test func multiMemberBoundariesAreExact() throws {
        let a = try GzipWriter.compress(Array("first member".utf8))
        let b = try GzipWriter.compress(pseudoRandom(100_000))
        let c = try GzipWriter.compress(Array("third".utf8))
        let reader = try GzipReader(MemorySource(a + b + c))
        var perMember: [Int: Int] = [:]
        reader.onCompressed = { bytes, member in perMember[member, default: 0] += bytes.count }
        #expect(String(decoding: try reader.readAll(limit: 1 << 20), as: UTF8.self) == "first member")
        #expect(try reader.nextMember())
        #expect(try reader.readAll(limit: 1 << 20).count == 100_000)
        #expect(try reader.nextMember())
        #expect(try reader.readAll(limit: 1 << 20) == Array("third".utf8))
        #expect(try !reader.nextMember())
        let ends = [Int64(a.count), Int64(a.count + b.count), Int64(a.count + b.count + c.count)]
        let expected: [Range<Int64>] = [0..<ends[0], ends[0]..<ends[1], ends[1]..<ends[2]]
        #expect(reader.memberRanges == expected)
        #expect(perMember == [0: a.count, 1: b.count, 2: c.count])
    }

    @Test func continuousModeReadsAcrossMembers() throws {
        let reader = try GzipReader(MemorySource(try GzipWriter.compress(Array("ab".utf8)) + GzipWriter.compress(Array("cd".utf8))))
        reader.continuous = true
        #expect(try reader.readAll(limit: 100) == Array("abcd".utf8))
    }

    @Test func truncatedInputIsMalformed() throws {
        let compressed = try GzipWriter.compress(pseudoRandom(50_000))
        let reader = try GzipReader(MemorySource(Array(compressed.prefix(compressed.count / 2))), name: "cut.gz")
        let error = try #require(throws: LaminaError.self) { try reader.readAll(limit: 1 << 20) }
        #expect(error.code == .malformed)
        #expect(error.description.contains("cut.gz"))
        #expect(error.description.contains("truncated"))
    }

    @Test func corruptInputIsMalformed() throws {
        var compressed = try GzipWriter.compress(pseudoRandom(50_000))
        for i in 20..<60 { compressed[i] ^= 0x5a }
        let reader = try GzipReader(MemorySource(compressed))
        #expect(throws: LaminaError.self) { try reader.readAll(limit: 1 << 20) }
    }

    @Test func bombIsRefused() throws {
        let zeros = [UInt8](repeating: 0, count: 20 << 20)
        let compressed = try GzipWriter.compress(zeros, level: 9)
        #expect(compressed.count < 100_000)
        let reader = try GzipReader(MemorySource(compressed), limit: 1 << 20, name: "bomb.gz")
        let error = try #require(throws: LaminaError.self) { try reader.readAll(limit: 1 << 30) }
        #expect(error.code == .limitExceeded)
    }

    @Test func garbageAfterMemberIsRejected() throws {
        let reader = try GzipReader(MemorySource(try GzipWriter.compress([1, 2, 3]) + [0x00, 0x42]))
        reader.continuous = true
        #expect(throws: LaminaError.self) { try reader.readAll(limit: 100) }
    }
}

/// Runs a tool and returns its standard output; throws when it fails.
func runTool(_ executable: String, _ arguments: [String], stdin: [UInt8]? = nil) throws -> String {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: executable)
    process.arguments = arguments
    let out = Pipe()
    process.standardOutput = out
    process.standardError = FileHandle.nullDevice
    try process.run()
    let data = out.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    guard process.terminationStatus == 0 else {
        throw LaminaError(.internal, "\(executable) \(arguments) failed with \(process.terminationStatus)")
    }
    return String(decoding: data, as: UTF8.self)
}
