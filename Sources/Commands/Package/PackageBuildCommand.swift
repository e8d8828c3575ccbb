import APKRepository
import ArgumentParser
import Foundation
import LaminaCore
import PackageBuilder
import Sandbox

/// `lamina package build melange.yaml --signing-key melange.rsa --arch amd64`
struct PackageBuildCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "build", abstract: "Build signed .apk packages from a melange.yaml.",
        discussion: """
            Installs the config's `environment` packages into a fresh guest root (or, when it lists none, uses the
            host's / read-only), copies the source folder to /home/build, runs every pipeline step in the sandbox
            (bubblewrap by default; with --runner docker or podman the guest root is imported as an image and the
            steps run in one container of it, on the daemon of --docker-host, $DOCKER_HOST or $CONTAINER_HOST;
            those runners need environment packages), then writes each package as
            <out-dir>/<apk-arch>/NAME-VERSION-rEPOCH.apk, signed, and merges it into the signed APKINDEX.tar.gz
            there. Timestamps come from SOURCE_DATE_EPOCH (default 0): the same inputs give the same bytes.
            """)

    @Argument(help: "The melange.yaml.") var config: String = "melange.yaml"
    @Option(name: .customLong("workspace-dir"), help: "Keep the workspace in this folder.") var workspaceDir: String?
    @Option(name: .customLong("package-append"), help: "Add a package to the build environment (repeatable).") var packages: [String] = []
    @Option(name: .customLong("build-option"), help: "Enable an `options:` entry of the config (repeatable).") var buildOptions: [String] = []
    @Option(name: .customLong("vars-file"), help: "YAML/KEY: VALUE file of variables merged over `vars:`.") var varsFile: String?
    @Option(name: .customLong("env-file"), help: "KEY=VALUE file of environment variables for the steps (repeatable; later files win).")
    var envFiles: [String] = []
    @Option(name: .customLong("namespace"), help: "Distribution named in the packages' SBOM purls (e.g. wolfi, alpine).") var namespace = "unknown"
    @Flag(name: .customLong("empty-workspace"), help: "Start from an empty workspace instead of a copy of the source folder.")
    var emptyWorkspace = false
    @Option(name: .customLong("generate-index"), help: "Update APKINDEX.tar.gz (true/false).") var generateIndex = true
    @Option(name: .customLong("source-date-epoch"), help: "Unix seconds for every timestamp (overrides SOURCE_DATE_EPOCH).")
    var sourceDateEpoch: Int64?
    @Flag(name: .customLong("json"), help: "Print what was written as JSON.") var json = false
    @OptionGroup var flags: PackageEngineFlags
    @OptionGroup var global: GlobalOptions

    func run() async throws {
        let results = try await builds()
        let logger = global.logger
        if json {
            struct Output: Encodable {
                var architecture: String
                var packages: [String]
                var index: String?
                var timeToFirstStepMilliseconds: Int64?
            }
            try printJSON(results.map { arch, result in
                Output(
                    architecture: arch.apk, packages: result.packages.map(\.path), index: result.indexPath,
                    timeToFirstStepMilliseconds: result.timeToFirstStep?.wholeMilliseconds)
            })
        } else {
            for (_, result) in results {
                for package in result.packages { logger.result("wrote \(package.path)") }
                if let index = result.indexPath { logger.result("updated \(index)") }
            }
        }
    }

    /// Builds the config for every architecture asked for, in order.
    func builds() async throws -> [(Architecture, PackageBuildResult)] {
        let environment = ProcessInfo.processInfo.environment
        let clock = try sourceDateEpoch.map { BuildClock(epoch: $0) } ?? BuildClock.fromEnvironment(environment)
        let runner = try flags.prepare()
        let architectures = try flags.repository.architectures(allowAll: false) ?? [.host]
        let display = ProgressDisplay(global: global)
        let logger = global.logger
        let quietSteps = global.logLevel > .info
        func makeOptions(_ arch: Architecture) throws -> PackageBuildOptions {
            var options = try flags.options(config: config, architecture: arch, runner: runner, clock: clock)
            options.workspaceDirectory = workspaceDir
            options.extraPackages = packages
            options.buildOptions = buildOptions
            options.vars = try varsFile.map(Self.readVars) ?? [:]
            options.environmentOverrides = try envFiles.reduce(into: [:]) { merged, file in
                merged.merge(try Self.readEnvironment(file)) { _, later in later }
            }
            options.generateIndex = generateIndex
            options.namespace = namespace
            options.emptyWorkspace = emptyWorkspace
            return options
        }
        // Every architecture must be able to run before the first build starts (no emulator here).
        if architectures.count > 1, let first = architectures.first {
            try PackageBuild.checkCanRun(options: try makeOptions(first), architectures: architectures)
        }
        var results: [(Architecture, PackageBuildResult)] = []
        for arch in architectures {
            let options = try makeOptions(arch)
            // Step output goes to stderr, stdout is kept for results (and --json).
            let printStep: StepOutputHandler = { line in Terminal.standardError.write("[\(line.step)] \(line.text)\n") }
            let build = PackageBuild(options: options, progress: display.handler, stepOutput: quietSteps ? nil : printStep)
            logger.info("building \(config) for \(arch.apk) (runner \(runner.name))")
            let result = try await build.run()
            if let first = result.timeToFirstStep {
                logger.info("\(arch.apk): first step \(first.wholeMilliseconds) ms after start (guest: \(result.guestPackages == 0 ? "host /" : "\(result.guestPackages) packages"))")
            }
            results.append((arch, result))
        }
        return results
    }

    /// `KEY: VALUE` lines (melange's vars file is a YAML map of strings).
    static func readVars(_ path: String) throws -> [String: String] {
        try readPairs(path, separator: ":")
    }

    /// `KEY=VALUE` lines; `#` comments and blank lines ignored.
    static func readEnvironment(_ path: String) throws -> [String: String] {
        try readPairs(path, separator: "=")
    }

    static func readPairs(_ path: String, separator: Character) throws -> [String: String] {
        guard let text = try? String(contentsOfFile: path, encoding: .utf8) else {
            throw LaminaError(.notFound, "cannot read", subject: path)
        }
        var out: [String: String] = [:]
        for (number, raw) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let line = raw.trimmingCharacters(in: .whitespaces)
            if line.isEmpty || line.hasPrefix("#") { continue }
            guard let at = line.firstIndex(of: separator) else {
                throw LaminaError(.invalidInput, "expected KEY\(separator)VALUE", subject: "\(path):\(number + 1)")
            }
            var value = line[line.index(after: at)...].trimmingCharacters(in: .whitespaces)
            if value.count >= 2, let first = value.first, first == "\"" || first == "'", value.last == first {
                value = String(value.dropFirst().dropLast())
            }
            out[line[..<at].trimmingCharacters(in: .whitespaces)] = value
        }
        return out
    }
}

