import APK
import Archive
import Foundation
import HTTPTransport
import LaminaCore

/// A package offered by a loaded repository index.
public struct AvailablePackage: Sendable, Hashable {
    public var info: PackageInfo
    public var repository: RepositoryReference
    /// The architecture folder the index came from (noarch packages live there too).
    public var architecture: String

    public init(info: PackageInfo, repository: RepositoryReference, architecture: String) {
        self.info = info
        self.repository = repository
        self.architecture = architecture
    }

    /// Where the `.apk` is.
    public var location: String { repository.packageLocation(architecture: architecture, fileName: info.fileName) }
}

/// A repository's index for one architecture, verified.
public struct LoadedIndex: Sendable {
    public var repository: RepositoryReference
    public var architecture: String
    public var index: APKIndex
    /// The key that signed it, or nil when it was accepted with `--allow-untrusted`.
    public var trustedBy: String?

    public var packages: [AvailablePackage] {
        index.packages.map { AvailablePackage(info: $0, repository: repository, architecture: architecture) }
    }
}

/// Loads indexes and packages from local folders and HTTP(S) repositories, verifying every
/// signature and checksum before the bytes are used, with a content-addressed disk cache.
public struct RepositoryClient: Sendable {
    public var keyring: Keyring
    public var cache: PackageCache?
    public var transport: (any HTTPTransport)?
    /// Accept unsigned or unverifiable indexes (loudly).
    public var allowUntrusted: Bool
    /// Use only the cache and local repositories.
    public var offline: Bool
    public var maxConcurrentDownloads: Int
    public var progress: ProgressHandler?

    public init(
        keyring: Keyring, cache: PackageCache?, transport: (any HTTPTransport)?, allowUntrusted: Bool = false, offline: Bool = false,
        maxConcurrentDownloads: Int = 8, progress: ProgressHandler? = nil
    ) {
        self.keyring = keyring
        self.cache = cache
        self.transport = transport
        self.allowUntrusted = allowUntrusted
        self.offline = offline
        self.maxConcurrentDownloads = maxConcurrentDownloads
        self.progress = progress
    }

    // MARK: Indexes

    /// Loads and verifies the index of each repository for `architecture`.
    /// - Throws: `.untrusted` / `.badSignature` for an index no key vouches for (unless
    ///   `allowUntrusted`), `.notFound` for a missing index, `.network` for transport failures.
    public func loadIndexes(_ repositories: [RepositoryReference], architecture: String) async throws -> [LoadedIndex] {
        var out: [LoadedIndex] = []
        for repository in repositories {
            out.append(try await loadIndex(repository, architecture: architecture))
        }
        return out
    }

    public func loadIndex(_ repository: RepositoryReference, architecture: String) async throws -> LoadedIndex {
        let fetched = try await indexFile(repository, architecture: architecture)
        do {
            let loaded = try verifyIndex(at: fetched.path, repository: repository, architecture: architecture)
            try fetched.commit()
            return loaded
        } catch {
            fetched.abandon()
            throw error
        }
    }

    private func verifyIndex(at path: String, repository: RepositoryReference, architecture: String) throws -> LoadedIndex {
        let (index, compiledPath) = try readIndex(at: path)
        let subject = repository.isRemote ? repository.redacted + "/\(architecture)/APKINDEX.tar.gz" : path
        let verdict = index.verify(keyring: keyring)
        // A fresh parse is kept in compiled form once its signature holds (or untrusted input is allowed): best
        // effort, a cache that cannot be written only costs the next run a parse.
        func keep() {
            guard let compiledPath, let cache, let bytes = try? index.compiledRepresentation() else { return }
            try? cache.prepareDirectory(for: compiledPath)
            try? AtomicFileSink.write(bytes, to: compiledPath)
        }
        switch verdict {
        case .ok(let key):
            keep()
            return LoadedIndex(repository: repository, architecture: architecture, index: index, trustedBy: key)
        default:
            guard allowUntrusted else {
                let names = index.signatures.map(\.keyName)
                let hint = names.isEmpty ? "the index is not signed" : "signed by \(names.joined(separator: ", ")), which the keyring does not hold"
                if case .badSignature(let key) = verdict {
                    throw LaminaError(.badSignature, "BAD signature by key \(key)", subject: subject)
                }
                throw LaminaError(.untrusted, "UNTRUSTED index: \(hint); add the key with --keyring-append/-k, or use --allow-untrusted", subject: subject)
            }
            progress?(.warning("using UNTRUSTED index \(subject) (\(verdict)) because of --allow-untrusted"))
            keep()
            return LoadedIndex(repository: repository, architecture: architecture, index: index, trustedBy: nil)
        }
    }

