import APK
import Foundation
import TestSupport
import Testing

/// `lamina package create --trigger-paths` writes `triggers` into .PKGINFO next to the `.trigger` script.
@Suite struct PackageTriggerTests {
    func makeTree(_ dir: TemporaryDirectory) throws -> (root: String, script: String) {
        let root = dir.file("root")
        try FileManager.default.createDirectory(atPath: root + "/usr/share/fonts", withIntermediateDirectories: true)
        try Data("font".utf8).write(to: URL(fileURLWithPath: root + "/usr/share/fonts/a.ttf"))
        let script = dir.file("fc.trigger")
        try Data("#!/bin/sh\nfc-cache -f\n".utf8).write(to: URL(fileURLWithPath: script))
        return (root, script)
    }

    @Test func triggerPathsRoundTripThroughPKGINFO() throws {
        try TemporaryDirectory.withSync { dir in
            let (root, script) = try makeTree(dir)
            let apk = dir.file("fonts-1.0-r0.apk")
            let r = try CommandRunner.lamina(
                ["package", "create", root, "--name", "fonts", "--version", "1.0-r0", "--arch", "x86_64", "-o", apk,
                 "--script", "trigger=\(script)", "--trigger-paths", "/usr/share/fonts/* /usr/share/X11/fonts/*",
                 "--trigger-paths", "/usr/lib/fonts,/usr/share/fonts/*", "--log-level", "error"])
            #expect(r.status == 0, "\(r.stderr)")
            let archive = try PackageReader().read(path: apk)
            #expect(archive.info.triggers == ["/usr/share/fonts/*", "/usr/share/X11/fonts/*", "/usr/lib/fonts"])
            let pkginfo = try CommandRunner.run("/bin/tar", ["-xzOf", apk, ".PKGINFO"]).stdout
            #expect(pkginfo.contains("\ntriggers = /usr/share/fonts/* /usr/share/X11/fonts/* /usr/lib/fonts\n"))
            let trigger = try #require(archive.controlFiles.first { $0.entry.path == ".trigger" })
            #expect(trigger.bytes == Array("#!/bin/sh\nfc-cache -f\n".utf8))
            #expect(trigger.entry.mode == 0o755)

            let info = try CommandRunner.lamina(["package", "info", apk, "--json"])
            let json = try #require(try JSONSerialization.jsonObject(with: Data(info.stdout.utf8)) as? [String: Any])
            #expect(json["triggers"] as? [String] == ["/usr/share/fonts/*", "/usr/share/X11/fonts/*", "/usr/lib/fonts"])
        }
    }

    @Test func aTriggerScriptWithoutPathsIsRefused() throws {
        try TemporaryDirectory.withSync { dir in
            let (root, script) = try makeTree(dir)
            let apk = dir.file("fonts.apk")
            let r = try CommandRunner.lamina(
                ["package", "create", root, "--name", "fonts", "--version", "1.0", "-o", apk, "--script", "trigger=\(script)"])
            #expect(r.status != 0)
            #expect(r.stderr.contains("a trigger script needs the paths that fire it: add --trigger-paths"), "\(r.stderr)")
            #expect(!FileManager.default.fileExists(atPath: apk))

            let relative = try CommandRunner.lamina(
                ["package", "create", root, "--name", "fonts", "--version", "1.0", "-o", apk, "--script", "trigger=\(script)",
                 "--trigger-paths", "usr/share/fonts/*"])
            #expect(relative.status != 0)
            #expect(relative.stderr.contains("trigger path 'usr/share/fonts/*' must be absolute"), "\(relative.stderr)")
            #expect(!FileManager.default.fileExists(atPath: apk))
        }
    }
}
