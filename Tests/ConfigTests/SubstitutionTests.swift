import Config
import LaminaCore
import Testing

struct SubstitutionTests {
    static let variables = Substitutions([
        "package.name": "hello", "package.version": "2.12", "vars.nested": "v${{package.version}}",
        "vars.quote": "it's \"x\"", "vars.empty": "", "vars.loop": "${{vars.loop2}}", "vars.loop2": "${{vars.loop}}",
    ])

    @Test(arguments: [
        ("plain text", "plain text"),
        ("${{package.name}}-${{package.version}}", "hello-2.12"),
        ("${{ package.name }}", "hello"),
        ("a${{vars.nested}}b", "av2.12b"),
        ("[${{vars.empty}}]", "[]"),
        ("$HOME ${HOME} ${{package.name}}", "$HOME ${HOME} hello"),
        ("${{package.name}}${{package.name}}", "hellohello"),
    ])
    func apply(input: String, expected: String) throws {
        #expect(try Self.variables.apply(input) == expected)
    }

    @Test(arguments: [
        ("${{package.nmae}}", "unknown variable '${{package.nmae}}'"),
        ("${{}}", "empty variable name"),
        ("${{package.name", "unterminated variable reference '${{package.name'"),
        ("${{vars.loop}}", "variables refer to each other"),
    ])
    func applyErrors(input: String, message: String) throws {
        let error = try #require(throws: LaminaError.self) { try Self.variables.apply(input) }
        #expect(error.message.contains(message), "got: \(error.message)")
    }

