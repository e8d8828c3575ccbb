import Config
import Foundation
import LaminaCore
import Testing
import TestSupport

@Suite(.enabled(if: TestFiles.available, "needs ../shared/testdata"))
struct ApkoTestDataTests {
    @Test func discoversTheExpectedFiles() {
        // PROVENANCE counts 20 example configs: 19 here plus on_top_of_base/base_image.yaml.
        #expect(TestFiles.apkoExamples.count == 19)
        #expect(TestFiles.apkoCLIConfigs.count == 7)
        #expect(TestFiles.apkoTypesConfigs.count == 5)
    }

    /// Every apko example decodes, and loads with its includes resolved the way apko's test suite runs them
    /// (from the repository root).
    @Test(arguments: TestFiles.apkoExamples)
    func exampleLoads(file: String) throws {
        let loaded = try ImageConfiguration.load(
            path: TestFiles.absolute(file), includePaths: [TestFiles.absolute("chainguard-dev+apko")])
        #expect(!loaded.configuration.contents.packages.isEmpty || loaded.configuration.contents.baseImage != nil)
        #expect(loaded.files.first?.bytes == Array(try TestFiles.text(file).utf8))
        _ = try loaded.configuration.validated(sourceMap: loaded.sourceMap)
        _ = try loaded.configuration.resolvedArchitectures(sourceMap: loaded.sourceMap)
    }

    @Test(arguments: TestFiles.apkoCLIConfigs)
    func cliTestConfigLoads(file: String) throws {
        let loaded = try ImageConfiguration.load(path: TestFiles.absolute(file))
        _ = try loaded.configuration.validated(sourceMap: loaded.sourceMap)
    }

    @Test(arguments: TestFiles.apkoTypesConfigs)
    func typesTestConfigLoads(file: String) throws {
        _ = try ImageConfiguration.load(
            path: TestFiles.absolute(file), includePaths: [TestFiles.absolute("chainguard-dev+apko/pkg/build/types")])
    }

    @Test func nginxExampleValues() throws {
        let config = try ImageConfiguration.load(path: TestFiles.absolute("chainguard-dev+apko/examples/nginx.yaml"))
            .configuration
        #expect(config.entrypoint.type == "service-bundle")
        #expect(config.entrypoint.services == ["nginx": #"/usr/sbin/nginx -c /etc/nginx/nginx.conf -g "daemon off;""#])
        #expect(config.paths.count == 2)
        #expect(config.paths[0] == PathMutation(path: "/run/nginx", type: .directory, uid: 10000, gid: 10000, permissions: 0o755))
        #expect(config.paths[1].type == .hardlink)
        #expect(config.paths[1].source == "/etc/nginx/nginx.conf.default")
        #expect(config.paths[1].permissions == 0o644)
        #expect(config.accounts.users == [User(username: "nginx", uid: 10000)])
        #expect(config.accounts.groups == [Group(groupname: "nginx", gid: 10000)])
        #expect(config.workDir == "/usr/share/nginx")
        #expect(config.annotations == ["foo": "bar"])
        #expect(try config.resolvedArchitectures() == [.x86_64])
        let validated = try config.validated()
        #expect(validated.entrypoint.command == "/bin/s6-svscan /sv")
        #expect(validated.contents.packages.last == "s6")
        #expect(validated.accounts.users[0].homedir == "/home/nginx")
    }

    @Test func includeMergesWithTheIncludingFileWinning() throws {
        let loaded = try ImageConfiguration.load(
            path: TestFiles.absolute("chainguard-dev+apko/examples/overlay.yaml"),
            includePaths: [TestFiles.absolute("chainguard-dev+apko")])
        let config = loaded.configuration
        #expect(config.contents.packages == ["alpine-base", "nano"])
        #expect(config.contents.repositories == ["https://dl-cdn.alpinelinux.org/alpine/v3.22/main"])
        #expect(config.cmd == "/bin/sh -l")
        #expect(config.archs == ["amd64", "arm64"])
        #expect(loaded.files.count == 2)
        #expect(loaded.files[1].path.hasSuffix("examples/alpine-base.yaml"))
    }

    /// apko's `TestOverlayWithAdditionalPackages`: a two-level include chain concatenates lists, included
    /// entries first.
    @Test func overlayChain() throws {
        let root = TestFiles.absolute("chainguard-dev+apko/pkg/build/types")
        let config = try ImageConfiguration.load(
            path: root + "/testdata/overlay/overlay_with_package.apko.yaml", includePaths: [root]
        ).configuration
        #expect(config.contents.buildRepositories == ["secret repository", "other_secret repository"])
        #expect(config.contents.runtimeRepositories == ["runtime repository", "other runtime repository"])
        #expect(config.contents.repositories == ["repository"])
        #expect(config.contents.keyring == ["key"])
        #expect(config.contents.packages == ["package", "other_package"])
    }

