import APK
import APKRepository
import Archive
import Config
import Foundation
import HTTPTransport
import LaminaCore
import RootFS
import Synchronization

/// Everything an image command takes besides the config file: apko's flags.
public struct ImageOptions: Sendable {
    public var configPath: String
    public var includePaths: [String] = []
    /// `-k/--keyring-append`: key files or URLs.
    public var extraKeyrings: [String] = []
    /// `-r/--repository-append`.
    public var extraRepositories: [String] = []
    /// `-b/--build-repository-append`: used to build, not written into the image.
    public var extraBuildRepositories: [String] = []
    /// `-p/--package-append`.
    public var extraPackages: [String] = []
    /// `--arch`; nil means the config's `archs` (or every architecture when it has none).
    public var architectures: [Architecture]?
    /// `--lockfile`.
    public var lockPath: String?
    public var cacheDirectory: String
    public var offline = false
    public var allowUntrusted = false
    /// The process environment (proxies, `HTTP_AUTH`, `SOURCE_DATE_EPOCH`).
    public var environment: [String: String]
    /// Directory for spilled file contents while a root is assembled.
    public var temporaryDirectory: String
    /// gzip level of the layer, 1–9 (`--compression-level`).
    public var compressionLevel = LayerWriter.defaultLevel
    /// apko's `--vcs`: when the config has no `vcs-url`, take it from the git checkout holding the config.
    public var probeVCS = false

    public init(configPath: String, cacheDirectory: String, environment: [String: String], temporaryDirectory: String) {
        self.configPath = configPath
        self.cacheDirectory = cacheDirectory
        self.environment = environment
        self.temporaryDirectory = temporaryDirectory
    }
}

/// The apko engine's front half: config → keyring → repositories → resolved and installed roots.
/// `ImageBuilder` (layers, OCI, SBOM) builds on it.
public final class ImageEngine: Sendable {
    public let options: ImageOptions
    public let loaded: LoadedImageConfiguration
    public let progress: ProgressHandler?
    let transport: HTTPClientTransport
    /// Base images loaded so far, by architecture (each is read and verified once per build).
    private let baseImages = Mutex<[Architecture: BaseImage]>([:])

    /// Loads and validates the config.
    /// - Throws: config errors with file:line, lock errors.
    public convenience init(options: ImageOptions, progress: ProgressHandler? = nil) throws {
        try self.init(
            options: options, loaded: try ImageConfiguration.load(path: options.configPath, includePaths: options.includePaths),
            progress: progress)
    }

    /// An engine for a configuration already loaded (a melange build's `environment`); `options.configPath`
    /// only names it in messages.
    public init(options: ImageOptions, loaded: LoadedImageConfiguration, progress: ProgressHandler? = nil) throws {
        self.options = options
        self.progress = progress
        var loaded = loaded
        loaded.configuration.contents.keyring += options.extraKeyrings
        loaded.configuration.contents.repositories += options.extraRepositories
        loaded.configuration.contents.buildRepositories += options.extraBuildRepositories
        loaded.configuration.contents.packages += options.extraPackages
        // apko's `build.New` runs `Validate`: checks, default home directories, and a `service-bundle`
        // entrypoint (`/bin/s6-svscan /sv` plus the `s6` package).
        loaded.configuration = try loaded.configuration.validated(sourceMap: loaded.sourceMap)
        if options.probeVCS, loaded.configuration.vcsURL.isEmpty, let url = VCSProbe.url(forConfig: options.configPath) {
            loaded.configuration.vcsURL = url
        }
        self.loaded = loaded
        self.transport = HTTPClientTransport(configuration: try HTTPTransportConfiguration.fromEnvironment(options.environment))
    }

