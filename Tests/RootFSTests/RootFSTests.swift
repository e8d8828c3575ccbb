import APK
import Archive
import Foundation
import LaminaCore
import RootFS
import TestSupport
import Testing

@Suite struct RootFSTests {
    static var key: SigningKey { TestKey.shared }

    /// Builds a package from `files` (path → content; a value starting with "->" makes a symlink).
    func makePackage(_ dir: TemporaryDirectory, name: String, version: String = "1.0-r0", files: [String: String],
                     replaces: [String] = [], origin: String? = nil, scripts: [String: String] = [:]) throws -> (String, PackageInfo) {
        let root = dir.file("src-\(name)-\(version)")
        for (path, content) in files {
            let full = root + "/" + path
            try FileManager.default.createDirectory(atPath: (full as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
            if content.hasPrefix("->") {
                try FileManager.default.createSymbolicLink(atPath: full, withDestinationPath: String(content.dropFirst(2)))
            } else {
                try Data(content.utf8).write(to: URL(fileURLWithPath: full))
            }
        }
        var info = PackageInfo(name: name, version: version, arch: "x86_64", origin: origin ?? name)
        info.replaces = try replaces.map { try Dependency(parsing: $0) }
        let out = dir.file("\(name)-\(version).apk")
        let written = try PackageWriter(info: info, scripts: scripts, clock: BuildClock(epoch: 0), signingKeys: [Self.key]).write(directory: root, to: out)
        return (out, written)
    }

    @Test func installsFilesAndWritesDatabase() throws {
        try TemporaryDirectory.withSync { dir in
            let (a, aInfo) = try makePackage(dir, name: "a", files: ["usr/bin/a": "A", "usr/bin/link": "->a", "etc/a.conf": "x=1"],
                                             scripts: ["post-install": "#!/bin/sh\ntrue\n"])
            var builder = try RootFSBuilder(spillDirectory: dir.path)
            try builder.install(packageAt: a, expected: aInfo)
            try builder.writeDatabase(.init(world: ["a"], repositories: ["/repo"], keys: [Self.key.keyName: Self.key.publicKey.pem], architecture: "x86_64"))
            let tree = builder.tree
            #expect(tree["usr/bin/link"]?.kind == .symbolicLink)
            #expect(tree["usr/bin/a"]?.content == .bytes(Array("A".utf8)) || tree["usr/bin/a"]?.content?.size == 1)
            let installed = String(decoding: try tree["lib/apk/db/installed"]!.content!.open().readAll(limit: 1 << 20), as: UTF8.self)
            let db = try InstalledDatabase.parse(installed)
            #expect(db.packages.count == 1)
            #expect(db.packages[0].info.checksum == aInfo.checksum)
            #expect(db.packages[0].filePaths.sorted() == ["etc/a.conf", "usr/bin/a", "usr/bin/link"])
            let link = db.packages[0].directories.first { $0.path == "usr/bin" }!.files.first { $0.name == "link" }!
            #expect(link.mode == 0o777)
            #expect(link.checksum == Hasher.digest(.sha1, Array("a".utf8)))
            let world = String(decoding: try tree["etc/apk/world"]!.content!.open().readAll(limit: 100), as: UTF8.self)
            #expect(world == "a\n")
            #expect(tree["etc/apk/keys/lamina-test.rsa.pub"] != nil)
            let scripts = try tree["lib/apk/db/scripts.tar"]!.content!.open().readAll(limit: 1 << 20)
            let reader = TarReader(MemorySource(scripts))
            #expect(try reader.next()?.path == "a-1.0-r0.\(aInfo.checksum!.apkIdentity).post-install")
        }
    }

    @Test func conflictingFilesNeedReplaces() throws {
        try TemporaryDirectory.withSync { dir in
            let (a, _) = try makePackage(dir, name: "a", files: ["etc/shared": "from a"])
            let (b, _) = try makePackage(dir, name: "b", files: ["etc/shared": "from b"])
            var builder = try RootFSBuilder(spillDirectory: dir.path)
            try builder.install(packageAt: a)
            let error = try #require(throws: LaminaError.self) { try builder.install(packageAt: b) }
            #expect(error.code == .conflict)
            #expect(error.message.contains("'etc/shared' owned by a-1.0-r0"))

            let (c, _) = try makePackage(dir, name: "c", files: ["etc/shared": "from c"], replaces: ["a"])
            var ok = try RootFSBuilder(spillDirectory: dir.path)
            try ok.install(packageAt: a)
            try ok.install(packageAt: c)
            #expect(try ok.tree["etc/shared"]!.content!.open().readAll(limit: 100) == Array("from c".utf8))
            #expect(ok.installed[0].filePaths.isEmpty)
            #expect(ok.installed[1].filePaths == ["etc/shared"])

            // Identical content may be shared, as apko allows.
            let (d, _) = try makePackage(dir, name: "d", files: ["etc/shared": "from a"])
            var same = try RootFSBuilder(spillDirectory: dir.path)
            try same.install(packageAt: a)
            try same.install(packageAt: d)
        }
    }

    @Test func identityMustMatchIndex() throws {
        try TemporaryDirectory.withSync { dir in
            let (a, _) = try makePackage(dir, name: "a", files: ["x": "1"])
            var wrong = PackageInfo(name: "a", version: "1.0-r0")
            wrong.checksum = Hasher.digest(.sha1, [1, 2, 3])
            var builder = try RootFSBuilder(spillDirectory: dir.path)
            let error = try #require(throws: LaminaError.self) { try builder.install(packageAt: a, expected: wrong) }
            #expect(error.code == .checksumMismatch)
        }
    }

    @Test func parentSymlinksAreFollowedInsideTheRoot() throws {
        var tree = FileTree()
        try tree.insert("usr/lib", .directory())
        try tree.insert("lib", .symlink(to: "usr/lib"))
        let (real, _) = try tree.insert("lib/libc.so", .file([1]))
        #expect(real == "usr/lib/libc.so")
        try tree.insert("evil", .symlink(to: "../../.."))
        #expect(throws: LaminaError.self) { try tree.insert("evil/etc/passwd", .file([1])) }
        try tree.insert("abs", .symlink(to: "/usr"))
        #expect(try tree.insert("abs/x", .file([2])).path == "usr/x")
    }

    @Test func layerOrderAndHardlinks() throws {
        var tree = FileTree()
        try tree.insert("b/z", .file(Array("data".utf8)))
        try tree.insert("a-b", .file([]))
        try tree.insert("b/a", FileNode(kind: .hardLink, mode: 0o644, linkTarget: "b/z"))
        try tree.insert("a/x", .file([]))
        #expect(tree.sortedPaths == ["a", "a/x", "a-b", "b", "b/a", "b/z"])
        let sink = MemorySink()
        try tree.writeTar(to: TarWriter(sink), modificationTime: 7)
        let reader = TarReader(MemorySource(sink.bytes))
        var entries: [TarEntry] = []
        while let e = try reader.next() { entries.append(e) }
        #expect(entries[4].path == "b/a" && entries[4].kind == .regular && entries[4].size == 4)
        #expect(entries[5].path == "b/z" && entries[5].kind == .hardLink && entries[5].linkTarget == "b/a")
        #expect(entries.allSatisfy { $0.modificationTime == 7 })
    }
}

@Suite struct RootFSTriggerTests {
    @Test func triggersAreRecordedInTheDatabase() throws {
        try TemporaryDirectory.withSync { dir in
            let src = dir.file("src")
            try FileManager.default.createDirectory(atPath: src + "/usr/share/fonts", withIntermediateDirectories: true)
            try Data("font".utf8).write(to: URL(fileURLWithPath: src + "/usr/share/fonts/a.ttf"))
            var info = PackageInfo(name: "fonts", version: "1.0-r0", arch: "x86_64")
            info.triggers = ["/usr/share/fonts/*", "/usr/lib/fonts"]
            let apk = dir.file("fonts.apk")
            let written = try PackageWriter(info: info, scripts: ["trigger": "#!/bin/sh\nfc-cache\n"], clock: BuildClock(epoch: 0), signingKeys: [])
                .write(directory: src, to: apk)
            let plain = dir.file("plain.apk")
            try PackageWriter(info: PackageInfo(name: "plain", version: "1-r0", arch: "x86_64"), clock: BuildClock(epoch: 0), signingKeys: [])
                .write(directory: src, to: plain)
            var builder = try RootFSBuilder(spillDirectory: dir.path)
            try builder.install(packageAt: plain)
            try builder.install(packageAt: apk)
            #expect(builder.installed[1].info.triggers == ["/usr/share/fonts/*", "/usr/lib/fonts"])
            try builder.writeDatabase(.init(world: ["fonts"], repositories: [], keys: [:], architecture: "x86_64"))
            let triggers = String(decoding: try builder.tree["lib/apk/db/triggers"]!.content!.open().readAll(limit: 1 << 16), as: UTF8.self)
            #expect(triggers == "\(written.checksum!.apkIdentity) /usr/share/fonts/* /usr/lib/fonts\n")
            let installed = String(decoding: try builder.tree["lib/apk/db/installed"]!.content!.open().readAll(limit: 1 << 20), as: UTF8.self)
            #expect(try InstalledDatabase.parse(installed).packages.count == 2)
            let scripts = TarReader(MemorySource(try builder.tree["lib/apk/db/scripts.tar"]!.content!.open().readAll(limit: 1 << 20)))
            #expect(try scripts.next()?.path == "fonts-1.0-r0.\(written.checksum!.apkIdentity).trigger")
        }
    }
}
