import APK
import Archive
import Foundation
import LaminaCore
import TestSupport
import Testing

@Suite struct PackageWriteTests {
    func build(_ dir: TemporaryDirectory, name: String = "hello.apk", epoch: Int64 = 1_700_000_000, keys: [SigningKey] = [Fixtures.key],
               algorithms: [SignatureAlgorithm] = [.rsaSHA256]) throws -> (String, PackageInfo) {
        let root = dir.file("root")
        if !FileManager.default.fileExists(atPath: root) { try Fixtures.makeTree(in: root) }
        var info = PackageInfo(name: "hello", version: "1.0.0-r0", arch: "x86_64", description: "says hello", license: "MIT", origin: "hello")
        info.depends = [try Dependency(parsing: "so:libc.musl-x86_64.so.1"), try Dependency(parsing: "busybox>=1.36")]
        info.provides = [try Dependency(parsing: "cmd:hello=1.0.0-r0")]
        let writer = PackageWriter(info: info, scripts: ["post-install": "#!/bin/sh\necho installed\n"], clock: BuildClock(epoch: epoch),
                                   signingKeys: keys, algorithms: algorithms)
        let out = dir.file(name)
        let written = try writer.write(directory: root, to: out)
        return (out, written)
    }

    @Test func roundTripVerifiesAndIsReproducible() throws {
        try TemporaryDirectory.withSync { dir in
            let (path, written) = try build(dir)
            let (path2, _) = try build(dir, name: "again.apk")
            #expect(try Data(contentsOf: URL(fileURLWithPath: path)) == Data(contentsOf: URL(fileURLWithPath: path2)))

            let archive = try PackageReader().read(path: path, listFiles: true)
            #expect(archive.verify(keyring: Fixtures.keyring) == .ok(keyName: "lamina-test.rsa.pub"))
            #expect(archive.identity == written.checksum)
            #expect(archive.fileSize == written.fileSize)
            #expect(archive.info.name == "hello" && archive.info.version == "1.0.0-r0")
            #expect(archive.info.buildDate == 1_700_000_000)
            #expect(archive.info.installedSize == Int64("#!/bin/sh\necho hello\n".utf8.count + "greeting=hello\n".utf8.count))
            #expect(archive.info.depends.map(\.description) == ["so:libc.musl-x86_64.so.1", "busybox>=1.36"])
            #expect(archive.controlFiles.map(\.entry.path) == [".post-install"])
            #expect(archive.controlFiles[0].entry.mode == 0o755)
            let paths = archive.files.map(\.entry.path)
            #expect(paths == ["etc", "etc/hello.conf", "usr", "usr/bin", "usr/bin/hello", "usr/bin/hello2", "usr/bin/hi"])
            let hello2 = archive.files[5].entry
            #expect(hello2.kind == .hardLink && hello2.linkTarget == "usr/bin/hello")
            let hi = archive.files[6]
            #expect(hi.entry.kind == .symbolicLink && hi.entry.linkTarget == "hello")
            #expect(hi.entry.paxRecords[TarEntry.apkChecksumSHA1Key] == hi.sha1?.hex)
            for file in archive.files {
                #expect(file.entry.modificationTime == 1_700_000_000)
                #expect(file.entry.uid == 0 && file.entry.userName == "root")
                if file.entry.kind == .regular { #expect(file.entry.paxRecords[TarEntry.apkChecksumSHA1Key] == file.sha1?.hex) }
            }
            // An unknown key: untrusted, not bad.
            #expect(archive.verify(keyring: Keyring()) == .untrusted)
        }
    }

    /// The byte layout apk-tools expects, checked with independent tools (python zlib, openssl).
    @Test func layoutCheckedByOpenSSLAndPython() throws {
        try TemporaryDirectory.withSync { dir in
            let (path, _) = try build(dir)
            let pub = dir.file("lamina-test.rsa.pub")
            try Fixtures.key.publicKey.pem.write(toFile: pub, atomically: true, encoding: .utf8)
            let script = """
                import sys, zlib, io, tarfile, subprocess
                data = open(sys.argv[1], 'rb').read()
                members, pos = [], 0
                while pos < len(data):
                    d = zlib.decompressobj(31); out = d.decompress(data[pos:]); end = len(data) - len(d.unused_data)
                    members.append((data[pos:end], out)); pos = end
                print(len(members))
                sig_tar, ctl_tar, data_tar = members[0][1], members[1][1], members[2][1]
                print(sig_tar[-1024:] != bytes(1024), ctl_tar[-1024:] != bytes(1024), data_tar[-1024:] == bytes(1024))
                name = tarfile.open(fileobj=io.BytesIO(sig_tar)).getnames()[0]
                print(name)
                sig = tarfile.open(fileobj=io.BytesIO(sig_tar)).extractfile(name).read()
                open(sys.argv[2] + '/sig', 'wb').write(sig); open(sys.argv[2] + '/control', 'wb').write(members[1][0])
                import hashlib
                pkginfo = tarfile.open(fileobj=io.BytesIO(ctl_tar)).extractfile('.PKGINFO').read().decode()
                print([l for l in pkginfo.splitlines() if l.startswith('datahash')][0] == 'datahash = ' + hashlib.sha256(members[2][0]).hexdigest())
                """
            let (status, out) = try run("/usr/bin/env", ["python3", "-c", script, path, dir.path])
            #expect(status == 0, "\(out)")
            #expect(out == "3\nTrue True True\n.SIGN.RSA256.lamina-test.rsa.pub\nTrue\n")
            let (verified, message) = try run("/usr/bin/openssl", ["dgst", "-sha256", "-verify", pub, "-signature", dir.file("sig"), dir.file("control")])
            #expect(verified == 0 && message.contains("Verified OK"))
        }
    }

    @Test func sha1AndSha256Signatures() throws {
        try TemporaryDirectory.withSync { dir in
            let (path, _) = try build(dir, algorithms: [.rsaSHA256, .rsaSHA1])
            let archive = try PackageReader().read(path: path)
            #expect(archive.signatures.map(\.algorithm) == [.rsaSHA256, .rsaSHA1])
            #expect(archive.verify(keyring: Fixtures.keyring).isOK)
        }
    }

    @Test func unsignedPackageIsUntrusted() throws {
        try TemporaryDirectory.withSync { dir in
            let (path, _) = try build(dir, keys: [])
            let archive = try PackageReader().read(path: path)
            #expect(archive.signatures.isEmpty)
            #expect(archive.verify(keyring: Fixtures.keyring) == .untrusted)
            #expect(archive.info.dataHash == archive.dataDigest?.hex)
        }
    }

    @Test func tamperedDataIsDetected() throws {
        try TemporaryDirectory.withSync { dir in
            let (path, _) = try build(dir)
            let archive = try PackageReader().read(path: path)
            var bytes = Array(try Data(contentsOf: URL(fileURLWithPath: path)))
            // Replace the data member with another valid gzip member: only datahash can catch it.
            let otherTar = MemorySink()
            let tar = TarWriter(otherTar)
            try tar.append(TarEntry(path: "etc/evil", kind: .regular, mode: 0o644), bytes: Array("evil".utf8))
            try tar.finish()
            bytes = Array(bytes[0..<Int(archive.dataRange.lowerBound)]) + (try GzipWriter.compress(otherTar.bytes))
            let tampered = dir.file("tampered.apk")
            try AtomicFileSink.write(bytes, to: tampered)
            let verdict = try PackageReader().read(path: tampered).verify(keyring: Fixtures.keyring)
            guard case .dataHashMismatch = verdict else { Issue.record("got \(verdict)"); return }
        }
    }

    @Test func truncatedPackageIsMalformed() throws {
        try TemporaryDirectory.withSync { dir in
            let (path, _) = try build(dir)
            let bytes = Array(try Data(contentsOf: URL(fileURLWithPath: path)))
            let cut = dir.file("cut.apk")
            try AtomicFileSink.write(Array(bytes.prefix(bytes.count - 40)), to: cut)
            let error = try #require(throws: LaminaError.self) { try PackageReader().read(path: cut) }
            #expect(error.code == .malformed)
            #expect(error.description.hasPrefix(cut))
        }
    }

    /// Packages crafted with the low-level writers to break one rule each.
    func craft(_ dir: TemporaryDirectory, pkginfo: String, data: [(TarEntry, [UInt8])]) throws -> String {
        let control = MemorySink()
        let ctl = TarWriter(control)
        try ctl.append(TarEntry(path: ".PKGINFO", kind: .regular, mode: 0o644), bytes: Array(pkginfo.utf8))
        try ctl.finish(terminate: false)
        let dataSink = MemorySink()
        let tar = TarWriter(dataSink)
        for (entry, bytes) in data { try tar.append(entry, bytes: bytes) }
        try tar.finish()
        let path = dir.file("crafted.apk")
        try AtomicFileSink.write(try GzipWriter.compress(control.bytes) + GzipWriter.compress(dataSink.bytes), to: path)
        return path
    }

    @Test func missingPkgnameIsMalformed() throws {
        try TemporaryDirectory.withSync { dir in
            let path = try craft(dir, pkginfo: "pkgver = 1.0-r0\n", data: [])
            let error = try #require(throws: LaminaError.self) { try PackageReader().read(path: path) }
            #expect(error.code == .malformed)
            #expect(error.description.contains("missing pkgname"))
        }
    }

    @Test(arguments: ["../etc/passwd", "/etc/passwd", "usr/../../x"])
    func escapingPathsAreRefused(bad: String) throws {
        try TemporaryDirectory.withSync { dir in
            let path = try craft(dir, pkginfo: "pkgname = x\npkgver = 1-r0\n", data: [(TarEntry(path: bad, kind: .regular, mode: 0o644), [1])])
            let error = try #require(throws: LaminaError.self) { try PackageReader().read(path: path) }
            #expect(error.code == .unsafePath)
            #expect(error.description.contains(bad))
        }
    }

    @Test func gzipBombIsRefused() throws {
        try TemporaryDirectory.withSync { dir in
            let path = try craft(dir, pkginfo: "pkgname = x\npkgver = 1-r0\n", data: [(TarEntry(path: "zeros", kind: .regular, mode: 0o644), [UInt8](repeating: 0, count: 8 << 20))])
            var limits = SizeLimits.default
            limits.maxPackageSize = 1 << 20
            let error = try #require(throws: LaminaError.self) { try PackageReader(limits: limits).read(path: path) }
            #expect(error.code == .limitExceeded)
        }
    }

    @Test func indexWriteReadVerify() throws {
        try TemporaryDirectory.withSync { dir in
            let (_, written) = try build(dir)
            var index = APKIndex(packages: [written], description: "test repo")
            index.packages.sort { $0.name < $1.name }
            let bytes = try index.archiveBytes(signingKeys: [Fixtures.key])
            let path = dir.file("APKINDEX.tar.gz")
            try AtomicFileSink.write(bytes, to: path)
            let read = try APKIndex.read(path: path)
            #expect(read.verify(keyring: Fixtures.keyring) == .ok(keyName: "lamina-test.rsa.pub"))
            #expect(read.description == "test repo")
            #expect(read.packages.map(APKIndex.renderRecord) == [APKIndex.renderRecord(written)])
            #expect(try index.archiveBytes(signingKeys: [Fixtures.key]) == bytes)
            let (status, listing) = try run("/bin/sh", ["-c", "tar -tzf '\(path)' 2>/dev/null; true"])
            #expect(status == 0 && listing.contains(".SIGN.RSA256.lamina-test.rsa.pub"))
        }
    }
}
