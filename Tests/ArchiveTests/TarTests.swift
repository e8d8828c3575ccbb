import Archive
import Foundation
import LaminaCore
import TestSupport
import Testing

@Suite struct TarTests {
    static let longDir = String(repeating: "d", count: 120) + "/" + String(repeating: "e", count: 90)

    func sampleArchive() throws -> [UInt8] {
        let sink = MemorySink()
        let writer = TarWriter(sink)
        try writer.append(TarEntry(path: "etc", kind: .directory, mode: 0o755, modificationTime: 1_700_000_000))
        try writer.append(
            TarEntry(path: "etc/hosts", kind: .regular, mode: 0o644, uid: 0, gid: 0, userName: "root", groupName: "root",
                     modificationTime: 1_700_000_000, paxRecords: [TarEntry.apkChecksumSHA1Key: "0123456789abcdef0123456789abcdef01234567"]),
            bytes: Array("127.0.0.1 localhost\n".utf8))
        try writer.append(TarEntry(path: "bin/sh", kind: .symbolicLink, mode: 0o777, linkTarget: "/bin/busybox"))
        try writer.append(TarEntry(path: "bin/ash", kind: .hardLink, mode: 0o755, linkTarget: "bin/sh"))
        try writer.append(TarEntry(path: "dev/null", kind: .characterDevice, mode: 0o666, deviceMajor: 1, deviceMinor: 3))
        try writer.append(TarEntry(path: Self.longDir + "/file", kind: .regular, mode: 0o600, uid: 1000, gid: 1000), bytes: [1, 2, 3])
        try writer.append(TarEntry(path: String(repeating: "x", count: 300), kind: .regular, mode: 0o644), bytes: [])
        try writer.append(TarEntry(path: "caps", kind: .regular, mode: 0o755, uid: 3_000_000, xattrs: ["security.capability": [1, 0, 0, 2]]), bytes: [9])
        try writer.append(TarEntry(path: "héllo", kind: .regular, mode: 0o644), bytes: Array("unicode".utf8))
        try writer.finish()
        return sink.bytes
    }

    @Test func roundTrip() throws {
        let bytes = try sampleArchive()
        #expect(bytes.count % 512 == 0)
        let reader = TarReader(MemorySource(bytes))
        var entries: [(TarEntry, [UInt8])] = []
        while let entry = try reader.next() { entries.append((entry, try reader.readContent(limit: 1 << 20))) }
        #expect(entries.map(\.0.path) == ["etc", "etc/hosts", "bin/sh", "bin/ash", "dev/null", Self.longDir + "/file", String(repeating: "x", count: 300), "caps", "héllo"])
        #expect(entries[1].0.paxRecords[TarEntry.apkChecksumSHA1Key] == "0123456789abcdef0123456789abcdef01234567")
        #expect(entries[1].1 == Array("127.0.0.1 localhost\n".utf8))
        #expect(entries[1].0.userName == "root")
        #expect(entries[1].0.modificationTime == 1_700_000_000)
        #expect(entries[2].0.kind == .symbolicLink && entries[2].0.linkTarget == "/bin/busybox")
        #expect(entries[3].0.kind == .hardLink && entries[3].0.linkTarget == "bin/sh")
        #expect(entries[4].0.deviceMajor == 1 && entries[4].0.deviceMinor == 3)
        #expect(entries[5].0.uid == 1000 && entries[5].1 == [1, 2, 3])
        #expect(entries[7].0.uid == 3_000_000 && entries[7].0.xattrs["security.capability"] == [1, 0, 0, 2])
        #expect(entries[8].1 == Array("unicode".utf8))
        // Deterministic.
        #expect(try sampleArchive() == bytes)
    }

    @Test func pythonTarfileReadsOurArchive() throws {
        try TemporaryDirectory.withSync { dir in
            let path = dir.file("a.tar")
            try AtomicFileSink.write(try sampleArchive(), to: path)
            let script = """
                import tarfile, sys
                t = tarfile.open(sys.argv[1])
                for m in t.getmembers():
                    print(m.name, m.type.decode(), oct(m.mode), m.uid, m.size, m.linkname, m.pax_headers.get('APK-TOOLS.checksum.SHA1', ''), m.pax_headers.get('SCHILY.xattr.security.capability', '') != '')
                """
            let out = try runTool("/usr/bin/env", ["python3", "-c", script, path])
            let lines = out.split(separator: "\n").map(String.init)
            #expect(lines.count == 9)
            #expect(lines[1] == "etc/hosts 0 0o644 0 20  0123456789abcdef0123456789abcdef01234567 False")
            #expect(lines[2].hasPrefix("bin/sh 2 0o777 0 0 /bin/busybox"))
            #expect(lines[5].hasPrefix(Self.longDir + "/file 0 0o600 1000 3"))
            #expect(lines[7].hasPrefix("caps 0 0o755 3000000 1") && lines[7].hasSuffix("True"))
            #expect(lines[8].hasPrefix("héllo 0"))
            // GNU tar agrees too.
            let gnu = try runTool("/bin/tar", ["-tf", path])
            #expect(gnu.split(separator: "\n").count == 9)
        }
    }

