import Config
import Foundation
import LaminaCore
import Testing

@testable import PackageBuilder

/// The built-in pipelines offer what melange's do: every pipeline melange ships (`pkg/build/pipelines/**` at
/// melange 2043d30b), with the same inputs, defaults and required-ness, and melange's error for a missing required
/// input.
struct PipelineMelangeParityTests {
    struct MelangeInput: Sendable {
        var defaultValue: String
        var required: Bool
        init(_ defaultValue: String, _ required: Bool) {
            self.defaultValue = defaultValue
            self.required = required
        }
    }

    /// Input name → default and required-ness, per pipeline, as melange declares them.
    static let melangeInputs: [String: [String: MelangeInput]] = [
        "R/build": ["package": .init("", true), "path": .init(".", false), "version": .init("", true)],
        "autoconf/configure": [
            "build": .init("${{host.triplet.gnu}}", false),
            "dir": .init(".", false),
            "host": .init("${{host.triplet.gnu}}", false),
            "opts": .init("", false),
        ],
        "autoconf/make-install": [
            "dir": .init(".", false),
            "opts": .init("", false),
            "targets": .init("install", false),
        ],
        "autoconf/make": ["dir": .init(".", false), "opts": .init("", false), "targets": .init("", false)],
        "cargo/build": [
            "install-dir": .init("bin", false),
            "jobs": .init("", false),
            "modroot": .init(".", false),
            "opts": .init("--release", false),
            "output": .init("", false),
            "output-dir": .init("target/release", false),
            "prefix": .init("usr", false),
            "rustflags": .init("", false),
        ],
        "cmake/build": ["opts": .init("", false), "output-dir": .init("output", false)],
        "cmake/configure": ["opts": .init("", false), "output-dir": .init("output", false)],
        "cmake/install": ["output-dir": .init("output", false)],
        "fetch": [
            "delete": .init("false", false),
            "directory": .init(".", false),
            "dns-timeout": .init("20", false),
            "expected-none": .init("", false),
            "expected-sha256": .init("", false),
            "expected-sha512": .init("", false),
            "extract": .init("true", false),
            "purl-name": .init("${{package.name}}", false),
            "purl-version": .init("${{package.version}}", false),
            "reason": .init("", false),
            "retry-limit": .init("5", false),
            "strip-components": .init("1", false),
            "timeout": .init("5", false),
            "uri": .init("", true),
        ],
        "git-am": ["patches": .init("", true)],
        "git-checkout": [
            "branch": .init("", false),
            "cherry-picks": .init("", false),
            "depth": .init("unset", false),
            "destination": .init(".", false),
            "expected-commit": .init("", false),
            "expected-commit-is-branch-tip": .init("false", false),
            "initial-backoff": .init("2", false),
            "max-backoff": .init("60", false),
            "max-retries": .init("3", false),
            "reason": .init("", false),
            "recurse-submodules": .init("false", false),
            "repository": .init("", true),
            "shallow-submodules": .init("false", false),
            "sparse-paths": .init("", false),
            "submodule-jobs": .init("1", false),
            "tag": .init("", false),
            "type-hint": .init("", false),
        ],
        "go/build": [
            "amd64": .init("v2", false),
            "arm64": .init("v8.0", false),
            "buildmode": .init("default", false),
            "deps": .init("", false),
            "experiments": .init("", false),
            "extra-args": .init("", false),
            "go-package": .init("go", false),
            "ignore-untracked-files": .init("true", false),
            "install-dir": .init("bin", false),
            "ldflags": .init("", false),
            "modroot": .init(".", false),
            "output": .init("", true),
            "packages": .init("", true),
            "prefix": .init("usr", false),
            "strip": .init("-w", false),
            "tags": .init("", false),
            "tidy": .init("false", false),
            "toolchaintags": .init("netgo,osusergo", false),
            "vendor": .init("false", false),
        ],
        "go/build/v2": [
            "amd64": .init("v2", false),
            "arm64": .init("v8.0", false),
            "buildmode": .init("default", false),
            "experiments": .init("", false),
            "extra-args": .init("", false),
            "ignore-untracked-files": .init("true", false),
            "install-dir": .init("bin", false),
            "ldflags": .init("", false),
            "modroot": .init(".", false),
            "output": .init("", false),
            "packages": .init(".", false),
            "prefix": .init("usr", false),
            "strip": .init("-w", false),
            "tags": .init("", false),
            "toolchaintags": .init("netgo,osusergo", false),
            "vendor": .init("false", false),
        ],
        "go/bump": [
            "deps": .init("", true),
            "go-version": .init("", false),
            "modroot": .init(".", false),
            "replaces": .init("", false),
            "show-diff": .init("false", false),
            "tidy": .init("true", false),
            "tidy-compat": .init("", false),
            "work": .init("false", false),
        ],
        "go/covdata": ["cover-dir": .init("/home/build", false), "package": .init("go", false)],
        "go/install": [
            "amd64": .init("v2", false),
            "arm64": .init("v8.0", false),
            "experiments": .init("", false),
            "go-package": .init("go", false),
            "install-dir": .init("bin", false),
            "ldflags": .init("", false),
            "package": .init("", true),
            "prefix": .init("usr", false),
            "strip": .init("-w", false),
            "tags": .init("", false),
            "toolchaintags": .init("netgo,osusergo", false),
            "version": .init("", false),
        ],
        "llvm/covreport": [
            "ignore-filename-regex": .init("", false),
            "object": .init("", false),
            "package": .init("llvm-19", false),
        ],
        "maven/configure-mirror": [:],
        "maven/pombump": [
            "debug": .init("false", false),
            "dependencies": .init("", false),
            "patch-file": .init("./pombump-deps.yaml", false),
            "pom": .init("pom.xml", false),
            "properties": .init("", false),
            "properties-file": .init("./pombump-properties.yaml", false),
            "show-dependency-tree": .init("false", false),
        ],
        "meson/compile": ["output-dir": .init("output", false)],
        "meson/configure": ["opts": .init("", false), "output-dir": .init("output", false)],
        "meson/install": ["output-dir": .init("output", false)],
        "npm/install": [
            "npm-package": .init("npm", false),
            "overrides": .init("", false),
            "package": .init("", true),
            "prefix": .init("${{targets.contextdir}}/usr/", false),
            "version": .init("", true),
        ],
        "patch": [
            "fuzz": .init("2", false),
            "patches": .init("", false),
            "series": .init("", false),
            "strip-components": .init("1", false),
        ],
        "pecl/install": ["extension": .init("", true)],
        "pecl/phpize": ["php-config": .init("php-config", false), "prefix": .init("/usr", false)],
        "perl/cleanup": [:],
        "perl/make": [:],
        "python/build-wheel": [:],
        "python/build": [:],
        "python/import": [
            "from": .init("", false),
            "import": .init("", false),
            "imports": .init("", false),
            "python": .init("DEFAULT", false),
            "venv": .init("", false),
        ],
        "python/install": [:],
        "python/test": ["command": .init("", true)],
        "ruby/build": [
            "dir": .init(".", false),
            "gem": .init("", true),
            "opts": .init("", false),
            "output": .init("", false),
        ],
        "ruby/clean": [:],
        "ruby/install": [
            "dir": .init(".", false),
            "gem": .init("", false),
            "gem-file": .init("", false),
            "opts": .init("", false),
            "version": .init("", true),
        ],
        "split/alldocs": ["package": .init("", false)],
        "split/bin": ["package": .init("", false)],
        "split/debug": ["package": .init("", false)],
        "split/dev": ["package": .init("", false), "prefix": .init("/usr", false)],
        "split/infodir": ["package": .init("", false)],
        "split/lib": ["package": .init("", false), "paths": .init("", false), "patterns": .init("", false)],
        "split/locales": ["package": .init("", false)],
        "split/manpages": ["package": .init("", false)],
        "split/static": ["package": .init("", false)],
        "strip": ["opts": .init("-g", false)],
        "xcover/ensure": ["min-coverage": .init("", false), "package": .init("xcover", false)],
        "xcover/profile": [
            "exclude-functions": .init("", false),
            "executable-path": .init("", true),
            "include-functions": .init("", false),
            "log-level": .init("info", false),
            "package": .init("xcover", false),
            "scope": .init("project", false),
            "verbose": .init("false", false),
            "wait-timeout": .init("60", false),
        ],
        "xcover/status": ["package": .init("xcover", false)],
        "xcover/stop": ["package": .init("xcover", false)],
        "xcover/wait": ["package": .init("xcover", false), "wait-timeout": .init("60", false)],
    ]

