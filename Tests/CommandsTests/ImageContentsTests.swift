import Foundation
import TestSupport
import Testing

/// `lamina image lock / show-packages / build-minirootfs` against apko's own test repository,
/// run from apko's `internal/cli` folder as its configs expect (`./testdata/...`).
@Suite(.enabled(if: SharedTestData.isAvailable, "needs ../shared/testdata"))
struct ImageContentsTests {
    static let apkoCLI = SharedTestData.path("chainguard-dev+apko/internal/cli")

    func lamina(_ args: [String], cache: String, env: [String: String] = [:]) throws -> CommandResult {
        try CommandRunner.lamina(args + ["--cache-dir", cache], environment: env, directory: Self.apkoCLI)
    }

    @Test func lockMatchesApkosOwnLockFile() throws {
        try TemporaryDirectory.withSync { dir in
            let out = dir.file("apko.lock.json")
            let r = try lamina(["image", "lock", "testdata/apko.yaml", "-o", out], cache: dir.file("cache"))
            #expect(r.status == 0, "\(r.stderr)")
            let ours = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: out))) as! [String: Any]
            let apko = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: Self.apkoCLI + "/testdata/apko.lock.json"))) as! [String: Any]
            #expect((ours["config"] as! [String: String]) == (apko["config"] as! [String: String]))
            let ourContents = ours["contents"] as! [String: Any], apkoContents = apko["contents"] as! [String: Any]
            func sorted(_ list: [[String: Any]]) -> [[String: Any]] {
                list.sorted { "\($0["architecture"]!)/\($0["name"]!)" < "\($1["architecture"]!)/\($1["name"]!)" }
            }
            let ourPackages = sorted(ourContents["packages"] as! [[String: Any]]), apkoPackages = sorted(apkoContents["packages"] as! [[String: Any]])
            #expect(ourPackages.count == apkoPackages.count)
            for (a, b) in zip(ourPackages, apkoPackages) {
                for key in ["name", "url", "version", "architecture", "checksum"] { #expect(a[key] as? String == b[key] as? String, "\(key)") }
                for segment in ["signature", "control", "data"] {
                    #expect((a[segment] as? [String: String]) == (b[segment] as? [String: String]), "\(b["name"]!) \(segment)")
                }
            }
            let keyring = (ourContents["keyring"] as! [[String: Any]])[0]
            #expect(keyring["content"] as? String == (apkoContents["keyring"] as! [[String: Any]])[0]["content"] as? String)
        }
    }

    @Test func showPackages() throws {
        try TemporaryDirectory.withSync { dir in
            let r = try lamina(["image", "show-packages", "testdata/apko.yaml", "--arch", "amd64"], cache: dir.path)
            #expect(r.status == 0, "\(r.stderr)")
            #expect(r.stdout == "pretend-baselayout-1.0.0-r0\nreplayout-1.0.0-r0\n")
            let eq = try lamina(["image", "show-packages", "testdata/apko.yaml", "--arch", "arm64", "--format", "name=version-source"], cache: dir.path)
            #expect(eq.stdout == "pretend-baselayout=1.0.0-r0 pretend-baselayout\nreplayout=1.0.0-r0 replayout\n")
        }
    }

    @Test func minirootfsIsReproducibleAndHoldsTheDatabase() throws {
        try TemporaryDirectory.withSync { dir in
            let a = dir.file("a.tar.gz"), b = dir.file("b.tar.gz")
            let env = ["SOURCE_DATE_EPOCH": "1700000000"]
            #expect(try lamina(["image", "build-minirootfs", "testdata/apko.yaml", a, "--arch", "amd64"], cache: dir.file("c1"), env: env).status == 0)
            #expect(try lamina(["image", "build-minirootfs", "testdata/apko.yaml", b, "--arch", "x86_64"], cache: dir.file("c2"), env: env).status == 0)
            #expect(try Data(contentsOf: URL(fileURLWithPath: a)) == Data(contentsOf: URL(fileURLWithPath: b)))
            let listing = try CommandRunner.run("/bin/tar", ["-tzvf", a]).stdout
            #expect(listing.contains("lib/apk/db/installed"))
            #expect(listing.contains("etc/apk/world"))
            #expect(listing.contains("etc/os-release"))
            #expect(listing.contains("2023-11-14 22:13"))
            let installed = try CommandRunner.run("/bin/tar", ["-xzOf", a, "lib/apk/db/installed"]).stdout
            #expect(installed.hasPrefix("C:Q1m6wB0UFePGN8Drz82pC8y2uAiu8=\nP:pretend-baselayout\nV:1.0.0-r0\nA:x86_64\n"))
            #expect(installed.contains("P:replayout"))
            let world = try CommandRunner.run("/bin/tar", ["-xzOf", a, "etc/apk/world"]).stdout
            #expect(world == "replayout\n")
        }
    }

    @Test func lockfilePinsTheSetAndFailsWhenAPackageIsGone() throws {
        try TemporaryDirectory.withSync { dir in
            let original = try String(contentsOfFile: Self.apkoCLI + "/testdata/apko.lock.json", encoding: .utf8)
            let lock = dir.file("good.lock.json")
            try original.write(toFile: lock, atomically: true, encoding: .utf8)
            let ok = try lamina(["image", "show-packages", "testdata/apko.yaml", "--arch", "amd64", "--lockfile", lock], cache: dir.path)
            #expect(ok.status == 0, "\(ok.stderr)")
            #expect(ok.stdout == "pretend-baselayout-1.0.0-r0\nreplayout-1.0.0-r0\n")

            let gone = dir.file("gone.lock.json")
            try original.replacingOccurrences(of: "Q1m6wB0UFePGN8Drz82pC8y2uAiu8=", with: "Q1AAAAAAAAAAAAAAAAAAAAAAAAAAA=")
                .write(toFile: gone, atomically: true, encoding: .utf8)
            let r = try lamina(["image", "show-packages", "testdata/apko.yaml", "--arch", "amd64", "--lockfile", gone], cache: dir.path)
            #expect(r.status == 1)
            #expect(r.stderr.contains("locked package pretend-baselayout-1.0.0-r0 (Q1AAAAAAAAAAAAAAAAAAAAAAAAAAA=) is no longer in any repository"))
        }
    }

    @Test func unsatisfiableAndUntrusted() throws {
        try TemporaryDirectory.withSync { dir in
            let config = dir.file("bad.yaml")
            try """
                contents:
                  keyring: [./testdata/melange.rsa.pub]
                  repositories: [./testdata/packages]
                  packages: [replayout, does-not-exist]
                archs: [x86_64]
                """.write(toFile: config, atomically: true, encoding: .utf8)
            let r = try lamina(["image", "show-packages", config], cache: dir.path)
            #expect(r.status == 1)
            #expect(r.stderr.contains("does-not-exist"), "\(r.stderr)")
            #expect(r.stderr.split(separator: "\n").count == 1)

            let nokey = dir.file("nokey.yaml")
            try """
                contents:
                  repositories: [./testdata/packages]
                  packages: [replayout]
                archs: [x86_64]
                """.write(toFile: nokey, atomically: true, encoding: .utf8)
            let untrusted = try lamina(["image", "show-packages", nokey], cache: dir.path)
            #expect(untrusted.status == 1)
            #expect(untrusted.stderr.contains("UNTRUSTED index"))
            let allowed = try lamina(["image", "show-packages", nokey, "--allow-untrusted"], cache: dir.path)
            #expect(allowed.status == 0)
            #expect(allowed.stderr.contains("WARNING: --allow-untrusted"))
        }
    }
}
