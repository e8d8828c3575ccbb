import APK
import Archive
import Foundation
import LaminaCore
import PackageBuilder
import Sandbox
import Synchronization
import TestSupport
import Testing

/// A signed repository holding one package, `alpine-base`, made from the Alpine 3.20.3 minirootfs in the shared
/// test data: a real busybox/musl userland for build steps to run in.
enum AlpineGuest {
    static let tarball = Minirootfs.tarball
    static var available: Bool {
        FileManager.default.fileExists(atPath: tarball) && BubblewrapRunner.locate() != nil
    }

    struct Repository {
        var path: String
        var privateKey: String
        var publicKey: String
    }

    /// Writes the repository under `directory/repo` and the key pair beside it.
    static func make(in directory: String) throws -> Repository {
        let packages = try Minirootfs.stage(.whole, in: directory)
        let (privateKey, publicKey) = try TestKey.writePair(in: directory)
        let repo = directory + "/repo"
        _ = try SignedRepository.make(at: repo, packages: packages)
        return Repository(path: repo, privateKey: privateKey, publicKey: publicKey)
    }
}

/// Collects what a build reports.
final class BuildLog: Sendable {
    private let storage = Mutex<[String]>([])
    var handler: ProgressHandler {
        { event in
            if case .note(let text) = event { self.storage.withLock { $0.append(text) } }
        }
    }
    var stepLines: StepOutputHandler {
        { line in self.storage.withLock { $0.append("[\(line.step)] \(line.text)") } }
    }
    var lines: [String] { storage.withLock { $0 } }
}

@Suite("package build in a bubblewrap guest", .serialized, .enabled(if: AlpineGuest.available, "needs bwrap and ../shared/testdata"))
struct PackageBuildTests {
    /// A melange.yaml in `directory` using the test repository as its environment.
    static func writeConfig(_ body: String, environment: [String] = ["alpine-base"], repo: AlpineGuest.Repository, in directory: String) throws -> String {
        let path = directory + "/melange.yaml"
        let packages = environment.map { "      - \($0)" }.joined(separator: "\n")
        let text = """
            environment:
              contents:
                repositories:
                  - \(repo.path)
                keyring:
                  - \(repo.publicKey)
                packages:
            \(packages)

            """ + body
        try text.write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    static func options(config: String, repo: AlpineGuest.Repository, out: String, cache: String, temp: String) -> PackageBuildOptions {
        var options = PackageBuildOptions(
            configPath: config, architecture: try! Architecture("x86_64"), cacheDirectory: cache, runner: BubblewrapRunner(),
            clock: BuildClock(epoch: 1_700_000_000), environment: [:], temporaryDirectory: temp)
        options.signingKeyPath = repo.privateKey
        options.outputDirectory = out
        return options
    }

    @Test("steps run inside the guest; main package and a subpackage are signed, indexed, and carry auto dependencies")
    func buildsInGuest() async throws {
        try await TemporaryDirectory.with { dir in
            let repo = try AlpineGuest.make(in: dir.file("fixture"))
            let source = dir.file("src")
            try FileManager.default.createDirectory(atPath: source, withIntermediateDirectories: true)
            try "payload\n".write(toFile: source + "/data.txt", atomically: true, encoding: .utf8)
            let config = try Self.writeConfig(
                """
                package:
                  name: greeter
                  version: 2.1.0
                  epoch: 3
                  description: Greets
                  copyright:
                    - license: Apache-2.0
                pipeline:
                  - name: install
                    runs: |
                      mkdir -p "${{targets.destdir}}/usr/bin" "${{targets.destdir}}/usr/share/greeter"
                      cp /bin/busybox "${{targets.destdir}}/usr/bin/greeter"
                      cat /etc/alpine-release > "${{targets.destdir}}/usr/share/greeter/release"
                      cp data.txt "${{targets.destdir}}/usr/share/greeter/"
                      echo "built for ${{build.arch}}"
                subpackages:
                  - name: greeter-doc
                    description: Greeter docs
                    pipeline:
                      - runs: |
                          mkdir -p "${{targets.subpkgdir}}/usr/share/doc"
                          mv "${{targets.destdir}}/usr/share/greeter/data.txt" "${{targets.subpkgdir}}/usr/share/doc/"
                """, repo: repo, in: source)
            let log = BuildLog()
            let out = dir.file("packages")
            let result = try await PackageBuild(
                options: Self.options(config: config, repo: repo, out: out, cache: dir.file("cache"), temp: dir.file("tmp")),
                progress: log.handler, stepOutput: log.stepLines
            ).run()

            #expect(result.packages.map { ($0.path as NSString).lastPathComponent } == ["greeter-2.1.0-r3.apk", "greeter-doc-2.1.0-r3.apk"])
            #expect(log.lines.contains("[install] built for x86_64"))
            #expect(result.timeToFirstStep != nil)

            var keyring = Keyring()
            try keyring.add(name: "lamina-test.rsa.pub", pem: try String(contentsOfFile: repo.publicKey, encoding: .utf8))
            let main = try PackageReader().read(path: out + "/x86_64/greeter-2.1.0-r3.apk", listFiles: true)
            #expect(main.verify(keyring: keyring).isOK)
            #expect(main.info.origin == "greeter")
            #expect(main.info.license == "Apache-2.0")
            #expect(main.info.buildDate == 1_700_000_000)
            // busybox is dynamically linked against musl: an automatic so: dependency, and cmd: provides.
            #expect(main.info.depends.map(\.description).contains("so:libc.musl-x86_64.so.1"))
            #expect(main.info.provides.map(\.description).contains { $0.hasPrefix("cmd:greeter=") })
            let files = main.files.map(\.entry.path)
            #expect(files.contains("usr/share/greeter/release"))
            #expect(!files.contains("usr/share/greeter/data.txt"))
            #expect(files.contains { $0.hasPrefix("var/lib/db/sbom/") })

            let doc = try PackageReader().read(path: out + "/x86_64/greeter-doc-2.1.0-r3.apk", listFiles: true)
            #expect(doc.info.origin == "greeter")
            #expect(doc.files.map(\.entry.path).contains("usr/share/doc/data.txt"))

            let index = try APKIndex.read(path: out + "/x86_64/APKINDEX.tar.gz")
            #expect(index.verify(keyring: keyring).isOK)
            #expect(index.packages.map(\.name) == ["greeter", "greeter-doc"])
        }
    }

    @Test("a failing step stops the build with its name, exit status and last output; nothing is written")
    func failingStep() async throws {
        try await TemporaryDirectory.with { dir in
            let repo = try AlpineGuest.make(in: dir.file("fixture"))
            let config = try Self.writeConfig(
                """
                package:
                  name: broken
                  version: 1.0.0
                  epoch: 0
                pipeline:
                  - name: explode
                    runs: |
                      echo "about to fail"
                      exit 3
                  - name: never
                    runs: echo unreachable
                """, repo: repo, in: dir.path)
            let out = dir.file("packages")
            let log = BuildLog()
            let error = await #expect(throws: LaminaError.self) {
                try await PackageBuild(
                    options: Self.options(config: config, repo: repo, out: out, cache: dir.file("cache"), temp: dir.file("tmp")),
                    stepOutput: log.stepLines
                ).run()
            }
            #expect(error?.code == .sandbox)
            #expect(error?.description.contains("explode") == true)
            #expect(error?.description.contains("3") == true)
            #expect(error?.description.contains("about to fail") == true)
            #expect(!log.lines.contains("[never] unreachable"))
            let written = (try? FileManager.default.contentsOfDirectory(atPath: out + "/x86_64")) ?? []
            #expect(written.isEmpty)
        }
    }

