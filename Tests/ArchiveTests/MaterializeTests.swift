import Foundation
import LaminaCore
import TestSupport
import Testing

@testable import Archive

#if canImport(Glibc)
    import Glibc
#endif

/// What one path of a real folder is, read back with `lstat`/`readlink` (never following links).
struct DiskEntry: Equatable, CustomStringConvertible {
    var kind: TarEntry.Kind
    var mode: UInt32
    var uid: Int
    var gid: Int
    var mtime: Int64
    var inode: UInt64
    var linkTarget: String
    var device: (major: UInt32, minor: UInt32)

    static func == (a: DiskEntry, b: DiskEntry) -> Bool {
        a.kind == b.kind && a.mode == b.mode && a.uid == b.uid && a.gid == b.gid && a.mtime == b.mtime && a.inode == b.inode
            && a.linkTarget == b.linkTarget && a.device == b.device
    }

    var description: String { "\(kind) \(String(mode, radix: 8)) \(uid):\(gid) -> \(linkTarget)" }

    /// Every path below `root` (relative), read without following symlinks.
    static func scan(_ root: String) throws -> [String: DiskEntry] {
        var out: [String: DiskEntry] = [:]
        func walk(_ relative: String) throws {
            let full = relative.isEmpty ? root : root + "/" + relative
            for name in try FileManager.default.contentsOfDirectory(atPath: full) {
                let path = relative.isEmpty ? name : relative + "/" + name
                let entry = try read(root + "/" + path)
                out[path] = entry
                if entry.kind == .directory { try walk(path) }
            }
        }
        try walk("")
        return out
    }

    static func read(_ path: String) throws -> DiskEntry {
        var info = stat()
        guard lstat(path, &info) == 0 else { throw LaminaError(.io, "lstat failed", subject: path) }
        let type = info.st_mode & S_IFMT
        let kind: TarEntry.Kind
        switch type {
        case S_IFDIR: kind = .directory
        case S_IFLNK: kind = .symbolicLink
        case S_IFCHR: kind = .characterDevice
        case S_IFBLK: kind = .blockDevice
        case S_IFIFO: kind = .fifo
        default: kind = .regular
        }
        var target = ""
        if kind == .symbolicLink { target = try FileManager.default.destinationOfSymbolicLink(atPath: path) }
        let rdev = UInt64(info.st_rdev)
        let major = UInt32(((rdev >> 8) & 0xfff) | ((rdev >> 32) & 0xffff_f000))
        let minor = UInt32((rdev & 0xff) | ((rdev >> 12) & 0xffff_ff00))
        return DiskEntry(
            kind: kind, mode: UInt32(info.st_mode) & 0o7777, uid: Int(info.st_uid), gid: Int(info.st_gid),
            mtime: Int64(info.st_mtim.tv_sec), inode: UInt64(info.st_ino), linkTarget: target, device: (major, minor))
    }
}

@Suite struct MaterializeTests {
    static let isRoot = geteuid() == 0

    /// A tree with every kind of node, a read-only directory with children, setuid and sticky bits,
    /// a hardlink pair and content both in memory and in a spill file.
    func sampleTree(spill: SpillStore) throws -> FileTree {
        var tree = FileTree()
        try tree.insert("etc", .directory(mode: 0o755))
        try tree.insert("etc/hosts", .file(Array("127.0.0.1 localhost\n".utf8)))
        try tree.insert("etc/shadow", .file(Array("root:*:::::::\n".utf8), mode: 0o640, gid: 42))
        try tree.insert("ro", .directory(mode: 0o555))
        try tree.insert("ro/inner", .directory(mode: 0o500))
        try tree.insert("ro/inner/file", .file([1, 2, 3], mode: 0o444))
        try tree.insert("ro/data", .file([], mode: 0o400))
        try tree.insert("tmp", .directory(mode: 0o1777))
        try tree.insert("usr/bin/su", .file(Array("#!/bin/sh\n".utf8), mode: 0o4755))
        try tree.insert("usr/bin/wall", .file(Array("#!/bin/sh\n".utf8), mode: 0o2755, gid: 5))
        var big = [UInt8](repeating: 0, count: 3 * 1024 * 1024 + 17)
        for i in big.indices { big[i] = UInt8(truncatingIfNeeded: i &* 2_654_435_761 >> 13) }
        var node = FileNode(kind: .regular, mode: 0o755, uid: 1000, gid: 1000, modificationTime: 1_600_000_000)
        node.content = try spill.append(MemorySource(big))
        try tree.insert("usr/lib/libbig.so", node)
        try tree.insert("usr/lib/libbig.so.1", .symlink(to: "libbig.so"))
        try tree.insert("bin", .symlink(to: "usr/bin"))
        try tree.insert("abs", .symlink(to: "/etc/hosts"))
        try tree.insert("dangling", .symlink(to: "../../nowhere"))
        // "bin/sh" is inserted through the `bin` symlink, as extraction would: it lands in usr/bin.
        try tree.insert("bin/sh", .file(Array("#!/bin/busybox\n".utf8), mode: 0o755))
        // Hardlinks: one before its target in output order, one after.
        try tree.insert("usr/bin/ash", FileNode(kind: .hardLink, mode: 0o755, linkTarget: "usr/bin/sh"))
        try tree.insert("zz-link", FileNode(kind: .hardLink, mode: 0o755, linkTarget: "usr/lib/libbig.so"))
        try tree.insert("run/fifo", FileNode(kind: .fifo, mode: 0o620))
        try tree.insert("dev/null", FileNode(kind: .characterDevice, mode: 0o666, deviceMajor: 1, deviceMinor: 3))
        try tree.insert("dev/loop0", FileNode(kind: .blockDevice, mode: 0o660, gid: 6, deviceMajor: 7, deviceMinor: 0))
        return tree
    }

