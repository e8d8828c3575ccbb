import APK
import Archive
import Config
import Foundation
import LaminaCore
import TestSupport
import Testing

@testable import PackageBuilder

struct FileCapabilitiesTests {
    /// melange's `EncodeCapability` bytes: revision 3 with the effective flag, permitted bit 10, no
    /// inheritable, zero high words and root id.
    @Test func encodesAsMelange() throws {
        let sets = try FileCapabilities.sets(
            [Capability(path: "/usr/bin/web", add: ["cap_net_bind_service": "+ep"], reason: "port 80")],
            keyPrefix: "package")
        #expect(sets.keys.sorted() == ["usr/bin/web"])
        let bytes = try #require(sets["usr/bin/web"]).encoded
        #expect(bytes == [0x01, 0, 0, 0x03, 0, 0x04, 0, 0] + [UInt8](repeating: 0, count: 16))
        // Several names in one key, several entries for one path, and `i` without `e`: no effective flag.
        let merged = try FileCapabilities.sets(
            [
                Capability(path: "/x", add: ["cap_net_raw,cap_net_admin": "+p"], reason: "r"),
                Capability(path: "x", add: ["cap_sys_admin": "+i"], reason: "r"),
            ], keyPrefix: "package")
        #expect(merged["x"] == FileCapabilities.Sets(effective: 0, permitted: 1 << 13 | 1 << 12, inheritable: 1 << 21))
        #expect(try #require(merged["x"]).encoded.prefix(4) == [0, 0, 0, 0x03])
        #expect(throws: LaminaError.self) {
            _ = try FileCapabilities.sets([Capability(path: "/x", add: ["cap_chown": "+ep"], reason: "r")], keyPrefix: "p")
        }
    }

    /// The kernel and libcap read our bytes as the capability asked for: set them on a real file, `getcap`.
    @Test(.enabled(if: CommandRunner.which("getcap") != nil && getuid() == 0, "needs getcap and root"))
    func kernelAndGetcapAgree() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let file = dir.file("web")
        try Data("x".utf8).write(to: URL(fileURLWithPath: file))
        let value = try FileCapabilities.sets(
            [Capability(path: "/web", add: ["cap_net_bind_service,cap_net_raw": "+ep"], reason: "r")], keyPrefix: "p"
        )["web"]!.encoded
        guard try PythonTarfile.setXattr(file, FileCapabilities.xattrName, value) else { return }
        let out = try CommandRunner.run(try #require(CommandRunner.which("getcap")), [file])
        #expect(out.stdout.contains("cap_net_bind_service,cap_net_raw=ep"), "\(out.stdout)")
    }
}

@Suite(.enabled(if: EmitFixtures.available && CommandRunner.which("python3") != nil, "needs testdata and python3"))
struct EmitXattrTests {
    func emit(_ destdir: String, xattrs: [String: [String: [UInt8]]], into repository: String) throws -> EmittedPackage {
        var metadata = EmitPackageTests.metadata
        metadata.xattrs = xattrs
        return try PackageEmitter(namespace: "wolfi").emit(
            directory: destdir, metadata: metadata, repositoryDirectory: repository, clock: EmitPackageTests.clock,
            signingKey: try EmitFixtures.signingKey())
    }

    /// `setcap` becomes a PAX `SCHILY.xattr.security.capability` record that Python's tarfile and our reader see.
    @Test func setcapIsAPaxXattr() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let destdir = try EmitFixtures.makeDestdir(in: dir)
        let value = FileCapabilities.Sets(effective: 1 << 10, permitted: 1 << 10).encoded
        let emitted = try emit(destdir, xattrs: ["usr/bin/iconv": [FileCapabilities.xattrName: value]], into: dir.file("p"))
        let hex = PythonTarfile.hex(value)
        #expect(try PythonTarfile.xattrs(emitted.path, member: "usr/bin/iconv") == [FileCapabilities.xattrName: hex])
        #expect(try PythonTarfile.xattrs(emitted.path, member: "lib/libz.so.1.3.1").isEmpty)
        let archive = try PackageReader().read(path: emitted.path)
        #expect(archive.verify(keyring: try EmitFixtures.keyring()).isOK)
    }

    /// A `setcap` path the package does not have is an error naming it, and no package is left behind.
    @Test func setcapOnMissingPathIsRefused() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let destdir = try EmitFixtures.makeDestdir(in: dir)
        #expect {
            _ = try emit(destdir, xattrs: ["usr/bin/nope": [FileCapabilities.xattrName: [1]]], into: dir.file("p"))
        } throws: { error in
            (error as? LaminaError)?.message.contains("/usr/bin/nope") == true
        }
        #expect(!FileManager.default.fileExists(atPath: dir.file("p") + "/x86_64/foo-1.0.0-r3.apk"))
    }

    /// A capability a build step set on a file (`setcap` in the pipeline) is kept in the package.
    @Test(.enabled(if: getuid() == 0, "needs root to set security.capability"))
    func capabilityOnDiskIsKept() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let destdir = try EmitFixtures.makeDestdir(in: dir)
        let value = FileCapabilities.Sets(effective: 1 << 13, permitted: 1 << 13).encoded
        guard try PythonTarfile.setXattr(destdir + "/usr/bin/iconv", FileCapabilities.xattrName, value) else { return }
        let stored = try #require(try ExtendedAttributes.value(of: destdir + "/usr/bin/iconv", FileCapabilities.xattrName))
        let emitted = try emit(destdir, xattrs: [:], into: dir.file("p"))
        let hex = PythonTarfile.hex(stored)
        #expect(try PythonTarfile.xattrs(emitted.path, member: "usr/bin/iconv") == [FileCapabilities.xattrName: hex])
    }
}
