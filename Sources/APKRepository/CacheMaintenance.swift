import APK
import Foundation
import LaminaCore

/// Lists, measures and prunes the on-disk cache (`$XDG_CACHE_HOME/lamina` or `--cache-dir`).
///
/// The cache has one folder per kind of entry; an entry is one file (with its sidecars) or one folder:
///
/// | area | entry | written by |
/// |---|---|---|
/// | `indexes` | `<sha256 of URL>/` (APKINDEX.tar.gz + .etag) | `RepositoryClient` |
/// | `packages` | `<sha1 of identity>.apk` (+ `.sha256`) | `RepositoryClient` |
/// | `compiled-indexes` | `<sha256 of APKINDEX.tar.gz>.idx` (a verified index, parsed; self-checking) | `RepositoryClient` |
/// | `sources` | `sha256/<hex>`, `sha512/<hex>` | the `fetch` pipeline |
/// | `layers` | `<key>/` (layer.tar.gz + entry.json) | `ImageBuilder` |
/// | `outputs` | `<sha256 of path>.json` (stamps of written tarballs) | `ImageBuilder` |
///
/// **Last use.** Whoever serves an entry calls `markUsed` on it, which sets the entry's mtime to now;
/// an entry's last use is that mtime. Pruning removes the least recently used entries first.
///
/// **Pruning beside running builds.** An entry used within `grace` (default one hour, longer than any
/// build holds an entry between finding and reading it) is never removed. An entry is removed by
/// renaming it to a private name first (so no reader ever sees half an entry), checking that nobody
/// marked it used in between (else it is renamed back), and only then deleting it. Writers' temporary
/// files (dot-names) are removed once they are a day old, as `PackageCache` does.
public struct CacheMaintenance: Sendable {
    /// The areas, in the order they are listed.
    public static let areas = ["indexes", "compiled-indexes", "packages", "sources", "layers", "outputs"]

    /// Sidecar suffixes that belong to the entry named without them.
    static let sidecars = [".sha256", ".etag"]

    /// The default bound applied after builds: `LAMINA_CACHE_MAX_SIZE`, else 20 GiB; `0` or `none` turns it off.
    public static let defaultMaxSize: Int64 = 20 << 30

    public let root: String

    public init(root: String) { self.root = root }

    /// One entry of the cache.
    public struct Entry: Sendable, Equatable, Codable {
        /// The area (`packages`, `layers`, …).
        public var area: String
        /// Path relative to the cache root (`packages/ab12….apk`, `layers/9f…`).
        public var path: String
        /// Bytes on disk, sidecars and folder contents included.
        public var size: Int64
        /// Last use, seconds since the epoch.
        public var lastUsed: Int64
        /// A writer's leftover temporary file or folder rather than an entry.
        public var temporary: Bool
    }

    /// Totals of one area.
    public struct AreaUsage: Sendable, Equatable, Codable {
        public var area: String
        public var entries: Int
        public var bytes: Int64
    }

    /// What a prune removed (or would remove, for a dry run).
    public struct PruneReport: Sendable, Equatable, Codable {
        public var removed: [Entry] = []
        public var kept: Int = 0
        public var keptBytes: Int64 = 0
        public var freedBytes: Int64 = 0
    }

    // MARK: - Listing

    /// Every entry, sorted by area then path. Sidecars are counted with their entry.
    public func entries() -> [Entry] {
        var out: [Entry] = []
        for area in Self.areas {
            let folder = root + "/" + area
            if area == "sources" {
                for algorithm in (try? FileManager.default.contentsOfDirectory(atPath: folder))?.sorted() ?? [] {
                    out += entries(in: folder + "/" + algorithm, area: area, relative: area + "/" + algorithm)
                }
            } else {
                out += entries(in: folder, area: area, relative: area)
            }
        }
        return out
    }

    private func entries(in folder: String, area: String, relative: String) -> [Entry] {
        guard let names = try? FileManager.default.contentsOfDirectory(atPath: folder) else { return [] }
        var byName: [String: Entry] = [:]
        for name in names {
            var info = stat()
            let path = folder + "/" + name
            guard lstat(path, &info) == 0 else { continue }
            let temporary = PackageCache.isTemporaryName(name)
            let owner = temporary ? name : Self.entryName(name)
            let isDirectory = (info.st_mode & S_IFMT) == S_IFDIR
            let size = isDirectory ? Self.treeSize(path) : Int64(info.st_size)
            // The entry's own mtime is its last use; a sidecar only adds its size.
            let isMain = owner == name
            var entry = byName[owner] ?? Entry(area: area, path: relative + "/" + owner, size: 0, lastUsed: 0, temporary: temporary)
            entry.size += size
            if isMain || entry.lastUsed == 0 { entry.lastUsed = Int64(info.st_mtim.tv_sec) }
            byName[owner] = entry
        }
        return byName.values.sorted { $0.path < $1.path }
    }

