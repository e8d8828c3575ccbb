import Foundation
import TestSupport
import Testing

/// The `melange` and `apko` faces: every flag of the originals' subcommands (the lists below are melange's
/// `pkg/cli/*.go` and apko's `internal/cli/*.go`, flag by flag) is either taken (it appears in the face's help)
/// or refused with one line naming it; outputs and exit codes as the originals.
@Suite struct FaceTests {
    /// (subcommand, long flag, short flag) as the originals declare them.
    static let melangeFlags: [(String, String, Character?)] = {
        let build =
            [
                "build-date", "workspace-dir", "pipeline-dir", "pipeline-dirs", "source-dir", "cache-dir",
                "cache-source", "apk-cache-dir",
                "signing-key", "env-file", "vars-file", "generate-index", "empty-workspace", "strip-origin-name",
                "out-dir", "dependency-log",
                "namespace", "arch", "override-host-triplet-libc-substitution-flavor", "build-option", "runner",
                "package-append",
                "create-build-log", "persist-lint-results", "debug", "debug-runner", "rm", "cpu", "cpumodel", "disk",
                "memory", "timeout",
                "trace", "lint-require", "lint-warn", "ignore-signatures", "cleanup", "git-commit", "git-repo-url",
                "license",
                "generate-provenance", "fail-on-lint-warning", "log-level",
            ].map { ("build", $0, Character?.none) }
            + [
                ("build", "keyring-append", Character?("k")), ("build", "repository-append", "r"),
                ("build", "interactive", "i"),
            ]
        let test =
            [
                "workspace-dir", "pipeline-dirs", "source-dir", "cache-dir", "cache-source", "apk-cache-dir", "arch",
                "test-option", "runner",
                "env-file", "debug", "debug-runner", "test-package-append", "rm", "ignore-signatures", "cpu",
                "cpumodel", "disk", "memory",
                "timeout", "log-level",
            ].map { ("test", $0, Character?.none) }
            + [
                ("test", "keyring-append", Character?("k")), ("test", "repository-append", "r"),
                ("test", "interactive", "i"),
            ]
        let others: [(String, String, Character?)] = [
            ("keygen", "key-size", nil), ("index", "output", "o"), ("index", "source", "s"), ("index", "arch", "a"),
            ("index", "signing-key", nil),
            ("index", "merge", "m"), ("sign", "signing-key", "k"), ("sign-index", "signing-key", nil),
            ("sign-index", "force", "f"), ("bump", "expected-commit", nil),
            ("version", "json", nil), ("lint", "lint-require", nil), ("lint", "lint-warn", nil),
            ("lint", "persist-lint-results", nil),
            ("lint", "out-dir", nil), ("lint", "fail-on-lint-warning", nil),
        ]
        let all: [(String, String, Character?)] = build + test + others
        return all
    }()

    static let apkoFlags: [(String, String, Character?)] = {
        let limits = [
            "max-apkindex-decompressed-size", "max-apk-control-size", "max-apk-data-size", "max-http-response-size",
        ]
        let buildLong = [
            "vcs", "build-date", "sbom", "sbom-path", "arch", "sbom-formats", "annotations", "cache-dir", "offline",
            "lockfile",
            "ignore-signatures", "format", "log-level",
        ]
        let repositories: [(String, Character?)] = [
            ("keyring-append", "k"), ("build-repository-append", "b"), ("repository-append", "r"),
        ]
        var out: [(String, String, Character?)] = []
        for (sub, extra) in [("build", ["include-paths"] + limits), ("publish", ["local", "image-refs"] + limits)] {
            out += (buildLong + extra).map { (sub, $0, Character?.none) }
            out += (repositories + [("package-append", "p")]).map { (sub, $0.0, $0.1) }
        }
        out += ["build-date", "build-arch", "sbom-path", "ignore-signatures"].map {
            ("build-minirootfs", $0, Character?.none)
        }
        out += (repositories + [("package-append", "p")]).map { ("build-minirootfs", $0.0, $0.1) }
        out +=
            ["cache-dir", "offline"].map { ("show-config", $0, Character?.none) }
            + repositories.map { ("show-config", $0.0, $0.1) }
        out +=
            ["arch", "format", "cache-dir", "offline"].map { ("show-packages", $0, Character?.none) }
            + repositories.map { ("show-packages", $0.0, $0.1) }
        out +=
            ["arch", "output", "include-paths", "ignore-signatures", "cache-dir"].map { ("lock", $0, Character?.none) }
            + repositories.map { ("lock", $0.0, $0.1) }
        return out
    }()

