import APK
import Archive
import Foundation
import LaminaCore
import TestSupport
import Testing

/// One row of PROVENANCE.md's per-archive table: the file and apk-tools' own verdict.
struct ProvenanceRow: CustomTestStringConvertible, Sendable {
    let path: String
    let apkVerdict: String
    let isIndex: Bool
    let datahash: String
    var testDescription: String { path }

    static func all() -> [ProvenanceRow] {
        guard let text = try? String(contentsOfFile: SharedTestData.path("PROVENANCE.md"), encoding: .utf8) else { return [] }
        var rows: [ProvenanceRow] = []
        for line in text.split(separator: "\n") where line.hasPrefix("| `") {
            let cells = line.split(separator: "|", omittingEmptySubsequences: false).map { $0.trimmingCharacters(in: .whitespaces) }
            guard cells.count > 8 else { continue }
            let path = cells[1].trimmingCharacters(in: CharacterSet(charactersIn: "`"))
            guard path.hasSuffix(".apk") || path.hasSuffix(".tar.gz"), !path.contains("minirootfs") else { continue }
            rows.append(ProvenanceRow(path: path, apkVerdict: cells[6], isIndex: path.hasSuffix("APKINDEX.tar.gz"), datahash: cells[7]))
        }
        return rows
    }
}

@Suite(.enabled(if: SharedTestData.isAvailable, "needs ../shared/testdata"))
struct VerifyTestdataTests {
    static let keyring = Fixtures.testdataKeyring

    @Test func provenanceTableIsComplete() {
        let rows = ProvenanceRow.all()
        #expect(rows.count == 49)
        #expect(rows.filter { $0.apkVerdict.contains("BAD") }.count == 5)
    }

