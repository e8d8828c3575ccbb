import Config
import Foundation
import LaminaCore
import Testing
import TestSupport

@Suite(.enabled(if: TestFiles.available, "needs ../shared/testdata"))
struct MelangeTestDataTests {
    @Test func discoversTheExpectedFiles() {
        #expect(TestFiles.melangeExamples.count == 31)
        #expect(TestFiles.wolfiConfigs.count == 11)
        #expect(TestFiles.melangeE2EPipelines.count == 2)
        // Every top-level e2e YAML file is a build or test config by the README's naming rule.
        #expect(Set(TestFiles.melangeE2EAll) == Set(TestFiles.melangeE2EConfigs))
        #expect(TestFiles.melangeE2EConfigs.count >= 25)
    }

    static var allBuildConfigs: [String] {
        TestFiles.melangeExamples + TestFiles.melangeE2EConfigs + TestFiles.wolfiConfigs + TestFiles.otherMelangeConfigs
    }

    @Test(arguments: allBuildConfigs)
    func buildConfigLoads(file: String) throws {
        let loaded = try BuildConfiguration.load(path: TestFiles.absolute(file))
        let config = loaded.configuration
        #expect(!config.package.name.isEmpty)
        #expect(config.environment.accounts.users.contains { $0.username == "build" && $0.uid == 1000 })
        #expect(config.environment.environment["HOME"] != nil)
        // Every pipeline string resolves for a real architecture once the build variables are known,
        // except inside `uses:` steps whose inputs come from the pipeline definition.
        let variables = try Substitutions.forBuild(config, architecture: .x86_64)
        try BuildVariableCheck.check(config.pipeline, variables)
        for subpackage in config.subpackages {
            try BuildVariableCheck.check(subpackage.pipeline, variables.forSubpackage(named: subpackage.name))
            _ = try variables.forSubpackage(named: subpackage.name).evaluate(condition: subpackage.if)
        }
        // Rendering and decoding again gives the same configuration.
        let yaml = try ConfigRenderer.yaml(config)
        #expect(try BuildConfiguration.decode(yaml: yaml) == config)
    }

    @Test(arguments: TestFiles.melangeE2EPipelines)
    func pipelineDefinitionLoads(file: String) throws {
        let definition = try Pipeline.decodeDefinition(yaml: try TestFiles.text(file), file: file)
        #expect(!definition.name.isEmpty)
        #expect(!definition.pipeline.isEmpty)
    }

    @Test func busyboxSpotCheck() throws {
        let config = try BuildConfiguration.load(path: TestFiles.absolute("wolfi-dev+os/busybox.yaml")).configuration
        #expect(config.package.version == "1.38.0")
        #expect(config.package.epoch == 1)
        #expect(config.package.fullVersion == "1.38.0-r1")
        #expect(config.package.dependencies.providerPriority == "10")
        #expect(config.package.scriptlets?.trigger.paths == ["/bin", "/sbin", "/usr/bin", "/usr/sbin"])
        #expect(config.package.resources?.memory == "4Gi")
        #expect(config.pipeline.count == 17)
        #expect(config.subpackages.map(\.name) == ["busybox-full", "busybox-static"])
        // The load-time pass resolved the var-transform into the git-checkout tag.
        #expect(config.pipeline[0].uses == "git-checkout")
        #expect(config.pipeline[0].with["tag"] == "1_38_0")
        #expect(config.pipeline[0].workingDirectory == "build")
    }

    @Test(arguments: [("wolfi-dev+os/zlib.yaml", 5, ["zlib-static", "zlib-dev", "minizip", "zlib-doc"]),
                      ("wolfi-dev+os/hello-wolfi.yaml", 6, ["hello-doc"]),
                      ("wolfi-dev+os/apk-tools.yaml", 7, ["apk-tools-dev", "apk-tools-doc", "lua5.3-apk"])])
    func wolfiShapes(file: String, steps: Int, subpackages: [String]) throws {
        let config = try BuildConfiguration.load(path: TestFiles.absolute(file)).configuration
        #expect(config.pipeline.count == steps)
        #expect(config.subpackages.map(\.name) == subpackages)
    }