    func checkFlags(_ face: String, _ table: [(String, String, Character?)]) throws {
        var help: [String: String] = [:]
        for (sub, long, short) in table {
            if help[sub] == nil {
                let r = try CommandRunner.lamina([face, sub, "--help"])
                #expect(r.status == 0, "\(face) \(sub) --help: \(r.stderr)")
                help[sub] = r.stdout
            }
            let text = help[sub]!
            if text.contains("--\(long) ") || text.contains("--\(long)\n") || text.contains("--\(long),")
                || text.contains("--\(long)/--no-\(long)")
            {
                if let short {
                    #expect(text.contains("-\(short), --\(long)"), "\(face) \(sub): -\(short) for --\(long)")
                }
                continue
            }
            // Not taken: refused, in one line naming the flag, with melange's and apko's exit status 1.
            let r = try CommandRunner.lamina([face, sub, "--\(long)=1", "x"])
            #expect(r.status == 1, "\(face) \(sub) --\(long): status \(r.status)")
            #expect(
                r.stderr.hasPrefix("Error: --\(long): not supported by Lamina: ")
                    && r.stderr.split(separator: "\n").count == 1,
                "\(face) \(sub) --\(long): \(r.stderr)")
            if let short {
                let s = try CommandRunner.lamina([face, sub, "-\(short)", "1", "x"])
                #expect(
                    s.status == 1 && s.stderr.contains("not supported by Lamina"),
                    "\(face) \(sub) -\(short): \(s.stderr)")
            }
        }
    }

    @Test func everyMelangeFlagIsTakenOrRefused() throws { try checkFlags("melange", Self.melangeFlags) }

    @Test func everyApkoFlagIsTakenOrRefused() throws { try checkFlags("apko", Self.apkoFlags) }

    @Test func subcommandsOfTheOriginals() throws {
        for (face, subs) in [
            (
                "melange",
                [
                    "build", "test", "keygen", "index", "sign", "sign-index", "query", "package-version", "bump",
                    "lint", "compile", "version", "completion",
                ]
            ),
            (
                "apko",
                [
                    "build", "publish", "build-minirootfs", "show-config", "show-packages", "lock", "version",
                    "completion",
                ]
            ),
        ] {
            let r = try CommandRunner.lamina([face, "--help"])
            #expect(r.status == 0)
            for sub in subs { #expect(r.stdout.contains("  \(sub) "), "\(face) \(sub)") }
        }
    }

    @Test func unsupportedValuesAndUnknownInputExitOne() throws {
        let cases: [([String], String)] = [
            (
                ["melange", "build", "x.yaml", "--runner", "qemu"],
                "Error: --runner qemu: not supported by Lamina: the qemu runner (bubblewrap, docker, podman)\n"
            ),
            (
                ["melange", "build", "x.yaml", "--runner=lima"],
                "Error: --runner lima: not supported by Lamina: the lima runner (bubblewrap, docker, podman)\n"
            ),
            (
                ["apko", "build", "a.yaml", "t:1", "o.tar", "--format", "erofs"],
                "Error: --format: not supported by Lamina: layer format 'erofs' (tar)\n"
            ),
            (
                ["apko", "build", "a.yaml", "t:1", "o.tar", "--sbom-formats", "cyclonedx"],
                "Error: --sbom-formats: not supported by Lamina: SBOM format 'cyclonedx' (spdx)\n"
            ),
            (
                ["melange", "keygen", "--key-size", "1024"],
                "Error: --key-size: key size is less than 2048 bits, this is not considered safe\n"
            ),
        ]
        for (arguments, message) in cases {
            let r = try CommandRunner.lamina(arguments)
            #expect(r.status == 1, "\(arguments)")
            #expect(r.stderr == message, "\(arguments): \(r.stderr)")
        }
        // Unknown subcommands and flags, and a missing config: exit 1 as cobra's Execute, not Lamina's own codes.
        for arguments in [
            ["melange", "nosuch"], ["apko", "build", "--nosuch"], ["melange", "build", "missing.yaml"],
            ["apko", "show-config", "missing.yaml"],
        ] {
            let r = try CommandRunner.lamina(arguments)
            #expect(r.status == 1, "\(arguments): \(r.status) \(r.stderr)")
            #expect(r.stderr.split(separator: "\n").contains { $0.hasPrefix("Error: ") }, "\(arguments): \(r.stderr)")
        }
        // cobra's booleans: --generate-index=false and --rm=false are taken, --vcs=false too.
        let help = try CommandRunner.lamina(["apko", "build", "--vcs=false", "--sbom=false", "--help"])
        #expect(help.status == 0, "\(help.stderr)")
    }

    /// `melange keygen` through a link named melange: melange.rsa and melange.rsa.pub in the working directory.
    @Test func keygenThroughALinkNamedMelange() throws {
        try TemporaryDirectory.withSync { dir in
            let link = dir.file("melange")
            try FileManager.default.createSymbolicLink(atPath: link, withDestinationPath: CommandRunner.laminaPath)
            let r = try CommandRunner.run(link, ["keygen", "--key-size", "2048"], directory: dir.path)
            #expect(r.status == 0, "\(r.stderr)")
            let key = try String(contentsOfFile: dir.file("melange.rsa"), encoding: .utf8)
            #expect(key.hasPrefix("-----BEGIN RSA PRIVATE KEY-----"))
            #expect(
                try String(contentsOfFile: dir.file("melange.rsa.pub"), encoding: .utf8).hasPrefix(
                    "-----BEGIN PUBLIC KEY-----"))
            // melange overwrites; a named key goes where named.
            #expect(try CommandRunner.run(link, ["keygen", "--key-size", "2048"], directory: dir.path).status == 0)
            #expect(try String(contentsOfFile: dir.file("melange.rsa"), encoding: .utf8) != key)
            #expect(
                try CommandRunner.run(link, ["keygen", "other.rsa", "--key-size=2048"], directory: dir.path).status == 0
            )
            #expect(FileManager.default.fileExists(atPath: dir.file("other.rsa.pub")))
        }
    }

    @Test func queryPackageVersionAndBump() throws {
        try TemporaryDirectory.withSync { dir in
            let config = dir.file("melange.yaml")
            try Data(
                """
                # a comment that stays
                package:
                  name: hello
                  version: "1.2.3"
                  epoch: 4
                  description: says hello
                pipeline:
                  - uses: git-checkout
                    with:
                      repository: https://example.invalid/hello
                      tag: v${{package.version}}
                      expected-commit: 0123456789abcdef0123456789abcdef01234567
                """.utf8
            ).write(to: URL(fileURLWithPath: config))
            let query = try CommandRunner.lamina([
                "melange", "query", config, "{{ .Package.Name }}-{{ .Package.Version }}-r{{ .Package.Epoch }}",
            ])
            #expect(query.status == 0, "\(query.stderr)")
            #expect(query.stdout == "hello-1.2.3-r4\n")
            #expect(try CommandRunner.lamina(["melange", "package-version", config]).stdout == "hello-1.2.3-r4\n")
            let bad = try CommandRunner.lamina(["melange", "query", config, "{{ .Package.Nope }}"])
            #expect(bad.status == 1 && bad.stderr.contains("'.Package.Nope'"), "\(bad.stderr)")

            let bump = try CommandRunner.lamina([
                "melange", "bump", config, "1.3.0", "--expected-commit", "fedcba9876543210fedcba9876543210fedcba98",
            ])
            #expect(bump.status == 0, "\(bump.stderr)")
            let text = try String(contentsOfFile: config, encoding: .utf8)
            #expect(
                text.contains("# a comment that stays\npackage:\n  name: hello\n  version: \"1.3.0\"\n  epoch: 0\n"),
                "\(text)")
            #expect(text.hasSuffix("      expected-commit: fedcba9876543210fedcba9876543210fedcba98"), "\(text)")
            #expect(try CommandRunner.lamina(["melange", "package-version", config]).stdout == "hello-1.3.0-r0\n")
        }
    }

    /// `melange index` and `melange sign-index` write indexes `lamina package verify` (and so apk) trusts.
    @Test func indexAndSignIndex() throws {
        try TemporaryDirectory.withSync { dir in
            let key = dir.file("melange.rsa")
            let other = dir.file("other.rsa")
            for k in [key, other] {
                #expect(try CommandRunner.lamina(["melange", "keygen", k, "--key-size", "2048"]).status == 0)
            }
            let root = dir.file("root")
            try FileManager.default.createDirectory(atPath: root + "/usr/bin", withIntermediateDirectories: true)
            try Data("#!/bin/sh\necho hi\n".utf8).write(to: URL(fileURLWithPath: root + "/usr/bin/hi"))
            let apk = dir.file("hi-1.0-r0.apk")
            #expect(
                try CommandRunner.lamina([
                    "package", "create", root, "--name", "hi", "--version", "1.0", "--arch", "x86_64", "-o", apk,
                    "--signing-key", key,
                ]).status == 0)
            let index = dir.file("APKINDEX.tar.gz")
            let r = try CommandRunner.lamina(
                ["melange", "index", "-o", index, "--signing-key", key, apk], directory: dir.path)
            #expect(r.status == 0, "\(r.stderr)")
            #expect(try CommandRunner.lamina(["package", "verify", "--keyring", key + ".pub", index]).status == 0)
            // melange sign: the package, re-signed by another key, verifies with it and keeps its identity and data.
            let info = try CommandRunner.lamina(["package", "info", apk, "--json"]).stdout
            let resign = try CommandRunner.lamina(["melange", "sign", "-k", other, apk])
            #expect(resign.status == 0, "\(resign.stderr)")
            #expect(try CommandRunner.lamina(["package", "verify", "--keyring", other + ".pub", apk]).status == 0)
            #expect(try CommandRunner.lamina(["package", "verify", "--keyring", key + ".pub", apk]).status == 1)
            let after = try CommandRunner.lamina(["package", "info", apk, "--json"]).stdout
            let identity = { (text: String) in
                (try? JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any]).flatMap {
                    $0?["identity"] as? String
                }
            }
            #expect(identity(info) != nil && identity(info) == identity(after), "\(info)\n\(after)")
            // Signed by another key, with --force; without it an index already signed by that key is left alone.
            let sign = try CommandRunner.lamina(["melange", "sign-index", "--signing-key", other, index, "--force"])
            #expect(sign.status == 0, "\(sign.stderr)")
            #expect(try CommandRunner.lamina(["package", "verify", "--keyring", other + ".pub", index]).status == 0)
            let before = try Data(contentsOf: URL(fileURLWithPath: index))
            #expect(try CommandRunner.lamina(["melange", "sign-index", "--signing-key", other, index]).status == 0)
            #expect(try Data(contentsOf: URL(fileURLWithPath: index)) == before)
        }
    }

    @Test func versionAndCompletion() throws {
        for face in ["melange", "apko"] {
            let version = try CommandRunner.lamina([face, "version"])
            #expect(version.status == 0 && version.stdout.contains("GitVersion:"), "\(version.stdout)")
            for shell in ["bash", "zsh", "fish"] {
                let completion = try CommandRunner.lamina([face, "completion", shell])
                #expect(completion.status == 0 && completion.stdout.contains(face), "\(face) \(shell)")
            }
            #expect(try CommandRunner.lamina([face, "completion", "powershell"]).status == 1)
        }
    }

    /// `scripts/install PREFIX`: the binary, the two links, and completions for all three in the three shells.
    @Test func installScript() throws {
        try TemporaryDirectory.withSync { dir in
            let script = SharedTestData.packageRoot.appendingPathComponent("scripts/install").path
            let r = try CommandRunner.run(
                "/bin/bash", [script, dir.path], environment: ["LAMINA": CommandRunner.laminaPath])
            #expect(r.status == 0, "\(r.stderr)")
            for face in ["melange", "apko"] {
                #expect(try FileManager.default.destinationOfSymbolicLink(atPath: dir.file("bin/\(face)")) == "lamina")
                let version = try CommandRunner.run(dir.file("bin/\(face)"), ["version"])
                #expect(version.status == 0 && version.stdout.hasPrefix("\(face) (Lamina)"), "\(version.stdout)")
            }
            for name in ["lamina", "melange", "apko"] {
                for (path, marker) in [
                    ("share/bash-completion/completions/\(name)", "complete "),
                    ("share/zsh/site-functions/_\(name)", "#compdef \(name)"),
                    ("share/fish/vendor_completions.d/\(name).fish", "complete -c '\(name)'"),
                ] {
                    let text = (try? String(contentsOfFile: dir.file(path), encoding: .utf8)) ?? ""
                    #expect(text.contains(marker), "\(path)")
                }
            }
            // A real melange already there is not replaced.
            try FileManager.default.removeItem(atPath: dir.file("bin/apko"))
            try Data("#!/bin/sh\necho real apko\n".utf8).write(to: URL(fileURLWithPath: dir.file("bin/apko")))
            let again = try CommandRunner.run(
                "/bin/bash", [script, dir.path], environment: ["LAMINA": CommandRunner.laminaPath])
            #expect(again.status == 0 && again.stderr.contains("bin/apko exists and is not a link"), "\(again.stderr)")
            #expect(try String(contentsOfFile: dir.file("bin/apko"), encoding: .utf8) == "#!/bin/sh\necho real apko\n")
        }
    }
}

