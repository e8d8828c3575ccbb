import Config
import LaminaCore
import Testing

/// Every failure names `file:line:column` and the key path.
struct ConfigErrorTests {
    struct Case: CustomTestStringConvertible, Sendable {
        var name: String
        var yaml: String
        /// Expected `LaminaError.description` prefix.
        var expected: String
        var testDescription: String { name }
    }

    static let apkoCases: [Case] = [
        Case(
            name: "unknown top-level key", yaml: "contnets:\n  packages: [a]\n",
            expected: "apko.yaml:1:1: unknown key 'contnets' (did you mean 'contents'?)"),
        Case(
            name: "unknown nested key", yaml: "contents:\n  repositories: [r]\n  pakages:\n    - a\n",
            expected: "apko.yaml:3:3: unknown key 'pakages' in 'contents' (did you mean 'packages'?)"),
        Case(
            name: "unknown key without a close match lists the valid ones", yaml: "entrypoint:\n  xyz: 1\n",
            expected: "apko.yaml:2:3: unknown key 'xyz' in 'entrypoint' (valid keys: type, command, shell-fragment, services)"),
        Case(
            name: "mapping where a string belongs", yaml: "contents:\n  packages:\n    - a\n    - b\n    - name: c\n",
            expected: "apko.yaml:5:7: contents.packages[2]: expected a string, got a mapping"),
        Case(
            name: "string where a list belongs", yaml: "contents:\n  packages: busybox\n",
            expected: "apko.yaml:2:13: contents.packages: expected a list, got a string 'busybox'"),
        Case(
            name: "list where a mapping belongs", yaml: "accounts:\n  - root\n",
            expected: "apko.yaml:2:3: accounts: expected a mapping, got a list"),
        Case(
            name: "negative uid", yaml: "accounts:\n  users:\n    - username: a\n      uid: -1\n",
            expected: "apko.yaml:4:12: accounts.users[0].uid: integer '-1' is out of range (0 to 4294967295)"),
        Case(
            name: "quoted number is a string", yaml: "accounts:\n  groups:\n    - groupname: a\n      gid: \"10\"\n",
            expected: "apko.yaml:4:12: accounts.groups[0].gid: expected an integer, got a string '10'"),
        Case(
            name: "bad boolean", yaml: "paths:\n  - path: /x\n    recursive: sometimes\n",
            expected: "apko.yaml:3:16: paths[0].recursive: expected a boolean (true or false), got a string 'sometimes'"),
        Case(
            name: "bad path type", yaml: "paths:\n  - path: /x\n    type: dir\n",
            expected:
                "apko.yaml:3:11: paths[0].type: expected one of 'directory', 'empty-file', 'hardlink', 'symlink', 'permissions', got 'dir'"
        ),
        Case(
            name: "bad layer format", yaml: "format: squashfs\n",
            expected: "apko.yaml:1:9: format: expected one of 'tar', 'erofs', got 'squashfs'"),
        Case(
            name: "syntax error", yaml: "contents:\n  packages: [a, b\ncmd: x\n",
            expected: "apko.yaml:3:4: YAML syntax error: did not find expected ',' or ']'"),
        Case(
            name: "bad indentation", yaml: "contents:\n  packages:\n    - a\n   - b\n",
            expected: "apko.yaml:4:4: YAML syntax error"),
        Case(
            name: "duplicate key", yaml: "cmd: a\ncmd: b\n", expected: "apko.yaml:1:1: duplicate key 'cmd' in a mapping"),
        Case(name: "not a mapping", yaml: "- a\n- b\n", expected: "apko.yaml:1:1: expected a mapping, got a list"),
    ]

