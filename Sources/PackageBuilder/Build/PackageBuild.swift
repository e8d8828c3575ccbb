import APK
import Archive
import Config
import ELF
import Foundation
import HTTPTransport
import ImageBuilder
import LaminaCore
import Sandbox

/// Everything `lamina package build` takes besides the config file: melange's flags.
public struct PackageBuildOptions: Sendable {
    public var configPath: String
    public var architecture: Architecture
    /// `--signing-key`: RSA private key; nil writes unsigned packages and an unsigned index (with a warning).
    public var signingKeyPath: String?
    /// `--out-dir`: packages go to `<out>/<apk-arch>/`.
    public var outputDirectory = "packages"
    /// `--source-dir`: copied into the workspace; default: the folder holding the config.
    public var sourceDirectory: String?
    /// `--workspace-dir`: keep the workspace there instead of a temporary folder.
    public var workspaceDirectory: String?
    public var cacheDirectory: String
    /// `--repository-append`, `--keyring-append`, `--package-append`.
    public var extraRepositories: [String] = []
    public var extraKeyrings: [String] = []
    public var extraPackages: [String] = []
    public var runner: any BuildRunner
    /// `--network`: let steps reach the network (off by default).
    public var network = false
    public var pipelineDirectories: [String] = []
    /// `--build-option`.
    public var buildOptions: [String] = []
    public var vars: [String: String] = [:]
    public var environmentOverrides: [String: String] = [:]
    public var clock: BuildClock
    /// The process environment (proxies, `HTTP_AUTH`).
    public var environment: [String: String]
    public var temporaryDirectory: String
    public var allowUntrusted = false
    public var offline = false
    /// `--generate-index=false` leaves `APKINDEX.tar.gz` alone.
    public var generateIndex = true
    /// `--trace`: `set -x` in every step.
    public var trace = false
    /// `--debug`-style: keep the guest root and workspace after the build.
    public var keepTemporaryFiles = false
    /// `--namespace`: the distribution named in the packages' SBOM purls and supplier (melange's default `unknown`).
    public var namespace = "unknown"
    /// `--empty-workspace`: start from an empty workspace instead of a copy of the source folder.
    public var emptyWorkspace = false

    public init(
        configPath: String, architecture: Architecture, cacheDirectory: String, runner: any BuildRunner, clock: BuildClock,
        environment: [String: String], temporaryDirectory: String
    ) {
        self.configPath = configPath
        self.architecture = architecture
        self.cacheDirectory = cacheDirectory
        self.runner = runner
        self.clock = clock
        self.environment = environment
        self.temporaryDirectory = temporaryDirectory
    }
}

/// What a build produced.
public struct PackageBuildResult: Sendable {
    /// The packages written, main package first.
    public var packages: [EmittedPackage]
    /// The index updated, when `generateIndex`.
    public var indexPath: String?
    /// From the start of the build to the start of the first pipeline step.
    public var timeToFirstStep: Duration?
    public var guestPackages: Int
}

/// The melange engine: config → plan → guest root → steps in the sandbox → signed packages → index.
public struct PackageBuild: Sendable {
    public var options: PackageBuildOptions
    public var progress: ProgressHandler?
    public var stepOutput: StepOutputHandler?

    public init(options: PackageBuildOptions, progress: ProgressHandler? = nil, stepOutput: StepOutputHandler? = nil) {
        self.options = options
        self.progress = progress
        self.stepOutput = stepOutput
    }