    /// The entry a file name belongs to: itself, or the name without a sidecar suffix.
    static func entryName(_ name: String) -> String {
        for suffix in sidecars where name.hasSuffix(suffix) && name.count > suffix.count {
            return String(name.dropLast(suffix.count))
        }
        return name
    }

    /// Bytes of every regular file below `path`, links not followed.
    static func treeSize(_ path: String) -> Int64 {
        guard let walker = FileManager.default.enumerator(atPath: path) else { return 0 }
        var total: Int64 = 0
        while let name = walker.nextObject() as? String {
            var info = stat()
            if lstat(path + "/" + name, &info) == 0, (info.st_mode & S_IFMT) == S_IFREG { total += Int64(info.st_size) }
        }
        return total
    }

    /// Entries and bytes per area, every area listed (zero when empty).
    public func usage(_ entries: [Entry]? = nil) -> [AreaUsage] {
        let all = entries ?? self.entries()
        return Self.areas.map { area in
            let mine = all.filter { $0.area == area }
            return AreaUsage(area: area, entries: mine.count, bytes: mine.reduce(0) { $0 + $1.size })
        }
    }

    // MARK: - Use

    /// Records that the entry at `path` (a file or an entry folder) was just used. Best effort.
    public static func markUsed(_ path: String) {
        _ = path.withCString { utimensat(AT_FDCWD, $0, nil, 0) }
    }

    // MARK: - Pruning

    /// Removes entries not used for `olderThan` seconds, then the least recently used ones until the
    /// cache holds at most `maxSize` bytes, never one used within `grace` seconds. Temporary files
    /// are removed once they are a day old. With `dryRun`, only reports.
    public func prune(
        maxSize: Int64? = nil, olderThan: TimeInterval? = nil, grace: TimeInterval = 3600, dryRun: Bool = false,
        now: Date = Date()
    ) -> PruneReport {
        let nowSeconds = Int64(now.timeIntervalSince1970)
        var report = PruneReport()
        var candidates: [Entry] = []
        for entry in entries() {
            if entry.temporary {
                if nowSeconds - entry.lastUsed >= 24 * 3600 { candidates.append(entry) } else { report.kept += 1; report.keptBytes += entry.size }
                continue
            }
            candidates.append(entry)
        }
        // Oldest first; ties broken by path so a prune is deterministic.
        candidates.sort { ($0.lastUsed, $0.path) < ($1.lastUsed, $1.path) }
        var total = candidates.filter { !$0.temporary }.reduce(Int64(0)) { $0 + $1.size }
        for entry in candidates {
            if entry.temporary {
                if dryRun || remove(entry, grace: grace, now: nowSeconds) {
                    report.removed.append(entry)
                    report.freedBytes += entry.size
                }
                continue
            }
            let age = TimeInterval(nowSeconds - entry.lastUsed)
            let expired = olderThan.map { age >= $0 } ?? false
            let oversize = maxSize.map { total > $0 } ?? false
            if age >= grace, expired || oversize, dryRun || remove(entry, grace: grace, now: nowSeconds) {
                total -= entry.size
                report.removed.append(entry)
                report.freedBytes += entry.size
            } else {
                report.kept += 1
                report.keptBytes += entry.size
            }
        }
        return report
    }

    /// Applies `maxSize` (nil: `LAMINA_CACHE_MAX_SIZE` or the default) after a build: cheap when the
    /// cache is under the bound. Returns what was removed.
    @discardableResult
    public func enforceBound(_ maxSize: Int64? = nil, environment: [String: String] = ProcessInfo.processInfo.environment) throws
        -> PruneReport
    {
        var bound = maxSize
        if bound == nil {
            if let text = environment["LAMINA_CACHE_MAX_SIZE"], !text.isEmpty {
                bound = try Self.parseSize(text, option: "LAMINA_CACHE_MAX_SIZE")
            } else {
                bound = Self.defaultMaxSize
            }
        }
        guard let limit = bound, limit > 0 else { return PruneReport() }
        let all = entries()
        guard all.reduce(Int64(0), { $0 + $1.size }) > limit else { return PruneReport(kept: all.count) }
        return prune(maxSize: limit)
    }

    /// Takes an entry out of the cache: renamed aside first, put back when someone marked it used meanwhile.
    private func remove(_ entry: Entry, grace: TimeInterval, now: Int64) -> Bool {
        let path = root + "/" + entry.path
        if entry.temporary { return (try? FileManager.default.removeItem(atPath: path)) != nil }
        let aside = PackageCache.privateName(for: path, suffix: "prune")
        guard rename(path, aside) == 0 else { return false }
        var info = stat()
        if lstat(aside, &info) == 0, TimeInterval(now - Int64(info.st_mtim.tv_sec)) < grace {
            // Used between the listing and the rename: it stays.
            if rename(aside, path) == 0 { return false }
        }
        try? FileManager.default.removeItem(atPath: aside)
        for suffix in Self.sidecars { unlink(path + suffix) }
        return true
    }

    // MARK: - Verification