    /// apko's `TestUserContents`: home directories default to /home/<name>, a missing gid stays unset.
    @Test func usersDefaults() throws {
        let loaded = try ImageConfiguration.load(
            path: TestFiles.absolute("chainguard-dev+apko/pkg/build/types/testdata/users.apko.yaml"))
        let config = try loaded.configuration.validated(sourceMap: loaded.sourceMap)
        #expect(config.accounts.users[0] == User(username: "something-else", uid: 2, gid: 1, homedir: "/not/home"))
        #expect(config.accounts.users[1] == User(username: "user", uid: 3, gid: nil, homedir: "/home/user"))
    }

    /// The layer of apko's golden image carries `/etc/apko.json`: the JSON writer reproduces it byte for byte
    /// from the same (locked) configuration.
    @Test(arguments: [("arm64", "7e0f9d62f6cab4785e18a55f17d03f20ffb776881f1f46258efd9458f7cdaf08"),
                      ("amd64", "c7557730da0e2d7fb242d8d1ac6dcf7e3a2439732aa5981270b4f3a02454b738")])
    func goldenApkoJSON(arch: String, layer: String) throws {
        let config = ImageConfiguration(
            contents: ImageContents(
                repositories: ["./testdata/packages"], keyring: ["./testdata/melange.rsa.pub"],
                packages: ["pretend-baselayout=1.0.0-r0", "replayout=1.0.0-r0"]),
            entrypoint: ImageEntrypoint(command: "/bin/sh -l"),
            archs: [arch],
            annotations: ["org.opencontainers.image.vendor": "Vendor", "org.opencontainers.image.title": "Title"])
        let expected = try GoldenLayer.file(
            "etc/apko.json", inLayer: "chainguard-dev+apko/internal/cli/testdata/golden/blobs/sha256/\(layer)")
        #expect(try ConfigRenderer.json(config) + "\n" == expected)
        // JSON is YAML: the same decoder reads apko's JSON back.
        #expect(try ImageConfiguration.decode(yaml: expected, file: "apko.json") == config)
    }
}

/// Extracts one file from a gzip-compressed tar layer with the system `tar` (test-only helper).
enum GoldenLayer {
    static func file(_ member: String, inLayer relative: String) throws -> String {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["tar", "-xzOf", TestFiles.absolute(relative), member]
        let pipe = Pipe()
        process.standardOutput = pipe
        try process.run()
        let data = pipe.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return String(decoding: data, as: UTF8.self)
    }
}

struct ImageConfigurationDecodingTests {
    @Test(arguments: [("0o755", UInt32(0o755)), ("0755", 0o755), ("493", 493), ("0o644", 0o644), ("420", 420),
                      ("0x1ed", 0o755), ("1_000", 1000)])
    func permissionsFollowGoIntegerRules(text: String, expected: UInt32) throws {
        let config = try ImageConfiguration.decode(yaml: "paths:\n  - path: /x\n    type: directory\n    permissions: \(text)\n")
        #expect(config.paths[0].permissions == expected)
    }

    @Test func scalarsDecodeIntoStringsAsWritten() throws {
        let config = try ImageConfiguration.decode(yaml: """
            cmd: 1.10
            work-dir: 0755
            environment:
              A: true
              B: 010
              C:
              D: "quoted"
            """)
        #expect(config.cmd == "1.10")
        #expect(config.workDir == "0755")
        #expect(config.environment == ["A": "true", "B": "010", "C": "", "D": "quoted"])
    }

    @Test func acceptsLegacyOSRelease() throws {
        let config = try ImageConfiguration.decode(yaml: """
            os-release:
              name: Wolfi
              id: wolfi
              version-id: "2024"
              pretty-name: Wolfi Linux
            """)
        #expect(config.osRelease == OSRelease(name: "Wolfi", id: "wolfi", versionID: "2024", prettyName: "Wolfi Linux"))
    }

    @Test func mergeKeysAndAnchors() throws {
        let config = try ImageConfiguration.decode(yaml: """
            annotations: &base
              a: "1"
              b: "2"
            environment:
              <<: *base
              b: "3"
            """)
        #expect(config.environment == ["a": "1", "b": "3"])
    }

    /// Aliases are followed as often as they are used, within a budget of nodes: ordinary reuse decodes,
    /// a "billion laughs" is refused at the first top-level entry that expands too far.
    @Test func aliasExpansionIsBudgeted() throws {
        let config = try ImageConfiguration.decode(yaml: """
            annotations: &base {a: "1", b: "2"}
            environment: *base
            paths:
              - &p {path: /a, type: directory, permissions: 0o755}
              - *p
            """)
        #expect(config.environment == ["a": "1", "b": "2"])
        #expect(config.paths.count == 2 && config.paths[1].path == "/a")

        var bomb = "a0: &a0 [lol]\n"
        for level in 1...9 { bomb += "a\(level): &a\(level) [" + Array(repeating: "*a\(level - 1)", count: 10).joined(separator: ", ") + "]\n" }
        let error = try #require(throws: LaminaError.self) { try ImageConfiguration.decode(yaml: bomb, file: "bomb.yaml") }
        #expect(error.code == .limitExceeded)
        #expect(error.subject == "bomb.yaml:7:1")
        #expect(error.message == "a6: the document expands to more than 1000000 nodes through aliases or merge keys; refusing (YAML alias bomb?)")
    }

