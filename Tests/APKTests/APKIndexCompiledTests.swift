import APK
import Archive
import Foundation
import LaminaCore
import TestSupport
import Testing

/// The byte-level APKINDEX reader and the compiled (binary) form of a parsed index.
@Suite struct APKIndexCompiledTests {
    static let alpine = "chainguard-dev+apko/pkg/apk/apk/testdata/alpine-316/APKINDEX.tar.gz"

    @Test(.enabled(if: SharedTestData.isAvailable, "needs ../shared/testdata"))
    func compiledFormRoundTripsTheAlpineIndexFieldByField() throws {
        let archive = try FileSource(path: SharedTestData.path(Self.alpine)).readAll(limit: 1 << 30)
        let parsed = try APKIndex.read(bytes: archive, name: "alpine-316")
        #expect(parsed.packages.count == 4929)
        #expect(parsed.archiveDigest == Hasher.digest(.sha256, archive))
        let compiled = try parsed.compiledRepresentation()
        let loaded = try archive.withUnsafeBytes { try APKIndex.loadCompiled(compiled, archive: $0) }
        #expect(loaded.packages.count == parsed.packages.count)
        for (a, b) in zip(parsed.packages, loaded.packages) where a != b {
            Issue.record("record \(a.nameVersion) differs after the round trip: \(b)")
            break
        }
        #expect(loaded.packages == parsed.packages)
        #expect(loaded.description == "v3.16.3-13-g4d933a1fa3")
        #expect(loaded.signatures.map(\.keyName) == parsed.signatures.map(\.keyName))
        #expect(loaded.signatures.map(\.bytes) == parsed.signatures.map(\.bytes))
        #expect(loaded.signedOffset == parsed.signedOffset && parsed.signedOffset != nil)
        #expect(loaded.archiveDigest == parsed.archiveDigest)
        // The signature is checked again over the archive's bytes.
        let key = "alpine-devel@lists.alpinelinux.org-6165ee59.rsa.pub"
        #expect(loaded.verify(keyring: Fixtures.testdataKeyring) == .ok(keyName: key))
        #expect(loaded.verify(keyring: Keyring()) == .untrusted)
        // And the compiled form is stable: compiling what was loaded gives the same bytes.
        #expect(try loaded.compiledRepresentation() == compiled)
        #expect(APKIndex.damage(ofCompiled: compiled, archiveDigest: parsed.archiveDigest) == nil)
    }

    /// The archive reader parses APKINDEX as it inflates, a chunk at a time: lines cut at chunk ends read as
    /// the whole text does (Alpine's text is ~1.9 MB, so it spans chunks).
    @Test(.enabled(if: SharedTestData.isAvailable, "needs ../shared/testdata"))
    func streamedParseEqualsWholeTextParse() throws {
        let path = SharedTestData.path(Self.alpine)
        let (status, text) = try run("/bin/sh", ["-c", "tar -xzOf '\(path)' APKINDEX"])
        #expect(status == 0 && text.utf8.count > 1 << 20)
        let whole = try APKIndex.parseText(text)
        let streamed = try APKIndex.read(path: path).packages
        #expect(streamed.count == 4929)
        #expect(streamed == whole)
        // A stream cut into pieces of every small size, CRLF line ends included.
        let small = Array("P:a\r\nV:1\r\nD:b c\r\n\r\nP:d\nV:2\nT:last line without newline".utf8)
        let expected = try small.withUnsafeBytes { try APKIndex.parseText(bytes: $0) }
        #expect(expected.map(\.name) == ["a", "d"] && expected.last?.description == "last line without newline")
        for size in 1...7 {
            #expect(try APKIndex.parseText(stream: ChunkedSource(small, size: size), source: "s") == expected, "chunks of \(size)")
        }
    }

    /// Hands out its bytes `size` at a time.
    final class ChunkedSource: ByteSource {
        let bytes: [UInt8]
        let size: Int
        var offset = 0
        init(_ bytes: [UInt8], size: Int) {
            self.bytes = bytes
            self.size = size
        }
        func read(into buffer: UnsafeMutableRawBufferPointer) throws -> Int {
            let n = min(size, buffer.count, bytes.count - offset)
            for i in 0..<n { buffer[i] = bytes[offset + i] }
            offset += n
            return n
        }
    }