    /// Runs the whole build.
    /// - Throws: config errors with file:line, resolution/download errors, `.sandbox` for a failing step (naming it,
    ///   with its exit status and last output lines), emit and index errors. Nothing is written to the output
    ///   folder unless every step succeeded.
    public func run() async throws -> PackageBuildResult {
        let started = ContinuousClock.now
        let arch = options.architecture
        let loaded = try BuildConfiguration.load(
            path: options.configPath,
            options: BuildLoadOptions(extraVars: options.vars, extraEnvironment: options.environmentOverrides))
        let config = loaded.configuration
        try Self.checkTargetArchitecture(config, arch, loaded.sourceMap)

        let context = BuildContext(
            architecture: arch, buildOptions: options.buildOptions, pipelineDirectories: options.pipelineDirectories,
            sourceDateEpoch: options.clock.epoch)
        let plan = try PipelineCompiler(loaded: loaded, context: context).compile()
        if !(plan.declaredEnvironmentPackages + options.extraPackages).isEmpty {
            try NativeExecution().check([arch], subject: options.configPath)  // the guest's programs must run here
        }

        // Fail on a bad key before any work.
        let signingKey = try options.signingKeyPath.map { try SigningKey.load(path: $0) }
        if signingKey == nil { progress?(.warning("no --signing-key: packages and index are written unsigned")) }
        let repository = options.outputDirectory
        try FileManager.default.createDirectory(atPath: repository + "/" + arch.apk, withIntermediateDirectories: true)

        let work = try Self.makeTemporaryFolder(in: options.temporaryDirectory, prefix: "lamina-build-")
        defer { if !options.keepTemporaryFiles { try? FileManager.default.removeItem(atPath: work) } }
        if options.keepTemporaryFiles { progress?(.note("keeping build files in \(work)")) }

        let transport = HTTPClientTransport(configuration: try HTTPTransportConfiguration.fromEnvironment(options.environment))
        do {
            let result = try await build(
                plan: plan, loaded: loaded, work: work, transport: transport, signingKey: signingKey, started: started)
            try? await transport.shutdown()
            return result
        } catch {
            try? await transport.shutdown()
            throw error
        }
    }