    /// Reads the index at `path`. With a cache, the archive's compiled form (keyed by the archive's SHA-256)
    /// is used when present and sound, so the archive is hashed but neither inflated nor parsed; the
    /// signatures are still checked over the archive's bytes. A damaged compiled form is discarded with a
    /// warning and the archive parsed again. Returns where a fresh parse should be kept (nil: nothing to keep).
    private func readIndex(at path: String) throws -> (APKIndex, String?) {
        guard let cache else { return (try APKIndex.read(path: path), nil) }
        let limits = SizeLimits.default
        let archive = try LaminaError.about(path) { try FileSource(path: path).readAll(limit: Int(limits.maxIndexSize), what: "index") }
        guard archive.starts(with: [0x1f, 0x8b]) else { return (try APKIndex.read(bytes: archive, name: path, limits: limits), nil) }
        let compiledPath = cache.compiledIndexPath(archiveDigest: Hasher.digest(.sha256, archive))
        if let compiled = FileManager.default.contents(atPath: compiledPath) {
            do {
                let index = try archive.withUnsafeBytes { try APKIndex.loadCompiled(Array(compiled), archive: $0) }
                CacheMaintenance.markUsed(compiledPath)
                return (index, nil)
            } catch let error as LaminaError {
                // Never served: parsed again below, and the fresh compiled form replaces it by rename.
                progress?(.warning("discarded the compiled index \(compiledPath): \(error.message); reading \(path) again"))
            }
        }
        return (try APKIndex.read(bytes: archive, name: path, limits: limits), compiledPath)
    }

    /// An index file to read, and what to do once it has been verified: a fresh download sits under
    /// a name private to this writer until then, so a bad index never replaces a cached one.
    private struct FetchedIndex {
        var path: String
        var cache: PackageCache?
        var cachedPath: String?
        var etag: String?

        static func inPlace(_ path: String) -> FetchedIndex { FetchedIndex(path: path) }

        /// Renames a fresh download into the cache (atomically), then records its ETag.
        func commit() throws {
            guard let cache, let cachedPath else { return }
            guard rename(path, cachedPath) == 0 else {
                let reason = String(cString: strerror(errno))
                unlink(path)
                throw LaminaError(.io, "cannot rename \(path) into place: \(reason)", subject: cachedPath)
            }
            cache.setETag(etag, for: cachedPath)
        }

        /// Deletes a fresh download that was not accepted.
        func abandon() {
            if cachedPath != nil { unlink(path) }
        }
    }

    private func indexFile(_ repository: RepositoryReference, architecture: String) async throws -> FetchedIndex {
        if !repository.isRemote {
            let path = repository.localPath + "/\(architecture)/APKINDEX.tar.gz"
            guard FileManager.default.fileExists(atPath: path) else {
                throw LaminaError(.notFound, "repository has no index for \(architecture)", subject: path)
            }
            return .inPlace(path)
        }
        guard let cache else { throw LaminaError(.internal, "remote repositories need a cache directory") }
        let url = repository.indexLocation(architecture: architecture)
        let cached = cache.indexPath(url: url)
        if offline {
            guard FileManager.default.fileExists(atPath: cached) else {
                throw LaminaError(.notFound, "--offline and no cached index", subject: repository.redacted)
            }
            CacheMaintenance.markUsed((cached as NSString).deletingLastPathComponent)
            return .inPlace(cached)
        }
        guard let transport else { throw LaminaError(.internal, "no HTTP transport configured") }
        try cache.prepareDirectory(for: cached)
        let etag = FileManager.default.fileExists(atPath: cached) ? cache.etag(for: cached) : nil
        let download = PackageCache.privateName(for: cached, suffix: "download")
        do {
            switch try await transport.download(url, to: download, ifNoneMatch: etag) {
            case .notModified:
                CacheMaintenance.markUsed((cached as NSString).deletingLastPathComponent)
                return .inPlace(cached)
            case .modified(let result):
                return FetchedIndex(path: download, cache: cache, cachedPath: cached, etag: result.response.headers["ETag"])
            }
        } catch let error as LaminaError where error.code == .notFound {
            unlink(download)
            throw LaminaError(.notFound, "repository has no index for \(architecture)", subject: repository.redacted)
        } catch {
            unlink(download)
            throw error
        }
    }