    @Test func compiledFormIsBoundToItsArchiveAndChecksItself() throws {
        let archive = try Self.signedArchive(records: 20)
        let index = try APKIndex.read(bytes: archive, name: "test")
        let compiled = try index.compiledRepresentation()
        #expect(try archive.withUnsafeBytes { try APKIndex.loadCompiled(compiled, archive: $0) }.packages == index.packages)

        // Another archive (one byte of its signed member changed): refused, not served under the wrong key.
        var other = archive
        other[other.count - 10] ^= 1
        let wrongArchive = #expect(throws: LaminaError.self) { try other.withUnsafeBytes { try APKIndex.loadCompiled(compiled, archive: $0) } }
        #expect(wrongArchive?.code == .checksumMismatch)

        // Any damaged byte of the compiled form is caught by its checksum.
        for position in [9, 50, compiled.count / 2, compiled.count - 1] {
            var damaged = compiled
            damaged[position] ^= 0x40
            let error = #expect(throws: LaminaError.self) { try archive.withUnsafeBytes { try APKIndex.loadCompiled(damaged, archive: $0) } }
            #expect(error?.code == .checksumMismatch || error?.code == .malformed, "byte \(position)")
            #expect(APKIndex.damage(ofCompiled: damaged) != nil)
        }
        // Truncated, or not a compiled index at all.
        #expect(throws: LaminaError.self) { try archive.withUnsafeBytes { try APKIndex.loadCompiled(Array(compiled.dropLast(7)), archive: $0) } }
        #expect(APKIndex.damage(ofCompiled: Array("P:a\nV:1\n".utf8)) != nil)
        // A compiled form whose checksum holds but whose layout lies (a count past the end) is refused too.
        var body = Array(compiled.dropFirst(40))
        body.append(contentsOf: [1, 2, 3])
        let forged = Array(compiled.prefix(8)) + Hasher.digest(.sha256, body).bytes + body
        #expect(throws: LaminaError.self) { try archive.withUnsafeBytes { try APKIndex.loadCompiled(forged, archive: $0) } }

        // Only an index read from an archive has a digest to be keyed by.
        #expect(throws: LaminaError.self) { try APKIndex(packages: index.packages).compiledRepresentation() }
    }

    @Test func signatureOverAChangedArchiveFailsEvenFromTheCompiledForm() throws {
        // The compiled form never vouches for bytes: verifying recomputes the signed digest from the archive.
        let archive = try Self.signedArchive(records: 3)
        let index = try APKIndex.read(bytes: archive, name: "test")
        #expect(index.verify(keyring: Fixtures.keyring).isOK)
        let loaded = try archive.withUnsafeBytes { try APKIndex.loadCompiled(try index.compiledRepresentation(), archive: $0) }
        #expect(loaded.verify(keyring: Fixtures.keyring).isOK)
        #expect(loaded.verify(keyring: Keyring()) == .untrusted)
    }

    // MARK: The byte-level text reader

    @Test func dependencyAtomsReadAsTheStringParserReadsThem() throws {
        let atoms = [
            "foo", "!foo", "foo@edge", "foo@edge>=1.2", "so:libc.musl-x86_64.so.1", "cmd:[", "pc:zlib>=1.2.11",
            "py3.11:foo", "a=1.0-r0", "a<2", "a<=2", "a>1", "a>=1", "a~1.2", "a=~1.2", "a~=1.2", "a>~1", "a<~1",
            "busybox><Q12lWqvBU8EcR6vFtXW2dmQ5gYKNg=", "busybox<>Q1abc", "so:libfoo.so.0unstable=0unstable", "!b@t<3",
            "x,y", "a/b", "ümlaut", "a=1@tag",
        ]
        let valid = atoms.filter { (try? Dependency(parsing: $0, validateVersion: false)) != nil }
        #expect(valid.count == atoms.count - 2)  // "ümlaut" and "a=1@tag" are refused
        let whole = try APKIndex.parseText("P:p\nV:1\nD:" + valid.joined(separator: " ") + "\n")
        #expect(whole.first?.depends == valid.map { try! Dependency(parsing: $0, validateVersion: false) })
        // Each atom the String parser accepts is read identically; each it refuses gives the same message.
        for atom in atoms {
            let line = "P:p\nV:1\nD:x \(atom)\n"
            do {
                let expected = try Dependency(parsing: atom, validateVersion: false)
                #expect(try APKIndex.parseText(line).first?.depends == [Dependency(name: "x"), expected], "\(atom)")
            } catch let expected as LaminaError {
                let error = #expect(throws: LaminaError.self) { try APKIndex.parseText(line) }
                #expect(error?.message == "line 3: D: \(expected.message)", "\(atom)")
            }
        }
    }