    @Test(arguments: ProvenanceRow.all())
    func verdictMatchesApkTools(row: ProvenanceRow) throws {
        let path = SharedTestData.path(row.path)
        let verdict: VerificationVerdict
        if row.isIndex {
            verdict = try APKIndex.read(path: path).verify(keyring: Self.keyring)
        } else {
            let archive = try PackageReader().read(path: path)
            verdict = archive.verify(keyring: Self.keyring)
            // Our own datahash check agrees with the table's.
            if row.datahash == "OK" { #expect(archive.info.dataHash == archive.dataDigest?.hex) }
            if row.datahash == "MISMATCH" { #expect(archive.info.dataHash != archive.dataDigest?.hex) }
        }
        switch row.apkVerdict {
        case "0 - OK": #expect(verdict.isOK, "\(verdict)")
        case "0 - UNTRUSTED": #expect(verdict == .untrusted)
        case "-129 - BAD signature":
            guard case .badSignature = verdict else {
                Issue.record("expected BAD signature, got \(verdict)")
                return
            }
        default: Issue.record("unknown verdict \(row.apkVerdict)")
        }
    }

    @Test func identityEqualsIndexChecksum() throws {
        let dir = "chainguard-dev+apko/internal/cli/testdata/packages/x86_64/"
        let archive = try PackageReader().read(path: SharedTestData.path(dir + "pretend-baselayout-1.0.0-r0.apk"))
        #expect(archive.identity.apkIdentity == "Q1m6wB0UFePGN8Drz82pC8y2uAiu8=")
        let index = try APKIndex.read(path: SharedTestData.path(dir + "APKINDEX.tar.gz"))
        let record = try #require(index.packages.first { $0.name == "pretend-baselayout" })
        #expect(record.checksum == archive.identity)
        #expect(record.fileSize == archive.fileSize)
        #expect(archive.fileSize == 2930)
    }

    @Test func alpineIdentityMatchesInstalledDatabase() throws {
        let archive = try PackageReader().read(path: SharedTestData.path("chainguard-dev+apko/pkg/apk/apk/testdata/alpine-316/alpine-baselayout-3.2.0-r23.apk"), listFiles: true)
        #expect(archive.identity.apkIdentity == "Q1LLq2qDNrS/qRnhxQ3hsY/sHbQnc=")
        #expect(archive.info.name == "alpine-baselayout")
        #expect(archive.info.version == "3.2.0-r23")
        #expect(archive.info.packager != nil)
        #expect(archive.signatures.first?.algorithm == .rsaSHA1)
        // Every regular file's SHA-1 equals the checksum abuild stored in its PAX header.
        for file in archive.files where file.entry.kind == .regular {
            if let stored = file.entry.paxRecords[TarEntry.apkChecksumSHA1Key] { #expect(stored == file.sha1?.hex, "\(file.entry.path)") }
        }
        #expect(archive.files.contains { $0.entry.path == "etc/crontabs/root" && $0.entry.mode == 0o600 })
    }

    @Test func multiMemberDataSection() throws {
        let archive = try PackageReader().read(path: SharedTestData.path("chainguard-dev+apko/internal/cli/testdata/packages/x86_64/tzdata-2023c-r0.apk"), listFiles: true)
        #expect(archive.info.dataHash == archive.dataDigest?.hex)
        #expect(archive.files.count > 500)
        #expect(archive.verify(keyring: Self.keyring).isOK)
    }

    @Test func alpineIndexReadsAndVerifies() throws {
        let path = SharedTestData.path("chainguard-dev+apko/pkg/apk/apk/testdata/alpine-316/APKINDEX.tar.gz")
        let index = try APKIndex.read(path: path)
        #expect(index.packages.count == 4929)
        #expect(index.description == "v3.16.3-13-g4d933a1fa3")
        #expect(index.verify(keyring: Self.keyring) == .ok(keyName: "alpine-devel@lists.alpinelinux.org-6165ee59.rsa.pub"))
        let musl = try #require(index.packages.first { $0.name == "musl" })
        #expect(musl.provides.contains { $0.name == "so:libc.musl-x86_64.so.1" })
        #expect(musl.arch == "x86_64")
    }

    /// apk-tools wrote Alpine's index; rendering what we parsed gives back the same text.
    @Test func alpineIndexTextRoundTripsByteForByte() throws {
        for index in ["alpine-316", "alpine-317"] {
            let path = SharedTestData.path("chainguard-dev+apko/pkg/apk/apk/testdata/\(index)/APKINDEX.tar.gz")
            let (status, original) = try run("/bin/sh", ["-c", "tar -xzOf '\(path)' APKINDEX"])
            #expect(status == 0)
            let parsed = try APKIndex.parseText(original)
            #expect(APKIndex(packages: parsed).renderText() == original)
        }
    }

    @Test func multiSignatureIndex() throws {
        let index = try APKIndex.read(path: SharedTestData.path("chainguard-dev+apko/pkg/apk/apk/testdata/signing/APKINDEX.tar.gz"))
        #expect(index.signatures.count == 3)
        for signature in index.signatures {
            var only = Keyring()
            try only.addFile(SharedTestData.path("chainguard-dev+apko/pkg/apk/apk/testdata/signing/keys/" + signature.keyName))
            #expect(index.verify(keyring: only) == .ok(keyName: signature.keyName))
        }
    }

    @Test func plainTextIndex() throws {
        let index = try APKIndex.read(path: SharedTestData.path("alpinelinux+apk-tools/test/basic.repo"))
        #expect(!index.packages.isEmpty)
    }
}

@Suite(.enabled(if: SharedTestData.isAvailable, "needs ../shared/testdata"))
struct InstalledDatabaseTests {
    /// apk-tools 2.14 wrote Alpine's database; parsing and rendering it gives back the same bytes.
    @Test func alpineDatabaseRoundTripsByteForByte() throws {
        let text = try String(contentsOfFile: SharedTestData.path("derived/minirootfs-3.20.3-x86_64/lib/apk/db/installed"), encoding: .utf8)
        let db = try InstalledDatabase.parse(text)
        #expect(db.packages.count == 14)
        #expect(db.render() == text)
        let baselayout = try #require(db.packages.first { $0.info.name == "alpine-baselayout" })
        #expect(baselayout.info.checksum?.apkIdentity == "Q1qKcZ+j23xssAXmgQhkOO8dHnbWw=")
        let crontab = try #require(baselayout.directories.first { $0.path == "etc/crontabs" }?.files.first)
        #expect(crontab.name == "root" && crontab.mode == 0o600)
        #expect(baselayout.directories.first { $0.path == "tmp" }?.mode == 0o1777)
    }

    @Test func apkoDatabasesParse() throws {
        let dir = SharedTestData.path("chainguard-dev+apko/pkg/apk/apk/testdata/installed")
        for name in try FileManager.default.contentsOfDirectory(atPath: dir) {
            let text = try String(contentsOfFile: dir + "/" + name, encoding: .utf8)
            let db = try InstalledDatabase.parse(text, source: name)
            #expect(!db.packages.isEmpty, "\(name)")
        }
        let root = try String(contentsOfFile: SharedTestData.path("chainguard-dev+apko/pkg/apk/apk/testdata/root/usr/lib/apk/db/installed"), encoding: .utf8)
        #expect(try !InstalledDatabase.parse(root).packages.isEmpty)
    }
}