    @Test func booleansAcceptYAML11Words() throws {
        let config = try ImageConfiguration.decode(yaml: "paths:\n  - path: /a\n    recursive: yes\n  - path: /b\n    recursive: False\n")
        #expect(config.paths.map(\.recursive) == [true, false])
    }

    @Test func remoteIncludeIsRefused() throws {
        try TemporaryDirectory.withSync { dir in
            let file = dir.file("apko.yaml")
            try "include: github.com/chainguard-dev/apko/examples/alpine-base.yaml@main\n".write(
                toFile: file, atomically: true, encoding: .utf8)
            let error = try #require(throws: LaminaError.self) { try ImageConfiguration.load(path: file) }
            #expect(error.subject == "\(file):1:10")
            #expect(error.message.contains("include: remote includes are not supported offline"))
        }
    }

    @Test func includeCycleIsDetected() throws {
        try TemporaryDirectory.withSync { dir in
            try "include: b.yaml\ncontents:\n  packages: [a]\n".write(toFile: dir.file("a.yaml"), atomically: true, encoding: .utf8)
            try "include: a.yaml\n".write(toFile: dir.file("b.yaml"), atomically: true, encoding: .utf8)
            let error = try #require(throws: LaminaError.self) { try ImageConfiguration.load(path: dir.file("a.yaml")) }
            #expect(error.description.contains("include cycle"))
            #expect(error.subject?.hasSuffix("b.yaml:1:10") == true)
            #expect(error.message.contains("(included from \(dir.file("a.yaml")):1:10)"))
        }
    }

    @Test func includeRelativeToIncludingFile() throws {
        try TemporaryDirectory.withSync { dir in
            try FileManager.default.createDirectory(atPath: dir.file("sub"), withIntermediateDirectories: true)
            try "contents:\n  packages: [base]\n  repositories: ['https://example.com/os/']\ncmd: base\n".write(
                toFile: dir.file("sub/base.yaml"), atomically: true, encoding: .utf8)
            try "include: base.yaml\ncontents:\n  packages: [top]\n".write(
                toFile: dir.file("sub/top.yaml"), atomically: true, encoding: .utf8)
            let config = try ImageConfiguration.load(path: dir.file("sub/top.yaml")).configuration
            #expect(config.contents.packages == ["base", "top"])
            #expect(config.contents.repositories == ["https://example.com/os"])
            #expect(config.cmd == "base")
        }
    }

    @Test func missingIncludeNamesTheKey() throws {
        try TemporaryDirectory.withSync { dir in
            try "contents:\n  packages: [a]\ninclude: nope.yaml\n".write(
                toFile: dir.file("apko.yaml"), atomically: true, encoding: .utf8)
            let error = try #require(throws: LaminaError.self) {
                try ImageConfiguration.load(path: dir.file("apko.yaml"))
            }
            #expect(error.code == .notFound)
            #expect(error.subject == dir.file("apko.yaml") + ":3:10")
            #expect(error.message.hasPrefix("include: cannot find included file 'nope.yaml'"))
        }
    }

    @Test func baseImageForbidsOtherSettings() throws {
        try TemporaryDirectory.withSync { dir in
            try "contents:\n  baseimage:\n    image: x\n    apkindex: y\ncmd: /bin/sh\n".write(
                toFile: dir.file("apko.yaml"), atomically: true, encoding: .utf8)
            let error = try #require(throws: LaminaError.self) {
                try ImageConfiguration.load(path: dir.file("apko.yaml"))
            }
            #expect(error.subject == dir.file("apko.yaml") + ":5:1")
            #expect(error.message.hasPrefix("cmd: cannot be used with contents.baseimage"))
        }
    }

    @Test func validationErrorsNameTheEntry() throws {
        let yaml = "accounts:\n  users:\n    - username: root\n      uid: 0\n"
        let (config, map) = try ImageConfiguration.decodeWithSourceMap(yaml: yaml)
        let error = try #require(throws: LaminaError.self) { try config.validate(sourceMap: map) }
        #expect(error.description.hasPrefix("apko.yaml:4:12: accounts.users[0].uid: user 'root' has uid 0"))
    }

    @Test func unknownArchitectureNamesTheEntry() throws {
        let (config, map) = try ImageConfiguration.decodeWithSourceMap(yaml: "archs:\n  - amd64\n  - sparc\n")
        let error = try #require(throws: LaminaError.self) { try config.resolvedArchitectures(sourceMap: map) }
        #expect(error.description.hasPrefix("apko.yaml:3:5: archs[1]: unknown architecture 'sparc'"))
        let all = try ImageConfiguration.decode(yaml: "archs: [all]\n").resolvedArchitectures()
        #expect(all.count == Architecture.all.count)
        let both = try ImageConfiguration.decode(yaml: "archs: [x86_64, amd64, arm/v7]\n").resolvedArchitectures()
        #expect(both.map(\.apk) == ["armv7", "x86_64"])
    }
}