    @Test(arguments: apkoCases)
    func apkoErrors(_ testCase: Case) throws {
        let error = try #require(throws: LaminaError.self) {
            try ImageConfiguration.decode(yaml: testCase.yaml, file: "apko.yaml")
        }
        #expect(error.code == .invalidInput)
        #expect(error.description.hasPrefix(testCase.expected), "got: \(error.description)")
    }

    @Test func emptyFileIsAnError() throws {
        let error = try #require(throws: LaminaError.self) { try ImageConfiguration.decode(yaml: "# nothing\n") }
        #expect(error.description == "apko.yaml: the file is empty (expected a YAML mapping)")
    }

    static let melangeCases: [Case] = [
        Case(
            name: "missing package.name", yaml: "package:\n  version: 1.0\n  epoch: 0\n",
            expected: "melange.yaml:2:3: package.name: required field is missing"),
        Case(
            name: "empty package.name", yaml: "package:\n  name:\n  version: 1.0\n",
            expected: "melange.yaml:2:8: package.name: required field is missing"),
        Case(
            name: "missing package.version", yaml: "package:\n  name: hello\n",
            expected: "melange.yaml:2:3: package.version: required field is missing"),
        Case(
            name: "no package at all", yaml: "pipeline:\n  - runs: true\n",
            expected: "melange.yaml:1:1: package.name: required field is missing"),
        Case(
            name: "unknown key in a pipeline step",
            yaml: "package:\n  name: a\n  version: 1\npipeline:\n  - uses: fetch\n    whith:\n      uri: x\n",
            expected: "melange.yaml:6:5: unknown key 'whith' in 'pipeline[0]' (did you mean 'with'?)"),
        Case(
            name: "unknown key in the apko environment",
            yaml: "package:\n  name: a\n  version: 1\nenvironment:\n  repositories:\n    - x\n",
            expected: "melange.yaml:5:3: unknown key 'repositories' in 'environment'"),
        Case(
            name: "epoch is not a number", yaml: "package:\n  name: a\n  version: 1\n  epoch: one\n",
            expected: "melange.yaml:4:10: package.epoch: expected an integer, got a string 'one'"),
        Case(
            name: "bad timeout", yaml: "package:\n  name: a\n  version: 1\n  timeout: soon\n",
            expected: "melange.yaml:4:12: package.timeout: expected a duration such as '90m' or '1h30m', got 'soon'"),
        Case(
            name: "with is a list",
            yaml: "package:\n  name: a\n  version: 1\npipeline:\n  - uses: fetch\n    with:\n      - uri\n",
            expected: "melange.yaml:7:7: pipeline[0].with: expected a mapping, got a list"),
        Case(
            name: "invalid package name", yaml: "package:\n  name: boost-\"mobile\"\n  version: 2.0.0\n",
            expected: "melange.yaml:2:9: package.name: invalid package name 'boost-\"mobile\"'"),
        Case(
            name: "uses and runs",
            yaml: "package:\n  name: a\n  version: 1\npipeline:\n  - uses: go/build\n    runs: echo\n",
            expected: "melange.yaml:5:5: pipeline[0]: a step cannot have both 'uses' ('go/build') and 'runs'"),
        Case(
            name: "with without uses",
            yaml: "package:\n  name: a\n  version: 1\npipeline:\n  - runs: x\n  - with:\n      foo: bar\n",
            expected: "melange.yaml:7:7: pipeline[1].with: 'with' needs 'uses'"),
        Case(
            name: "nested step error",
            yaml: "package:\n  name: a\n  version: 1\npipeline:\n  - pipeline:\n      - uses: x\n        runs: y\n",
            expected: "melange.yaml:6:9: pipeline[0].pipeline[0]: a step cannot have both"),
        Case(
            name: "unknown variable in runtime dependencies",
            yaml: "package:\n  name: a\n  version: 1\n  dependencies:\n    runtime:\n      - b=${{package.versoin}}\n",
            expected:
                "melange.yaml:6:9: package.dependencies.runtime[0]: unknown variable '${{package.versoin}}'"),
        Case(
            name: "undefined range",
            yaml: "package:\n  name: a\n  version: 1\nsubpackages:\n  - name: x\n  - range: nope\n    name: y-${{range.key}}\n",
            expected: "melange.yaml:6:12: subpackages[1].range: range 'nope' names no 'data' entry"),
        Case(
            name: "duplicate subpackage",
            yaml: "package:\n  name: a\n  version: 1\nsubpackages:\n  - name: b\n  - name: b\n",
            expected: "melange.yaml:6:11: subpackages[1].name: duplicate subpackage name 'b' (also subpackages[0])"),
        Case(
            name: "subpackage named like the package", yaml: "package:\n  name: a\n  version: 1\nsubpackages:\n  - name: a\n",
            expected: "melange.yaml:5:11: subpackages[0].name: subpackage 'a' has the same name as the main package"),
        Case(
            name: "priority not an integer",
            yaml: "package:\n  name: a\n  version: 1\n  dependencies:\n    provider-priority: high\n",
            expected: "melange.yaml:5:24: package.dependencies.provider-priority: priority must be an integer"),
        Case(
            name: "unknown setcap capability",
            yaml:
                "package:\n  name: a\n  version: 1\n  setcap:\n    - path: /usr/bin/x\n      add:\n        cap_chown: +ep\n      reason: r\n",
            expected: "melange.yaml:7:9: package.setcap[0].add: invalid capability 'cap_chown'"),
        Case(
            name: "bad var-transform regex",
            yaml: "package:\n  name: a\n  version: 1\nvar-transforms:\n  - from: x\n    match: \"(\"\n    replace: y\n    to: z\n",
            expected: "melange.yaml:6:12: var-transforms[0].match: invalid regular expression '('"),
    ]

    @Test(arguments: melangeCases)
    func melangeErrors(_ testCase: Case) throws {
        let error = try #require(throws: LaminaError.self) {
            try BuildConfiguration.prepare(yaml: testCase.yaml, file: "melange.yaml")
        }
        #expect(error.code == .invalidInput)
        #expect(error.description.hasPrefix(testCase.expected), "got: \(error.description)")
    }

    @Test func rangeExpandedSubpackageErrorPointsAtItsSource() throws {
        let yaml = """
            package:
              name: hello
              version: world
            data:
              - name: turtles
                items:
                  leo: blue
            subpackages:
              - name: first
              - range: turtles
                name: turtle-"${{range.key}}"
            """
        let error = try #require(throws: LaminaError.self) { try BuildConfiguration.prepare(yaml: yaml) }
        #expect(error.description.hasPrefix(
            "melange.yaml:11:11: subpackages[1].name: invalid subpackage name 'turtle-\"leo\"'"))
    }
}