    /// Refuses, with one line naming the key, what the configuration asks for that Lamina does not build yet,
    /// rather than writing an image silently without it: `contents.baseimage` (the base's layers under ours),
    /// `format: erofs`, `certificates` (apko's CA bundle and Java truststore rewriting), and an
    /// `entrypoint.type` other than `service-bundle`.
    /// - Parameter allowBaseImage: true where a base image is built (`image build`/`publish`); roots made for
    ///   other uses (a minirootfs, a melange build environment) cannot hold one.
    /// - Throws: `LaminaError(.invalidInput)` with the file and line of the key.
    public func refuseUnbuiltKeys(allowBaseImage: Bool = false) throws {
        let config = configuration
        let map = loaded.sourceMap
        if config.contents.baseImage != nil, !allowBaseImage {
            throw map.error(
                at: ConfigPath([.key("contents"), .key("baseimage")]),
                "a base image can only be built into an image (lamina image build/publish); remove contents.baseimage", atKey: true)
        }
        if config.format == .erofs {
            throw map.error(
                at: ConfigPath([.key("format")]), "EROFS layers are not supported yet; use 'format: tar' or remove format",
                atKey: true)
        }
        if let certificates = config.certificates, !certificates.additional.isEmpty || !certificates.providers.isEmpty {
            throw map.error(
                at: ConfigPath([.key("certificates")]),
                "installing additional certificates is not supported yet; add them with a package instead", atKey: true)
        }
        if !config.entrypoint.type.isEmpty, config.entrypoint.type != "service-bundle" {
            throw map.error(
                at: ConfigPath([.key("entrypoint"), .key("type")]),
                "unknown entrypoint type '\(config.entrypoint.type)' (known: service-bundle)", atKey: true)
        }
    }

    /// Must be called when done: closes HTTP connections and keeps the cache within its bound
    /// (`CacheMaintenance.enforceBound`, least recently used entries first).
    public func shutdown() async {
        try? await transport.shutdown()
        do {
            let report = try CacheMaintenance(root: options.cacheDirectory).enforceBound(environment: options.environment)
            if !report.removed.isEmpty {
                progress?(.note("cache over its bound: removed \(report.removed.count) least recently used entries (\(CacheMaintenance.formatSize(report.freedBytes)))"))
            }
        } catch {
            progress?(.warning("\(error)"))
        }
    }

    public var configuration: ImageConfiguration { loaded.configuration }

    /// The architectures to build, in the order given (duplicates dropped).
    public func architectures() throws -> [Architecture] {
        let archs: [Architecture]
        if let given = options.architectures, !given.isEmpty { archs = given } else {
            archs = try configuration.resolvedArchitectures(sourceMap: loaded.sourceMap)
        }
        var seen = Set<Architecture>()
        return archs.filter { seen.insert($0).inserted }
    }

    /// Repositories used to build: `build_repositories`, then `repositories`.
    public func buildRepositories() throws -> [RepositoryReference] {
        try (configuration.contents.buildRepositories + configuration.contents.repositories).map { try RepositoryReference(parsing: $0) }
    }

    /// What `/etc/apk/repositories` gets: `repositories` + `runtime_repositories`, sorted, deduplicated.
    public func runtimeRepositoryLines() throws -> [String] {
        let lines = try (configuration.contents.repositories + configuration.contents.runtimeRepositories).map {
            try RepositoryReference(parsing: $0).description
        }
        return Array(Set(lines)).sorted()
    }

