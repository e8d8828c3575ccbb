import APK
import APKRepository
import Archive
import Config
import Foundation
import LaminaCore

/// Finished layers kept under `<cache>/layers/<key>/`, so rebuilding an unchanged image skips
/// fetching, installing, tarring and compressing entirely.
///
/// The key is the sha256 of a canonical JSON document (`LayerCacheKey`) naming every input that can
/// change the layer's bytes: the layer-format version below, the architecture, the epoch, the gzip
/// level, the resolved packages (control checksum, repository tag) in install order, and the parts
/// of the configuration written into files (world, runtime repositories, keys, accounts, paths,
/// os-release, certificates, s6 services, layering). The image config's own fields (entrypoint, environment, labels, …)
/// are not in it: they do not touch the layer and are rebuilt every time.
///
/// An entry is a folder holding `layer.tar.gz` and `entry.json` (digests, sizes and the facts the
/// image config and SBOM read from the tree). It is assembled in a temporary folder beside it and
/// renamed into place, so concurrent builds never see half an entry; a loser of the rename race
/// drops its copy and uses the winner's (identical) one.
public struct LayerCache: Sendable {
    /// Bump whenever a change to Lamina changes layer bytes for the same inputs (tar layout, rootfs
    /// assembly, apk database rendering, gzip framing), so old entries stop matching.
    public static let formatVersion = 1

    /// `<cache>/layers`.
    public let root: String

    public init(cacheDirectory: String) {
        root = cacheDirectory + "/layers"
    }

    /// The folder of the entry for `key`.
    public func entryDirectory(_ key: Digest) -> String { root + "/" + key.hex }

    /// The entry for `key`, when it is complete and its layer file still hashes to the recorded
    /// digest. A damaged entry (truncated or altered layer, unreadable `entry.json`) is removed and
    /// reported through `discarded`, and nil is returned so the layer is built again: the cache
    /// never serves bytes whose digest does not match. A hit is marked used (see `CacheMaintenance`).
    public func lookup(_ key: Digest, discarded: ((String) -> Void)? = nil) -> LayerCacheEntry? {
        let dir = entryDirectory(key)
        guard FileManager.default.fileExists(atPath: dir) else { return nil }
        switch Self.inspect(dir) {
        case .sound(let entry):
            CacheMaintenance.markUsed(dir)
            return entry
        case .otherVersion:
            // Not damaged: another Lamina may still use it.
            return nil
        case .damaged(let reason):
            let aside = PackageCache.privateName(for: dir, suffix: "discard")
            if rename(dir, aside) == 0 { try? FileManager.default.removeItem(atPath: aside) }
            discarded?("discarded the cached layer \(key.hex.prefix(12)): \(reason); building it again")
            return nil
        }
    }

    enum Inspection {
        case sound(LayerCacheEntry)
        case otherVersion
        case damaged(String)
    }

    /// Reads and checks the entry folder `dir` without marking it used.
    static func inspect(_ dir: String) -> Inspection {
        guard let data = FileManager.default.contents(atPath: dir + "/entry.json"),
            var entry = try? JSONDecoder().decode(LayerCacheEntry.self, from: data)
        else { return .damaged("its entry.json is missing or unreadable") }
        guard entry.version == formatVersion else { return .otherVersion }
        entry = relocated(entry, to: dir)
        for layer in entry.layers {
            var info = stat()
            guard stat(layer.path, &info) == 0 else { return .damaged("its layer file is missing") }
            guard Int64(info.st_size) == layer.size else {
                return .damaged("its layer file has \(info.st_size) bytes, \(layer.size) were recorded")
            }
            guard let actual = try? Hasher.digest(.sha256, file: layer.path), actual == layer.digest else {
                return .damaged("its layer file no longer hashes to \(layer.digest)")
            }
        }
        return .sound(entry)
    }

    /// For `CacheMaintenance.verify`: why the entry folder at `path` is damaged, or nil.
    public static func damage(ofEntry path: String) -> String? {
        if case .damaged(let reason) = inspect(path) { return reason }
        return nil
    }

    /// A fresh staging folder for an entry being built.
    public func stagingDirectory() throws -> String {
        let dir = root + "/.staging-\(getpid())-\(UInt64.random(in: 0...UInt64.max))"
        do {
            try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        } catch {
            throw LaminaError(.io, "cannot create a layer cache folder: \(error.localizedDescription)", subject: dir, cause: error)
        }
        return dir
    }

