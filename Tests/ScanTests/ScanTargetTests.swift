import Foundation
import LaminaCore
import Scan
import TestSupport
import Testing

/// Reading the installed database out of root folders, root tarballs and docker-archives.
@Suite(.enabled(if: SharedTestData.isAvailable && FileManager.default.isExecutableFile(atPath: "/usr/bin/tar"), "needs ../shared/testdata and tar"))
struct ScanTargetTests {
    static let database = SharedTestData.path("derived/minirootfs-3.20.3-x86_64/lib/apk/db/installed")

    func write(_ path: String, _ data: Data) throws {
        try FileManager.default.createDirectory(atPath: (path as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
        try data.write(to: URL(fileURLWithPath: path))
    }

    /// A root whose `lib/apk` is an absolute symlink to `/usr/lib/apk` (apk-tools 3 layout): followed inside the root.
    func makeRoot(_ dir: TemporaryDirectory) throws -> String {
        let root = dir.file("root")
        try write(root + "/usr/lib/apk/db/installed", Data(contentsOf: URL(fileURLWithPath: Self.database)))
        try FileManager.default.createDirectory(atPath: root + "/lib", withIntermediateDirectories: true)
        try FileManager.default.createSymbolicLink(atPath: root + "/lib/apk", withDestinationPath: "/usr/lib/apk")
        return root
    }

    @Test func rootFolderFollowsSymlinksInsideTheRoot() throws {
        try TemporaryDirectory.withSync { dir in
            let root = try makeRoot(dir)
            let installed = try ScanTarget.load(root)
            #expect(installed.packages.count == 14)
            #expect(installed.location == root + "/usr/lib/apk/db/installed")
            #expect(installed.packages.contains(ScannedPackage(name: "libssl3", version: "3.3.2-r0", origin: "openssl")))

            // A link that leaves the root is resolved against the root, never the host.
            let hostile = dir.file("hostile")
            try FileManager.default.createDirectory(atPath: hostile + "/lib/apk", withIntermediateDirectories: true)
            try FileManager.default.createSymbolicLink(atPath: hostile + "/lib/apk/db", withDestinationPath: "/../../../../etc")
            try write(dir.file("etc/installed"), Data("P:evil\nV:1\n\n".utf8))
            let error = try #require(throws: LaminaError.self) { try ScanTarget.load(hostile) }
            #expect(error.code == .notFound && error.subject == hostile)
        }
    }

    @Test func rootTarballsPlainAndCompressed() throws {
        try TemporaryDirectory.withSync { dir in
            let root = try makeRoot(dir)
            for (name, flags) in [("root.tar", "cf"), ("root.tar.gz", "czf")] {
                let r = try CommandRunner.run("/usr/bin/tar", [flags, dir.file(name), "-C", root, "."])
                #expect(r.status == 0, "\(r.stderr)")
                let installed = try ScanTarget.load(dir.file(name))
                #expect(installed.packages.count == 14, "\(name)")
                #expect(installed.location == dir.file(name) + ":usr/lib/apk/db/installed")
            }
        }
    }

    /// A layer compressed as two gzip members back to back (as parallel compressors may write it) is read whole.
    @Test func multiMemberGzipTarball() throws {
        try TemporaryDirectory.withSync { dir in
            let root = try makeRoot(dir)
            #expect(try CommandRunner.run("/usr/bin/tar", ["cf", dir.file("root.tar"), "-C", root, "."]).status == 0)
            let script = "head -c 1024 root.tar | gzip -c > two.tar.gz && tail -c +1025 root.tar | gzip -c >> two.tar.gz"
            #expect(try CommandRunner.run("/bin/sh", ["-c", script], directory: dir.path).status == 0)
            #expect(try ScanTarget.load(dir.file("two.tar.gz")).packages.count == 14)
        }
    }

    /// A docker-archive (`manifest.json` + layer paths, no `index.json`) with an uncompressed layer.
    @Test func dockerArchiveWithAPlainLayer() throws {
        try TemporaryDirectory.withSync { dir in
            let root = try makeRoot(dir)
            let archive = dir.file("archive")
            try FileManager.default.createDirectory(atPath: archive + "/abc", withIntermediateDirectories: true)
            #expect(try CommandRunner.run("/usr/bin/tar", ["cf", archive + "/abc/layer.tar", "-C", root, "."]).status == 0)
            try write(archive + "/manifest.json", Data(#"[{"Config":"abc.json","RepoTags":["x:1"],"Layers":["abc/layer.tar"]}]"#.utf8))
            try write(archive + "/abc.json", Data("{}".utf8))
            #expect(try CommandRunner.run("/usr/bin/tar", ["cf", dir.file("image.tar"), "-C", archive, "."]).status == 0)
            let installed = try ScanTarget.load(dir.file("image.tar"))
            #expect(installed.packages.count == 14)
            #expect(installed.location == dir.file("image.tar") + ":abc/layer.tar:usr/lib/apk/db/installed")
            #expect(installed.platform == nil)
        }
    }

    @Test func missingAndMalformedTargets() throws {
        try TemporaryDirectory.withSync { dir in
            let none = try #require(throws: LaminaError.self) { try ScanTarget.load(dir.file("nothing")) }
            #expect(none.code == .notFound && none.subject == dir.file("nothing"))
            let empty = try #require(throws: LaminaError.self) { try ScanTarget.load(dir.path) }
            #expect(empty.code == .notFound && empty.message.contains("lib/apk/db/installed"))
            try write(dir.file("installed"), Data("P:a\nV:1.0-r0\nnot a field\n".utf8))
            let bad = try #require(throws: LaminaError.self) { try ScanTarget.load(dir.file("installed")) }
            #expect(bad.code == .malformed && bad.description.contains(dir.file("installed")) && bad.description.contains("line 3"))
        }
    }
}
