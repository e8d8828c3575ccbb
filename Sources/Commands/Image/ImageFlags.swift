import APKRepository
import ArgumentParser
import Foundation
import ImageBuilder
import LaminaCore

/// apko's build flags, shared by every `lamina image` command.
struct ImageFlags: ParsableArguments {
    @Option(name: [.customShort("k"), .customLong("keyring-append")], help: "Add a public key file or URL to the keyring (repeatable).")
    var keyrings: [String] = []
    @Option(name: [.customShort("r"), .customLong("repository-append")], help: "Add a repository (repeatable).")
    var repositories: [String] = []
    @Option(name: [.customShort("b"), .customLong("build-repository-append")], help: "Add a repository used only to build (repeatable).")
    var buildRepositories: [String] = []
    @Option(name: [.customShort("p"), .customLong("package-append")], help: "Add a package to install (repeatable).")
    var packages: [String] = []
    @Option(name: .customLong("arch"), parsing: .singleValue, help: "Architectures (comma-separated or repeated; 'host', 'all').")
    var archs: [String] = []
    @Option(name: .customLong("lockfile"), help: "Install exactly the packages of this lock file.") var lockfile: String?
    @Option(name: .customLong("cache-dir"), help: "Package cache (default $XDG_CACHE_HOME/lamina).") var cacheDir: String?
    @Flag(name: .customLong("offline"), help: "Use only the cache and local repositories.") var offline = false
    @Flag(name: [.customLong("allow-untrusted"), .customLong("ignore-signatures")], help: "Accept indexes no key vouches for (dangerous).")
    var allowUntrusted = false
    @Option(name: .customLong("include-paths"), help: "Where to look for `include:` files (repeatable).") var includePaths: [String] = []
    @Option(name: .customLong("compression-level"), help: "gzip level of the layer, 1 (fastest) to 9 (smallest).")
    var compressionLevel: Int = LayerWriter.defaultLevel

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
    func architectures() throws -> [Architecture]? {
        let names = archs.flatMap { $0.split(separator: ",").map { String($0).trimmingSpaces } }.filter { !$0.isEmpty }
        if names.isEmpty { return nil }
        var out: [Architecture] = []
        for name in names {
            switch name {
            case "host": out.append(.host)
            case "all": out += Architecture.all
            default: out.append(try Architecture(name, option: "--arch"))
            }
        }
        return out
    }

    func options(configPath: String, temporaryDirectory: String) throws -> ImageOptions {
        let environment = ProcessInfo.processInfo.environment
        var options = ImageOptions(
            configPath: configPath, cacheDirectory: cacheDir ?? PackageCache.defaultRoot(environment: environment), environment: environment,
            temporaryDirectory: temporaryDirectory)
        options.includePaths = includePaths
        options.extraKeyrings = keyrings
        options.extraRepositories = repositories
        options.extraBuildRepositories = buildRepositories
        options.extraPackages = packages
        options.architectures = try architectures()
        options.lockPath = lockfile
        options.offline = offline
        options.allowUntrusted = allowUntrusted
        options.compressionLevel = try layerCompressionLevel()
        return options
    }
}

extension Architecture {
    /// Parses, naming the option in errors.
    init(_ name: String, option: String) throws {
        do { try self.init(name) } catch let error as LaminaError { throw error.about(option) }
    }
}

/// Runs `body` with an engine and a scratch directory, always shutting the engine down.
func withImageEngine<T>(
    _ flags: ImageFlags, configPath: String, global: GlobalOptions, _ body: (ImageEngine, String) async throws -> T
) async throws -> T {
    let scratch = NSTemporaryDirectory() + "lamina-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
    try FileManager.default.createDirectory(atPath: scratch, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(atPath: scratch) }
    let options = try flags.options(configPath: configPath, temporaryDirectory: scratch)
    if options.allowUntrusted {
        Terminal.standardError.write("WARNING: --allow-untrusted: packages and indexes will be used WITHOUT a trusted signature\n")
    }
    let display = ProgressDisplay(global: global)
    // The live progress line is erased before anything else is printed: the result, or the error.
    defer { display.finish() }
    let engine = try ImageEngine(options: options, progress: display.handler)
    do {
        let result = try await body(engine, scratch)
        await engine.shutdown()
        return result
    } catch {
        await engine.shutdown()
        throw error
    }
}
