import Config
import Foundation
import LaminaCore
import TestSupport
import Testing

@testable import PackageBuilder

/// Compiles every melange configuration in the shared test data, as `melange compile` does.
@Suite(.enabled(if: SharedTestData.isAvailable, "needs ../shared/testdata"))
struct PipelineTestdataTests {
    static let e2e = "chainguard-dev+melange/e2e-tests"
    static let examples = "chainguard-dev+melange/examples"
    static let load = "chainguard-dev+melange/pkg/build/testdata/configuration_load"

    /// Every melange configuration under the test data's melange, Wolfi and apko folders (paths relative to the
    /// test data root), found as `lamina package compile --bench` finds them.
    static var configs: [String] {
        let root = SharedTestData.path("")
        let prefix = root.hasSuffix("/") ? root : root + "/"
        return ["chainguard-dev+melange", "wolfi-dev+os", "chainguard-dev+apko"].flatMap { folder in
            ((try? BuildConfiguration.findConfigurations(under: SharedTestData.path(folder))) ?? []).map {
                String($0.dropFirst(prefix.count))
            }
        }
    }

    /// melange's e2e pipelines, then stand-ins for the Wolfi pipelines (`test/tw/…`, `git/gnulib-bootstrap`) and
    /// the two melange load fixtures the configurations use but the test data does not hold (Tests/Fixtures).
    static var pipelineDirectories: [String] {
        [
            SharedTestData.path("\(e2e)/pipelines"),
            SharedTestData.packageRoot.appendingPathComponent("Tests/Fixtures/pipelines").path,
        ]
    }

    static func compiler(_ file: String, architecture: String = "x86_64") throws -> PipelineCompiler {
        PipelineCompiler(
            loaded: try BuildConfiguration.load(path: SharedTestData.path(file)),
            context: BuildContext(
                architecture: try Architecture(architecture), pipelineDirectories: pipelineDirectories))
    }

    /// What compiling `file` gives: "ok", "missing NAME" (a `uses:` found nowhere), or "error: MESSAGE". Build
    /// plan, test plan and compiled configuration must all succeed for "ok".
    static func outcome(_ file: String) -> String {
        do {
            let compiler = try Self.compiler(file)
            _ = try compiler.compiledConfiguration()
            _ = try compiler.compile()
            _ = try compiler.compileTests()
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

    /// The configurations melange itself refuses (its `pkg/build` load tests expect these errors; the two
    /// range files pass its load test, which does not compile, but lack a required input of `go/build`), and the
    /// error we give. Everything else must compile.
    static let refused: [String: String] = [
        "\(load)/invalid-duplicate-package-name.melange.yaml": "has the same name as the main package",
        "\(load)/invalid-package-name.melange.yaml": "invalid package name",
        "\(load)/invalid-range-subpackage-name.melange.yaml": "invalid subpackage name",
        "\(load)/missing-package-name.melange.yaml": "package.name: required field is missing",
        "\(load)/unknown-fields.melange.yaml": "unknown key 'repositories' in 'environment'",
        "\(load)/uses-and-runs.melange.yaml": "a step cannot have both 'uses'",
        "\(load)/with-and-runs.melange.yaml": "'with' needs 'uses'",
        "\(load)/range-subpackages.melange.yaml": "required input \"output\" for pipeline is missing",
        "chainguard-dev+melange/pkg/build/testdata/test_configuration_load/range-subpackages.melange.yaml":
            "required input \"output\" for pipeline is missing",
    ]

    @Test func everyConfigurationIsFound() {
        let configs = Set(Self.configs)
        #expect(configs.count >= 80, "found \(configs.count)")
        #expect(Set(Self.refused.keys).isSubset(of: configs))
        for expected in [
            "\(Self.examples)/gnu-hello.yaml", "\(Self.examples)/simple-hello/melange.yaml",
            "\(Self.e2e)/git-checkout-build.yaml",
            "wolfi-dev+os/zlib.yaml", "chainguard-dev+melange/pkg/sca/testdata/go-fips-bin/go-fips-bin.yaml",
            "chainguard-dev+apko/internal/cli/testdata/private_packages/package-x.melange.yaml",
            "chainguard-dev+apko/pkg/apk/apk/testdata/replaces/melange.yaml",
        ] {
            #expect(configs.contains(expected), "\(expected) not found")
        }
        #expect(!configs.contains { $0.hasPrefix("\(Self.e2e)/pipelines/") })
    }

    @Test(arguments: configs)
    func compiles(file: String) {
        let outcome = Self.outcome(file)
        if let expected = Self.refused[file] {
            #expect(outcome.hasPrefix("error: ") && outcome.contains(expected), "\(file): \(outcome)")
        } else {
            #expect(outcome == "ok", "\(file): \(outcome)")
        }
    }

    static func plan(_ file: String, architecture: String = "x86_64") throws -> BuildPlan {
        try compiler(file, architecture: architecture).compile()
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
            #expect(error.message.contains("pipeline 'go/build': required input \"output\" for pipeline is missing"))
            #expect(error.subject?.hasSuffix("range-subpackages.melange.yaml:33:11") == true)
        }
    }

    /// `melange compile`'s shape: `uses:` steps hold the used pipeline's steps, `with` keeps only values that differ
    /// from the defaults, `needs` move into the environment, tests get the package under test.
    @Test func compiledConfigurationExpandsUsesAsMelangeDoes() throws {
        let compiled = try Self.compiler("\(Self.examples)/gnu-hello.yaml").compiledConfiguration()
        let fetch = try #require(compiled.pipeline.first)
        #expect(fetch.uses == "fetch")
        #expect(fetch.with == [
            "uri": "https://mirrors.ocf.berkeley.edu/gnu/hello/hello-2.12.tar.gz",
            "expected-sha256": "cf04af86dc085268c5f4470fbae49b18afbc221b78096aab842d934a76bad0ab",
        ])
        #expect(fetch.inputs.isEmpty && fetch.needs == nil && !fetch.pipeline.isEmpty)
        let configure = try #require(compiled.pipeline.first { $0.uses == "autoconf/configure" })
        #expect(configure.with.isEmpty)
        #expect(configure.pipeline.first?.runs.contains("--host='x86_64-pc-linux-gnu'") == true)
        let packages = compiled.environment.contents.packages
        #expect(Array(packages.prefix(2)) == ["build-base", "busybox"])
        #expect(packages.contains("autoconf") && packages.contains("scanelf"))
        #expect(Set(packages).count == packages.count)

        // A test environment gets the package under test and the needs of its test pipelines, sorted.
        let zlib = try Self.compiler("wolfi-dev+os/zlib.yaml").compiledConfiguration()
        let dev = try #require(zlib.subpackages.first { $0.name == "zlib-dev" })
        let testPackages = try #require(dev.test?.environment.contents.packages)
        #expect(testPackages.contains("zlib-dev"))
        #expect(testPackages == testPackages.sorted())
        #expect(zlib.subpackages.map(\.name) == ["zlib-static", "zlib-dev", "minizip", "zlib-doc"])

        // JSON as melange prints it: one line, Go's field names and escaping.
        let json = try ConfigRenderer.json(compiled)
        #expect(!json.contains("\n"))
        #expect(json.hasPrefix(#"{"package":{"name":"hello","version":"2.12","epoch":0,"#))
        #expect(json.contains(#""pipeline":[{"uses":"fetch","with":{"expected-sha256":"#))
        #expect(json.contains(#"\u0026\u0026"#))
        #expect(json.contains(#""resources":{}"#))
        #expect(json.contains(#""update":{"enabled":false}"#))
    }
}
