import Config
import Foundation
import LaminaCore
import TestSupport
import Testing

@testable import PackageBuilder

/// Compiles every melange configuration in the shared test data.
@Suite(.enabled(if: SharedTestData.isAvailable, "needs ../shared/testdata"))
struct PipelineTestdataTests {
    static func yamlFiles(in directory: String, where include: (String) -> Bool = { _ in true }) -> [String] {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: SharedTestData.path(directory))) ?? []
        return names.filter { $0.hasSuffix(".yaml") && include($0) }.sorted().map { "\(directory)/\($0)" }
    }

    static let e2e = "chainguard-dev+melange/e2e-tests"

    /// melange's examples, its e2e build/test configurations and the Wolfi package configurations.
    static var configs: [String] {
        yamlFiles(in: "chainguard-dev+melange/examples") + ["chainguard-dev+melange/examples/simple-hello/melange.yaml"]
            + yamlFiles(in: e2e) { $0.hasSuffix("-build.yaml") || $0.hasSuffix("-test.yaml") }
            + yamlFiles(in: "wolfi-dev+os")
    }

    /// What compiling `file` gives: "ok", "missing NAME" (a `uses:` we do not ship), or "error: MESSAGE".
    static func outcome(_ file: String, tests: Bool) -> String {
        do {
            let loaded = try BuildConfiguration.load(path: SharedTestData.path(file))
            let compiler = PipelineCompiler(
                loaded: loaded,
                context: BuildContext(
                    architecture: try Architecture("x86_64"),
                    pipelineDirectories: [SharedTestData.path("\(e2e)/pipelines")]))
            if tests { _ = try compiler.compileTests() } else { _ = try compiler.compile() }
            return "ok"
        } catch let error as LaminaError {
            if error.code == .notFound, let range = error.message.range(of: "no pipeline named '") {
                return "missing " + error.message[range.upperBound...].prefix { $0 != "'" }
            }
            return "error: \(error)"
        } catch {
            return "error: \(error)"
        }
    }

    static let examples = "chainguard-dev+melange/examples"

    /// Build pipelines that do not compile, and why. Everything else must compile.
    static let buildExceptions: [String: String] = [
        "\(examples)/R-build.yaml": "missing R/build",
        "\(examples)/go-bump.yaml": "missing go/bump",
        "wolfi-dev+os/hello-wolfi.yaml": "missing git/gnulib-bootstrap",
        // `fetch` without expected-sha256/-sha512: melange fails at run time, we at compile time.
        "\(examples)/fetch-directory.yaml": "error: needs 'expected-sha256' or 'expected-sha512'",
        "\(examples)/var-transforms.yaml": "error: needs 'expected-sha256' or 'expected-sha512'",
    ]

    /// Test pipelines that do not compile (Wolfi's `test/*` pipelines live in wolfi-dev/os, not in melange).
    static let testExceptions: [String: String] = [
        "\(examples)/test-xcover.yaml": "missing xcover/profile",
        "\(e2e)/xcover-nopkg-test.yaml": "missing xcover/profile",
        "\(e2e)/xcover-project-scope-nopkg-test.yaml": "missing xcover/profile",
        "wolfi-dev+os/apk-tools.yaml": "missing test/tw/ldd-check",
        "wolfi-dev+os/busybox.yaml": "missing test/tw/ldd-check",
        "wolfi-dev+os/ca-certificates.yaml": "missing test/no-docs",
        "wolfi-dev+os/hello-wolfi.yaml": "missing test/tw/ldd-check",
        "wolfi-dev+os/libcap.yaml": "missing test/tw/ldd-check",
        "wolfi-dev+os/ruby3.2-base64.yaml": "missing test/tw/gem-check",
        "wolfi-dev+os/zlib.yaml": "missing test/hardening-check",
    ]

    static func matches(_ outcome: String, _ expected: String?) -> Bool {
        guard let expected else { return outcome == "ok" }
        if expected.hasPrefix("error: ") {
            return outcome.hasPrefix("error: ") && outcome.contains(expected.dropFirst(7))
        }
        return outcome == expected
    }

    @Test func configurationCount() {
        #expect(Self.configs.count >= 65)
        #expect(Set(Self.buildExceptions.keys).isSubset(of: Set(Self.configs)))
        #expect(Set(Self.testExceptions.keys).isSubset(of: Set(Self.configs)))
    }

    @Test(arguments: configs)
    func buildPipelinesCompile(file: String) {
        let outcome = Self.outcome(file, tests: false)
        #expect(Self.matches(outcome, Self.buildExceptions[file]), "\(file): \(outcome)")
    }

    @Test(arguments: configs)
    func testPipelinesCompile(file: String) {
        let outcome = Self.outcome(file, tests: true)
        #expect(Self.matches(outcome, Self.testExceptions[file]), "\(file): \(outcome)")
    }

    static func plan(_ file: String, architecture: String = "x86_64") throws -> BuildPlan {
        try PipelineCompiler(
            loaded: try BuildConfiguration.load(path: SharedTestData.path(file)),
            context: BuildContext(
                architecture: try Architecture(architecture),
                pipelineDirectories: [SharedTestData.path("\(Self.e2e)/pipelines")])
        ).compile()
    }

    static func script(_ step: CompiledStep) -> String? {
        if case .run(let script) = step.action { return script }
        return nil
    }

    @Test func gnuHelloFetchesWithTheVersionSubstituted() throws {
        let plan = try Self.plan("\(Self.examples)/gnu-hello.yaml")
        guard case .fetch(let action) = plan.main.steps.first?.action else {
            Issue.record("gnu-hello should start with a fetch action")
            return
        }
        #expect(action.uri == "https://mirrors.ocf.berkeley.edu/gnu/hello/hello-2.12.tar.gz")
        #expect(action.expectedSHA256 == "cf04af86dc085268c5f4470fbae49b18afbc221b78096aab842d934a76bad0ab")
        #expect(action.destination == "hello-2.12.tar.gz")
        #expect(action.stripComponents == 1)
        #expect(
            plan.main.steps.map { $0.name } == [
                "fetch", "fetch", "autoconf/configure", "autoconf/make",
                "autoconf/make-install", "autoconf/make-install", "strip",
            ])
        let configure = try #require(plan.main.steps.first { $0.name == "autoconf/configure" }.flatMap(Self.script))
        #expect(configure.contains("--host='x86_64-pc-linux-gnu'"))
        let strip = try #require(plan.main.steps.last)
        #expect(strip.workingDirectory == "/home/build/melange-out/hello")
    }

    @Test func environmentPropagatesIntoUsedPipelines() throws {
        let plan = try Self.plan("\(Self.e2e)/env-propagation-uses-build.yaml")
        let step = try #require(plan.main.steps.first)
        #expect(plan.main.steps.count == 1)
        #expect(step.name == "Verify environment variables")
        #expect(step.environment["GLOBAL_VAR"] == "from_config")
        #expect(step.environment["PIPELINE_VAR"] == "from_uses")
        #expect(step.environment["INTERNAL_PIPELINE_VAR"] == "internal_pipeline_var")
    }

    @Test func gitCheckoutStepsKeepTheirWorkingDirectories() throws {
        let plan = try Self.plan("\(Self.e2e)/git-checkout-build.yaml")
        let checkout = try #require(plan.main.steps.first { $0.name == "standard tag on branch" })
        #expect(checkout.workingDirectory == "/home/build/standard")
        let script = try #require(Self.script(checkout))
        #expect(script.contains("repo='file:///tmp/test-git-checkout-workd/repos/my-repo'"))
        #expect(script.contains("expected='3dfc3dd573b814be48c07f7f8ae3c19a23b69865'"))
        #expect(plan.neededPackages == ["git"])
        #expect(plan.environmentPackages == ["busybox", "git"])
    }

    @Test func conditionalExampleDependsOnArchitecture() throws {
        let x86 = try Self.plan("\(Self.examples)/conditional.yaml")
        #expect(x86.main.steps.compactMap(Self.script).first == "echo \"build arch is x86_64!\"\n")
        #expect(!x86.main.steps.contains { if case .fetch = $0.action { return true } else { return false } })
        let arm = try Self.plan("\(Self.examples)/conditional.yaml", architecture: "arm64")
        #expect(arm.main.steps.compactMap(Self.script).first == "echo \"build arch is aarch64!\"\n")
        // No nested step matches: the `required-steps: 1` assertion fails.
        #expect(throws: LaminaError.self) { try Self.plan("\(Self.examples)/conditional.yaml", architecture: "s390x") }
    }

    @Test func zlibSubpackagesSplitFromTheMainPackage() throws {
        let plan = try Self.plan("wolfi-dev+os/zlib.yaml")
        #expect(plan.subpackages.map { $0.name } == ["zlib-static", "zlib-dev", "minizip", "zlib-doc"])
        let dev = try #require(plan.subpackages.first { $0.name == "zlib-dev" })
        let split = try #require(dev.steps.first.flatMap(Self.script))
        #expect(split.contains("from='/home/build/melange-out/zlib'"))
        #expect(split.contains("to='/home/build/melange-out/zlib-dev'"))
        #expect(dev.dependencies.runtime.contains { $0.hasPrefix("zlib=") })
    }

    /// melange's range test file: the `go/build` step of the second range lacks `output`; the error names the
    /// line it was written on, although the step belongs to an expanded copy.
    @Test func rangeSubpackageErrorsPointAtTheWrittenLine() throws {
        let file = "chainguard-dev+melange/pkg/build/testdata/configuration_load/range-subpackages.melange.yaml"
        do {
            _ = try Self.plan(file)
            Issue.record("expected a missing-input error")
        } catch let error as LaminaError {
            #expect(error.message.contains("pipeline 'go/build': required input 'output' is missing"))
            #expect(error.subject?.hasSuffix("range-subpackages.melange.yaml:33:11") == true)
        }
    }

    /// Prints, for the report, every `uses:` in the test data that is neither built in nor in the e2e pipelines
    /// directory, with how often it appears.
    @Test func missingUsesSurvey() throws {
        var counts: [String: Int] = [:]
        let local = Set(
            (try? FileManager.default.contentsOfDirectory(atPath: SharedTestData.path("\(Self.e2e)/pipelines"))) ?? [])
        for file in Self.configs {
            let text = try String(contentsOfFile: SharedTestData.path(file), encoding: .utf8)
            for line in text.split(separator: "\n") {
                let trimmed = line.drop { $0 == " " || $0 == "-" }
                guard trimmed.hasPrefix("uses:") else { continue }
                let name = trimmed.dropFirst(5).trimmingCharacters(in: .whitespaces)
                if BuiltinPipelines.definitions[name] == nil, !local.contains(name + ".yaml") {
                    counts[name, default: 0] += 1
                }
            }
        }
        for (name, count) in counts.sorted(by: { ($1.value, $0.key) < ($0.value, $1.key) }) {
            print("missing uses: \(name) ×\(count)")
        }
        #expect(counts["git-checkout"] == nil && counts["fetch"] == nil && counts["split/dev"] == nil)
    }
}