    private func build(
        plan: BuildPlan, loaded: LoadedBuildConfiguration, work: String, transport: HTTPClientTransport,
        signingKey: SigningKey?, started: ContinuousClock.Instant
    ) async throws -> PackageBuildResult {
        let config = loaded.configuration
        let arch = options.architecture

        // 1. The guest root.
        let guest = try await prepareGuest(plan: plan, loaded: loaded, work: work)

        // 2. The workspace: the sources, and one output folder per package.
        let workspace = options.workspaceDirectory ?? work + "/workspace"
        try prepareWorkspace(workspace, work: work, packages: [plan.main.name] + plan.subpackages.map(\.name))

        // 3. The steps.
        let environment = plan.environment
        let sandbox = SandboxConfiguration(
            guestRoot: guest.root.map { URL(fileURLWithPath: $0) }, guestRootWritable: true,
            workspace: URL(fileURLWithPath: workspace), environment: environment, network: options.network,
            user: try StepUser.resolve(config.environment.accounts, key: "environment.accounts.run-as"),
            capabilities: try CapabilityChanges(add: config.capabilities.add, drop: config.capabilities.drop))
        progress?(.note("runner: \(options.runner.name)\(guest.root == nil ? ", guest: the host's / read-only (no environment packages)" : "")"))
        let fetcher = SourceFetcher(cacheDirectory: options.cacheDirectory, offline: options.offline, transport: transport, progress: progress)
        // `package.timeout` bounds the whole build, as melange's context deadline does: each step may use what is
        // left of it, and none starts once it is spent.
        let timeout = config.package.timeout.flatMap { $0.nanoseconds > 0 ? $0 : nil }
        let deadline = timeout.map { started + .nanoseconds($0.nanoseconds) }
        let firstStep: Duration? = try await GuestRoot.withSession(options.runner, sandbox) { session in
            var firstStep: Duration?
            for package in plan.packagePlans {
                for step in package.steps {
                    var remaining: Duration?
                    if let deadline, let timeout {
                        remaining = deadline - ContinuousClock.now
                        if remaining! <= .zero {
                            throw LaminaError(
                                .sandbox, "build exceeded its timeout of \(timeout) before step '\(step.name)'",
                                subject: "package.timeout")
                        }
                    }
                    if firstStep == nil {
                        firstStep = ContinuousClock.now - started
                        progress?(.note("first step after \(Self.format(firstStep!))"))
                    }
                    progress?(.note("\(package.name): \(step.name)"))
                    switch step.action {
                    case .fetch(let action):
                        try await fetcher.fetch(action, workspace: workspace, step: step.name)
                    case .run:
                        guard var buildStep = step.buildStep else { continue }
                        buildStep.trace = options.trace
                        if let remaining { buildStep.timeout = min(buildStep.timeout ?? remaining, remaining) }
                        try await session.runChecked(buildStep, output: stepOutput)
                    }
                }
            }
            return firstStep
        }

        // 4. Packages, main package first, then the index.
        let outputs = workspace + "/melange-out/"
        let relatives = plan.packagePlans.map { PackageTree(name: $0.name, root: URL(fileURLWithPath: outputs + $0.name, isDirectory: true)) }
        var emitted: [EmittedPackage] = []
        let emitter = PackageEmitter(namespace: options.namespace, progress: progress)
        emitted.append(
            try emitter.emit(
                directory: outputs + plan.main.name, metadata: try PackageMetadata(package: plan.package, architecture: arch),
                repositoryDirectory: options.outputDirectory, repositoryArchitecture: arch.apk, clock: options.clock,
                signingKey: signingKey, relatives: relatives))
        for subpackage in plan.subpackages {
            guard let declared = config.subpackages.first(where: { $0.name == subpackage.name }) else {
                throw LaminaError(.internal, "subpackage '\(subpackage.name)' is in the plan but not in the configuration")
            }
            emitted.append(
                try emitter.emit(
                    directory: outputs + subpackage.name,
                    metadata: try PackageMetadata(subpackage: declared, of: plan.package, architecture: arch),
                    repositoryDirectory: options.outputDirectory, repositoryArchitecture: arch.apk, clock: options.clock,
                    signingKey: signingKey, relatives: relatives))
        }
        var indexPath: String?
        if options.generateIndex {
            _ = try RepositoryIndexUpdater(signingKeys: signingKey.map { [$0] } ?? [], progress: progress).update(
                repositoryDirectory: options.outputDirectory, architecture: arch.apk, adding: emitted.map(\.path))
            indexPath = options.outputDirectory + "/" + arch.apk + "/APKINDEX.tar.gz"
            progress?(.note("updated \(indexPath!)"))
        }
        return PackageBuildResult(packages: emitted, indexPath: indexPath, timeToFirstStep: firstStep, guestPackages: guest.packageCount)
    }

    // MARK: - Guest

    struct Guest {
        /// nil: the host's `/`, read-only.
        var root: String?
        var packageCount: Int
    }

    /// Resolves and installs the environment into `<work>/guest`, or chooses the host's root when the build
    /// lists no packages (as melange does for a bare `environment`).
    func prepareGuest(plan: BuildPlan, loaded: LoadedBuildConfiguration, work: String) async throws -> Guest {
        // melange's rule: a config that lists no environment packages builds on the host's root. The `needs` of
        // the pipelines it uses are then expected from the host's tools.
        guard !(plan.declaredEnvironmentPackages + options.extraPackages).isEmpty else {
            guard options.runner.supportsHostRoot else {
                throw LaminaError(
                    .invalidInput,
                    "the \(options.runner.name) runner needs an image, and this config lists no environment packages to"
                        + " make one from: list them under environment.contents.packages (or add --package-append),"
                        + " or build on the host's / with --runner bubblewrap",
                    subject: options.configPath)
            }
            if !plan.neededPackages.isEmpty {
                progress?(.note("no environment packages: the host provides what the pipelines need (\(plan.neededPackages.joined(separator: ", ")))"))
            }
            return Guest(root: nil, packageCount: 0)
        }
        var environment = loaded.environment
        environment.configuration = plan.environmentConfiguration
        environment.configuration.contents.packages = plan.environmentPackages
        var imageOptions = ImageOptions(
            configPath: options.configPath, cacheDirectory: options.cacheDirectory, environment: options.environment,
            temporaryDirectory: work)
        imageOptions.extraKeyrings = options.extraKeyrings
        imageOptions.extraRepositories = options.extraRepositories
        imageOptions.extraPackages = options.extraPackages
        imageOptions.architectures = [options.architecture]
        imageOptions.offline = options.offline
        imageOptions.allowUntrusted = options.allowUntrusted
        let path = work + "/guest"
        let count = try await GuestRoot.install(
            environment, options: imageOptions, architecture: options.architecture, clock: options.clock, into: path,
            progress: progress)
        return Guest(root: path, packageCount: count)
    }

    // MARK: - Workspace

    /// Copies the source folder into the workspace (without the output folder, if it lies inside) and makes the
    /// `melange-out/<name>` folders.
    func prepareWorkspace(_ workspace: String, work: String, packages: [String]) throws {
        let manager = FileManager.default
        try manager.createDirectory(atPath: workspace, withIntermediateDirectories: true)
        if !options.emptyWorkspace { try copySources(into: workspace, work: work) }
        for name in packages {
            let out = workspace + "/melange-out/" + name
            try? manager.removeItem(atPath: out)
            try manager.createDirectory(atPath: out, withIntermediateDirectories: true)
        }
    }

    /// Copies the source folder (`--source-dir`, default: the config's folder) into `workspace`, leaving out the
    /// build's own folders (output, workspace, work) when the source folder holds them.
    func copySources(into workspace: String, work: String) throws {
        let source = options.sourceDirectory ?? {
            let folder = (options.configPath as NSString).deletingLastPathComponent
            return folder.isEmpty ? "." : folder
        }()
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: source, isDirectory: &isDirectory), isDirectory.boolValue else {
            throw LaminaError(.notFound, "source directory not found", subject: source)
        }
        func resolved(_ path: String) -> String { URL(fileURLWithPath: path).standardizedFileURL.resolvingSymlinksInPath().path }
        let skip: Set<String> = [resolved(options.outputDirectory), resolved(workspace), resolved(work)]
        try Self.copyTree(from: resolved(source), to: workspace, skipping: skip)
    }

    // MARK: - Helpers

    /// Copies the contents of `source` into `destination` (files with their modes, symlinks as links, never
    /// followed), leaving out every path in `skip` (absolute, resolved).
    static func copyTree(from source: String, to destination: String, skipping skip: Set<String>) throws {
        let manager = FileManager.default
        for name in try manager.contentsOfDirectory(atPath: source).sorted() {
            let from = source + "/" + name
            if skip.contains(from) { continue }
            let to = destination + "/" + name
            let attributes = try manager.attributesOfItem(atPath: from)
            if manager.fileExists(atPath: to) || (try? manager.destinationOfSymbolicLink(atPath: to)) != nil {
                try manager.removeItem(atPath: to)
            }
            switch attributes[.type] as? FileAttributeType {
            case .typeDirectory?:
                try manager.createDirectory(atPath: to, withIntermediateDirectories: false)
                try copyTree(from: from, to: to, skipping: skip)
                if let mode = attributes[.posixPermissions] { try manager.setAttributes([.posixPermissions: mode], ofItemAtPath: to) }
            case .typeSymbolicLink?:
                try manager.createSymbolicLink(atPath: to, withDestinationPath: try manager.destinationOfSymbolicLink(atPath: from))
            case .typeRegular?:
                try manager.copyItem(atPath: from, toPath: to)
            default:
                continue  // sockets, fifos, devices: not sources
            }
        }
    }

    static func checkTargetArchitecture(_ config: BuildConfiguration, _ arch: Architecture, _ map: SourceMap) throws {
        let targets = config.package.targetArchitecture
        guard !targets.isEmpty, !targets.contains("all") else { return }
        let allowed = targets.compactMap { try? Architecture($0) }
        guard allowed.contains(arch) else {
            throw map.error(
                at: ConfigPath([.key("package"), .key("target-architecture")]),
                "\(config.package.name) does not build for \(arch.apk) (target-architecture: \(targets.joined(separator: ", ")))")
        }
    }

    static func makeTemporaryFolder(in parent: String, prefix: String) throws -> String {
        try FileManager.default.createDirectory(atPath: parent, withIntermediateDirectories: true)
        var template = Array((parent + "/" + prefix + "XXXXXX").utf8CString)
        guard let made = template.withUnsafeMutableBufferPointer({ mkdtemp($0.baseAddress!) }) else {
            throw LaminaError(.io, "cannot create a temporary folder: \(String(cString: strerror(errno)))", subject: parent)
        }
        return String(cString: made)
    }

    static func format(_ duration: Duration) -> String {
        let milliseconds = duration.wholeMilliseconds
        return milliseconds < 1000 ? "\(milliseconds) ms" : String(format: "%.2f s", Double(milliseconds) / 1000)
    }
}
