import APK
import Archive
import Config
import Foundation
import LaminaCore
import Scan
import Signing
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

    /// The security-feed reader walks its YAML tree like the config decoder: the same budget bounds it.
    @Test func yamlAliasBombInASecurityFeed() {
        let yaml = Self.laughs(under: "packages")
        let error = #expect(throws: LaminaError.self) { _ = try SecurityFeed.parse(Array(yaml.utf8), source: "secdb.yaml") }
        #expect(error?.code == .limitExceeded)
        #expect(error?.description.hasPrefix("secdb.yaml:") == true, "\(error?.description ?? "")")
        #expect(error?.description.contains("YAML alias bomb?") == true, "\(error?.description ?? "")")
    }

    /// An alias of the bomb used as a mapping key (or inside one): Yams hashes every key while composing, which
    /// walks the alias's whole expansion, so the text is refused before Yams sees it.
    @Test(arguments: [
        ("*a9 : 1", 1), ("? *a9\n: 1", 3), ("x: {*a9 : 1}", 5), ("x: {? *a9 : 1}", 7), ("x: {[1, *a9]: 2}", 9),
        ("x:\n  - ? [*a9, 1]\n    : 2", 8), ("[[*a9]]: 1", 3),
    ])
    func yamlAliasOfACollectionAsAKey(key: String, column: Int) {
        let yaml = Self.laughs(under: "big") + key + "\n"
        let started = ContinuousClock.now
        let error = #expect(throws: LaminaError.self) { _ = try ImageConfiguration.decode(yaml: yaml, file: "key.yaml") }
        #expect(ContinuousClock.now - started < .seconds(5))
        #expect(error?.code == .limitExceeded)
        let line = key.hasPrefix("x:\n") ? 13 : 12
        #expect(
            error?.description
                == "key.yaml:\(line):\(column): the alias *a9 of a collection is used in a mapping key; refusing (YAML alias bomb?)")
        // The security-feed reader shares the check.
        let feedError = #expect(throws: LaminaError.self) { _ = try SecurityFeed.parse(Array(yaml.utf8), source: "feed.yaml") }
        #expect(feedError?.code == .limitExceeded)
        #expect(feedError?.description.hasPrefix("feed.yaml:\(line):\(column): the alias *a9") == true)
    }

    /// What the alias-key check must let through: aliases of scalars as keys, and alias-like text in comments,
    /// quoted and block scalars.
    @Test func yamlAliasKeyLookalikesAreAccepted() throws {
        let yaml = """
            annotations: &a9 {&k foo: bar}  # *a9 : 1
            environment:
              *k : x
            cmd: "*a9 : 1 \\" *a9 : 1"
            stop-signal: '*a9 : '' *a9 : 1'
            work-dir: |
              *a9 : 1
              ? *a9 : 1
            entrypoint: {command: "[*a9]: 1"}

            """
        let config = try ImageConfiguration.decode(yaml: yaml, file: "fine.yaml")
        #expect(config.environment == ["foo": "x"])
        #expect(config.annotations == ["foo": "bar"])
        #expect(config.cmd == "*a9 : 1 \" *a9 : 1")
        #expect(config.stopSignal == "*a9 : ' *a9 : 1")
        #expect(config.workDir == "*a9 : 1\n? *a9 : 1\n")
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

    /// Hostile cosign key files (what the `cosign-key` fuzz target feeds at random) end in one clear error each.
    @Test(arguments: [
        ("ENCRYPTED SIGSTORE PRIVATE KEY", 1024, "YWJjZA==", "shorter than its 16-byte tag"),
        ("ENCRYPTED COSIGN PRIVATE KEY", 1 << 30, "YWJjZA==", "scrypt parameters N=1073741824 r=8 p=1 are out of range"),
        ("ENCRYPTED SIGSTORE PRIVATE KEY", 1024, String(repeating: "A", count: 64), "decryption failed"),
    ])
    func hostileEncryptedCosignKeys(label: String, n: Int, ciphertext: String, message: String) {
        let salt = String(repeating: "c", count: 44), nonce = String(repeating: "b", count: 32)
        let json = #"{"kdf":{"name":"scrypt","params":{"N":\#(n),"r":8,"p":1},"salt":"\#(salt)"},"#
            + #""cipher":{"name":"nacl/secretbox","nonce":"\#(nonce)"},"ciphertext":"\#(ciphertext)"}"#
        let pem = PEMBlock(label: label, bytes: Array(json.utf8)).pem
        let error = #expect(throws: LaminaError.self) { _ = try CosignPrivateKey(pem: pem, password: { Array("123".utf8) }) }
        #expect(error?.description.contains(message) == true, "\(error?.description ?? "")")
    }

    @Test func truncatedPrivateKeyDER() {
        let pem = PEMBlock(label: "PRIVATE KEY", bytes: [0x30, 0x82, 0xff, 0xff, 0x02, 0x01, 0x00, 0x30]).pem
        let error = #expect(throws: LaminaError.self) { _ = try CosignPrivateKey(pem: pem, password: { [] }) }
        #expect(error?.code == .invalidInput)
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