    @Test("fetch: a wrong checksum fails before any step; the right one downloads, caches and extracts")
    func fetch() async throws {
        try await TemporaryDirectory.with { dir in
            let repo = try AlpineGuest.make(in: dir.file("fixture"))
            // A source tarball with one top folder, served on 127.0.0.1.
            let tree = dir.file("tree/hello-1.0")
            try FileManager.default.createDirectory(atPath: tree, withIntermediateDirectories: true)
            try "int main(void){return 0;}\n".write(toFile: tree + "/main.c", atomically: true, encoding: .utf8)
            let tarball = dir.file("hello-1.0.tar.gz")
            let tar = try CommandRunner.run("/bin/tar", ["--sort=name", "--mtime=@0", "--owner=0", "--group=0", "-czf", tarball, "-C", dir.file("tree"), "hello-1.0"])
            #expect(tar.status == 0)
            let bytes = Array(try Data(contentsOf: URL(fileURLWithPath: tarball)))
            let sha256 = Hasher.digest(.sha256, bytes).hex
            try await withTestHTTPServer { server in
                await server.setFile("/hello-1.0.tar.gz", bytes)
                func config(_ checksum: String, check: String = "expected-sha256") throws -> String {
                    try Self.writeConfig(
                        """
                        package:
                          name: hello
                          version: "1.0"
                          epoch: 0
                        pipeline:
                          - uses: fetch
                            with:
                              uri: \(server.url("/hello-${{package.version}}.tar.gz"))
                              \(check): \(checksum)
                          - runs: |
                              mkdir -p "${{targets.destdir}}/usr/src"
                              cp main.c "${{targets.destdir}}/usr/src/"
                        """, repo: repo, in: dir.path)
                }
                let unchecked = await #expect(throws: LaminaError.self) {
                    try await PackageBuild(
                        options: Self.options(config: try config(""), repo: repo, out: dir.file("packages"), cache: dir.file("cache"), temp: dir.file("tmp"))
                    ).run()
                }
                #expect(unchecked?.message.contains("One of expected-sha256 or expected-sha512 is required") == true)
                let wrong = String(repeating: "0", count: 64)
                let error = await #expect(throws: LaminaError.self) {
                    try await PackageBuild(
                        options: Self.options(config: try config(wrong), repo: repo, out: dir.file("packages"), cache: dir.file("cache"), temp: dir.file("tmp"))
                    ).run()
                }
                #expect(error?.code == .checksumMismatch)
                #expect(error?.description.contains(sha256) == true)

                let result = try await PackageBuild(
                    options: Self.options(config: try config(sha256), repo: repo, out: dir.file("packages"), cache: dir.file("cache"), temp: dir.file("tmp"))
                ).run()
                let package = try PackageReader().read(path: result.packages[0].path, listFiles: true)
                #expect(package.files.map(\.entry.path).contains("usr/src/main.c"))
                #expect(FileManager.default.fileExists(atPath: dir.file("cache/sources/sha256/" + sha256)))

                // `expected-none`: downloaded without a check, stored under its sha256.
                let noCheck = try await PackageBuild(
                    options: Self.options(
                        config: try config("true", check: "expected-none"), repo: repo, out: dir.file("packages2"),
                        cache: dir.file("cache2"), temp: dir.file("tmp"))
                ).run()
                #expect(noCheck.packages.count == 1)
                #expect(FileManager.default.fileExists(atPath: dir.file("cache2/sources/sha256/" + sha256)))
            }
        }
    }

    @Test("package test: the test pipeline runs in a fresh guest with the built package installed; a failing check fails")
    func packageTest() async throws {
        try await TemporaryDirectory.with { dir in
            let repo = try AlpineGuest.make(in: dir.file("fixture"))
            let source = dir.file("src")
            try FileManager.default.createDirectory(atPath: source, withIntermediateDirectories: true)
            func config(expect: String) throws -> String {
                try Self.writeConfig(
                    """
                    package:
                      name: answer
                      version: 1.0.0
                      epoch: 0
                    pipeline:
                      - runs: |
                          mkdir -p "${{targets.destdir}}/usr/bin"
                          printf '#!/bin/sh\\necho 42\\n' > "${{targets.destdir}}/usr/bin/answer"
                          chmod 755 "${{targets.destdir}}/usr/bin/answer"
                    test:
                      environment:
                        contents:
                          packages:
                            - alpine-base
                      pipeline:
                        - name: check-answer
                          runs: |
                            test "$(answer)" = "\(expect)"
                            echo "answer is $(answer)"
                            ! test -e /home/build/melange-out
                    """, repo: repo, in: source)
            }
            let out = dir.file("packages")
            let options = Self.options(config: try config(expect: "42"), repo: repo, out: out, cache: dir.file("cache"), temp: dir.file("tmp"))
            _ = try await PackageBuild(options: options).run()
            let log = BuildLog()
            let tested = try await PackageTest(options: options, stepOutput: log.stepLines).run()
            #expect(tested == ["answer"])
            #expect(log.lines.contains("[check-answer] answer is 42"))

            let failing = Self.options(config: try config(expect: "41"), repo: repo, out: out, cache: dir.file("cache"), temp: dir.file("tmp"))
            let error = await #expect(throws: LaminaError.self) { try await PackageTest(options: failing).run() }
            #expect(error?.code == .sandbox)
            #expect(error?.description.contains("check-answer") == true)
        }
    }

    @Test("two builds of the same inputs give the same bytes")
    func reproducible() async throws {
        try await TemporaryDirectory.with { dir in
            let repo = try AlpineGuest.make(in: dir.file("fixture"))
            let config = try Self.writeConfig(
                """
                package:
                  name: repro
                  version: 0.1.0
                  epoch: 1
                  copyright:
                    - license: MIT
                pipeline:
                  - runs: |
                      mkdir -p "${{targets.destdir}}/etc/repro"
                      echo "fixed" > "${{targets.destdir}}/etc/repro/conf"
                      ln -s conf "${{targets.destdir}}/etc/repro/link"
                """, repo: repo, in: dir.path)
            var digests: [[String]] = []
            for run in 0..<2 {
                let out = dir.file("packages-\(run)")
                _ = try await PackageBuild(
                    options: Self.options(config: config, repo: repo, out: out, cache: dir.file("cache"), temp: dir.file("tmp"))
                ).run()
                digests.append(try ["repro-0.1.0-r1.apk", "APKINDEX.tar.gz"].map {
                    Hasher.digest(.sha256, Array(try Data(contentsOf: URL(fileURLWithPath: out + "/x86_64/" + $0)))).hex
                })
            }
            #expect(digests[0] == digests[1])
        }
    }
}
