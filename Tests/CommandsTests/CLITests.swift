import Foundation
import TestSupport
import Testing

/// End-to-end tests of the `lamina` binary: real processes, real files, real peer tools.
@Suite struct CLITests {
    @Test func keygenWritesKeysOpenSSLAccepts() throws {
        try TemporaryDirectory.withSync { dir in
            let key = dir.file("melange.rsa")
            let r = try CommandRunner.lamina(["keygen", key, "--bits", "2048"])
            #expect(r.status == 0, "\(r.stderr)")
            let attributes = try FileManager.default.attributesOfItem(atPath: key)
            #expect((attributes[.posixPermissions] as? Int) == 0o600)
            #expect(try String(contentsOfFile: key, encoding: .utf8).hasPrefix("-----BEGIN RSA PRIVATE KEY-----"))
            #expect(try String(contentsOfFile: key + ".pub", encoding: .utf8).hasPrefix("-----BEGIN PUBLIC KEY-----"))
            let check = try CommandRunner.run("/usr/bin/openssl", ["rsa", "-check", "-noout", "-in", key])
            #expect(check.status == 0 && check.stdout.contains("RSA key ok"), "\(check.stdout)\(check.stderr)")
            let pub = try CommandRunner.run("/usr/bin/openssl", ["rsa", "-pubin", "-in", key + ".pub", "-noout", "-text"])
            #expect(pub.status == 0 && pub.stdout.contains("2048 bit"))

            // No silent overwrite.
            let again = try CommandRunner.lamina(["keygen", key, "--bits", "2048"])
            #expect(again.status == 1)
            #expect(again.stderr == "error: \(key): already exists; use --force to overwrite\n")
            #expect(try CommandRunner.lamina(["keygen", key, "--bits", "2048", "--force"]).status == 0)
            #expect(try CommandRunner.lamina(["keygen", dir.file("small"), "--bits", "1024"]).status == 1)
        }
    }

    @Test func createIndexVerifyInfo() throws {
        try TemporaryDirectory.withSync { dir in
            let key = dir.file("melange.rsa")
            #expect(try CommandRunner.lamina(["keygen", key, "--bits", "2048"]).status == 0)
            let root = dir.file("root")
            try FileManager.default.createDirectory(atPath: root + "/usr/bin", withIntermediateDirectories: true)
            try Data("#!/bin/sh\necho hi\n".utf8).write(to: URL(fileURLWithPath: root + "/usr/bin/hi"))
            let apk = dir.file("hi-1.0-r0.apk")
            let env = ["SOURCE_DATE_EPOCH": "1700000000"]
            let create = try CommandRunner.lamina(
                ["package", "create", root, "--name", "hi", "--version", "1.0", "--arch", "amd64", "--dep", "busybox", "--provides", "cmd:hi=1.0-r0",
                 "-o", apk, "--signing-key", key], environment: env)
            #expect(create.status == 0, "\(create.stderr)")
            let first = try Data(contentsOf: URL(fileURLWithPath: apk))
            #expect(try CommandRunner.lamina(["package", "create", root, "--name", "hi", "--version", "1.0", "--arch", "x86_64", "--dep", "busybox",
                                              "--provides", "cmd:hi=1.0-r0", "-o", apk, "--signing-key", key], environment: env).status == 0)
            #expect(try Data(contentsOf: URL(fileURLWithPath: apk)) == first, "same inputs, same bytes")

            let index = dir.file("APKINDEX.tar.gz")
            #expect(try CommandRunner.lamina(["package", "index", apk, "-o", index, "--signing-key", key]).status == 0)
            let verify = try CommandRunner.lamina(["package", "verify", "--keyring", key + ".pub", apk, index])
            #expect(verify.status == 0, "\(verify.stdout)\(verify.stderr)")
            #expect(verify.stdout == "\(apk): OK\n\(index): OK\n")

            let untrusted = try CommandRunner.lamina(["package", "verify", apk, "--log-level", "error"])
            #expect(untrusted.status == 1)
            #expect(untrusted.stdout.contains("UNTRUSTED"))

            let info = try CommandRunner.lamina(["package", "info", apk, "--json"])
            #expect(info.status == 0)
            let json = try #require(try JSONSerialization.jsonObject(with: Data(info.stdout.utf8)) as? [String: Any])
            #expect(json["name"] as? String == "hi")
            #expect(json["version"] as? String == "1.0-r0")
            #expect(json["arch"] as? String == "x86_64")
            #expect(json["builddate"] as? Int == 1_700_000_000)
            #expect(json["depends"] as? [String] == ["busybox"])
            let files = try #require(json["files"] as? [[String: Any]])
            #expect(files.map { $0["path"] as? String } == ["usr", "usr/bin", "usr/bin/hi"])
            let signatures = try #require(json["signatures"] as? [[String: Any]])
            #expect(signatures.first?["key"] as? String == "melange.rsa.pub")
        }
    }

    @Test(.enabled(if: SharedTestData.isAvailable, "needs ../shared/testdata"))
    func verifyRealFilesWithJSON() throws {
        let good = SharedTestData.path("chainguard-dev+apko/internal/cli/testdata/packages/x86_64/pretend-baselayout-1.0.0-r0.apk")
        let bad = SharedTestData.path("chainguard-dev+melange/pkg/sca/testdata/neon-4604-r0.apk")
        let r = try CommandRunner.lamina(
            ["package", "verify", "--json", "-k", SharedTestData.path("chainguard-dev+apko/internal/cli/testdata/melange.rsa.pub"),
             "-k", SharedTestData.path("keys/wolfi"), good, bad])
        #expect(r.status == 1)
        let results = try #require(try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [[String: Any]])
        #expect(results.map { $0["verdict"] as? String } == ["OK", "BAD signature"])
    }

    @Test func badInputGivesOneLineAndExitOne() throws {
        try TemporaryDirectory.withSync { dir in
            let missing = try CommandRunner.lamina(["package", "info", dir.file("nope.apk")])
            #expect(missing.status == 1)
            #expect(missing.stderr == "error: \(dir.file("nope.apk")): no such file\n")

            let garbage = dir.file("garbage.apk")
            try Data("this is not gzip".utf8).write(to: URL(fileURLWithPath: garbage))
            let r = try CommandRunner.lamina(["package", "info", garbage])
            #expect(r.status == 1)
            #expect(r.stderr.hasPrefix("error: \(garbage): "))
            #expect(r.stderr.split(separator: "\n").count == 1)

            let badArch = try CommandRunner.lamina(["package", "create", dir.path, "--name", "x", "--version", "1", "--arch", "sparc", "-o", dir.file("x.apk")])
            #expect(badArch.status == 1)
            #expect(badArch.stderr.contains("unknown architecture 'sparc'"))
            #expect(!FileManager.default.fileExists(atPath: dir.file("x.apk")))

            let badDep = try CommandRunner.lamina(["package", "create", dir.path, "--name", "x", "--version", "1", "--dep", "foo>=", "-o", dir.file("x.apk")])
            #expect(badDep.status == 1)
            #expect(badDep.stderr.contains("--dep") && badDep.stderr.contains("foo>="))
            let leftovers = try FileManager.default.contentsOfDirectory(atPath: dir.path).filter { $0.hasPrefix(".") }
            #expect(leftovers.isEmpty, "temp files left behind: \(leftovers)")

            let usage = try CommandRunner.lamina(["package", "create"])
            #expect(usage.status == 64)
        }
    }
}