    @Test func malformedLinesAreNamed() throws {
        let cases: [(String, String)] = [
            ("P:a\nV:1\nS:12x\n", "line 3: S: expected a number, got '12x'"),
            ("P:a\nV:1\nC:Q1nope\n", "line 3: C: is not a Q1 checksum: 'Q1nope'"),
            ("P:a\nV:1\nbad line\n", "line 3: expected 'X:value', got 'bad line'"),
            ("P:a\n\nP:b\nV:1\n", "line 1: record without P: (name) or V: (version)"),
            ("P:a\nV:1\nD:foo@\n", "line 3: D: 'foo@' is not a valid dependency: the repository tag after '@' is empty"),
        ]
        for (text, message) in cases {
            let error = #expect(throws: LaminaError.self) { try APKIndex.parseText(text, source: "idx") }
            #expect(error?.message == message)
            #expect(error?.code == .malformed)
        }
        // Numbers the fast path leaves to Int64: signs and long digit runs.
        let signed = try APKIndex.parseText("P:a\nV:1\nk:-5\nt:+7\nI:9223372036854775807\n")
        #expect(signed.first?.providerPriority == -5 && signed.first?.buildDate == 7 && signed.first?.installedSize == Int64.max)
        // CRLF line ends, a missing final newline, repeated list lines.
        let crlf = try APKIndex.parseText("P:a\r\nV:1\r\nD:b\r\nD:c\r\n\r\nP:d\r\nV:2")
        #expect(crlf.map(\.name) == ["a", "d"] && crlf.first?.depends.map(\.name) == ["b", "c"])
    }

    /// Issue 12's resource attack: an index of 10^6 records is refused at the record limit with a clear error,
    /// having held at most the limit in memory.
    @Test func indexPastTheRecordLimitIsRefused() throws {
        let records = 1_000_000
        var text = [UInt8]()
        text.reserveCapacity(records * 12)
        for i in 0..<records { text += Array("P:p\(i % 1000)\nV:1\n\n".utf8) }
        let limit = 20_000  // the default (SizeLimits.maxIndexRecords) is measured in scripts/bench-apk; a debug build is slow
        let error = #expect(throws: LaminaError.self) {
            try text.withUnsafeBytes { try APKIndex.parseText(bytes: $0, source: "huge", maxRecords: limit) }
        }
        #expect(error?.code == .limitExceeded)
        #expect(error?.message.contains("more than 20000 records in one index (limit)") == true)
        // Exactly at the limit is fine.
        let atLimit = Array(text.prefix(Array("P:p0\nV:1\n\n".utf8).count * 10))
        #expect(try atLimit.withUnsafeBytes { try APKIndex.parseText(bytes: $0, maxRecords: 10) }.count == 10)
        // Through the archive reader, with the limit from SizeLimits.
        let archive = try Self.signedArchive(records: 30)
        let limited = #expect(throws: LaminaError.self) {
            try APKIndex.read(bytes: archive, name: "idx", limits: SizeLimits(maxIndexRecords: 29))
        }
        #expect(limited?.code == .limitExceeded)
        #expect(SizeLimits.default.maxIndexRecords >= 100_000)
    }

    /// A signed `APKINDEX.tar.gz` of `records` synthetic packages, signed with the test key.
    static func signedArchive(records: Int) throws -> [UInt8] {
        var packages: [PackageInfo] = []
        for i in 0..<records {
            packages.append(
                PackageInfo(
                    name: "pkg\(i)", version: "1.\(i)-r0", arch: "x86_64", description: "package \(i)", url: "https://example.org",
                    license: "MIT", origin: "pkg\(i - i % 2)", maintainer: "M <m@example.org>", buildDate: 1_700_000_000 + Int64(i),
                    commit: String(repeating: "ab", count: 20), installedSize: Int64(i * 100), fileSize: Int64(i * 10 + 1),
                    depends: i == 0 ? [] : [Dependency(name: "pkg\(i - 1)", constraint: VersionConstraint(.greaterOrEqual, "1.0")), Dependency(name: "so:libc.so.1")],
                    provides: [Dependency(name: "cmd:pkg\(i)"), Dependency(name: "so:libpkg\(i).so.1", constraint: VersionConstraint(.equal, "1.\(i)"))],
                    installIf: i % 5 == 0 ? [Dependency(name: "a"), Dependency(name: "b", tag: "edge")] : [],
                    providerPriority: i % 3 == 0 ? 10 : nil, checksum: Hasher.digest(.sha1, Array("pkg\(i)".utf8))))
        }
        return try APKIndex(packages: packages, description: "test").archiveBytes(signingKeys: [Fixtures.key])
    }
}