    @Test func unknownVariableNamesWhere() throws {
        let (config, map) = try BuildConfiguration.decodeWithSourceMap(
            yaml: "package:\n  name: a\n  version: 1\npipeline:\n  - runs: |\n      echo ${{nope}}\n")
        let site = Substitutions.Site(path: "pipeline[0].runs", sourceMap: map)
        let error = try #require(throws: LaminaError.self) {
            try Substitutions.forBuild(config, architecture: .x86_64).apply(config.pipeline[0].runs, at: site)
        }
        #expect(error.description == "melange.yaml:5:11: pipeline[0].runs: unknown variable '${{nope}}'")
    }

    @Test func quotedForConditions() throws {
        #expect(try Self.variables.applyQuoted("${{package.name}} == 'hello'") == #""hello" == 'hello'"#)
        #expect(try Self.variables.applyQuoted("${{vars.quote}}") == #""it's \"x\"""#)
        #expect(try Self.variables.evaluate(condition: "${{vars.quote}} == 'it\\'s \"x\"'"))
    }

    @Test func replacingKnownLeavesTheRest() {
        #expect(Self.variables.replacingKnown("${{package.name}} ${{targets.destdir}} ${{ package.name }}")
            == "hello ${{targets.destdir}} ${{ package.name }}")
    }

    @Test func references() {
        #expect(Substitutions.references(in: "${{a.b}} x ${{ c }}") == ["a.b", "c"])
    }

    struct ArchCase: Sendable, CustomTestStringConvertible {
        var arch: String
        var apk: String
        var goarch: String
        var gnu: String
        var rust: String
        var musl: String
        var testDescription: String { arch }
    }

    /// melange's triplets (apko `ToTriplet` / `ToRustTriplet`) and `build.goarch` (apko's arch string).
    @Test(arguments: [
        ArchCase(arch: "amd64", apk: "x86_64", goarch: "amd64", gnu: "x86_64-pc-linux-gnu",
                 rust: "x86_64-unknown-linux-gnu", musl: "x86_64-pc-linux-musl"),
        ArchCase(arch: "arm64", apk: "aarch64", goarch: "arm64", gnu: "aarch64-unknown-linux-gnu",
                 rust: "aarch64-unknown-linux-gnu", musl: "aarch64-unknown-linux-musl"),
        ArchCase(arch: "armv7", apk: "armv7", goarch: "arm/v7", gnu: "armv7l-unknown-linux-gnueabihf",
                 rust: "armv7-unknown-linux-gnueabihf", musl: "armv7l-unknown-linux-musleabihf"),
        ArchCase(arch: "armhf", apk: "armhf", goarch: "arm/v6", gnu: "arm-unknown-linux-gnueabihf",
                 rust: "armv6-unknown-linux-gnueabihf", musl: "arm-unknown-linux-musleabihf"),
        ArchCase(arch: "386", apk: "x86", goarch: "386", gnu: "i486-pc-linux-gnu", rust: "i686-unknown-linux-gnu",
                 musl: "i486-pc-linux-musl"),
        ArchCase(arch: "s390x", apk: "s390x", goarch: "s390x", gnu: "s390x-ibm-linux-gnu",
                 rust: "s390x-unknown-linux-gnu", musl: "s390x-ibm-linux-musl"),
        ArchCase(arch: "riscv64", apk: "riscv64", goarch: "riscv64", gnu: "riscv64-unknown-linux-gnu",
                 rust: "riscv64-unknown-linux-gnu", musl: "riscv64-unknown-linux-musl"),
    ])
    func buildVariables(_ testCase: ArchCase) throws {
        let config = BuildConfiguration(
            package: Package(name: "hello", version: "2.12", epoch: 1, description: "greets"),
            subpackages: [Subpackage(name: "hello-doc")], vars: ["x": "1"])
        let variables = try Substitutions.forBuild(config, architecture: try Architecture(testCase.arch))
        #expect(variables["build.arch"] == testCase.apk)
        #expect(variables["build.goarch"] == testCase.goarch)
        #expect(variables["host.triplet.gnu"] == testCase.gnu)
        #expect(variables["host.triplet.rust"] == testCase.rust)
        #expect(variables["cross.triplet.gnu.glibc"] == testCase.gnu)
        #expect(variables["cross.triplet.gnu.musl"] == testCase.musl)
        let musl = try Substitutions.forBuild(config, architecture: try Architecture(testCase.arch), libc: "musl")
        #expect(musl["host.triplet.gnu"] == testCase.musl)
        #expect(try variables.apply(
            "${{package.full-version}} ${{package.epoch}} ${{package.description}} ${{package.srcdir}} ${{vars.x}}")
            == "2.12-r1 1 greets /home/build 1")
        #expect(try variables.apply("${{targets.outdir}} ${{targets.destdir}} ${{targets.contextdir}}")
            == "/home/build/melange-out /home/build/melange-out/hello /home/build/melange-out/hello")
        #expect(try variables.apply("${{targets.package.hello-doc}} ${{context.name}}")
            == "/home/build/melange-out/hello-doc hello")
        #expect(try Substitutions.forBuild(config, architectureName: testCase.apk) == variables)
        let sub = variables.forSubpackage(named: "hello-doc")
        #expect(try sub.apply("${{subpkg.name}} ${{context.name}} ${{targets.subpkgdir}} ${{targets.contextdir}}")
            == "hello-doc hello-doc /home/build/melange-out/hello-doc /home/build/melange-out/hello-doc")
        #expect(try sub.forRangeItem(key: "k", value: "v").apply("${{range.key}}=${{range.value}}") == "k=v")
    }

    @Test func pipelineInputs() throws {
        let inputs = [
            "uri": PipelineInput(required: true),
            "strip-components": PipelineInput(defaultValue: "1"),
            "expected-sha256": PipelineInput(),
            "name": PipelineInput(defaultValue: "${{package.name}}"),
        ]
        let (scope, with) = try Self.variables.forPipeline(
            with: ["uri": "https://x/${{package.name}}-${{package.version}}.tgz"], inputs: inputs)
        #expect(with["strip-components"] == "1")
        #expect(try scope.apply("${{inputs.uri}} ${{inputs.strip-components}} ${{inputs.name}}")
            == "https://x/hello-2.12.tgz 1 hello")
        let missing = try #require(throws: LaminaError.self) { try Self.variables.forPipeline(with: [:], inputs: inputs) }
        #expect(missing.message == #"required input "uri" for pipeline is missing"#)
        let badSHA = try #require(throws: LaminaError.self) {
            try Self.variables.forPipeline(with: ["uri": "u", "expected-sha256": "abc"], inputs: inputs)
        }
        #expect(badSHA.message.contains("input 'expected-sha256' must be 64 hexadecimal digits"))
        let undeclared = try #require(throws: LaminaError.self) {
            try Self.variables.forPipeline(with: ["uri": "u", "urii": "v"], inputs: inputs, rejectUndeclared: true)
        }
        #expect(undeclared.message.hasPrefix("undefined input 'urii'"))
        // A forwarded self-reference takes the parent's value.
        let (parent, _) = try Self.variables.forPipeline(with: ["uri": "outer"], inputs: inputs)
        let (child, _) = try parent.forPipeline(with: ["uri": "${{inputs.uri}}"], inputs: [:])
        #expect(try child.apply("${{inputs.uri}}") == "outer")
    }
}