    @Test func gnuHelloFetchStep() throws {
        let config = try BuildConfiguration.load(path: TestFiles.absolute("chainguard-dev+melange/examples/gnu-hello.yaml"))
            .configuration
        #expect(config.pipeline[0].uses == "fetch")
        #expect(config.pipeline[0].with["uri"] == "https://mirrors.ocf.berkeley.edu/gnu/hello/hello-2.12.tar.gz")
        #expect(config.pipeline[0].with["expected-sha256"]
            == "cf04af86dc085268c5f4470fbae49b18afbc221b78096aab842d934a76bad0ab")
    }

    @Test func varTransformsExample() throws {
        let config = try BuildConfiguration.load(
            path: TestFiles.absolute("chainguard-dev+melange/examples/var-transforms.yaml")).configuration
        #expect(config.pipeline[0].with["uri"] == "https://github.com/foo/bar/archive/refs/tags/1.2.3+4.tar.gz")
    }

    @Test func conditionalExample() throws {
        let config = try BuildConfiguration.load(
            path: TestFiles.absolute("chainguard-dev+melange/examples/conditional.yaml")).configuration
        let x86 = try Substitutions.forBuild(config, architecture: .x86_64)
        let arm = try Substitutions.forBuild(config, architecture: .aarch64)
        let nested = config.pipeline[0].pipeline
        #expect(config.pipeline[0].assertions?.requiredSteps == 1)
        #expect(try nested.map { try x86.evaluate(condition: $0.if) } == [true, false])
        #expect(try nested.map { try arm.evaluate(condition: $0.if) } == [false, true])
        #expect(try config.pipeline[1...3].map { try x86.evaluate(condition: $0.if) } == [true, false, false])
    }

    /// melange's `TestConfiguration_Load` cases, with the outcome melange's test expects.
    @Test func rangeSubpackages() throws {
        let config = try BuildConfiguration.load(path: TestFiles.absolute(
            "chainguard-dev+melange/pkg/build/testdata/configuration_load/range-subpackages.melange.yaml")).configuration
        #expect(config.subpackages.map(\.name) == [
            "cats", "dogs", "turtles", "donatello", "leonardo", "michelangelo", "raphael",
        ])
        #expect(config.subpackages[0].pipeline == [Pipeline(runs: "cats are angry")])
        #expect(config.subpackages[3].pipeline == [
            Pipeline(runs: "donatello's color is purple"), Pipeline(uses: "go/build", with: ["packages": "purple"]),
        ])
        #expect(config.data.isEmpty)
        #expect(config.subpackages.allSatisfy { $0.range.isEmpty })
    }

    @Test func githubAndReleaseMonitorUpdates() throws {
        let base = "chainguard-dev+melange/pkg/build/testdata/configuration_load/"
        let github = try BuildConfiguration.load(path: TestFiles.absolute(base + "github.melange.yaml")).configuration
        #expect(github.update == Update(
            enabled: true, github: GitHubMonitor(identifier: "sigstore/cosign", stripPrefix: "v", useTag: true)))
        let monitor = try BuildConfiguration.load(path: TestFiles.absolute(base + "release-monitor.melange.yaml"))
            .configuration
        #expect(monitor.update.releaseMonitor == ReleaseMonitor(identifier: 193))
    }

    @Test func environmentDefaultsKeepConfiguredValues() throws {
        let config = try BuildConfiguration.load(path: TestFiles.absolute(
            "chainguard-dev+melange/pkg/build/testdata/configuration_load/env-vars-set-that-have-default-values.melange.yaml"
        )).configuration
        #expect(config.environment.environment == [
            "GOMODCACHE": "/var/cache/melange/gomodcache", "HOME": "/home/build/special-case",
            "GOPATH": "/var/cache/melange/go", "UV_CACHE_DIR": "/var/cache/melange/uv",
            "PIP_CACHE_DIR": "/var/cache/melange/pip", "COMPOSER_CACHE_DIR": "/var/cache/melange/composer",
            "npm_config_cache": "/var/cache/melange/npm",
        ])
        #expect(config.environment.accounts.users == [User(username: "build", uid: 1000, gid: 1000)])
        #expect(config.environment.accounts.groups == [Group(groupname: "build", gid: 1000, members: ["build"])])
    }

    struct Failing: Sendable, CustomTestStringConvertible {
        var file: String
        var message: String
        var testDescription: String { file }
    }

    /// The invalid configurations of melange's test data fail, for the reason melange gives.
    @Test(arguments: [
        Failing(file: "unknown-fields", message: "unknown key 'repositories' in 'environment'"),
        Failing(file: "missing-package-name", message: "package.name: required field is missing"),
        Failing(file: "uses-and-runs", message: "a step cannot have both 'uses' ('go/build') and 'runs'"),
        Failing(file: "with-and-runs", message: "pipeline[0].with: 'with' needs 'uses'"),
        Failing(file: "invalid-package-name", message: "package.name: invalid package name 'boost-\"mobile\"'"),
        Failing(file: "invalid-range-subpackage-name", message: "invalid subpackage name 'turtle-\"donatello\"'"),
        Failing(file: "invalid-duplicate-package-name", message: "has the same name as the main package"),
    ])
    func invalidMelangeConfigs(_ testCase: Failing) throws {
        let path = TestFiles.absolute(
            "chainguard-dev+melange/pkg/build/testdata/configuration_load/\(testCase.file).melange.yaml")
        let error = try #require(throws: LaminaError.self) { try BuildConfiguration.load(path: path) }
        #expect(error.subject?.hasPrefix(path + ":") == true)
        #expect(error.message.contains(testCase.message), "got: \(error.description)")
    }
}

