import Foundation
import TestSupport
import Testing

/// Fails the test with the command's output when it did not exit 0.
@discardableResult
func check(_ result: CommandResult, _ what: String, sourceLocation: SourceLocation = #_sourceLocation) throws
    -> CommandResult
{
    guard result.status == 0 else {
        Issue.record(
            "\(what) exited \(result.status):\n\(result.stdout)\n\(result.stderr)", sourceLocation: sourceLocation)
        throw FixtureError(message: "\(what) failed")
    }
    return result
}

struct FixtureError: Error, CustomStringConvertible {
    var message: String
    var description: String { message }
}

/// The Alpine 3.20.3 minirootfs, real musl + busybox.
let minirootfsPath = Minirootfs.tarball

/// The fixed build date of every fixture package and image.
let fixtureEpoch = "1700000000"

/// A signed local APK repository made by the tests from the Alpine minirootfs:
///
/// - `musl` (the dynamic loader and libc), `busybox` (the binary and its 300 applet links, depends on musl),
///   `alpine-base` (everything else of the minirootfs except `/etc/apk` and `/lib/apk`, which the image builder
///   generates; depends on busybox and musl): for x86_64, and the same bytes labelled aarch64 and armv7 so
///   multi-arch builds have something to resolve (those images are only loaded and inspected, never run);
/// - `hello` (noarch): `/usr/bin/hello`, a shell script printing "Hello from Lamina", depends on alpine-base;
/// - `clash` (noarch): another `/usr/bin/hello`, to provoke a file conflict;
/// - `s6` (noarch): a `/bin/s6-svscan` script that lists the folder it is given (for `service-bundle` images).
///
/// Every package and both `APKINDEX.tar.gz` are signed by a key from `lamina keygen`.
struct FixtureRepository: Sendable {
    /// Folder holding `x86_64/`, `aarch64/` and `armv7/`.
    let repository: String
    let privateKey: String
    let publicKey: String
    /// Scratch space for the tests' own files (configs, outputs).
    let work: String

    static let architectures = ["x86_64", "aarch64", "armv7"]
    static let baseNames = ["musl", "busybox", "alpine-base"]

    static func make(in root: String) throws -> FixtureRepository {
        let fm = FileManager.default
        let env = ["SOURCE_DATE_EPOCH": fixtureEpoch]
        let keys = root + "/keys"
        let work = root + "/work"
        let repository = root + "/repo"
        for dir in [keys, work, repository] { try fm.createDirectory(atPath: dir, withIntermediateDirectories: true) }
        let privateKey = keys + "/lamina-e2e.rsa"
        try check(try CommandRunner.lamina(["keygen", privateKey, "--bits", "2048"]), "lamina keygen")

        // Unpack the minirootfs and split it into package folders (musl, busybox, alpine-base).
        let staged = try Minirootfs.stage(.muslBusybox, in: root)
        let stage = root + "/stage"
        for name in ["hello", "clash", "s6"] {
            try fm.createDirectory(atPath: "\(stage)/\(name)", withIntermediateDirectories: true)
        }

        try fm.createDirectory(atPath: stage + "/hello/usr/bin", withIntermediateDirectories: true)
        try Data("#!/bin/sh\necho \"Hello from Lamina\"\n".utf8).write(
            to: URL(fileURLWithPath: stage + "/hello/usr/bin/hello"))
        try fm.setAttributes([.posixPermissions: 0o755], ofItemAtPath: stage + "/hello/usr/bin/hello")
        // A stand-in for s6 (for `service-bundle` images, which add it): the supervisor's name, not the program.
        try fm.createDirectory(atPath: stage + "/s6/bin", withIntermediateDirectories: true)
        try Data("#!/bin/sh\nexec ls \"$1\"\n".utf8).write(to: URL(fileURLWithPath: stage + "/s6/bin/s6-svscan"))
        try fm.setAttributes([.posixPermissions: 0o755], ofItemAtPath: stage + "/s6/bin/s6-svscan")
        try fm.createDirectory(atPath: stage + "/clash/usr/bin", withIntermediateDirectories: true)
        try Data("#!/bin/sh\necho clash\n".utf8).write(to: URL(fileURLWithPath: stage + "/clash/usr/bin/hello"))

        // Packages.
        var dependencies = ["hello": ["alpine-base"], "clash": [], "s6": []]
        var versions = ["hello": "1.0.0-r0", "clash": "1.0.0-r0"]
        for package in staged {
            versions[package.name] = package.version
            dependencies[package.name] = package.depends
        }
        func create(_ name: String, arch: String, into dir: String) throws {
            var arguments = [
                "package", "create", "\(stage)/\(name)", "--name", name, "--version", versions[name] ?? "1.0.0-r0",
                "--arch", arch,
                "--license", "MIT", "--description", "\(name) for Lamina's end-to-end tests", "--signing-key",
                privateKey,
                "-o", "\(dir)/\(name)-\(versions[name] ?? "1.0.0-r0").apk",
            ]
            for dependency in dependencies[name] ?? [] { arguments += ["--dep", dependency] }
            try check(try CommandRunner.lamina(arguments, environment: env), "lamina package create \(name) (\(arch))")
        }
        for arch in architectures {
            let dir = "\(repository)/\(arch)"
            try fm.createDirectory(atPath: dir, withIntermediateDirectories: true)
            for name in baseNames { try create(name, arch: arch, into: dir) }
            for name in ["hello", "clash", "s6"] { try create(name, arch: "noarch", into: dir) }
            let apks = try fm.contentsOfDirectory(atPath: dir).filter { $0.hasSuffix(".apk") }.sorted().map {
                "\(dir)/\($0)"
            }
            try check(
                try CommandRunner.lamina(
                    ["package", "index"] + apks + [
                        "-o", "\(dir)/APKINDEX.tar.gz", "--signing-key", privateKey, "--arch", arch,
                    ],
                    environment: env),
                "lamina package index (\(arch))")
        }
        try? fm.removeItem(atPath: root + "/rootfs")
        try? fm.removeItem(atPath: stage)
        return FixtureRepository(
            repository: repository, privateKey: privateKey, publicKey: privateKey + ".pub", work: work)
    }

    /// More settings of the standard images: `cmd` (shell-split), `stop-signal`, `volumes`, `annotations`, and
    /// `paths:` with a directory and an empty file owned by nonroot, a symlink, and a hardlink whose name sorts
    /// before its target (so the layer must write the bytes under the link's name).
    static let standardExtras = """
        cmd: --greeting "two words"
        stop-signal: SIGQUIT
        volumes:
          - /data
        annotations:
          org.opencontainers.image.title: Lamina e2e
        paths:
          - path: /data
            type: directory
            uid: 65532
            gid: 65532
            permissions: 0o750
          - path: /data/empty
            type: empty-file
            uid: 65532
            gid: 65532
            permissions: 0o600
          - path: /usr/bin/hello-link
            type: symlink
            source: /usr/bin/hello
          - path: /bin/aaa-hello
            type: hardlink
            source: /usr/bin/hello
        """

    /// An apko.yaml for `packages` from this repository, with the accounts, entrypoint and environment the
    /// tests check; `extra` (by default ``standardExtras``) is appended verbatim.
    func config(
        packages: [String] = ["hello"], archs: [String] = ["x86_64"], keyring: String? = nil,
        extra: String = Self.standardExtras
    ) -> String {
        """
        contents:
          repositories:
            - \(repository)
          keyring:
            - \(keyring ?? publicKey)
          packages:
        \(packages.map { "    - \"\($0)\"" }.joined(separator: "\n"))
        entrypoint:
          command: /usr/bin/hello
        accounts:
          groups:
            - groupname: nonroot
              gid: 65532
          users:
            - username: nonroot
              uid: 65532
              gid: 65532
          run-as: nonroot
        work-dir: /home/nonroot
        environment:
          FOO: bar
        archs:
        \(archs.map { "  - \($0)" }.joined(separator: "\n"))
        \(extra)
        """
    }

    /// A melange.yaml `environment:` block (top level): busybox from this repository, trusted by its key.
    var busyboxEnvironment: String {
        """
        environment:
          contents:
            repositories:
              - \(repository)
            keyring:
              - \(publicKey)
            packages:
              - busybox
        """
    }

    /// Writes `text` as `<work>/<name>` and returns its path.
    func write(_ text: String, as name: String) throws -> String {
        let path = "\(work)/\(name)"
        try FileManager.default.createDirectory(
            atPath: (path as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
        try Data(text.utf8).write(to: URL(fileURLWithPath: path))
        return path
    }
}

/// The images every end-to-end suite inspects, built once from the fixture repository.
struct BuiltImages: Sendable {
    let fixture: FixtureRepository
    /// Single-arch (x86_64) tarball tagged `lamina-e2e/hello:1.0`.
    let single: String
    static let singleTag = "lamina-e2e/hello:1.0"
    /// x86_64 + aarch64 + armv7 tarball tagged `lamina-e2e/multi:2.0`.
    let multi: String
    static let multiTag = "lamina-e2e/multi:2.0"
    static let multiArchs = ["x86_64", "aarch64", "armv7"]
    /// The single-arch image as a plain OCI layout folder.
    let layout: String

    static func build(_ fixture: FixtureRepository) throws -> BuiltImages {
        let single = try build(
            fixture, config: fixture.config(), tag: singleTag, output: "single/hello.tar", cache: "cache-a")
        let multi = try build(
            fixture, config: fixture.config(archs: multiArchs), tag: multiTag, output: "multi/multi.tar",
            cache: "cache-a")
        let layout = try build(
            fixture, config: fixture.config(), tag: singleTag, output: "layout/oci", cache: "cache-a",
            extra: ["--format", "oci-layout"])
        return BuiltImages(fixture: fixture, single: single, multi: multi, layout: layout)
    }

    /// Runs `lamina image build` and returns the output path.
    static func build(
        _ fixture: FixtureRepository, config: String, tag: String, output: String, cache: String, extra: [String] = []
    ) throws -> String {
        let configPath = try fixture.write(config, as: (output as NSString).deletingLastPathComponent + "/apko.yaml")
        let out = "\(fixture.work)/\(output)"
        try check(
            try CommandRunner.lamina(
                ["image", "build", configPath, tag, out, "--cache-dir", "\(fixture.work)/\(cache)", "--offline"]
                    + extra,
                environment: ["SOURCE_DATE_EPOCH": fixtureEpoch]),
            "lamina image build \(output)")
        return out
    }
}

/// Builds the fixture repository and the images once for the whole end-to-end suite, and removes them after.
struct EndToEndScope: SuiteTrait, TestScoping {
    @TaskLocal static var images: BuiltImages?

    var isRecursive: Bool { false }

    func provideScope(for test: Test, testCase: Test.Case?, performing function: @Sendable () async throws -> Void)
        async throws
    {
        let dir = try TemporaryDirectory(prefix: "lamina-e2e")
        defer {
            MountCleanup.unmountAll(under: dir.path)
            // LAMINA_E2E_KEEP=1 keeps the fixture and images for a look after a failure.
            if ProcessInfo.processInfo.environment["LAMINA_E2E_KEEP"] == "1" {
                print("kept \(dir.path)")
            } else {
                dir.remove()
            }
        }
        let fixture = try FixtureRepository.make(in: dir.path)
        let images = try BuiltImages.build(fixture)
        try await Self.$images.withValue(images) { try await function() }
    }
}

extension Trait where Self == EndToEndScope {
    /// The fixture repository and images, built once per suite.
    static var endToEnd: Self { EndToEndScope() }
}

/// The suite's images; fails the test when the scope did not provide them.
func sharedImages(sourceLocation: SourceLocation = #_sourceLocation) throws -> BuiltImages {
    try #require(EndToEndScope.images, "the end-to-end scope did not run", sourceLocation: sourceLocation)
}

/// Whether the shared testdata (the Alpine minirootfs) is here.
let haveMinirootfs = FileManager.default.fileExists(atPath: minirootfsPath)

/// Whether a tool is installed.
func have(_ tool: String) -> Bool { CommandRunner.which(tool) != nil }

/// sha256 of a file, hex.
func sha256(of path: String) throws -> String {
    let r = try check(try CommandRunner.run("/usr/bin/sha256sum", [path]), "sha256sum")
    return String(r.stdout.prefix(64))
}

/// Parses JSON text.
func json(_ text: String) throws -> Any {
    try JSONSerialization.jsonObject(with: Data(text.utf8))
}

/// Parses a JSON file.
func json(file path: String) throws -> Any {
    try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: path)))
}