    @Test func readsGNUTarOutput() throws {
        try TemporaryDirectory.withSync { dir in
            let root = dir.file("root")
            let longName = String(repeating: "n", count: 150)
            try FileManager.default.createDirectory(atPath: root + "/sub", withIntermediateDirectories: true)
            try Data("hello".utf8).write(to: URL(fileURLWithPath: root + "/sub/" + longName))
            try FileManager.default.createSymbolicLink(atPath: root + "/link", withDestinationPath: "sub")
            for format in ["gnu", "posix", "ustar"] where !(format == "ustar") {
                let tarPath = dir.file("\(format).tar")
                _ = try runTool("/bin/tar", ["--format=\(format)", "-C", root, "-cf", tarPath, "."])
                let reader = TarReader(try FileSource(path: tarPath))
                var found: [String: [UInt8]] = [:]
                while let entry = try reader.next() { found[entry.path] = try reader.readContent(limit: 1 << 20) }
                #expect(found["./sub/" + longName] == Array("hello".utf8), "format \(format)")
                #expect(found.keys.contains("./link"))
            }
        }
    }

    @Test func badChecksumIsMalformed() throws {
        var bytes = try sampleArchive()
        bytes[5] ^= 0x01
        let reader = TarReader(MemorySource(bytes), name: "bad.tar")
        let error = try #require(throws: LaminaError.self) { _ = try reader.next() }
        #expect(error.code == .malformed)
        #expect(error.description == "bad.tar: tar header at offset 0 has a bad checksum (stored \(try checksumField(bytes)), computed \(headerSum(bytes)))")
    }

    func checksumField(_ bytes: [UInt8]) throws -> Int64 {
        Int64(String(decoding: bytes[148..<154], as: UTF8.self), radix: 8)!
    }
    func headerSum(_ bytes: [UInt8]) -> Int64 {
        (0..<512).reduce(0) { $0 + Int64((148..<156).contains($1) ? 32 : bytes[$1]) }
    }

    @Test func unterminatedArchiveEndsCleanly() throws {
        let sink = MemorySink()
        let writer = TarWriter(sink)
        try writer.append(TarEntry(path: ".PKGINFO", kind: .regular, mode: 0o644), bytes: Array("pkgname = x\n".utf8))
        try writer.finish(terminate: false)
        let reader = TarReader(MemorySource(sink.bytes))
        #expect(try reader.next()?.path == ".PKGINFO")
        #expect(try reader.next() == nil)
    }

    @Test func truncatedContentIsMalformed() throws {
        let bytes = try sampleArchive()
        let reader = TarReader(MemorySource(Array(bytes.prefix(512 * 3 + 10))))
        #expect(throws: LaminaError.self) {
            while try reader.next() != nil {}
        }
    }

    @Test(.enabled(if: SharedTestData.isAvailable, "needs ../shared/testdata"))
    func readsAlpineMinirootfs() throws {
        let path = Minirootfs.tarball
        let gzip = try GzipReader(try FileSource(path: path), name: path)
        gzip.continuous = true
        let reader = TarReader(gzip)
        var count = 0
        var busybox: TarEntry?
        var total: Int64 = 0
        while let entry = try reader.next() {
            count += 1
            if entry.path == "./bin/busybox" { busybox = entry }
            total += try reader.content.copy(to: MemorySink())
        }
        let expected = try runTool("/bin/sh", ["-c", "tar -tzf '\(path)' | wc -l"])
        #expect(count == Int(expected.trimmingSpaces))
        #expect(busybox?.kind == .regular && busybox!.size > 500_000)
        #expect(total > 1_000_000)
    }

    @Test(arguments: [
        ("etc/passwd", "etc/passwd"), ("./etc//passwd", "etc/passwd"), ("usr/bin/", "usr/bin"), (".", ""),
    ])
    func safePathNormalizes(input: String, output: String) throws {
        #expect(try SafePath.normalize(input) == output)
    }

    @Test(arguments: ["/etc/passwd", "../x", "a/../../b", "a/.."])
    func safePathRefuses(input: String) {
        #expect(throws: LaminaError.self) { try SafePath.normalize(input) }
    }
}