    /// Writes `entry.json` into `staging` (which already holds `layer.tar.gz`) and renames it to the
    /// entry for `key`. Returns the entry with its layer path in the cache.
    public func commit(_ entry: LayerCacheEntry, staging: String, key: Digest) throws -> LayerCacheEntry {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        try AtomicFileSink.write(Array(try encoder.encode(entry)), to: staging + "/entry.json")
        let final = entryDirectory(key)
        if rename(staging, final) != 0 {
            let code = errno
            if code == EEXIST || code == ENOTEMPTY, let existing = lookup(key) {
                // Another build stored the same key meanwhile.
                try? FileManager.default.removeItem(atPath: staging)
                return existing
            }
            if code == EEXIST || code == ENOTEMPTY {
                // A broken entry (e.g. a layer file removed by hand): replace it.
                try? FileManager.default.removeItem(atPath: final)
                if rename(staging, final) == 0 { return Self.relocated(entry, to: final) }
            }
            try? FileManager.default.removeItem(atPath: staging)
            throw LaminaError(.io, "cannot store the layer in the cache: \(String(cString: strerror(code)))", subject: final)
        }
        return Self.relocated(entry, to: final)
    }

    /// The entry with its layer paths inside `dir`: `layer.tar.gz`, upper layers keep their file names.
    static func relocated(_ entry: LayerCacheEntry, to dir: String) -> LayerCacheEntry {
        var out = entry
        out.layer.path = dir + "/layer.tar.gz"
        out.upperLayers = entry.upperLayers?.map { layer in
            var moved = layer
            moved.path = dir + "/" + (layer.path as NSString).lastPathComponent
            return moved
        }
        return out
    }
}

/// What a cached layer carries besides its bytes: what the image config and SBOM need from the tree.
public struct LayerCacheEntry: Sendable, Codable {
    public var version = LayerCache.formatVersion
    /// The bottom (or only) layer, `layer.tar.gz`.
    public var layer: WrittenLayer
    /// With `layering:`, the layers above it, bottom first (`layer-<i>.tar.gz`); nil for one layer.
    public var upperLayers: [WrittenLayer]?
    public var facts: LayerFacts

    public init(layer: WrittenLayer, facts: LayerFacts) {
        self.layer = layer
        self.facts = facts
    }

    /// - Precondition: `layers` is not empty.
    public init(layers: [WrittenLayer], facts: LayerFacts) {
        layer = layers[0]
        upperLayers = layers.count > 1 ? Array(layers.dropFirst()) : nil
        self.facts = facts
    }

    /// Every layer, bottom first.
    public var layers: [WrittenLayer] { [layer] + (upperLayers ?? []) }
}

/// Facts read from the finished root filesystem that the image config and SBOM use.
public struct LayerFacts: Sendable, Codable, Equatable {
    /// uid → user name (from `/etc/passwd` merged with `accounts`), for `run-as`.
    public var userNames: [String: String]
    /// `/etc/os-release`, if the root has one.
    public var osRelease: String?
    /// Per-package SBOM documents shipped under `/var/lib/db/sbom/`, by tree path.
    public var embeddedSBOMs: [String: String]

    public var userNamesByID: [Int: String] {
        Dictionary(userNames.compactMap { key, value in Int(key).map { ($0, value) } }, uniquingKeysWith: { a, _ in a })
    }
}

/// Every input that can change a layer's bytes, encoded canonically (sorted keys) and hashed into
/// the cache key.
struct LayerCacheKey: Encodable, Sendable {
    struct Package: Encodable, Sendable {
        var identity: String
        var name: String
        var version: String
        var repositoryTag: String?
    }
    var formatVersion = LayerCache.formatVersion
    var architecture: String
    var epoch: Int64
    var compressionLevel: Int
    var packages: [Package]
    var world: [String]
    var repositories: [String]
    var keys: [String: String]
    var accounts: ImageAccounts
    var paths: [PathMutation]
    var osRelease: OSRelease?
    var certificates: ImageCertificates?
    /// `entrypoint.services` (nil when there are none, so keys of images without services stay as they were).
    var services: [String: String]?
    /// `layering` (nil for one layer).
    var layering: Layering?
    /// The base image's manifest digest and installed database digest (nil without a base image).
    var base: String? = nil

    /// The key, or nil when some package has no control checksum to identify it by.
    func digest() throws -> Digest? {
        guard packages.allSatisfy({ !$0.identity.isEmpty }) else { return nil }
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        return Hasher.digest(.sha256, Array(try encoder.encode(self)))
    }
}
