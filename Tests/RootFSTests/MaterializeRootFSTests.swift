import APK
import Archive
import Foundation
import LaminaCore
import RootFS
import Sandbox
import TestSupport
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// Installed trees written to real folders (`FileTree.materialize`), read back with lstat/readlink/sha256.
@Suite struct MaterializeRootFSTests {
    static let alpineBaselayout = "chainguard-dev+apko/pkg/apk/apk/testdata/alpine-316/alpine-baselayout-3.2.0-r23.apk"
    static let apkoPackages = "chainguard-dev+apko/internal/cli/testdata/packages/x86_64"
    static let minirootfs = Minirootfs.relativePath
    static var minirootfsAvailable: Bool {
        SharedTestData.isAvailable && FileManager.default.fileExists(atPath: SharedTestData.path(minirootfs))
    }
    static var bwrapUsable: Bool {
        minirootfsAvailable && FileManager.default.isExecutableFile(atPath: "/usr/bin/bwrap") && Architecture.host.apk == "x86_64"
    }

    struct Seen {
        var kind: TarEntry.Kind
        var mode: UInt32
        var uid: Int
        var gid: Int
        var mtime: Int64
        var inode: UInt64
        var target: String
        var sha256: String?
    }

    /// Every path under `root`, never following symlinks.
    static func scan(_ root: String) throws -> [String: Seen] {
        var out: [String: Seen] = [:]
        func walk(_ relative: String) throws {
            for name in try FileManager.default.contentsOfDirectory(atPath: relative.isEmpty ? root : root + "/" + relative) {
                let path = relative.isEmpty ? name : relative + "/" + name
                let full = root + "/" + path
                var info = stat()
                guard lstat(full, &info) == 0 else { throw LaminaError(.io, "lstat failed", subject: full) }
                var seen = Seen(
                    kind: .regular, mode: UInt32(info.st_mode) & 0o7777, uid: Int(info.st_uid), gid: Int(info.st_gid),
                    mtime: Int64(info.st_mtim.tv_sec), inode: UInt64(info.st_ino), target: "")
                switch info.st_mode & S_IFMT {
                case S_IFDIR: seen.kind = .directory
                case S_IFLNK:
                    seen.kind = .symbolicLink
                    seen.target = try FileManager.default.destinationOfSymbolicLink(atPath: full)
                case S_IFREG:
                    var hasher = Hasher(.sha256)
                    try FileSource(path: full).copy(to: CallbackSink { hasher.update($0) })
                    seen.sha256 = hasher.finalize().hex
                case S_IFCHR: seen.kind = .characterDevice
                case S_IFBLK: seen.kind = .blockDevice
                default: seen.kind = .fifo
                }
                out[path] = seen
                if seen.kind == .directory { try walk(path) }
            }
        }
        try walk("")
        return out
    }

    /// The folder holds exactly the tree: every path, type, mode, owner (as root), link target and file SHA-256.
    static func expectIdentical(_ tree: FileTree, _ root: String, mtime: Int64) throws {
        let disk = try scan(root)
        #expect(Set(disk.keys) == Set(tree.sortedPaths))
        var mismatches: [String] = []
        for path in tree.sortedPaths {
            guard let node = tree.nodes[path], let seen = disk[path] else { continue }
            let real = node.kind == .hardLink ? tree.nodes[node.linkTarget] ?? node : node
            var want = Hasher(.sha256)
            if real.kind == .regular, let content = real.content { try content.open().copy(to: CallbackSink { want.update($0) }) }
            // Owners are applied only when running as root.
            let owners = geteuid() != 0 || (seen.uid == real.uid && seen.gid == real.gid)
            let ok = seen.kind == real.kind && seen.mtime == mtime && owners
                && (real.kind == .symbolicLink ? seen.target == real.linkTarget : seen.mode == real.mode)
                && (real.kind != .regular || seen.sha256 == want.finalize().hex)
            if !ok { mismatches.append("\(path): disk \(seen) tree \(real.kind) \(String(real.mode, radix: 8)) \(real.linkTarget)") }
        }
        #expect(mismatches.isEmpty, "\(mismatches.prefix(10))")
    }

    /// Reads a tar.gz into a tree, contents spilled to `spill`.
    static func readTarball(_ path: String, spill: SpillStore) throws -> FileTree {
        let reader = TarReader(try GzipReader(FileSource(path: path)), name: path)
        var tree = FileTree()
        while let entry = try reader.next() {
            var node = FileNode(
                kind: entry.kind, mode: entry.mode, uid: entry.uid, gid: entry.gid, modificationTime: entry.modificationTime,
                linkTarget: entry.linkTarget, deviceMajor: entry.deviceMajor, deviceMinor: entry.deviceMinor)
            if entry.kind == .regular { node.content = try spill.append(reader.content) }
            if entry.kind == .hardLink { node.linkTarget = try SafePath.normalize(entry.linkTarget) }
            try tree.insert(entry.path, node)
        }
        return tree
    }