    /// Loads the keyring: files (relative to the working directory, as apko reads them) or URLs.
    public func keyring() async throws -> (Keyring, [String: String]) {
        var ring = Keyring()
        var pems: [String: String] = [:]
        for (i, entry) in configuration.contents.keyring.enumerated() {
            let name = (entry as NSString).lastPathComponent
            let pem: String
            if entry.hasPrefix("http://") || entry.hasPrefix("https://") {
                let cache = try PackageCache(root: options.cacheDirectory)
                let path = cache.root + "/keys/" + Hasher.digest(.sha256, Array(entry.utf8)).hex + "/" + name
                if !FileManager.default.fileExists(atPath: path) {
                    guard !options.offline else { throw LaminaError(.notFound, "--offline and key not cached", subject: entry) }
                    try FileManager.default.createDirectory(atPath: (path as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
                    _ = try await transport.download(entry, to: path)
                }
                pem = try String(contentsOfFile: path, encoding: .utf8)
            } else {
                let path = entry.hasPrefix("file://") ? String(entry.dropFirst(7)) : entry
                guard let text = try? String(contentsOfFile: path, encoding: .utf8) else {
                    throw LaminaError(.notFound, "keyring file not found: '\(entry)'", subject: "contents.keyring[\(i)]")
                }
                pem = text
            }
            try ring.add(name: name, pem: pem)
            pems[name] = pem
        }
        return (ring, pems)
    }

    /// A repository client for this build.
    public func client(keyring: Keyring) throws -> RepositoryClient {
        RepositoryClient(
            keyring: keyring, cache: try PackageCache(root: options.cacheDirectory), transport: transport, allowUntrusted: options.allowUntrusted,
            offline: options.offline, progress: progress)
    }

    /// Loads the lock file, refusing one made from a different config.
    public func lock() throws -> ImageLock? {
        guard let path = options.lockPath else { return nil }
        let lock = try ImageLock.load(path: path)
        if let recorded = lock.config?.checksum, recorded != configChecksum() {
            throw LaminaError(.invalidInput, "the lock was made from a different \(configFileName) (checksum \(recorded)); run `lamina image lock` again", subject: path)
        }
        return lock
    }

    var configFileName: String { (options.configPath as NSString).lastPathComponent }

    /// `sha256-<base64>` over the raw bytes of the config file(s), as apko records in lock files.
    public func configChecksum() -> String {
        var hasher = Hasher(.sha256)
        for file in loaded.files { hasher.update(Array(file.bytes)) }
        return ImageLock.configChecksum(hasher.finalize())
    }

    /// The `contents.baseimage` of `architecture`, loaded and verified once; nil without a base image.
    /// - Throws: what `BaseImage.load` throws, the message naming the config file.
    public func baseImage(architecture: Architecture) throws -> BaseImage? {
        guard let descriptor = configuration.contents.baseImage else { return nil }
        if let known = baseImages.withLock({ $0[architecture] }) { return known }
        let configDirectory = (options.configPath as NSString).deletingLastPathComponent
        let scratch = options.temporaryDirectory + "/base-image-\(architecture.apk)"
        let base: BaseImage
        do {
            base = try BaseImage.load(
                descriptor, architecture: architecture, searchDirectories: ["."] + options.includePaths + [configDirectory.isEmpty ? "." : configDirectory],
                scratch: scratch)
        } catch let error as LaminaError {
            throw error.about(configFileName)
        }
        baseImages.withLock { $0[architecture] = base }
        return base
    }

    /// Resolves the package set for one architecture (without what a base image already holds).
    public func resolve(architecture: Architecture, keyring: Keyring) async throws -> ResolvedContents {
        let installer = ContentsInstaller(client: try client(keyring: keyring))
        return try await installer.resolve(
            ContentsRequest(
                repositories: try buildRepositories(), world: configuration.contents.packages, architecture: architecture, lock: try lock(),
                basePackages: try baseImage(architecture: architecture)?.packages ?? []))
    }

    /// Resolves and installs one architecture's packages into `builder`, then writes the apk database.
    public func installRoot(
        into builder: inout RootFSBuilder, architecture: Architecture, keyring: Keyring, keys: [String: String], clock: BuildClock
    ) async throws -> ResolvedContents {
        let resolved = try await resolve(architecture: architecture, keyring: keyring)
        try await install(resolved, into: &builder, keyring: keyring, keys: keys, clock: clock)
        return resolved
    }

    /// Fetches and installs an already resolved package set into `builder`, then writes the apk database.
    /// With a `precompressor`, file contents start compressing for the layer as soon as they are in.
    /// With a `base` image, its packages come first in the database (as apko records them) and are pinned in the
    /// world; their files stay in the base's layers.
    public func install(
        _ resolved: ResolvedContents, into builder: inout RootFSBuilder, keyring: Keyring, keys: [String: String], clock: BuildClock,
        precompressor: ContentPrecompressor? = nil, base: BaseImage? = nil
    ) async throws {
        if let base { builder.adoptInstalled(base.installed) }
        let installer = ContentsInstaller(client: try client(keyring: keyring))
        try await installer.install(resolved, into: &builder, precompressor: precompressor)
        try builder.writeDatabase(
            .init(world: configuration.contents.packages + (base?.worldPins ?? []), repositories: try runtimeRepositoryLines(), keys: runtimeKeys(keys),
                  architecture: resolved.architecture.apk, modificationTime: clock.epoch))
    }

    /// The keys written to `/etc/apk/keys`: the build keyring plus `runtime_keyring` (file name → PEM).
    public func runtimeKeys(_ keys: [String: String]) -> [String: String] {
        var runtimeKeys = keys
        for entry in configuration.contents.runtimeKeyring { runtimeKeys[entry.name] = entry.content }
        return runtimeKeys
    }

    /// Resolves and installs one architecture's packages into a fresh root.
    public func installRoot(architecture: Architecture, keyring: Keyring, keys: [String: String], clock: BuildClock) async throws -> (RootFSBuilder, ResolvedContents) {
        try refuseUnbuiltKeys()
        var builder = try RootFSBuilder(spillDirectory: options.temporaryDirectory)
        let resolved = try await installRoot(into: &builder, architecture: architecture, keyring: keyring, keys: keys, clock: clock)
        return (builder, resolved)
    }
}