struct VarTransformTests {
    /// Go `regexp.ReplaceAllString` semantics.
    @Test(arguments: [
        ("1.2.3.4", #"\.(\d+)$"#, "+$1", "1.2.3+4"),
        ("1.38.0", #"\."#, "_", "1_38_0"),
        ("ruby3.2-base64", #"^ruby(\d\.\d+)-.*"#, "$1", "3.2"),
        ("1.2.3", #"(\d+)\.(\d+)\.(\d+)"#, "${3}.${2}.${1}", "3.2.1"),
        ("1.2.3", #"(?P<major>\d+)\.(?P<minor>\d+)"#, "${minor}-${major}", "2-1.3"),
        ("abc", "b", "$$", "a$c"),
        ("abc", "b", "$1x", "ac"),
        ("abc", "b", "${1", "a${1c"),
        ("baaac", "a*", "X", "XbXcX"),
        ("2024_05_01", "_", ".", "2024.05.01"),
        ("v1.2.3", "^v", "", "1.2.3"),
        ("same", "nomatch", "x", "same"),
    ])
    func replaceAll(input: String, pattern: String, template: String, expected: String) throws {
        #expect(try GoRegex.replaceAll(in: input, pattern: pattern, with: template) == expected)
    }

    @Test func transformsChainAndSeeEarlierResults() throws {
        var variables = Substitutions(["package.version": "1.2.3"])
        try variables.applyVarTransforms([
            VarTransform(from: "${{package.version}}", match: #"\."#, replace: "_", to: "underscored"),
            VarTransform(from: "v${{vars.underscored}}", match: "^v", replace: "release-", to: "tag"),
        ])
        #expect(variables["vars.underscored"] == "1_2_3")
        #expect(variables["vars.tag"] == "release-1_2_3")
    }

    @Test func unknownVariableInFrom() throws {
        var variables = Substitutions([:])
        let error = try #require(throws: LaminaError.self) {
            try variables.applyVarTransforms([VarTransform(from: "${{package.version}}", match: "x", replace: "", to: "t")])
        }
        #expect(error.message == "var-transforms[0].from: unknown variable '${{package.version}}'")
    }
}

struct ConditionTests {
    @Test(arguments: [
        ("'a' == 'a'", true),
        ("'a' == 'b'", false),
        ("'a' != 'b'", true),
        ("\"x86_64\" == 'x86_64'", true),
        ("'a' == 'a' && 'b' == 'c'", false),
        ("'a' == 'a' || 'b' == 'c'", true),
        ("'a' == 'b' || 'b' == 'b' && 'c' == 'd'", false),  // left to right, no precedence
        ("'a' == 'b' || ('b' == 'b' && 'c' == 'c')", true),
        ("('a' == 'a')", true),
        ("  'a'=='a'  ", true),
        ("'it\\'s' == \"it's\"", true),
        ("'\\q' == '\\\\q'", true),
        ("'' == ''", true),
    ])
    func evaluate(expression: String, expected: Bool) throws {
        #expect(try Condition.evaluate(expression) == expected)
    }

    @Test(arguments: [
        "'a' = 'b'", "'a' == ", "'a == 'a'", "('a' == 'a'", "'a' == 'a' junk", "a == 'a'", "${{x == 'a'", "",
    ])
    func syntaxErrors(expression: String) {
        #expect(throws: LaminaError.self) { try Condition.evaluate(expression) }
    }

    @Test func lookupAndSubstitution() throws {
        #expect(try Condition.evaluate("${{ build.arch }} == 'aarch64'") { $0 == "build.arch" ? "aarch64" : "" })
        // Unresolved variables are empty by default, as melange evaluates after substitution.
        #expect(try Condition.evaluate("${{x}} == ''"))
        let variables = Substitutions(["build.arch": "x86_64", "options.foo.enabled": "true"])
        #expect(try variables.evaluate(condition: "${{build.arch}} == 'x86_64' && ${{options.foo.enabled}} == 'true'"))
        #expect(try variables.evaluate(condition: ""))
        let error = try #require(throws: LaminaError.self) {
            try variables.evaluate(condition: "${{build.arhc}} == 'x86_64'", at: .init(path: "pipeline[2].if"))
        }
        #expect(error.description == "pipeline[2].if: unknown variable '${{build.arhc}}'")
    }
}

struct ScalarRulesTests {
    @Test(arguments: [("30m", Int64(1800)), ("1h30m", 5400), ("1.5h", 5400), ("90s", 90), ("0", 0), ("2h", 7200)])
    func durations(text: String, seconds: Int64) throws {
        let config = try BuildConfiguration.decode(yaml: "package:\n  timeout: \(text)\n")
        #expect(config.package.timeout?.seconds == seconds)
    }

    @Test(arguments: [(Int64(0), "0s"), (1_500_000_000, "1.5s"), (3_600_000_000_000, "1h0m0s"), (90_000_000_000, "1m30s"),
                      (250_000_000, "250ms"), (1_500, "1.5µs")])
    func durationText(nanoseconds: Int64, text: String) {
        #expect(GoDuration(nanoseconds: nanoseconds).description == text)
    }

    @Test(arguments: [("epoch: 010", UInt64(8)), ("epoch: 0x10", 16), ("epoch: 1e3", 1000), ("epoch: +7", 7),
                      ("epoch: 08", 8)])
    func integers(line: String, expected: UInt64) throws {
        #expect(try BuildConfiguration.decode(yaml: "package:\n  \(line)\n").package.epoch == expected)
    }
}

struct RenderingTests {
    @Test func jsonMatchesGoEncoding() throws {
        let config = ImageConfiguration(
            contents: ImageContents(packages: ["a<b", "c&d"]),
            entrypoint: ImageEntrypoint(services: ["z": "1", "a": "2"]),
            paths: [PathMutation(path: "/x", type: .directory, uid: 0, permissions: 0o755)],
            layering: Layering(strategy: "origin", budget: 10))
        #expect(try ConfigRenderer.json(config) == #"{"contents":{"packages":["a\u003cb","c\u0026d"]},"#
            + #""entrypoint":{"services":{"a":"2","z":"1"}},"accounts":{},"#
            + #""paths":[{"path":"/x","type":"directory","uid":0,"permissions":493}],"#
            + #""layering":{"strategy":"origin","budget":10}}"#)
    }

    @Test(arguments: [
        ("https://user:secret@example.com/os", "https://user:xxxxx@example.com/os"),
        ("@local https://u:p@host:8080/x?y=1", "@local https://u:xxxxx@host:8080/x?y=1"),
        ("https://token@example.com/os", "https://token@example.com/os"),
        ("./packages", "./packages"),
    ])
    func credentialsAreRedacted(repository: String, shown: String) {
        let config = ImageConfiguration(contents: ImageContents(repositories: [repository], keyring: [repository]))
        let redacted = config.redactingCredentials()
        #expect(redacted.contents.repositories == [shown])
        #expect(redacted.contents.keyring.first?.contains("secret") == false)
    }

    @Test func yamlRoundTripOfAnImageConfiguration() throws {
        let config = ImageConfiguration(
            contents: ImageContents(repositories: ["https://dl-cdn.alpinelinux.org/alpine/v3.22/main"],
                                    packages: ["alpine-base", "yes", "1.0"]),
            cmd: "/bin/sh -l", environment: ["PATH": "/usr/bin", "EMPTY": ""],
            paths: [PathMutation(path: "/tmp", type: .permissions, permissions: 0o1777, recursive: true)],
            annotations: ["a": "true"], format: .tar)
        let yaml = try ConfigRenderer.yaml(config)
        #expect(yaml.hasPrefix("contents:\n  repositories:\n  - https://dl-cdn.alpinelinux.org/alpine/v3.22/main\n"))
        #expect(yaml.contains("- 'yes'\n"))
        #expect(try ImageConfiguration.decode(yaml: yaml) == config)
    }
}
