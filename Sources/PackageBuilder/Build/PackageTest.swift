import APK
import Config
import Foundation
import HTTPTransport
import ImageBuilder
import LaminaCore
import Sandbox

/// `lamina package test`: runs the `test:` pipelines of a melange.yaml, each in a fresh guest holding the
/// package under test (from the output repository, `options.outputDirectory`) and the test's own packages.
///
/// Repositories and keys: the test environment's own, then the build environment's when the test names none
/// (so the usual config needs no extra flags), then `--repository-append` / `--keyring-append`; the output
/// repository is always searched, and is trusted through `--keyring-append` or the public half of the
/// signing key given with `signingKeyPath`.
public struct PackageTest: Sendable {
    public var options: PackageBuildOptions
    /// Only these packages' tests (empty: every test).
    public var packages: [String]
    public var progress: ProgressHandler?
    public var stepOutput: StepOutputHandler?

    public init(options: PackageBuildOptions, packages: [String] = [], progress: ProgressHandler? = nil, stepOutput: StepOutputHandler? = nil) {
        self.options = options
        self.packages = packages
        self.progress = progress
        self.stepOutput = stepOutput
    }

    /// Runs the tests, stopping at the first failing step.
    /// - Returns: the names of the packages whose tests ran (and passed).
    /// - Throws: config and resolution errors; `.sandbox` naming the failing step; `.notFound` when a package
    ///   asked for in `packages` has no test.
    public func run() async throws -> [String] {
        let loaded = try BuildConfiguration.load(
            path: options.configPath,
            options: BuildLoadOptions(extraVars: options.vars, extraEnvironment: options.environmentOverrides))
        try PackageBuild.checkTargetArchitecture(loaded.configuration, options.architecture, loaded.sourceMap)
        try NativeExecution().check([options.architecture], subject: options.configPath)  // tests run in a guest
        let context = BuildContext(
            architecture: options.architecture, buildOptions: options.buildOptions,
            pipelineDirectories: options.pipelineDirectories, sourceDateEpoch: options.clock.epoch)
        let plan = try PipelineCompiler(loaded: loaded, context: context).compileTests()
        var selected = plan.all
        if !packages.isEmpty {
            for name in packages where !selected.contains(where: { $0.packageName == name }) {
                throw LaminaError(.notFound, "\(name) has no test: pipeline", subject: options.configPath)
            }
            selected = selected.filter { packages.contains($0.packageName) }
        }
        if selected.isEmpty { progress?(.warning("\(loaded.configuration.package.name): no tests to run")) }

        var tested: [String] = []
        for test in selected {
            try await run(test, loaded: loaded)
            tested.append(test.packageName)
        }
        return tested
    }

    private func run(_ test: CompiledTestPlan, loaded: LoadedBuildConfiguration) async throws {
        let work = try PackageBuild.makeTemporaryFolder(in: options.temporaryDirectory, prefix: "lamina-test-")
        defer { if !options.keepTemporaryFiles { try? FileManager.default.removeItem(atPath: work) } }
        progress?(.note("testing \(test.packageName)"))

        // The guest: the test's packages and the package under test.
        var environment = loaded.environment
        var configuration = test.environmentConfiguration
        if configuration.contents.repositories.isEmpty {
            configuration.contents.repositories = loaded.configuration.environment.contents.repositories
        }
        if configuration.contents.keyring.isEmpty {
            configuration.contents.keyring = loaded.configuration.environment.contents.keyring
        }
        configuration.contents.packages = test.environmentPackages
        environment.configuration = configuration
        var imageOptions = ImageOptions(
            configPath: options.configPath, cacheDirectory: options.cacheDirectory, environment: options.environment,
            temporaryDirectory: work)
        imageOptions.extraRepositories = [options.outputDirectory] + options.extraRepositories
        var keyrings = options.extraKeyrings
        if let signingKeyPath = options.signingKeyPath {
            // The output repository is signed with this key: trust its public half.
            let key = try SigningKey.load(path: signingKeyPath)
            let publicPath = work + "/" + key.keyName
            try key.publicKey.pem.write(toFile: publicPath, atomically: true, encoding: .utf8)
            keyrings.append(publicPath)
        }
        imageOptions.extraKeyrings = keyrings
        imageOptions.architectures = [options.architecture]
        imageOptions.offline = options.offline
        imageOptions.allowUntrusted = options.allowUntrusted
        let guest = work + "/guest"
        _ = try await GuestRoot.install(
            environment, options: imageOptions, architecture: options.architecture, clock: options.clock, into: guest,
            progress: progress)

        // A fresh workspace with the sources, as melange test gives.
        let workspace = work + "/workspace"
        try FileManager.default.createDirectory(atPath: workspace, withIntermediateDirectories: true)
        try PackageBuild(options: options).copySources(into: workspace, work: work)

        let sandbox = SandboxConfiguration(
            guestRoot: URL(fileURLWithPath: guest), guestRootWritable: true, workspace: URL(fileURLWithPath: workspace),
            environment: test.environment, network: options.network,
            user: try StepUser.resolve(configuration.accounts, key: "test.environment.accounts.run-as"),
            capabilities: try CapabilityChanges(add: loaded.configuration.capabilities.add, drop: loaded.configuration.capabilities.drop))
        try await GuestRoot.withSession(options.runner, sandbox) { session in
            for step in test.steps {
                progress?(.note("\(test.packageName) test: \(step.name)"))
                guard var buildStep = step.buildStep else {
                    throw LaminaError(.invalidInput, "fetch is not available in tests", subject: "step '\(step.name)'")
                }
                buildStep.trace = options.trace
                try await session.runChecked(buildStep, output: stepOutput)
            }
        }
    }
}
