import APK
import APKRepository
import APKSolver
import Config
import Foundation
import LaminaCore
import RootFS

/// What to install: repositories, world, architecture, and optionally a lock that pins the set.
public struct ContentsRequest: Sendable {
    public var repositories: [RepositoryReference]
    public var world: [String]
    public var architecture: Architecture
    /// Install exactly these packages (apko `--lockfile`).
    public var lock: ImageLock?
    /// Packages a base image already holds (`contents.baseimage`): pinned in the world, offered to the solver as
    /// one more repository, and never installed again.
    public var basePackages: [PackageInfo]

    public init(
        repositories: [RepositoryReference], world: [String], architecture: Architecture, lock: ImageLock? = nil, basePackages: [PackageInfo] = []
    ) {
        self.repositories = repositories
        self.world = world
        self.architecture = architecture
        self.lock = lock
        self.basePackages = basePackages
    }
}

/// The resolved package set for one architecture, in install order (dependencies first).
public struct ResolvedContents: Sendable {
    public var architecture: Architecture
    public var packages: [AvailablePackage]
    public var indexes: [LoadedIndex]
    public var world: [Dependency]
}

/// Turns a `ContentsRequest` into a verified, installed root: load indexes, resolve, fetch, install.
public struct ContentsInstaller: Sendable {
    public var client: RepositoryClient

    public init(client: RepositoryClient) { self.client = client }

    /// Resolves the request (or applies its lock).
    /// - Throws: `.unsatisfiable` with the chain of requirements, `.invalidInput` for a bad world
    ///   entry, `.notFound` when a locked package is gone, and whatever loading the indexes throws.
    public func resolve(_ request: ContentsRequest) async throws -> ResolvedContents {
        let arch = request.architecture.apk
        let indexes = try await client.loadIndexes(request.repositories, architecture: arch)
        var world: [Dependency] = []
        for (i, entry) in request.world.enumerated() {
            do { world.append(try Dependency(parsing: entry)) } catch let error as LaminaError {
                throw error.about("contents.packages[\(i)]")
            }
        }
        if let lock = request.lock {
            let packages = try applyLock(lock, indexes: indexes, arch: arch, allowEmpty: !request.basePackages.isEmpty)
            return ResolvedContents(architecture: request.architecture, packages: packages, indexes: indexes, world: world)
        }
        var repositories = indexes.map {
            SolverRepository(name: $0.repository.redacted, tag: $0.repository.tag, packages: $0.index.packages)
        }
        // apko's rule for a base image: its packages join the world pinned to their versions, its database is one
        // more repository, and whatever the solution names that the base already has is not installed again.
        var solverWorld = world
        let baseNames = Set(request.basePackages.map(\.name))
        if !request.basePackages.isEmpty {
            solverWorld += try request.basePackages.map { try Dependency(parsing: "\($0.name)=\($0.version)") }
            repositories.append(SolverRepository(name: "base image", packages: request.basePackages))
        }
        let plan = try Resolver.resolve(world: solverWorld, repositories: repositories, architecture: request.architecture)
        var packages: [AvailablePackage] = []
        for resolved in plan.packages where !baseNames.contains(resolved.info.name) {
            guard let repoIndex = resolved.source.repository, indexes.indices.contains(repoIndex) else {
                throw LaminaError(.internal, "resolver chose \(resolved.info.nameVersion) from no repository")
            }
            packages.append(AvailablePackage(info: resolved.info, repository: indexes[repoIndex].repository, architecture: arch))
        }
        return ResolvedContents(architecture: request.architecture, packages: packages, indexes: indexes, world: world)
    }

    private func applyLock(_ lock: ImageLock, indexes: [LoadedIndex], arch: String, allowEmpty: Bool) throws -> [AvailablePackage] {
        var byIdentity: [String: AvailablePackage] = [:]
        for index in indexes {
            for package in index.packages {
                if let id = package.info.checksum?.apkIdentity, byIdentity[id] == nil { byIdentity[id] = package }
            }
        }
        var out: [AvailablePackage] = []
        for locked in lock.contents.packages where locked.architecture == arch {
            guard let found = byIdentity[locked.checksum] else {
                throw LaminaError(
                    .notFound,
                    "locked package \(locked.name)-\(locked.version) (\(locked.checksum)) is no longer in any repository; run `lamina image lock` again")
            }
            out.append(found)
        }
        if out.isEmpty && !allowEmpty { throw LaminaError(.invalidInput, "the lock file has no packages for \(arch)") }
        return out
    }

    /// Fetches (verified) and installs every package into `builder`, in order.
    /// - Parameter precompressor: gets each installed package's file contents as soon as it is in, to
    ///   compress them for the layer while the next packages install.
    public func install(_ contents: ResolvedContents, into builder: inout RootFSBuilder, precompressor: ContentPrecompressor? = nil) async throws {
        let paths = try await client.fetchAll(contents.packages)
        client.progress?(.phase("installing", total: Int64(paths.count)))
        for (i, (package, path)) in zip(contents.packages, paths).enumerated() {
            try builder.install(packageAt: path, expected: package.info, repositoryTag: package.repository.tag)
            if let precompressor, let record = builder.installed.last {
                for directory in record.directories {
                    for file in directory.files {
                        let filePath = directory.path.isEmpty ? file.name : directory.path + "/" + file.name
                        if let node = builder.tree.nodes[filePath], node.kind == .regular, let content = node.content {
                            precompressor.enqueue(content)
                        }
                    }
                }
            }
            client.progress?(.advance(completed: Int64(i + 1)))
        }
    }

    /// Builds apko's lock entries for the resolved set (reading each package for its segment ranges).
    public func lockPackages(_ contents: ResolvedContents) async throws -> [ImageLock.Package] {
        let paths = try await client.fetchAll(contents.packages)
        var out: [ImageLock.Package] = []
        for (package, path) in zip(contents.packages, paths) {
            let archive = try PackageReader().read(path: path)
            out.append(
                ImageLock.Package(
                    name: package.info.name, url: package.location, version: package.info.version, architecture: contents.architecture.apk,
                    signature: archive.signatureRange.flatMap { range in archive.signatureDigest.map { ImageLock.Segment(range: range, checksum: $0) } },
                    control: ImageLock.Segment(range: archive.controlRange, checksum: archive.identity),
                    data: archive.dataDigest.map { ImageLock.Segment(range: archive.dataRange, checksum: $0) },
                    checksum: archive.identity.apkIdentity))
        }
        return out
    }
}