    // MARK: Packages

    /// Returns a local path to the package's verified bytes, downloading it into the cache when remote.
    ///
    /// A cached copy is used only if its SHA-256 still equals the one recorded when it was
    /// downloaded; otherwise it is fetched again. A fresh download must have the index's size and
    /// identity (control checksum) and a matching datahash, or it is discarded.
    public func fetch(_ package: AvailablePackage) async throws -> String {
        try await fetchAll([package])[0]
    }

    /// Fetches several packages with bounded concurrency; results in input order.
    public func fetchAll(_ packages: [AvailablePackage]) async throws -> [String] {
        var paths = [String?](repeating: nil, count: packages.count)
        var downloads: [(Int, DownloadRequest)] = []
        for (i, package) in packages.enumerated() {
            if !package.repository.isRemote {
                let path = package.repository.localPath + "/\(package.architecture)/\(package.info.fileName)"
                guard FileManager.default.fileExists(atPath: path) else {
                    throw LaminaError(.notFound, "\(package.info.nameVersion) is in the index but its file is missing", subject: path)
                }
                paths[i] = path
                continue
            }
            guard let cache else { throw LaminaError(.internal, "remote repositories need a cache directory") }
            guard let identity = package.info.checksum else {
                throw LaminaError(.untrusted, "\(package.info.nameVersion) has no checksum in its index", subject: package.repository.redacted)
            }
            let cached = cache.packagePath(identity: identity)
            if cache.isIntact(cached) {
                paths[i] = cached
                continue
            }
            if FileManager.default.fileExists(atPath: cached) {
                // Truncated, altered or without its sidecar: never served; the new download replaces it by
                // rename (not deleted here: another writer may be putting a good copy in place right now).
                progress?(.warning("discarded the cached \(package.info.nameVersion): its bytes no longer match their recorded sha256"))
            }
            if offline {
                throw LaminaError(.notFound, "--offline and \(package.info.nameVersion) is not cached", subject: package.repository.redacted)
            }
            try cache.prepareDirectory(for: cached)
            // Downloaded under a name private to this writer, verified, then renamed into place.
            let download = PackageCache.privateName(for: cached, suffix: "download")
            downloads.append((i, DownloadRequest(url: package.location, path: download, expected: ExpectedContent(size: package.info.fileSize))))
        }
        if !downloads.isEmpty {
            guard let transport, let cache else { throw LaminaError(.internal, "no HTTP transport configured") }
            cache.removeStaleTemporaryFiles(in: (downloads[0].1.path as NSString).deletingLastPathComponent)
            let results: [DownloadResult]
            do {
                results = try await transport.downloadAll(downloads.map(\.1), maxConcurrent: maxConcurrentDownloads, progress: progress)
            } catch {
                for (_, request) in downloads { unlink(request.path) }
                throw error
            }
            var failure: (any Error)?
            for ((i, request), result) in zip(downloads, results) {
                let package = packages[i]
                guard let identity = package.info.checksum else { continue }
                let cached = cache.packagePath(identity: identity)
                do {
                    let archive = try PackageReader().read(path: result.path)
                    if archive.identity != package.info.checksum {
                        throw LaminaError(
                            .checksumMismatch,
                            "downloaded package is \(archive.identity.apkIdentity), the index says \(package.info.checksum?.apkIdentity ?? "?")",
                            subject: RepositoryReference.redact(request.url))
                    }
                    if let expected = archive.info.dataHash, expected != archive.dataDigest?.hex {
                        throw LaminaError(.checksumMismatch, "datahash mismatch", subject: RepositoryReference.redact(request.url))
                    }
                    try cache.install(result.path, as: cached, sha256: result.sha256)
                } catch {
                    unlink(result.path)
                    if failure == nil { failure = error }
                    continue
                }
                paths[i] = cached
            }
            if let failure { throw failure }
        }
        return paths.map { $0! }
    }
}
