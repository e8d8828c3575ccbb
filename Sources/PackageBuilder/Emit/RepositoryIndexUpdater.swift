// Source: apk-tools 2.14 `src/app_index.c` (merge semantics, `--rewrite-arch`) and `src/database.c`
// (`apk_db_foreach_sorted_package`: names compared with `strcasecmp` then `strcmp`, versions ascending).

import APK
import Archive
import Foundation
import LaminaCore

/// Keeps a repository's `APKINDEX.tar.gz` (signed) and `APKINDEX.json` current as packages are added.
///
/// An update reads the existing index (verifying its signature when the keyring holds the key that made
/// it), replaces the entries that have the same name and version as an added package, keeps every other
/// entry, sorts as `apk index` does, and writes the signed index through a temporary file and a rename.
public struct RepositoryIndexUpdater: Sendable {
    /// Keys the new index is signed with (none: unsigned).
    public var signingKeys: [SigningKey]
    public var algorithms: [SignatureAlgorithm]
    /// Public keys the existing index is checked against; the public halves of ``signingKeys`` are always
    /// added. An index signed by a key not in here is read without verification (with a warning).
    public var keyring: Keyring
    /// The `DESCRIPTION` member; nil keeps the existing index's.
    public var description: String?
    /// Receives warnings (unverifiable existing index, replaced entries).
    public var progress: ProgressHandler?

    public init(
        signingKeys: [SigningKey] = [], algorithms: [SignatureAlgorithm] = [.rsaSHA256], keyring: Keyring = Keyring(),
        description: String? = nil, progress: ProgressHandler? = nil
    ) {
        self.signingKeys = signingKeys
        self.algorithms = algorithms
        self.keyring = keyring
        self.description = description
        self.progress = progress
    }

    /// The index of a repository folder for one architecture.
    public static func indexPath(repositoryDirectory: String, architecture: String) -> String {
        "\(repositoryDirectory)/\(architecture)/APKINDEX.tar.gz"
    }

    /// Adds `packages` (paths of `.apk` files) to `<repositoryDirectory>/<architecture>/APKINDEX.tar.gz` and
    /// rewrites `APKINDEX.json` beside it.
    /// - Parameter architecture: apk spelling; packages of another architecture are refused, `noarch` ones
    ///   are listed under it (apk fetches `<repository>/<A:>/<file>`).
    /// - Returns: the index as written.
    /// - Throws: see ``update(indexPath:adding:architecture:merge:jsonPath:)``.
    @discardableResult
    public func update(repositoryDirectory: String, architecture: String, adding packages: [String]) throws
        -> APKIndex
    {
        let folder = "\(repositoryDirectory)/\(architecture)"
        do {
            try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        } catch {
            throw LaminaError(
                .io, "cannot create the repository folder: \(error.localizedDescription)", subject: folder)
        }
        return try update(
            indexPath: folder + "/APKINDEX.tar.gz", adding: packages, architecture: architecture, merge: true,
            jsonPath: folder + "/APKINDEX.json")
    }