    /// Checks the folder holds exactly the tree: paths, kinds, modes, owners, link targets, bytes.
    func expectMatches(_ tree: FileTree, _ root: String, mtime: Int64?, owners: Bool, skipped: Set<String> = []) throws {
        let disk = try DiskEntry.scan(root)
        let expected = Set(tree.sortedPaths).subtracting(skipped)
        #expect(Set(disk.keys) == expected)
        for path in expected {
            guard let node = tree.nodes[path], let entry = disk[path] else { continue }
            let kind = node.kind == .hardLink ? TarEntry.Kind.regular : node.kind
            #expect(entry.kind == kind, "\(path)")
            if kind != .symbolicLink {
                let target = node.kind == .hardLink ? tree.nodes[node.linkTarget] ?? node : node
                #expect(entry.mode == target.mode, "\(path): \(String(entry.mode, radix: 8)) != \(String(target.mode, radix: 8))")
                if owners {
                    #expect(entry.uid == target.uid && entry.gid == target.gid, "\(path)")
                }
            } else {
                #expect(entry.linkTarget == node.linkTarget, "\(path)")
                if owners { #expect(entry.uid == node.uid && entry.gid == node.gid, "\(path)") }
            }
            if let mtime { #expect(entry.mtime == mtime, "\(path)") } else if node.kind != .hardLink {
                #expect(entry.mtime == node.modificationTime, "\(path)")
            }
            if kind == .characterDevice || kind == .blockDevice {
                #expect(entry.device.major == node.deviceMajor && entry.device.minor == node.deviceMinor, "\(path)")
            }
            if kind == .regular {
                let source = node.kind == .hardLink ? tree.nodes[node.linkTarget]?.content : node.content
                let want = try source?.open().readAll(limit: 1 << 26) ?? []
                let got = [UInt8](try Data(contentsOf: URL(fileURLWithPath: root + "/" + path)))
                #expect(got == want, "\(path): content differs")
            }
        }
    }

    @Test func writesEveryKindAndReadsBackIdentical() throws {
        try TemporaryDirectory.withSync { dir in
            let spill = try SpillStore(directory: dir.path)
            let tree = try sampleTree(spill: spill)
            let root = dir.file("out/root")  // absent, with an absent parent
            let report = try tree.materialize(into: root, options: .init(modificationTime: 1_700_000_000))
            #expect(report.files == 8)
            #expect(report.hardlinks == 2)
            #expect(report.symlinks == 4)
            #expect(report.directories == tree.nodes.values.filter { $0.kind == .directory }.count)
            #expect(report.bytes == 3 * 1024 * 1024 + 17 + 20 + 14 + 3 + 10 + 10 + 15)
            #expect(report.skippedSpecialFiles == (Self.isRoot ? [] : ["dev/loop0", "dev/null"]))
            #expect(report.specialFiles == (Self.isRoot ? 3 : 1))
            try expectMatches(tree, root, mtime: 1_700_000_000, owners: Self.isRoot, skipped: Set(report.skippedSpecialFiles))
            #expect(try DiskEntry.read(root).mtime == 1_700_000_000)

            // Hardlink pairs share an inode, whichever comes first in path order.
            #expect(try DiskEntry.read(root + "/usr/bin/ash").inode == DiskEntry.read(root + "/usr/bin/sh").inode)
            #expect(try DiskEntry.read(root + "/zz-link").inode == DiskEntry.read(root + "/usr/lib/libbig.so").inode)
            #expect(try DiskEntry.read(root + "/usr/bin/sh").inode != DiskEntry.read(root + "/usr/lib/libbig.so").inode)
        }
    }

    @Test func nodeTimesAndNoOwnersWhenAsked() throws {
        try TemporaryDirectory.withSync { dir in
            let spill = try SpillStore(directory: dir.path)
            let tree = try sampleTree(spill: spill)
            let root = dir.file("root")
            try FileManager.default.createDirectory(atPath: root, withIntermediateDirectories: true)  // empty is fine
            let report = try tree.materialize(into: root, options: .init(applyOwners: false, createDevices: false))
            #expect(report.skippedSpecialFiles == ["dev/loop0", "dev/null"])
            // As root: libbig.so (1000:1000), etc/shadow (gid 42), usr/bin/wall (gid 5). Otherwise every node we own.
            #expect(report.ownerChangesSkipped == (Self.isRoot ? 3 : tree.count - 4))  // not: 2 skipped devices, 2 hardlinks
            try expectMatches(tree, root, mtime: nil, owners: false, skipped: ["dev/loop0", "dev/null"])
            #expect(try DiskEntry.read(root + "/usr/lib/libbig.so").mtime == 1_600_000_000)
            #expect(try DiskEntry.read(root + "/usr/lib/libbig.so").uid == Int(geteuid()))
        }
    }

    @Test func readOnlyDirectoriesGetTheirModeAfterTheirChildren() throws {
        try TemporaryDirectory.withSync { dir in
            var tree = FileTree()
            try tree.insert("a", .directory(mode: 0o555))
            try tree.insert("a/b", .directory(mode: 0o555))
            try tree.insert("a/b/c", .file(Array("deep".utf8), mode: 0o444))
            try tree.insert("a/b/d", .directory(mode: 0o000))
            try tree.insert("a/z", .symlink(to: "b/c"))
            let root = dir.file("root")
            try tree.materialize(into: root, options: .init(applyOwners: false))
            #expect(try DiskEntry.read(root + "/a").mode == 0o555)
            #expect(try DiskEntry.read(root + "/a/b").mode == 0o555)
            #expect(try DiskEntry.read(root + "/a/b/d").mode == 0)
            #expect(try String(contentsOfFile: root + "/a/z", encoding: .utf8) == "deep")
            // Let the scratch directory be removed.
            chmod(root + "/a/b/d", 0o755)
            chmod(root + "/a/b", 0o755)
            chmod(root + "/a", 0o755)
        }
    }

    @Test func refusesARootThatIsNotAnEmptyDirectory() throws {
        try TemporaryDirectory.withSync { dir in
            var tree = FileTree()
            try tree.insert("x", .file([1]))
            let full = dir.file("full")
            try FileManager.default.createDirectory(atPath: full, withIntermediateDirectories: true)
            try Data([1]).write(to: URL(fileURLWithPath: full + "/.hidden"))
            let error = try #require(throws: LaminaError.self) { try tree.materialize(into: full) }
            #expect(error.code == .unsafePath)
            #expect(error.message.contains("must be empty or absent") && error.message.contains("'.hidden'"))

            try Data([1]).write(to: URL(fileURLWithPath: dir.file("file")))
            #expect(throws: LaminaError.self) { try tree.materialize(into: dir.file("file")) }

            // A second materialize into the same folder is refused rather than merged.
            try tree.materialize(into: dir.file("once"))
            #expect(throws: LaminaError.self) { try tree.materialize(into: dir.file("once")) }
        }
    }

    /// A FileTree follows parent symlinks inside the root when it is built, so a link to an
    /// absolute path redirects later entries *into* the root, never out of it.
    @Test func treeSymlinksRedirectInsideTheRootOnly() throws {
        try TemporaryDirectory.withSync { dir in
            let outside = dir.file("outside")
            try FileManager.default.createDirectory(atPath: outside, withIntermediateDirectories: true)
            var tree = FileTree()
            try tree.insert("a", .symlink(to: outside))
            try tree.insert("a/b", .file(Array("pwned".utf8)))
            let root = dir.file("root")
            try tree.materialize(into: root)
            #expect(try FileManager.default.contentsOfDirectory(atPath: outside).isEmpty)
            #expect(try String(contentsOfFile: root + outside + "/b", encoding: .utf8) == "pwned")
            #expect(try DiskEntry.read(root + "/a").linkTarget == outside)

            var escaping = FileTree()
            try escaping.insert("a", .symlink(to: "../../"))
            let error = try #require(throws: LaminaError.self) { try escaping.insert("a/b", .file([1])) }
            #expect(error.code == .unsafePath)
        }
    }

    struct HostileCase: CustomTestStringConvertible, Sendable {
        var name: String
        var entries: @Sendable (String) -> [(String, FileNode)]
        var testDescription: String { name }
    }

    static let hostile: [HostileCase] = [
        HostileCase(name: "symlink to an absolute folder, then a file below it") { outside in
            [("a", .symlink(to: outside)), ("a/b", .file(Array("pwned".utf8)))]
        },
        HostileCase(name: "symlink to ../../, then a file below it") { _ in
            [("a", .symlink(to: "../../")), ("a/b", .file(Array("pwned".utf8)))]
        },
        HostileCase(name: "symlink to ../.., then a directory and a file below it") { _ in
            [("d", .directory()), ("d/up", .symlink(to: "../..")), ("d/up/x", .directory()), ("d/up/x/f", .file([1]))]
        },
        HostileCase(name: "a '..' name") { _ in [("../escape", .file([1]))] },
        HostileCase(name: "an absolute name") { outside in [(outside + "/abs", .file([1]))] },
        HostileCase(name: "an empty component") { _ in [("a//b", .file([1]))] },
        HostileCase(name: "hardlink to a path through a symlink") { outside in
            [("a", .symlink(to: outside)), ("f", .file([1])), ("h", FileNode(kind: .hardLink, mode: 0o644, linkTarget: "a/victim"))]
        },
        HostileCase(name: "hardlink target with '..'") { _ in
            [("h", FileNode(kind: .hardLink, mode: 0o644, linkTarget: "../outside/victim"))]
        },
        HostileCase(name: "hardlink to an absolute target") { outside in
            [("h", FileNode(kind: .hardLink, mode: 0o644, linkTarget: outside + "/victim"))]
        },
    ]

    @Test(arguments: hostile)
    func hostileEntriesAreRefusedAndWriteNothingOutside(_ test: HostileCase) throws {
        try TemporaryDirectory.withSync { dir in
            // root = dir/x/y/root, so "../../" from root/a is still inside dir, where we can check.
            let outside = dir.file("outside")
            try FileManager.default.createDirectory(atPath: outside, withIntermediateDirectories: true)
            try Data("keep".utf8).write(to: URL(fileURLWithPath: outside + "/victim"))
            let root = dir.file("x/y/root")
            let error = try #require(throws: LaminaError.self) {
                try Materializer.run(test.entries(outside), into: root, options: .init())
            }
            #expect(error.code == .unsafePath || error.code == .notFound, "\(error)")
            #expect(try FileManager.default.contentsOfDirectory(atPath: outside) == ["victim"])
            #expect(try String(contentsOfFile: outside + "/victim", encoding: .utf8) == "keep")
            #expect(try FileManager.default.contentsOfDirectory(atPath: dir.file("x")) == ["y"])
            #expect(try FileManager.default.contentsOfDirectory(atPath: dir.file("x/y")) == ["root"])
            #expect(try DiskEntry.read(outside + "/victim").inode != 0)
            var info = stat()
            lstat(outside + "/victim", &info)
            #expect(info.st_nlink == 1, "no hardlink was made to a file outside the root")
        }
    }

    @Test func hardlinkToAMissingOrNonRegularTargetIsRefused() throws {
        try TemporaryDirectory.withSync { dir in
            var tree = FileTree()
            try tree.insert("d", .directory())
            try tree.insert("h", FileNode(kind: .hardLink, mode: 0o644, linkTarget: "d"))
            let error = try #require(throws: LaminaError.self) { try tree.materialize(into: dir.file("root")) }
            #expect(error.code == .notFound)
            #expect(error.message.contains("hardlink 'h' points to 'd'"))
        }
    }
}