/// `melange build` through the face, in a bubblewrap sandbox on the host's root: the melange flags reach the
/// engine (`--out-dir`, `--namespace`, `--empty-workspace`, `--create-build-log`, `--generate-index=false`,
/// `--build-date`).
@Suite(.enabled(if: CommandRunner.which("bwrap") != nil, "bwrap not installed"))
struct MelangeBuildFaceTests {
    @Test func flagsReachTheBuild() throws {
        try TemporaryDirectory.withSync { dir in
            try Data(
                """
                package:
                  name: probe
                  version: 0.1.0
                  epoch: 2
                  description: probe
                  copyright:
                    - license: MIT
                  options:
                    no-depends: true
                pipeline:
                  - runs: |
                      mkdir -p "${{targets.destdir}}/usr/share/probe"
                      if [ -e stray.txt ]; then echo present; else echo absent; fi > "${{targets.destdir}}/usr/share/probe/workspace"
                """.utf8
            ).write(to: URL(fileURLWithPath: dir.file("melange.yaml")))
            try Data("x".utf8).write(to: URL(fileURLWithPath: dir.file("stray.txt")))
            #expect(
                try CommandRunner.lamina(["melange", "keygen", "--key-size", "2048"], directory: dir.path).status == 0)
            func build(_ extra: [String]) throws -> CommandResult {
                try CommandRunner.lamina(
                    [
                        "melange", "build", "--signing-key", "melange.rsa", "--arch", "x86_64", "--cache-dir",
                        dir.file("cache"),
                    ] + extra,
                    directory: dir.path)
            }
            let apk = "out/x86_64/probe-0.1.0-r2.apk"
            let first = try build([
                "--out-dir", "out", "--namespace", "wolfi", "--empty-workspace", "--create-build-log",
                "--generate-index=false",
                "--build-date", "2024-01-02T03:04:05Z",
            ])
            #expect(first.status == 0, "\(first.stderr)")
            #expect(
                try CommandRunner.run("/bin/tar", ["-xzOf", dir.file(apk), "usr/share/probe/workspace"]).stdout
                    == "absent\n")
            #expect(!FileManager.default.fileExists(atPath: dir.file("out/x86_64/APKINDEX.tar.gz")))
            #expect(
                try String(contentsOfFile: dir.file("out/packages.log"), encoding: .utf8)
                    == "x86_64|probe|probe|0.1.0-r2\n")
            let pkginfo = try CommandRunner.run("/bin/tar", ["-xzOf", dir.file(apk), ".PKGINFO"]).stdout
            #expect(pkginfo.contains("builddate = 1704164645\n"), "\(pkginfo)")
            let sbom = try CommandRunner.run(
                "/bin/tar", ["-xzOf", dir.file(apk), "var/lib/db/sbom/probe-0.1.0-r2.spdx.json"]
            ).stdout
            #expect(sbom.contains("pkg:apk/wolfi/probe@0.1.0-r2"), "\(sbom.prefix(400))")

            // Defaults: ./packages/, the source folder copied into the workspace, the index written.
            let second = try build([])
            #expect(second.status == 0, "\(second.stderr)")
            #expect(
                try CommandRunner.run(
                    "/bin/tar", ["-xzOf", dir.file("packages/x86_64/probe-0.1.0-r2.apk"), "usr/share/probe/workspace"]
                ).stdout == "present\n")
            #expect(FileManager.default.fileExists(atPath: dir.file("packages/x86_64/APKINDEX.tar.gz")))
            #expect(FileManager.default.fileExists(atPath: dir.file("packages/x86_64/APKINDEX.json")))
            #expect(!FileManager.default.fileExists(atPath: dir.file("packages/packages.log")))
        }
    }
}