    @Test(.enabled(if: SharedTestData.isAvailable, "needs ../shared/testdata"))
    func realInstallMaterializesIdentically() throws {
        try TemporaryDirectory.withSync { dir in
            var builder = try RootFSBuilder(spillDirectory: dir.path)
            try builder.install(packageAt: SharedTestData.path(Self.alpineBaselayout))
            try builder.install(packageAt: SharedTestData.path(Self.apkoPackages + "/tzdata-2023c-r0.apk"))
            try builder.install(packageAt: SharedTestData.path(Self.apkoPackages + "/custom-ca-certs-1-1.0.0-r0.apk"))
            try builder.writeDatabase(.init(world: ["alpine-baselayout", "tzdata"], repositories: [], keys: [:], architecture: "x86_64"))
            let tree = builder.tree
            #expect(tree.count > 600)
            #expect(tree["etc/crontabs/root"]?.mode == 0o600 && tree["tmp"]?.mode == 0o1777 && tree["sbin/mkmntdirs"]?.mode == 0o755)
            let root = dir.file("root")
            let report = try tree.materialize(into: root, options: .init(modificationTime: 1_700_000_000))
            #expect(report.files + report.directories + report.symlinks + report.hardlinks == tree.count)
            #expect(report.skippedSpecialFiles.isEmpty)
            try Self.expectIdentical(tree, root, mtime: 1_700_000_000)
            let installed = try String(contentsOfFile: root + "/lib/apk/db/installed", encoding: .utf8)
            #expect(installed.contains("P:alpine-baselayout\nV:3.2.0-r23\n"))
            #expect(try FileManager.default.destinationOfSymbolicLink(atPath: root + "/var/run") == "/run")
        }
    }

    @Test func packagedHardlinksShareAnInode() throws {
        try TemporaryDirectory.withSync { dir in
            let src = dir.file("src")
            try FileManager.default.createDirectory(atPath: src + "/usr/bin", withIntermediateDirectories: true)
            try Data("#!/bin/sh\necho tool\n".utf8).write(to: URL(fileURLWithPath: src + "/usr/bin/tool"))
            try FileManager.default.linkItem(atPath: src + "/usr/bin/tool", toPath: src + "/usr/bin/alias")
            try FileManager.default.linkItem(atPath: src + "/usr/bin/tool", toPath: src + "/usr/bin/zz")
            let apk = dir.file("tool.apk")
            let info = PackageInfo(name: "tool", version: "1.0-r0", arch: "x86_64")
            try PackageWriter(info: info, clock: BuildClock(epoch: 0), signingKeys: []).write(directory: src, to: apk)
            var builder = try RootFSBuilder(spillDirectory: dir.path)
            try builder.install(packageAt: apk)
            #expect(builder.tree.nodes.values.filter { $0.kind == .hardLink }.count == 2)
            let root = dir.file("root")
            let report = try builder.tree.materialize(into: root, options: .init(modificationTime: 5))
            #expect(report.hardlinks == 2 && report.files == 1)
            let seen = try Self.scan(root)
            let inodes = Set(["usr/bin/alias", "usr/bin/tool", "usr/bin/zz"].compactMap { seen[$0]?.inode })
            #expect(inodes.count == 1)
            try Self.expectIdentical(builder.tree, root, mtime: 5)
        }
    }

    @Test(.enabled(if: minirootfsAvailable, "needs ../shared/testdata (Alpine minirootfs)"))
    func minirootfsMaterializesIdentically() throws {
        try TemporaryDirectory.withSync { dir in
            let spill = try SpillStore(directory: dir.path)
            let tree = try Self.readTarball(SharedTestData.path(Self.minirootfs), spill: spill)
            #expect(tree.count > 500)
            let root = dir.file("root")
            try tree.materialize(into: root, options: .init(modificationTime: 1_725_622_440))
            try Self.expectIdentical(tree, root, mtime: 1_725_622_440)
            #expect(try FileManager.default.destinationOfSymbolicLink(atPath: root + "/bin/sh") == "/bin/busybox")
        }
    }

    @Test(.enabled(if: bwrapUsable, "needs /usr/bin/bwrap, an x86_64 host and the Alpine minirootfs"))
    func busyboxRunsInTheMaterializedMinirootfs() async throws {
        try await TemporaryDirectory.with { dir in
            let spill = try SpillStore(directory: dir.path)
            let tree = try Self.readTarball(SharedTestData.path(Self.minirootfs), spill: spill)
            let root = dir.file("root")
            try tree.materialize(into: root, options: .init(modificationTime: 0))
            let workspace = dir.url.appendingPathComponent("ws")
            try FileManager.default.createDirectory(at: workspace, withIntermediateDirectories: true)
            let configuration = SandboxConfiguration(
                guestRoot: URL(fileURLWithPath: root), workspace: workspace,
                environment: SandboxConfiguration.defaultEnvironment(sourceDateEpoch: 0))
            let session = try await BubblewrapRunner().prepare(configuration)
            let lines = LinesSeen()
            do {
                try await session.runChecked(BuildStep(name: "echo", script: "/bin/busybox echo ok; cat /etc/alpine-release"), output: lines.handler)
            } catch {
                try? await session.teardown()
                throw error
            }
            try await session.teardown()
            #expect(lines.stdout == ["ok", "3.20.3"])
        }
    }
}

/// Collects a step's stdout lines. `@unchecked Sendable` is safe: `lines` is only touched under `lock`.
final class LinesSeen: @unchecked Sendable {
    private let lock = NSLock()
    private var lines: [String] = []
    var handler: StepOutputHandler {
        { line in
            if line.stream == .stdout { self.lock.withLock { self.lines.append(line.text) } }
        }
    }
    var stdout: [String] { lock.withLock { lines } }
}