/// `lamina package test melange.yaml [PACKAGE...]`
struct PackageTestCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "test", abstract: "Run the test: pipelines of a melange.yaml against the built packages.",
        discussion: """
            Each package's test runs in a fresh guest holding the test's own packages and the package under test,
            resolved from the output repository (--out-dir, default ./packages) plus the config's repositories.
            Trust the output repository with --keyring-append KEY.pub or --signing-key KEY.
            """)

    @Argument(help: "The melange.yaml.") var config: String = "melange.yaml"
    @Argument(help: "Only test these packages (default: every package with a test).") var packages: [String] = []
    @OptionGroup var flags: PackageEngineFlags
    @OptionGroup var global: GlobalOptions

    func run() async throws {
        let architecture = try flags.repository.singleArchitecture()
        let clock = try BuildClock.fromEnvironment(ProcessInfo.processInfo.environment)
        let options = try flags.options(config: config, architecture: architecture, runner: try flags.prepare(), clock: clock)
        let printStep: StepOutputHandler = { line in Terminal.standardError.write("[\(line.step)] \(line.text)\n") }
        let tested = try await PackageTest(
            options: options, packages: packages, progress: ProgressDisplay(global: global).handler,
            stepOutput: global.logLevel > .info ? nil : printStep
        ).run()
        for name in tested { global.logger.result("\(name): tests passed") }
    }
}

/// The flags `package build` and `package test` share: where packages go and come from, the guest's
/// repositories and keys, and the sandbox.
struct PackageEngineFlags: ParsableArguments {
    @OptionGroup var repository: RepositoryFlags
    @Option(name: .customLong("signing-key"), help: "RSA private key (PEM): signs what build writes; test trusts its public half.")
    var signingKey: String?
    @Option(name: .customLong("out-dir"), help: "The repository packages are written to and tested from (default ./packages).")
    var outDir = "packages"
    @Option(name: .customLong("source-dir"), help: "Folder copied into the workspace (default: the config's folder).") var sourceDir: String?
    @Option(name: .customLong("runner"), help: "bubblewrap (default), docker or podman.") var runner = "bubblewrap"
    @Option(name: .customLong("docker-host"), help: "Daemon address for --runner docker/podman (default $DOCKER_HOST / $CONTAINER_HOST).")
    var dockerHost: String?
    @Option(name: .customLong("pipeline-dir"), help: "Extra folder of pipeline definitions, searched first (repeatable).")
    var pipelineDirs: [String] = []
    @Flag(name: .customLong("network"), help: "Let steps use the network.") var network = false
    @Flag(name: .customLong("trace"), help: "Run steps with set -x.") var trace = false
    @Flag(name: .customLong("debug"), help: "Keep the guest root and workspace afterwards.") var debug = false

    init() {}

    /// The runner `--runner` names, after the loud `--allow-untrusted` warning (printed once per command).
    func prepare() throws -> any BuildRunner {
        repository.warnIfUntrusted()
        return try BuildRunners.named(runner, host: dockerHost)
    }

    /// Engine options from these flags.
    func options(config: String, architecture: Architecture, runner: any BuildRunner, clock: BuildClock) throws -> PackageBuildOptions {
        let environment = ProcessInfo.processInfo.environment
        var options = PackageBuildOptions(
            configPath: config, architecture: architecture,
            cacheDirectory: repository.cacheDirectory(environment: environment), runner: runner, clock: clock,
            environment: environment, temporaryDirectory: NSTemporaryDirectory())
        options.signingKeyPath = signingKey
        options.outputDirectory = outDir
        options.sourceDirectory = sourceDir
        options.extraRepositories = RepositoryFlags.splitList(repository.repositories)
        options.extraKeyrings = RepositoryFlags.splitList(repository.keyrings)
        options.pipelineDirectories = pipelineDirs
        options.network = network
        options.offline = repository.offline
        options.allowUntrusted = repository.allowUntrusted
        options.trace = trace
        options.keepTemporaryFiles = debug
        return options
    }
}