/// The apko face on apko's own CLI test folder (its configs name `./testdata/...` relative to it; `-C` moves
/// there, as apko's `--workdir` does).
@Suite(.enabled(if: SharedTestData.isAvailable, "needs ../shared/testdata"))
struct ApkoFaceTests {
    static let apkoCLI = SharedTestData.path("chainguard-dev+apko/internal/cli")

    func apko(_ arguments: [String], cache: String) throws -> CommandResult {
        try CommandRunner.lamina(
            ["apko", "-C", Self.apkoCLI] + arguments + ["--cache-dir", cache], environment: ["SOURCE_DATE_EPOCH": "0"])
    }

    @Test func buildTagsEachArchitectureAndNamesTheIndex() throws {
        try TemporaryDirectory.withSync { dir in
            let out = dir.file("image.tar")
            let r = try apko(
                [
                    "build", "testdata/apko.yaml", "golden:latest", out, "--arch", "amd64,arm64", "--sbom-path",
                    dir.path,
                ], cache: dir.file("cache"))
            #expect(r.status == 0, "\(r.stderr)")
            let docker = try #require(
                try JSONSerialization.jsonObject(
                    with: Data(CommandRunner.run("/bin/tar", ["-xOf", out, "manifest.json"]).stdout.utf8))
                    as? [[String: Any]])
            #expect(
                docker.map { ($0["RepoTags"] as? [String]) ?? [] } == [
                    ["golden:latest-amd64"], ["golden:latest-arm64"],
                ])
            let index = try #require(
                try JSONSerialization.jsonObject(
                    with: Data(CommandRunner.run("/bin/tar", ["-xOf", out, "index.json"]).stdout.utf8))
                    as? [String: Any])
            let names = ((index["manifests"] as? [[String: Any]]) ?? []).map {
                (
                    ($0["annotations"] as? [String: String])?["org.opencontainers.image.ref.name"] ?? "",
                    $0["mediaType"] as? String ?? ""
                )
            }
            #expect(names.map(\.0) == ["latest", "latest-amd64", "latest-arm64"])
            #expect(names.first?.1 == "application/vnd.oci.image.index.v1+json")
            for sbom in ["sbom-x86_64.spdx.json", "sbom-aarch64.spdx.json", "sbom-index.spdx.json"] {
                #expect(FileManager.default.fileExists(atPath: dir.file(sbom)), "\(sbom)")
            }
            // One architecture: still TAG-<arch>, and the index SBOM, as apko writes them.
            let single = dir.file("single")
            let singleOut = dir.file("single.tar")
            try FileManager.default.createDirectory(atPath: single, withIntermediateDirectories: true)
            #expect(
                try apko(
                    [
                        "build", "testdata/apko.yaml", "golden:latest", singleOut, "--arch", "arm64", "--sbom-path",
                        single,
                    ], cache: dir.file("cache")
                ).status == 0)
            #expect(
                try CommandRunner.run("/bin/tar", ["-xOf", singleOut, "manifest.json"]).stdout.contains(
                    #""RepoTags":["golden:latest-arm64"]"#))
            #expect(FileManager.default.fileExists(atPath: single + "/sbom-index.spdx.json"))
            #expect(
                try apko(
                    ["build", "testdata/apko.yaml", "golden:latest", singleOut, "--sbom=false", "--arch", "arm64"],
                    cache: dir.file("cache")
                ).status == 0)

            // An existing folder gets an OCI layout whose index.json is the image index itself, as apko's layout.Write.
            let layout = dir.file("layout")
            try FileManager.default.createDirectory(atPath: layout, withIntermediateDirectories: true)
            let l = try apko(
                ["build", "testdata/apko.yaml", "golden:latest", layout, "--sbom=false", "--arch", "amd64,arm64"],
                cache: dir.file("cache"))
            #expect(l.status == 0, "\(l.stderr)")
            let layoutIndex = try #require(
                try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: layout + "/index.json")))
                    as? [String: Any])
            let entries = (layoutIndex["manifests"] as? [[String: Any]]) ?? []
            #expect(
                entries.count == 2 && entries.allSatisfy { $0["annotations"] == nil && $0["platform"] != nil },
                "\(entries)")
            #expect(layoutIndex["mediaType"] as? String == "application/vnd.oci.image.index.v1+json")
            #expect(!FileManager.default.fileExists(atPath: layout + "/manifest.json"))
        }
    }

    @Test func showPackagesLockAndMinirootfs() throws {
        try TemporaryDirectory.withSync { dir in
            let cache = dir.file("cache")
            let show = try apko(["show-packages", "testdata/apko.yaml", "--arch", "amd64"], cache: cache)
            #expect(show.status == 0, "\(show.stderr)")
            #expect(show.stdout == "pretend-baselayout 1.0.0-r0\nreplayout 1.0.0-r0\n")
            let lockFormat = try apko(
                ["show-packages", "testdata/apko.yaml", "--arch", "amd64", "--format", "packagelock-source"],
                cache: cache)
            #expect(
                lockFormat.stdout
                    == "- pretend-baselayout=1.0.0-r0 # pretend-baselayout\n- replayout=1.0.0-r0 # replayout\n")
            let template = try apko(
                ["show-packages", "testdata/apko.yaml", "--arch", "amd64", "--format", "{{.Name}}@{{.Version}}"],
                cache: cache)
            #expect(template.stdout == "pretend-baselayout@1.0.0-r0\nreplayout@1.0.0-r0\n")

            let lock = dir.file("apko.lock.json")
            let locked = try apko(["lock", "testdata/apko.yaml", "--output", lock], cache: cache)
            #expect(locked.status == 0, "\(locked.stderr)")
            let ours = try #require(
                try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: lock))) as? [String: Any])
            let theirs = try #require(
                try JSONSerialization.jsonObject(
                    with: Data(contentsOf: URL(fileURLWithPath: Self.apkoCLI + "/testdata/apko.lock.json")))
                    as? [String: Any])
            #expect((ours["config"] as? [String: String]) == (theirs["config"] as? [String: String]))

            let rootfs = dir.file("rootfs.tar.gz")
            let mini = try apko(
                ["build-minirootfs", "testdata/apko.yaml", rootfs, "--build-arch", "amd64"], cache: cache)
            #expect(mini.status == 0, "\(mini.stderr)")
            #expect(try CommandRunner.run("/bin/tar", ["-tzf", rootfs]).stdout.contains("lib/apk/db/installed"))

            let config = try apko(["show-config", "testdata/apko.yaml"], cache: cache)
            #expect(config.status == 0 && config.stdout.contains("replayout"), "\(config.stderr)")
        }
    }
}

