import APK
import Archive
import Foundation
import LaminaCore
import RootFS
import TestSupport
import Testing

/// The installed database we write equals, byte for byte, what apk-tools 2.14.10 wrote when it
/// installed the same two packages (`apk add --root R --initdb --no-scripts hi`); the expected text
/// below was captured from that run (the packages are deterministic: same files, same epoch; only the
/// `.apk` file sizes depend on the signing key, so `S:` is filled in from the files written here).
@Suite struct ApkToolsDatabaseTests {
    static let expected = """
        C:Q1rE9ywh98xcTd2gp3nIn8xH7ZR28=
        P:busybox
        V:1.36.1-r0
        A:x86_64
        S:BUSYBOX_SIZE
        I:0
        T:
        U:
        L:
        o:busybox
        t:1700000000

        C:Q1pvR5yQLtjaXpn1X3kxUU+dtvb/g=
        P:hi
        V:2.1-r3
        A:x86_64
        S:HI_SIZE
        I:22
        T:says hi
        U:https://example.invalid/hi
        L:MIT
        o:hi
        t:1700000000
        D:busybox
        F:etc
        F:etc/conf.d
        R:hi
        a:0:0:600
        Z:Q1ddFVdxxninTO+M4pj5t1LMEMXXA=
        F:usr
        F:usr/bin
        R:hey
        a:0:0:777
        Z:Q1witfkXg0JglCjW9RssWvTAveakI=
        R:hi
        a:0:0:755
        Z:Q1srYsEBoVb18S3XGXz3rpQkFksRU=


        """

    @Test func installedDatabaseMatchesApkTools() throws {
        try TemporaryDirectory.withSync { dir in
            let fm = FileManager.default
            let src = dir.file("hi"), empty = dir.file("busybox")
            try fm.createDirectory(atPath: src + "/usr/bin", withIntermediateDirectories: true, attributes: [.posixPermissions: 0o755])
            try fm.createDirectory(atPath: src + "/etc/conf.d", withIntermediateDirectories: true, attributes: [.posixPermissions: 0o755])
            for d in ["/usr", "/etc"] { chmod(src + d, 0o755) }
            try fm.createDirectory(atPath: empty, withIntermediateDirectories: true)
            try Data("#!/bin/sh\necho hi\n".utf8).write(to: URL(fileURLWithPath: src + "/usr/bin/hi"))
            chmod(src + "/usr/bin/hi", 0o755)
            try Data("x=1\n".utf8).write(to: URL(fileURLWithPath: src + "/etc/conf.d/hi"))
            chmod(src + "/etc/conf.d/hi", 0o600)
            try fm.createSymbolicLink(atPath: src + "/usr/bin/hey", withDestinationPath: "hi")
            let clock = BuildClock(epoch: 1_700_000_000)
            let key = TestKey.shared
            var hi = PackageInfo(name: "hi", version: "2.1-r3", arch: "x86_64", description: "says hi", url: "https://example.invalid/hi", license: "MIT", origin: "hi")
            hi.depends = [try Dependency(parsing: "busybox")]
            let busybox = PackageInfo(name: "busybox", version: "1.36.1-r0", arch: "x86_64", origin: "busybox")
            try PackageWriter(info: busybox, clock: clock, signingKeys: [key]).write(directory: empty, to: dir.file("busybox.apk"))
            try PackageWriter(info: hi, clock: clock, signingKeys: [key]).write(directory: src, to: dir.file("hi.apk"))
            var builder = try RootFSBuilder(spillDirectory: dir.path)
            try builder.install(packageAt: dir.file("busybox.apk"))
            try builder.install(packageAt: dir.file("hi.apk"))
            func size(_ path: String) throws -> String { String(try fm.attributesOfItem(atPath: path)[.size] as! Int) }
            let expected = Self.expected.replacingOccurrences(of: "BUSYBOX_SIZE", with: try size(dir.file("busybox.apk")))
                .replacingOccurrences(of: "HI_SIZE", with: try size(dir.file("hi.apk")))
            #expect(InstalledDatabase(packages: builder.installed).render() == expected)
        }
    }
}
