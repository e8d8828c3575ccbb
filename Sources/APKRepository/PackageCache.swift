import APK
import Archive
import Foundation
import LaminaCore

/// The on-disk cache (`$XDG_CACHE_HOME/lamina`, or `--cache-dir`):
///
/// - `indexes/<sha256 of URL>/APKINDEX.tar.gz` (+ `.etag`): the last index fetched from a URL;
/// - `packages/<sha1 hex of the identity>.apk` (+ `.sha256`): packages by their control checksum.
///
/// Every file is written to a temporary name in its folder and renamed into place, so concurrent
/// builds sharing the cache never see half-written entries; a package is trusted again only while
/// its bytes hash to the SHA-256 recorded when it was verified.
public struct PackageCache: Sendable {
    public let root: String

    public init(root: String) throws {
        self.root = root
        try FileManager.default.createDirectory(atPath: root, withIntermediateDirectories: true)
    }

    /// `--cache-dir`, else `$XDG_CACHE_HOME/lamina`, else `~/.cache/lamina`.
    public static func defaultRoot(environment: [String: String]) -> String {
        if let xdg = environment["XDG_CACHE_HOME"], !xdg.isEmpty { return xdg + "/lamina" }
        return (environment["HOME"] ?? NSTemporaryDirectory()) + "/.cache/lamina"
    }

    public func indexPath(url: String) -> String {
        root + "/indexes/" + Hasher.digest(.sha256, Array(url.utf8)).hex + "/APKINDEX.tar.gz"
    }

    public func packagePath(identity: Digest) -> String {
        root + "/packages/" + identity.hex + ".apk"
    }

    func prepareDirectory(for path: String) throws {
        try FileManager.default.createDirectory(atPath: (path as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
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

    /// Whether the cached file exists and still hashes to its recorded SHA-256.
    public func isIntact(_ path: String) -> Bool {
        guard let recorded = (try? String(contentsOfFile: path + ".sha256", encoding: .utf8))?.trimmingSpaces,
            let source = try? FileSource(path: path)
        else { return false }
        var hasher = Hasher(.sha256)
        guard (try? source.copy(to: CallbackSink { hasher.update($0) })) != nil else { return false }
        return hasher.finalize().hex == recorded
    }

    func recordIntact(_ path: String, sha256: Digest) {
        try? AtomicFileSink.write(Array(sha256.hex.utf8), to: path + ".sha256")
    }

    func discard(_ path: String) {
        unlink(path)
        unlink(path + ".sha256")
    }
}