    /// Writes the index at `indexPath` with `packages` added.
    ///
    /// - Parameters:
    ///   - architecture: when set, packages of another architecture are refused and `noarch` ones listed
    ///     under it.
    ///   - merge: keep the entries of an existing index at `indexPath` (otherwise it is replaced).
    ///   - jsonPath: where to write `APKINDEX.json`, if anywhere.
    /// - Throws: `LaminaError(.badSignature)` when the existing index's signature by a known key does not
    ///   verify; `.invalidInput` for a package of another architecture; `.malformed` for unreadable packages
    ///   or index; `.io` on write failures.
    @discardableResult
    public func update(
        indexPath: String, adding packages: [String], architecture: String?, merge: Bool = true,
        jsonPath: String? = nil
    ) throws -> APKIndex {
        // Builds running side by side update the same index: hold an exclusive lock on its folder for the
        // read-merge-write (flock on the directory itself, so no lock file is left in the repository).
        let folder = (indexPath as NSString).deletingLastPathComponent
        let lock = open(folder.isEmpty ? "." : folder, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        if lock >= 0 {
            while flock(lock, LOCK_EX) != 0 && errno == EINTR {}
        }
        defer { if lock >= 0 { close(lock) } }
        var existing: [PackageInfo] = []
        var indexDescription = description
        if merge, FileManager.default.fileExists(atPath: indexPath) {
            let old = try readVerified(indexPath)
            existing = old.packages
            indexDescription = indexDescription ?? old.description
            if let jsonPath {
                let hashes = IndexJSON.dataHashes(fromFileAt: jsonPath)
                for i in existing.indices where existing[i].dataHash == nil {
                    if let identity = existing[i].checksum?.apkIdentity { existing[i].dataHash = hashes[identity] }
                }
            }
        }
        let added = try packages.map { try Self.indexEntry(forPackageAt: $0, architecture: architecture) }
        let replaced = Set(added.map(\.nameVersion)).intersection(existing.map(\.nameVersion))
        for nameVersion in replaced.sorted() {
            progress?(.note("\(indexPath): replacing the entry of \(nameVersion)"))
        }
        let index = APKIndex(packages: Self.merging(existing, with: added), description: indexDescription)
        let bytes = try index.archiveBytes(signingKeys: signingKeys, algorithms: algorithms)
        try AtomicFileSink.write(bytes, to: indexPath)
        if let jsonPath { try AtomicFileSink.write(IndexJSON.encode(index), to: jsonPath) }
        return index
    }

    /// Reads an existing index, checking its signature against the keyring (plus the signing keys).
    func readVerified(_ path: String) throws -> APKIndex {
        let index = try APKIndex.read(path: path)
        guard !index.signatures.isEmpty else { return index }
        var keys = keyring
        for key in signingKeys { try keys.add(name: key.keyName, pem: key.publicKey.pem) }
        switch index.verify(keyring: keys) {
        case .ok: return index
        case .badSignature(let keyName):
            throw LaminaError(
                .badSignature, "the existing index's signature by \(keyName) does not verify; not merging into it",
                subject: path)
        default:
            let names = index.signatures.map(\.keyName).joined(separator: ", ")
            progress?(.warning("\(path): signed by \(names), which is not in the keyring; merged without verification"))
            return index
        }
    }

    /// The index record of the package at `path`: its `.PKGINFO` fields plus identity and file size.
    /// - Parameter architecture: when set, refuse another architecture and list `noarch` under this one.
    /// - Throws: `LaminaError(.invalidInput)` for a package of another architecture, `.malformed` when the
    ///   file is not a package.
    public static func indexEntry(forPackageAt path: String, architecture: String?) throws -> PackageInfo {
        var info = try PackageReader().read(path: path).info
        if let architecture, let arch = info.arch, arch != architecture, arch != "noarch" {
            throw LaminaError(.invalidInput, "package is for \(arch), not \(architecture)", subject: path)
        }
        if let architecture, info.arch == "noarch" { info.arch = architecture }
        return info
    }

    /// `existing` with every entry of the same name and version as one in `added` replaced, in apk order.
    public static func merging(_ existing: [PackageInfo], with added: [PackageInfo]) -> [PackageInfo] {
        var byNameVersion: [String: PackageInfo] = [:]
        for info in existing { byNameVersion[info.nameVersion] = info }
        for info in added { byNameVersion[info.nameVersion] = info }
        return sortedForIndex(Array(byNameVersion.values))
    }

    /// apk's index order: by name (case-insensitively, then bytewise), then by version, oldest first.
    public static func sortedForIndex(_ packages: [PackageInfo]) -> [PackageInfo] {
        packages.sorted { a, b in
            if a.name != b.name {
                let (x, y) = (asciiLowercased(a.name), asciiLowercased(b.name))
                if x != y { return x.lexicographicallyPrecedes(y) }
                return Array(a.name.utf8).lexicographicallyPrecedes(Array(b.name.utf8))
            }
            switch APKVersion.compare(a.version, b.version) {
            case .less: return true
            case .greater: return false
            case .equal: return Array(a.version.utf8).lexicographicallyPrecedes(Array(b.version.utf8))
            }
        }
    }

    /// The UTF-8 bytes with `A`–`Z` lowered, as `strcasecmp` compares them.
    private static func asciiLowercased(_ text: String) -> [UInt8] {
        text.utf8.map { $0 >= 65 && $0 <= 90 ? $0 + 32 : $0 }
    }
}
