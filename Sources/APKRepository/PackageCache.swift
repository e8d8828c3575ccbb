import APK
import Archive
import Foundation
import LaminaCore

/// The on-disk cache (`$XDG_CACHE_HOME/lamina`, or `--cache-dir`):
///
/// - `indexes/<sha256 of URL>/APKINDEX.tar.gz` (+ `.etag`): the last index fetched from a URL;
/// - `packages/<sha1 hex of the identity>.apk` (+ `.sha256`): packages by their control checksum;
/// - `compiled-indexes/<sha256 of APKINDEX.tar.gz>.idx`: each verified index, parsed, in the compiled
///   form `APKIndex.compiledRepresentation()` writes (it carries its own checksum).
///
/// Several builds may share the cache at once (threads, or processes). Every file is written under a
/// name private to its writer (pid + random) in its final folder, verified there, and renamed into
/// place, so no one ever sees a half-written or unverified entry under a cache name, and a writer only
/// ever deletes its own temporary files. A package is trusted again only while its bytes hash to the
/// SHA-256 recorded in its sidecar; readers check that every time, so when two writers race the worst
/// outcome is a download repeated. Temporary files a killed build left behind are removed once they
/// are a day old.
public struct PackageCache: Sendable {
    public let root: String

    public init(root: String) throws {
        self.root = root
        try Self.createDirectory(root)
    }

    /// `mkdir -p` that tolerates another process creating the same folders at the same moment.
    static func createDirectory(_ path: String) throws {
        do {
            try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        } catch {
            var isDirectory: ObjCBool = false
            if FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory), isDirectory.boolValue { return }
            // A parent may have appeared between the check and mkdir: try once more.
            do {
                try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
            } catch {
                if FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory), isDirectory.boolValue { return }
                throw LaminaError(.io, "cannot create the cache folder: \(error.localizedDescription)", subject: path)
            }
        }
    }

    /// A name next to `path` that no other writer (thread or process) uses: `.<name>.<pid>.<random>.<suffix>`.
    public static func privateName(for path: String, suffix: String = "tmp") -> String {
        let ns = path as NSString
        let random = String(UInt64.random(in: 0...UInt64.max), radix: 16)
        return ns.deletingLastPathComponent + "/.\(ns.lastPathComponent).\(getpid()).\(random).\(suffix)"
    }

    /// Whether `name` (a file name in a cache folder) is a writer's temporary file rather than an entry.
    public static func isTemporaryName(_ name: String) -> Bool { name.hasPrefix(".") }

    /// Deletes temporary files in `folder` not modified for `age` seconds: left by a build that was
    /// killed mid-download. Younger ones may belong to a build running now and are left alone.
    /// - Returns: how many were removed.
    @discardableResult
    public func removeStaleTemporaryFiles(in folder: String, olderThan age: TimeInterval = 24 * 3600) -> Int {
        guard let names = try? FileManager.default.contentsOfDirectory(atPath: folder) else { return 0 }
        let limit = Date().addingTimeInterval(-age)
        var removed = 0
        for name in names where Self.isTemporaryName(name) {
            let path = folder + "/" + name
            guard let modified = (try? FileManager.default.attributesOfItem(atPath: path))?[.modificationDate] as? Date,
                modified < limit
            else { continue }
            if unlink(path) == 0 { removed += 1 }
        }
        return removed
    }

    /// `--cache-dir`, else `$XDG_CACHE_HOME/lamina`, else `~/.cache/lamina`.
    public static func defaultRoot(environment: [String: String]) -> String {
        if let xdg = environment["XDG_CACHE_HOME"], !xdg.isEmpty { return xdg + "/lamina" }
        return (environment["HOME"] ?? NSTemporaryDirectory()) + "/.cache/lamina"
    }

    public func indexPath(url: String) -> String {
        root + "/indexes/" + Hasher.digest(.sha256, Array(url.utf8)).hex + "/APKINDEX.tar.gz"
    }

    /// The compiled form of the index archive whose SHA-256 is `archiveDigest`.
    public func compiledIndexPath(archiveDigest: Digest) -> String {
        root + "/compiled-indexes/" + archiveDigest.hex + ".idx"
    }

    public func packagePath(identity: Digest) -> String {
        root + "/packages/" + identity.hex + ".apk"
    }

    func prepareDirectory(for path: String) throws {
        try Self.createDirectory((path as NSString).deletingLastPathComponent)
    }

    func etag(for path: String) -> String? {
        (try? String(contentsOfFile: path + ".etag", encoding: .utf8))?.trimmingSpaces
    }

    func setETag(_ etag: String?, for path: String) {
        if let etag, !etag.isEmpty {
            try? AtomicFileSink.write(Array(etag.utf8), to: path + ".etag")
        } else {
            unlink(path + ".etag")
        }
    }

    /// Whether the cached file exists and still hashes to its recorded SHA-256 (a hit is marked used).
    public func isIntact(_ path: String) -> Bool {
        guard Self.damage(ofPackage: path) == nil else { return false }
        CacheMaintenance.markUsed(path)
        return true
    }

    /// Why the cached package at `path` cannot be served, or nil when its bytes hash to the SHA-256
    /// recorded in its sidecar. Does not mark it used.
    public static func damage(ofPackage path: String) -> String? {
        guard let recorded = (try? String(contentsOfFile: path + ".sha256", encoding: .utf8))?.trimmingSpaces else {
            return "no readable .sha256 sidecar"
        }
        guard let actual = try? Hasher.digest(.sha256, file: path) else { return "unreadable" }
        return actual.hex == recorded ? nil : "its bytes hash to \(actual.hex), \(recorded) was recorded"
    }

    /// Puts a verified private file (see `privateName`) in place as the entry `path`: the sidecar
    /// first, then the file, each renamed atomically. A reader that sees the new sidecar with an
    /// older file finds the hashes differ and downloads again; it never trusts unverified bytes.
    func install(_ privatePath: String, as path: String, sha256: Digest) throws {
        try AtomicFileSink.write(Array(sha256.hex.utf8), to: path + ".sha256")
        guard rename(privatePath, path) == 0 else {
            let reason = String(cString: strerror(errno))
            unlink(privatePath)
            throw LaminaError(.io, "cannot rename \(privatePath) into place: \(reason)", subject: path)
        }
    }
}
