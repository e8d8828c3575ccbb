import APKRepository
import ArgumentParser
import Foundation
import ImageBuilder
import LaminaCore

/// apko's build flags, shared by every `lamina image` command.
struct ImageFlags: ParsableArguments {
    @OptionGroup var repository: RepositoryFlags
    @Option(name: [.customShort("b"), .customLong("build-repository-append")], help: "Add a repository used only to build (repeatable).")
    var buildRepositories: [String] = []
    @Option(name: [.customShort("p"), .customLong("package-append")], help: "Add a package to install (repeatable).")
    var packages: [String] = []
    @Option(name: .customLong("lockfile"), help: "Install exactly the packages of this lock file.") var lockfile: String?
    @Option(name: .customLong("include-paths"), help: "Where to look for `include:` files (repeatable).") var includePaths: [String] = []
    @Option(name: .customLong("compression-level"), help: "gzip level of the layer, 1 (fastest) to 9 (smallest).")
    var compressionLevel: Int = LayerWriter.defaultLevel
    @Flag(name: .customLong("vcs"), help: "Without vcs-url in the config, record the git origin and commit of the config's checkout.")
    var vcs = false

    init() {}

    /// `--compression-level`, checked.
    func layerCompressionLevel() throws -> Int {
        guard LayerWriter.levels.contains(compressionLevel) else {
            throw LaminaError(
                .usage, "expected a gzip level from \(LayerWriter.levels.lowerBound) to \(LayerWriter.levels.upperBound), got \(compressionLevel)",
                subject: "--compression-level")
        }
        return compressionLevel
    }

    /// The architectures asked for, or nil for the config's own.
    func architectures() throws -> [Architecture]? { try repository.architectures(allowAll: true) }

    func options(configPath: String, temporaryDirectory: String) throws -> ImageOptions {
        let environment = ProcessInfo.processInfo.environment
        var options = ImageOptions(
            configPath: configPath, cacheDirectory: repository.cacheDirectory(environment: environment), environment: environment,
            temporaryDirectory: temporaryDirectory)
        options.includePaths = includePaths
        options.extraKeyrings = RepositoryFlags.splitList(repository.keyrings)
        options.extraRepositories = RepositoryFlags.splitList(repository.repositories)
        options.extraBuildRepositories = RepositoryFlags.splitList(buildRepositories)
        options.extraPackages = RepositoryFlags.splitList(packages)
        options.architectures = try architectures()
        options.lockPath = lockfile
        options.offline = repository.offline
        options.allowUntrusted = repository.allowUntrusted
        options.compressionLevel = try layerCompressionLevel()
        options.probeVCS = vcs
        return options
    }
}

/// Runs `body` with an engine and a scratch directory, always shutting the engine down.
func withImageEngine<T>(
    _ flags: ImageFlags, configPath: String, global: GlobalOptions, _ body: (ImageEngine, String) async throws -> T
) async throws -> T {
    try await withScratchDirectory { scratch in
        let options = try flags.options(configPath: configPath, temporaryDirectory: scratch)
        flags.repository.warnIfUntrusted()
        let display = ProgressDisplay(global: global)
        // The live progress line is erased before anything else is printed: the result, or the error.
        defer { display.finish() }
        let engine = try ImageEngine(options: options, progress: display.handler)
        return try await withShutdown({ try await body(engine, scratch) }, shutdown: { await engine.shutdown() })
    }
}
