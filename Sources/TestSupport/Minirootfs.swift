import APK
import Foundation
import LaminaCore

/// The Alpine 3.20.3 minirootfs of the shared test data (real musl and busybox), and the one way the tests and
/// benchmarks split it into package folders for a repository.
public enum Minirootfs {
    /// `alpine-minirootfs-3.20.3-x86_64.tar.gz`, relative to ``SharedTestData/root``.
    public static let relativePath = "alpinelinux+docker-alpine/x86_64/alpine-minirootfs-3.20.3-x86_64.tar.gz"
    /// The tarball, absolute.
    public static let tarball = SharedTestData.path(relativePath)
    /// Whether the tarball is present.
    public static var isAvailable: Bool { FileManager.default.fileExists(atPath: tarball) }

    /// How the minirootfs becomes packages. Every split leaves out `etc/apk` and `lib/apk` (the installer writes them).
    public enum Split: Sendable {
        /// One package, `alpine-base`, of everything (it provides `cmd:sh`, busybox and musl's soname).
        case whole
        /// `musl` (loader and libc), `busybox` (the binary and its applet links, depends on musl) and `alpine-base`
        /// (the rest, depends on both).
        case muslBusybox
        /// The packages of its `lib/apk/db/installed` (names, versions, dependencies, provides and file lists from
        /// there), plus `busybox-links` for the applet links busybox's trigger made, which no package owns.
        case installedDatabase
    }

    /// Unpacks the tarball (with `tar`) into `directory`, which is created.
    /// - Throws: `LaminaError(.io)` when tar fails.
    public static func unpack(into directory: String) throws {
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let untar = try CommandRunner.run("/bin/tar", ["-xzf", tarball, "-C", directory])
        guard untar.status == 0 else { throw LaminaError(.io, "tar -x minirootfs failed: \(untar.stderr)") }
    }

    /// Unpacks the minirootfs under `work/rootfs` and stages the packages of `split` as folders `work/stage/<name>`.
    /// - Returns: the packages, in a stable order, each with its ``TestPackage/directory`` set (for
    ///   ``SignedRepository/make(at:packages:architecture:signIndex:)`` or `lamina package create`).
    /// - Throws: when unpacking or copying fails, or the minirootfs is not what the split expects.
    public static func stage(_ split: Split, in work: String) throws -> [TestPackage] {
        let rootfs = work + "/rootfs"
        let stage = work + "/stage"
        try unpack(into: rootfs)
        for generated in ["etc/apk", "lib/apk"] where split != .installedDatabase {
            try FileManager.default.removeItem(atPath: "\(rootfs)/\(generated)")
        }
        switch split {
        case .whole:
            let base = TestPackage(
                "alpine-base", "3.20.3-r0", provides: ["cmd:sh", "busybox=1.36.1-r29", "so:libc.musl-x86_64.so.1=1"],
                directory: rootfs)
            return [base]
        case .muslBusybox:
            return try stageMuslBusybox(rootfs: rootfs, stage: stage)
        case .installedDatabase:
            return try stageInstalledDatabase(rootfs: rootfs, stage: stage)
        }
    }

    /// Moves (or copies) `relative` of `root` to the same place under `destination`, keeping links as links.
    static func place(_ relative: String, from root: String, into destination: String, move: Bool) throws {
        let manager = FileManager.default
        let target = destination + "/" + relative
        try manager.createDirectory(atPath: (target as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
        let source = root + "/" + relative
        if move {
            try manager.moveItem(atPath: source, toPath: target)
        } else if let link = try? manager.destinationOfSymbolicLink(atPath: source) {
            try manager.createSymbolicLink(atPath: target, withDestinationPath: link)
        } else {
            try manager.copyItem(atPath: source, toPath: target)
        }
    }

    static func stageMuslBusybox(rootfs: String, stage: String) throws -> [TestPackage] {
        let manager = FileManager.default
        var moves: [(relative: String, package: String)] = []
        for case let relative as String in manager.enumerator(atPath: rootfs) ?? .init() {
            if relative.hasPrefix("lib/ld-musl-") || relative.hasPrefix("lib/libc.musl-") {
                moves.append((relative, "musl"))
            } else if relative == "bin/busybox"
                || (try? manager.destinationOfSymbolicLink(atPath: rootfs + "/" + relative)) == "/bin/busybox"
            {
                moves.append((relative, "busybox"))
            }
        }
        guard moves.count > 300 else {
            throw LaminaError(.notFound, "minirootfs split found only \(moves.count) musl/busybox files")
        }
        for name in ["musl", "busybox"] {
            try manager.createDirectory(atPath: stage + "/" + name, withIntermediateDirectories: true)
        }
        for move in moves { try place(move.relative, from: rootfs, into: stage + "/" + move.package, move: true) }
        try manager.moveItem(atPath: rootfs, toPath: stage + "/alpine-base")
        return [
            TestPackage("musl", "1.2.5-r0", directory: stage + "/musl"),
            TestPackage("busybox", "1.36.1-r29", depends: ["musl"], directory: stage + "/busybox"),
            TestPackage("alpine-base", "3.20.3-r0", depends: ["busybox", "musl"], directory: stage + "/alpine-base"),
        ]
    }

    static func stageInstalledDatabase(rootfs: String, stage: String) throws -> [TestPackage] {
        let manager = FileManager.default
        let text = try String(contentsOfFile: rootfs + "/lib/apk/db/installed", encoding: .utf8)
        let database = try InstalledDatabase.parse(text)
        var owned: Set<String> = []
        var packages: [TestPackage] = []
        for entry in database.packages {
            let info = entry.info
            let folder = stage + "/" + info.name
            try manager.createDirectory(atPath: folder, withIntermediateDirectories: true)
            for directory in entry.directories {
                let target = folder + "/" + directory.path
                try manager.createDirectory(atPath: target, withIntermediateDirectories: true)
                // dev/pts and the like are listed but not in the tarball.
                if let mode = (try? manager.attributesOfItem(atPath: rootfs + "/" + directory.path))?[.posixPermissions] {
                    try manager.setAttributes([.posixPermissions: mode], ofItemAtPath: target)
                }
                for file in directory.files {
                    let relative = directory.path.isEmpty ? file.name : directory.path + "/" + file.name
                    try place(relative, from: rootfs, into: folder, move: false)
                    owned.insert(relative)
                }
            }
            packages.append(
                TestPackage(
                    info.name, info.version, depends: info.depends.map(\.description),
                    provides: info.provides.map(\.description), directory: folder))
        }
        // What no package owns: the applet links busybox's trigger made.
        var links: [String] = []
        for case let relative as String in manager.enumerator(atPath: rootfs) ?? .init() {
            guard !owned.contains(relative), !relative.hasPrefix("lib/apk/"), !relative.hasPrefix("etc/apk/") else { continue }
            var isDirectory: ObjCBool = false
            let isLink = (try? manager.destinationOfSymbolicLink(atPath: rootfs + "/" + relative)) != nil
            if isLink || (manager.fileExists(atPath: rootfs + "/" + relative, isDirectory: &isDirectory) && !isDirectory.boolValue) {
                links.append(relative)
            }
        }
        let linksFolder = stage + "/busybox-links"
        try manager.createDirectory(atPath: linksFolder, withIntermediateDirectories: true)
        for relative in links.sorted() { try place(relative, from: rootfs, into: linksFolder, move: false) }
        packages.append(TestPackage("busybox-links", "1.36.1-r29", depends: ["busybox"], directory: linksFolder))
        return packages
    }
}