/// `melange lint` over packages made with chosen problems.
@Suite struct MelangeLintTests {
    @Test func requiredLintersFailWarnLintersWarn() throws {
        try TemporaryDirectory.withSync { dir in
            func package(_ name: String, _ files: [(String, Int)]) throws -> String {
                let root = dir.file("root-\(name)")
                for (path, mode) in files {
                    let full = root + "/" + path
                    try FileManager.default.createDirectory(
                        atPath: (full as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
                    try Data("x".utf8).write(to: URL(fileURLWithPath: full))
                    try FileManager.default.setAttributes([.posixPermissions: mode], ofItemAtPath: full)
                }
                let apk = dir.file("\(name)-1.0-r0.apk")
                let r = try CommandRunner.lamina([
                    "package", "create", root, "--name", name, "--version", "1.0", "-o", apk, "--log-level", "error",
                ])
                #expect(r.status == 0, "\(r.stderr)")
                return apk
            }
            let clean = try package("clean", [("usr/bin/tool", 0o755)])
            let ok = try CommandRunner.lamina(["melange", "lint", clean])
            #expect(ok.status == 0, "\(ok.stderr)")
            #expect(ok.stderr.contains("linters Lamina does not run on packages: binaryarch"), "\(ok.stderr)")

            let bad = try package(
                "bad",
                [
                    ("usr/bin/tool", 0o4755), ("opt/thing", 0o644), ("tmp/left", 0o644),
                    ("usr/share/man/man1/tool.1.gz", 0o644),
                ])
            let r = try CommandRunner.lamina(["melange", "lint", bad])
            #expect(r.status == 1)
            #expect(
                r.stderr.contains(
                    #"linter "setuidgid" failed on package "bad": bad has setuid/setgid files: usr/bin/tool"#),
                "\(r.stderr)")
            #expect(
                r.stderr.contains(#"linter "tempdir" failed on package "bad": bad writes to a temp dir"#), "\(r.stderr)"
            )
            #expect(r.stderr.contains("warning: opt: bad writes to /opt"), "\(r.stderr)")
            #expect(
                r.stderr.contains("warning: maninfo: bad contains 1 man/info file but is not a documentation package"),
                "\(r.stderr)")
            // Chosen lists: only what is asked for; an unknown linter is refused.
            let chosen = try CommandRunner.lamina(["melange", "lint", "--lint-require", "opt", "--lint-warn", "", bad])
            #expect(
                chosen.status == 1 && chosen.stderr.contains(#"linter "opt" failed"#)
                    && !chosen.stderr.contains("setuidgid"), "\(chosen.stderr)")
            #expect(try CommandRunner.lamina(["melange", "lint", "--lint-require", "nosuch", bad]).status == 1)
            #expect(
                try CommandRunner.lamina(["melange", "lint", "--lint-require", "strip", bad]).stderr.contains(
                    "not supported by Lamina"))
        }
    }
}
