import APK
import Archive
import Config
import Foundation
import LaminaCore
import Testing

/// Inputs built to exhaust memory, disk or time: each ends in a clear error (or a correct result)
/// within bounded memory, never a crash or a hang.
@Suite(.timeLimit(.minutes(2))) struct ResourceAttackTests {
    /// `count` zero bytes, gzip-compressed (about 1000:1).
    static func zeros(_ count: Int) throws -> [UInt8] {
        let sink = MemorySink()
        let gzip = try GzipWriter(sink)
        let block = [UInt8](repeating: 0, count: 1 << 20)
        for _ in 0..<(count >> 20) { try gzip.write(block) }
        try gzip.finish()
        return sink.bytes
    }

    @Test func gzipBombStopsAtTheLimit() throws {
        let bomb = try Self.zeros(64 << 20)
        #expect(bomb.count < 100_000)
        let reader = try GzipReader(MemorySource(bomb), limit: 16 << 20, name: "bomb.gz")
        var buffer = [UInt8](repeating: 0, count: 1 << 16)
        let error = #expect(throws: LaminaError.self) {
            while try buffer.withUnsafeMutableBytes({ try reader.read(into: $0) }) > 0 {}
        }
        #expect(error?.code == .limitExceeded)
        #expect(error?.description == "bomb.gz: decompresses to more than 16777216 bytes (limit); refusing (possible gzip bomb)")
    }

    @Test func indexBombIsRefusedByTheIndexLimit() throws {
        let bomb = try Self.zeros(32 << 20)
        let error = #expect(throws: LaminaError.self) {
            _ = try APKIndex.read(source: MemorySource(bomb), name: "APKINDEX.tar.gz", limits: SizeLimits(maxIndexSize: 8 << 20))
        }
        #expect(error?.description.hasPrefix("APKINDEX.tar.gz") == true, "\(error?.description ?? "")")
    }

    /// The "billion laughs": nine levels of ten aliases, 10^9 strings if expanded.
    static func laughs(under key: String) -> String {
        var text = "a0: &a0 [\"lol\"]\n"
        for level in 1...9 {
            let refs = Array(repeating: "*a\(level - 1)", count: 10).joined(separator: ", ")
            text += "a\(level): &a\(level) [\(refs)]\n"
        }
        return text + "\(key): *a9\n"
    }

    @Test func yamlAliasBombInAMelangeConfig() {
        let yaml = "package: {name: x, version: 1.0.0, epoch: 0}\n" + Self.laughs(under: "vars")
        let error = #expect(throws: LaminaError.self) { _ = try BuildConfiguration.prepare(yaml: yaml, file: "bomb.yaml") }
        #expect(error?.description.hasPrefix("bomb.yaml:") == true, "\(error?.description ?? "")")
        #expect(error?.code == .limitExceeded)
        #expect(error?.description.contains("YAML alias bomb?") == true, "\(error?.description ?? "")")
    }

    @Test func yamlAliasBombInAnApkoConfig() {
        let error = #expect(throws: LaminaError.self) {
            _ = try ImageConfiguration.decode(yaml: Self.laughs(under: "annotations"), file: "bomb.yaml")
        }
        #expect(error?.description.hasPrefix("bomb.yaml:") == true, "\(error?.description ?? "")")
        #expect(error?.code == .limitExceeded)
        #expect(error?.description.contains("YAML alias bomb?") == true, "\(error?.description ?? "")")
    }

    /// The same explosion through merge keys: each level merges ten aliases of the one below.
    @Test func yamlMergeKeyBombInAnApkoConfig() {
        var text = "m0: &m0 {k: v}\n"
        for level in 1...9 {
            let refs = Array(repeating: "*m\(level - 1)", count: 10).joined(separator: ", ")
            text += "m\(level): &m\(level) {<<: [\(refs)]}\n"
        }
        text += "annotations: {<<: *m9}\n"
        let error = #expect(throws: LaminaError.self) { _ = try ImageConfiguration.decode(yaml: text, file: "merge.yaml") }
        #expect(error?.code == .limitExceeded)
        #expect(error?.description.hasPrefix("merge.yaml:") == true, "\(error?.description ?? "")")
        #expect(error?.description.contains("YAML alias bomb?") == true, "\(error?.description ?? "")")
    }

    /// A tar header declaring 4 GiB (and a PAX size of 16 EiB) over a few bytes of content.
    @Test(arguments: ["4294967296", "18446744073709551615"])
    func hugeDeclaredSizes(size: String) throws {
        let sink = MemorySink()
        let writer = TarWriter(sink)
        try writer.append(TarEntry(path: "small", kind: .regular, mode: 0o644, size: 5), bytes: Array("hello".utf8))
        try writer.finish()
        var bytes = sink.bytes
        // Rewrite the header's size field (octal, 12 bytes at offset 124) and its checksum.
        let octal = Array(String(UInt64(size).map { min($0, 0o77777777777) } ?? 0, radix: 8).utf8)
        var field = [UInt8](repeating: UInt8(ascii: "0"), count: 11 - octal.count) + octal + [0]
        if size.count > 11 { field = [0x80] + [UInt8](repeating: 0xff, count: 11) }  // base-256: the largest value
        bytes.replaceSubrange(124..<136, with: field)
        bytes.replaceSubrange(148..<156, with: [UInt8](repeating: 0x20, count: 8))
        let sum = bytes[0..<512].reduce(0) { $0 + Int($1) }
        bytes.replaceSubrange(148..<156, with: Array(String(format: "%06o\0 ", sum).utf8))
        let reader = TarReader(MemorySource(bytes), name: "huge.tar")
        var buffer = [UInt8](repeating: 0, count: 4096)
        let error = #expect(throws: LaminaError.self) {
            while let _ = try reader.next() {
                while try buffer.withUnsafeMutableBytes({ try reader.read(into: $0) }) > 0 {}
            }
        }
        #expect(error?.description.hasPrefix("huge.tar") == true, "\(error?.description ?? "")")
    }

    /// 2,000 nested directories and a 4 KiB path: stored, archived and read back, without recursion.
    @Test func deepNestingAndLongPaths() throws {
        var tree = FileTree()
        let deep = Array(repeating: "d", count: 2000).joined(separator: "/") + "/file"
        try tree.insert(deep, .file(Array("deep".utf8)))
        let long = String(repeating: "n", count: 4096)
        try tree.insert("long/" + long, .file(Array("long".utf8)))
        let sink = MemorySink()
        let writer = TarWriter(sink)
        try tree.writeTar(to: writer)
        try writer.finish()
        let reader = TarReader(MemorySource(sink.bytes), name: "deep.tar")
        var paths: [String] = []
        while let entry = try reader.next() { paths.append(entry.path) }
        #expect(paths.contains(deep))
        #expect(paths.contains("long/" + long))
        #expect(paths.count == 2002 + 1)  // 2000 directories + "long" + the two files
    }

    /// A PAX header larger than the limit is refused before it is held in memory.
    @Test func oversizedPaxHeader() throws {
        let sink = MemorySink()
        let writer = TarWriter(sink)
        try writer.append(TarEntry(path: String(repeating: "p", count: 200_000), kind: .regular, mode: 0o644, size: 1), bytes: [1])
        try writer.finish()
        let reader = TarReader(MemorySource(sink.bytes), name: "pax.tar", limits: SizeLimits(maxHeaderSize: 64 << 10))
        let error = #expect(throws: LaminaError.self) { _ = try reader.next() }
        #expect(error?.code == .limitExceeded || error?.code == .malformed, "\(error?.description ?? "")")
        #expect(error?.description.hasPrefix("pax.tar") == true)
    }
}