    @Test func everyMelangePipelineIsBuiltIn() {
        let missing = Self.melangeInputs.keys.filter { BuiltinPipelines.definitions[$0] == nil }.sorted()
        #expect(missing.isEmpty, "not built in: \(missing)")
        #expect(Self.melangeInputs.count == 51)
    }

    @Test(arguments: melangeInputs.keys.sorted())
    func inputsMatchMelange(name: String) throws {
        let inputs = try PipelineLoader().load(name, directories: []).pipeline.inputs
        let expected = Self.melangeInputs[name] ?? [:]
        #expect(Set(inputs.keys) == Set(expected.keys), "\(name)")
        for (input, melange) in expected {
            guard let ours = inputs[input] else { continue }
            #expect(ours.defaultValue == melange.defaultValue, "\(name): default of \(input)")
            #expect(ours.required == melange.required, "\(name): required-ness of \(input)")
        }
    }

    static var withRequiredInputs: [String] {
        melangeInputs.filter { $0.value.values.contains { $0.required } }.keys.sorted()
    }

    /// Leaving out each required input in turn fails with melange's message, at the step's line.
    @Test(arguments: withRequiredInputs)
    func missingRequiredInputGivesMelangesError(name: String) throws {
        let all = try PipelineBuiltinTests.with(for: name)
        for input in (Self.melangeInputs[name] ?? [:]).filter({ $0.value.required }).keys.sorted() {
            var with = all
            with[input] = nil
            let lines = with.keys.sorted().map { "          \($0): \"\(with[$0] ?? "")\"" }
            let yaml = """
                package:
                  name: thing
                  version: "1.0"
                pipeline:
                  - uses: \(name)

                """ + (lines.isEmpty ? "" : "    with:\n" + lines.joined(separator: "\n") + "\n")
            let (configuration, sourceMap) = try BuildConfiguration.prepare(yaml: yaml)
            let compiler = PipelineCompiler(
                configuration: configuration, sourceMap: sourceMap,
                context: BuildContext(architecture: try Architecture("x86_64")))
            do {
                _ = try compiler.compile()
                Issue.record("\(name) compiled without \(input)")
            } catch let error as LaminaError {
                #expect(error.message.contains("required input \"\(input)\" for pipeline is missing"), "\(error)")
                #expect(error.subject?.hasPrefix("melange.yaml:") == true, "\(error)")
            }
        }
    }
}