    /// Says why the entry at an absolute path is damaged, or nil when it is sound.
    public typealias Check = @Sendable (String) -> String?

    /// A damaged entry and why.
    public struct Damage: Sendable, Equatable, Codable {
        public var path: String
        public var reason: String
        /// Whether `repair` removed it.
        public var removed: Bool
    }

    /// Checks every entry against its digest: packages against their sidecar, sources against
    /// their name, indexes by reading them whole, compiled indexes against their own checksum and name, output stamps by decoding them, and whatever
    /// `checks` adds per area (layers: `LayerCache.damage`). Temporary files are skipped. With
    /// `repair`, damaged entries are removed (they would be fetched or built again anyway). Verifying
    /// does not count as use.
    public func verify(checks extra: [String: Check] = [:], repair: Bool = false) -> (checked: Int, damaged: [Damage]) {
        var checks: [String: Check] = [
            "packages": { PackageCache.damage(ofPackage: $0) },
            "sources": { path in
                let ns = path as NSString
                guard let algorithm = Digest.Algorithm(rawValue: (ns.deletingLastPathComponent as NSString).lastPathComponent) else {
                    return "not in a sha256 or sha512 folder"
                }
                guard let actual = try? Hasher.digest(algorithm, file: path) else { return "unreadable" }
                return actual.hex == ns.lastPathComponent ? nil : "its bytes hash to \(actual.hex)"
            },
            "indexes": { path in
                do {
                    _ = try APKIndex.read(path: path + "/APKINDEX.tar.gz")
                    return nil
                } catch { return "\(error)" }
            },
            "compiled-indexes": { path in
                guard let data = FileManager.default.contents(atPath: path) else { return "unreadable" }
                let name = ((path as NSString).lastPathComponent as NSString).deletingPathExtension
                guard let digest = try? Digest(.sha256, hex: name) else { return "not named by the sha256 of an index archive" }
                return APKIndex.damage(ofCompiled: Array(data), archiveDigest: digest)
            },
            "outputs": { path in
                guard let data = FileManager.default.contents(atPath: path),
                    (try? JSONSerialization.jsonObject(with: data)) is [String: Any]
                else { return "not a JSON object" }
                return nil
            },
        ]
        checks.merge(extra) { _, new in new }
        var checked = 0
        var damaged: [Damage] = []
        for entry in entries() where !entry.temporary {
            guard let check = checks[entry.area] else { continue }
            checked += 1
            let path = root + "/" + entry.path
            guard let reason = check(path) else { continue }
            var damage = Damage(path: entry.path, reason: reason, removed: false)
            if repair {
                let aside = PackageCache.privateName(for: path, suffix: "repair")
                if rename(path, aside) == 0 {
                    try? FileManager.default.removeItem(atPath: aside)
                    for suffix in Self.sidecars { unlink(path + suffix) }
                    damage.removed = true
                }
            }
            damaged.append(damage)
        }
        return (checked, damaged)
    }

    // MARK: - Units

    /// `5G`, `500M`, `1.5GiB`, `2048` (bytes), `10k`: powers of 1024.
    public static func parseSize(_ text: String, option: String) throws -> Int64 {
        let trimmed = text.trimmingSpaces.lowercased()
        if trimmed == "none" { return 0 }
        let digits = trimmed.prefix { $0.isNumber || $0 == "." }
        var unit = trimmed.dropFirst(digits.count)
        for suffix in ["ib", "b"] where unit.hasSuffix(suffix) && unit.count > 0 {
            unit = unit.dropLast(suffix.count)
            break
        }
        let shifts: [Substring: Int] = ["": 0, "k": 10, "m": 20, "g": 30, "t": 40]
        guard let number = Double(digits), number >= 0, let shift = shifts[unit] else {
            throw LaminaError(.usage, "expected a size such as 500M, 5G or 1T, got '\(text)'", subject: option)
        }
        return Int64(number * Double(Int64(1) << shift))
    }

    /// `30d`, `12h`, `90m`, `45s`, `2w`: seconds.
    public static func parseAge(_ text: String, option: String) throws -> TimeInterval {
        let trimmed = text.trimmingSpaces.lowercased()
        let units: [Character: Double] = ["s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604_800]
        guard let last = trimmed.last, let unit = units[last], let number = Double(trimmed.dropLast()), number >= 0 else {
            throw LaminaError(.usage, "expected an age such as 30d, 12h or 90m, got '\(text)'", subject: option)
        }
        return number * unit
    }

    /// `1.5 GiB`, `340 MiB`, `12 KiB`, `800 B`.
    public static func formatSize(_ bytes: Int64) -> String {
        let units = ["B", "KiB", "MiB", "GiB", "TiB"]
        var value = Double(bytes)
        var index = 0
        while value >= 1024, index < units.count - 1 {
            value /= 1024
            index += 1
        }
        return index == 0 ? "\(bytes) B" : String(format: value < 10 ? "%.1f" : "%.0f", value) + " " + units[index]
    }
}