struct BuildConfigurationBehaviourTests {
    @Test func nestedPipelinesInheritSettings() throws {
        let yaml = """
            package: {name: a, version: 1}
            pipeline:
              - working-directory: src
                environment: {A: outer, B: outer}
                pipeline:
                  - runs: one
                    environment: {B: inner}
                  - working-directory: other
                    runs: two
            """
        let config = try BuildConfiguration.prepare(yaml: yaml).configuration
        let children = config.pipeline[0].pipeline
        #expect(children[0].workingDirectory == "src")
        #expect(children[0].environment == ["A": "outer", "B": "inner"])
        #expect(children[1].workingDirectory == "other")
        #expect(children[1].environment == ["A": "outer", "B": "outer"])
    }

    @Test func loadTimeReplacementLeavesLaterVariables() throws {
        let yaml = """
            package:
              name: hello
              version: 2.12
              epoch: 3
              dependencies:
                provides:
                  - hi=${{package.full-version}}
            vars:
              v: x${{package.version}}
            pipeline:
              - runs: make DESTDIR=${{targets.destdir}} V=${{vars.v}} N=${{package.name}}
            """
        let config = try BuildConfiguration.prepare(yaml: yaml).configuration
        #expect(config.package.dependencies.provides == ["hi=2.12-r3"])
        #expect(config.pipeline[0].runs == "make DESTDIR=${{targets.destdir}} V=x${{package.version}} N=hello")
        let variables = try Substitutions.forBuild(config, architecture: .aarch64)
        #expect(try variables.apply(config.pipeline[0].runs) == "make DESTDIR=/home/build/melange-out/hello V=x2.12 N=hello")
    }

    @Test func buildOptions() throws {
        let yaml = """
            package: {name: a, version: 1}
            environment:
              contents:
                packages: [openssl-dev, busybox]
            vars: {tls: openssl}
            options:
              rustls:
                vars: {tls: rustls}
                environment:
                  contents:
                    packages:
                      add: [rustls-dev]
                      remove: [openssl-dev]
            """
        let config = try BuildConfiguration.prepare(yaml: yaml).configuration
        let rustls = try config.applyingBuildOptions(["rustls"])
        #expect(rustls.vars["tls"] == "rustls")
        #expect(rustls.environment.contents.packages == ["busybox", "rustls-dev"])
        #expect(throws: LaminaError.self) { try config.applyingBuildOptions(["nope"]) }
        let variables = try Substitutions.forBuild(rustls, architecture: .x86_64, buildOptions: ["rustls"])
        #expect(variables["options.rustls.enabled"] == "true")
        #expect(try variables.apply("${{vars.tls}}") == "rustls")
        #expect(try Substitutions.forBuild(config, architecture: .x86_64)["options.rustls.enabled"] == "false")
    }

    @Test func targetArchitecture() throws {
        let any = try BuildConfiguration.prepare(yaml: "package: {name: a, version: 1}").configuration
        #expect(any.builds(for: .aarch64))
        let one = try BuildConfiguration.prepare(
            yaml: "package: {name: a, version: 1, target-architecture: [x86_64]}").configuration
        #expect(one.builds(for: .x86_64))
        #expect(!one.builds(for: .aarch64))
    }

    @Test func timeoutDurations() throws {
        let config = try BuildConfiguration.decode(yaml: "package: {name: a, version: 1, timeout: 1h30m}")
        #expect(config.package.timeout?.seconds == 5400)
        #expect(config.package.timeout?.description == "1h30m0s")
    }

    @Test func renderedYAMLIsTwoSpaceIndentedAndOmitsEmptyFields() throws {
        let config = BuildConfiguration(
            package: Package(name: "hello", version: "1.0", epoch: 0, copyright: [Copyright(license: "MIT")]),
            pipeline: [Pipeline(runs: "echo hi\nmake\n"), Pipeline(uses: "fetch", with: ["uri": "https://x", "b": "0755"])])
        let yaml = try ConfigRenderer.yaml(config)
        #expect(yaml == """
            package:
              name: hello
              version: '1.0'
              epoch: 0
              copyright:
              - license: MIT
            pipeline:
            - runs: |
                echo hi
                make
            - uses: fetch
              with:
                b: '0755'
                uri: https://x

            """)
        #expect(try BuildConfiguration.decode(yaml: yaml) == config)
    }
}

/// Checks that every `${{…}}` left in `runs`, `if` and `working-directory` resolves with the build variables
/// (steps that use a pipeline may also refer to `inputs.*`, which come from its definition).
enum BuildVariableCheck {
    static func check(_ pipelines: [Pipeline], _ variables: Substitutions) throws {
        for step in pipelines {
            var scope = variables
            for (name, value) in step.with { scope["inputs.\(name)"] = value }
            _ = try scope.apply(step.runs)
            _ = try scope.apply(step.workingDirectory)
            _ = try scope.evaluate(condition: step.if)
            for value in step.with.values { _ = try scope.apply(value) }
            try check(step.pipeline, scope)
        }
    }
}
