import APK
import APKRepository
import Archive
import Foundation
import LaminaCore
import TestSupport
import Testing

/// `CacheMaintenance` over a cache laid out as the builders lay it out, with last-use times set by hand.
@Suite struct CacheMaintenanceTests {
    static let now = Date()
    static let day: TimeInterval = 86400

    /// Writes `bytes` bytes at `root/relative` and sets its mtime to `now - age`.
    static func put(_ root: String, _ relative: String, bytes: Int, age: TimeInterval) throws {
        let path = root + "/" + relative
        try FileManager.default.createDirectory(atPath: (path as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
        try AtomicFileSink.write([UInt8](repeating: 1, count: bytes), to: path)
        try setAge(path, age)
    }

    static func setAge(_ path: String, _ age: TimeInterval) throws {
        let seconds = Int(now.timeIntervalSince1970 - age)
        var times = [timespec(tv_sec: seconds, tv_nsec: 0), timespec(tv_sec: seconds, tv_nsec: 0)]
        guard utimensat(AT_FDCWD, path, &times, AT_SYMLINK_NOFOLLOW) == 0 else { throw LaminaError(.io, "utimensat", subject: path) }
    }

    /// One entry of every kind, each used `age` days ago (1 to 6), plus a young and an old temporary file.
    static func fill(_ root: String) throws {
        try put(root, "packages/aa.apk", bytes: 1000, age: 5 * day)
        try put(root, "packages/aa.apk.sha256", bytes: 64, age: 1 * day)  // a sidecar's own time does not count
        try put(root, "packages/bb.apk", bytes: 2000, age: 2 * day)
        try put(root, "packages/bb.apk.sha256", bytes: 64, age: 2 * day)
        try put(root, "indexes/0123/APKINDEX.tar.gz", bytes: 500, age: 6 * day)
        try put(root, "indexes/0123/APKINDEX.tar.gz.etag", bytes: 10, age: 6 * day)
        try setAge(root + "/indexes/0123", 3 * day)
        try put(root, "sources/sha256/cafe", bytes: 3000, age: 4 * day)
        try put(root, "layers/beef/layer.tar.gz", bytes: 4000, age: 9 * day)
        try put(root, "layers/beef/entry.json", bytes: 100, age: 9 * day)
        try setAge(root + "/layers/beef", 1 * day)
        try put(root, "outputs/dead.json", bytes: 50, age: 6 * day)
        try put(root, "packages/.cc.apk.123.abc.download", bytes: 700, age: 2 * day)
        try put(root, "layers/.staging-9-1/layer.tar.gz", bytes: 800, age: 10)
        try setAge(root + "/layers/.staging-9-1", 10)
    }

    @Test func listsEveryEntryWithItsSidecarsAndLastUse() throws {
        try TemporaryDirectory.withSync { dir in
            try Self.fill(dir.path)
            let entries = CacheMaintenance(root: dir.path).entries()
            let byPath = Dictionary(uniqueKeysWithValues: entries.map { ($0.path, $0) })
            #expect(byPath.keys.sorted() == [
                "indexes/0123", "layers/.staging-9-1", "layers/beef", "outputs/dead.json", "packages/.cc.apk.123.abc.download",
                "packages/aa.apk", "packages/bb.apk", "sources/sha256/cafe",
            ])
            let seconds = Int64(Self.now.timeIntervalSince1970)
            #expect(byPath["packages/aa.apk"]?.size == 1064)
            #expect(byPath["packages/aa.apk"]?.lastUsed == seconds - Int64(5 * Self.day))
            #expect(byPath["indexes/0123"]?.size == 510)
            #expect(byPath["indexes/0123"]?.lastUsed == seconds - Int64(3 * Self.day))
            #expect(byPath["layers/beef"]?.size == 4100)
            #expect(byPath["layers/beef"]?.temporary == false)
            #expect(byPath["layers/.staging-9-1"]?.temporary == true)
            #expect(byPath["sources/sha256/cafe"]?.area == "sources")

            let usage = CacheMaintenance(root: dir.path).usage()
            #expect(usage.map(\.area) == CacheMaintenance.areas)
            let packages = try #require(usage.first { $0.area == "packages" })
            #expect(packages.entries == 3)
            #expect(packages.bytes == Int64(1064 + 2064 + 700))
            #expect(usage.first { $0.area == "layers" }?.entries == 2)
        }
    }

    @Test func pruneByAgeRemovesOnlyOldEntriesAndTheirSidecars() throws {
        try TemporaryDirectory.withSync { dir in
            try Self.fill(dir.path)
            let cache = CacheMaintenance(root: dir.path)
            let dry = cache.prune(olderThan: 3.5 * Self.day, dryRun: true, now: Self.now)
            let report = cache.prune(olderThan: 3.5 * Self.day, now: Self.now)
            #expect(dry == report)
            // Old: aa (5 d), cafe (4 d), dead.json (6 d); the old temporary download (2 d > 1 d) too.
            #expect(report.removed.map(\.path).sorted() == [
                "outputs/dead.json", "packages/.cc.apk.123.abc.download", "packages/aa.apk", "sources/sha256/cafe",
            ])
            #expect(report.freedBytes == 1064 + 3000 + 50 + 700)
            #expect(!FileManager.default.fileExists(atPath: dir.path + "/packages/aa.apk.sha256"))
            #expect(FileManager.default.fileExists(atPath: dir.path + "/packages/bb.apk.sha256"))
            #expect(FileManager.default.fileExists(atPath: dir.path + "/layers/beef/layer.tar.gz"))
            // The young staging folder belongs to a build running now.
            #expect(FileManager.default.fileExists(atPath: dir.path + "/layers/.staging-9-1/layer.tar.gz"))
            #expect(cache.entries().map(\.path).sorted() == ["indexes/0123", "layers/.staging-9-1", "layers/beef", "packages/bb.apk"])
        }
    }

    @Test func pruneBySizeRemovesLeastRecentlyUsedFirst() throws {
        try TemporaryDirectory.withSync { dir in
            try Self.fill(dir.path)
            let cache = CacheMaintenance(root: dir.path)
            // Entries (not temporary): 1064 + 2064 + 510 + 3000 + 4100 + 50 = 10788 bytes.
            let report = cache.prune(maxSize: 6500, now: Self.now)
            // LRU order: dead.json (6 d), aa (5 d), cafe (4 d) → 10788 - 4114 = 6674 > 6500, then 0123 (3 d) → 6164.
            #expect(report.removed.filter { !$0.temporary }.map(\.path) == [
                "outputs/dead.json", "packages/aa.apk", "sources/sha256/cafe", "indexes/0123",
            ])
            #expect(report.kept == 3)  // bb, beef and the young staging folder
            #expect(report.keptBytes == 2064 + 4100 + 800)
            #expect(!FileManager.default.fileExists(atPath: dir.path + "/indexes/0123"))
        }
    }

    /// Entries used within the grace period stay whatever the bound, and marking an entry used protects it.
    @Test func recentlyUsedEntriesAreNeverPruned() throws {
        try TemporaryDirectory.withSync { dir in
            try Self.fill(dir.path)
            let cache = CacheMaintenance(root: dir.path)
            CacheMaintenance.markUsed(dir.path + "/packages/aa.apk")
            CacheMaintenance.markUsed(dir.path + "/layers/beef")
            let report = cache.prune(maxSize: 0, olderThan: 0)
            let removed = Set(report.removed.map(\.path))
            #expect(!removed.contains("packages/aa.apk"))
            #expect(!removed.contains("layers/beef"))
            #expect(removed.contains("packages/bb.apk"))
            #expect(FileManager.default.fileExists(atPath: dir.path + "/packages/aa.apk.sha256"))
            #expect(FileManager.default.fileExists(atPath: dir.path + "/layers/beef/layer.tar.gz"))
        }
    }

    /// A user keeps marking one entry (and reading it) while a prune removes everything else: the
    /// entry in use is there at every moment and every other one goes.
    @Test func pruneBesideAConcurrentUser() async throws {
        try await TemporaryDirectory.with { dir in
            for i in 0..<200 { try Self.put(dir.path, "packages/p\(i).apk", bytes: 10, age: 2 * Self.day) }
            let hot = dir.path + "/packages/p100.apk"
            let cache = CacheMaintenance(root: dir.path)
            CacheMaintenance.markUsed(hot)
            async let user: Void = {
                for _ in 0..<2000 {
                    CacheMaintenance.markUsed(hot)
                    #expect(FileManager.default.fileExists(atPath: hot))
                }
            }()
            let report = cache.prune(maxSize: 0)
            await user
            #expect(report.removed.count == 199)
            #expect(FileManager.default.fileExists(atPath: hot))
            #expect(try FileManager.default.contentsOfDirectory(atPath: dir.path + "/packages") == ["p100.apk"])
        }
    }

    /// `verify` finds every kind of damage, says what it is, and `repair` removes exactly those entries.
    @Test func verifyFindsAndRepairsDamage() throws {
        try TemporaryDirectory.withSync { dir in
            let root = dir.path
            func write(_ relative: String, _ bytes: [UInt8]) throws {
                let path = root + "/" + relative
                try FileManager.default.createDirectory(atPath: (path as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
                try AtomicFileSink.write(bytes, to: path)
            }
            let good = Array("a package".utf8)
            try write("packages/good.apk", good)
            try write("packages/good.apk.sha256", Array(Hasher.digest(.sha256, good).hex.utf8))
            try write("packages/bad.apk", Array("altered".utf8))
            try write("packages/bad.apk.sha256", Array(Hasher.digest(.sha256, good).hex.utf8))
            try write("packages/nosidecar.apk", good)
            try write("sources/sha256/" + Hasher.digest(.sha256, good).hex, good)
            try write("sources/sha512/" + Hasher.digest(.sha512, good).hex, Array("truncat".utf8))
            try write("indexes/aa/APKINDEX.tar.gz", try APKIndex(packages: [PackageInfo(name: "x", version: "1-r0")]).archiveBytes(signingKeys: []))
            try write("indexes/bb/APKINDEX.tar.gz", [0x1f, 0x8b, 8, 0, 0])
            try write("outputs/ok.json", Array("{}".utf8))
            try write("outputs/broken.json", Array("{".utf8))
            try write("layers/k1/layer.tar.gz", good)

            let cache = CacheMaintenance(root: root)
            let layerCheck: CacheMaintenance.Check = { path in FileManager.default.fileExists(atPath: path + "/entry.json") ? nil : "no entry.json" }
            let found = cache.verify(checks: ["layers": layerCheck])
            #expect(found.checked == 10)
            let damaged = Dictionary(uniqueKeysWithValues: found.damaged.map { ($0.path, $0.reason) })
            #expect(damaged.keys.sorted() == [
                "indexes/bb", "layers/k1", "outputs/broken.json", "packages/bad.apk", "packages/nosidecar.apk",
                "sources/sha512/" + Hasher.digest(.sha512, good).hex,
            ])
            #expect(damaged["packages/bad.apk"]?.contains("was recorded") == true)
            #expect(damaged["packages/nosidecar.apk"] == "no readable .sha256 sidecar")
            #expect(found.damaged.allSatisfy { !$0.removed })
            #expect(FileManager.default.fileExists(atPath: root + "/packages/bad.apk"))

            let repaired = cache.verify(checks: ["layers": layerCheck], repair: true)
            #expect(repaired.damaged.count == 6 && repaired.damaged.allSatisfy(\.removed))
            #expect(!FileManager.default.fileExists(atPath: root + "/packages/bad.apk.sha256"))
            let after = cache.verify(checks: ["layers": layerCheck])
            #expect(after.checked == 4 && after.damaged.isEmpty)
        }
    }

    @Test func boundFromTheEnvironment() throws {
        try TemporaryDirectory.withSync { dir in
            try Self.fill(dir.path)
            let cache = CacheMaintenance(root: dir.path)
            #expect(try cache.enforceBound(environment: ["LAMINA_CACHE_MAX_SIZE": "none"]).removed.isEmpty)
            #expect(try cache.enforceBound(environment: [:]).removed.isEmpty)  // 20 GiB default
            let report = try cache.enforceBound(environment: ["LAMINA_CACHE_MAX_SIZE": "5k"])
            #expect(report.keptBytes <= 5 * 1024 + 800)
            #expect(!report.removed.isEmpty)
            #expect(throws: LaminaError.self) { try cache.enforceBound(environment: ["LAMINA_CACHE_MAX_SIZE": "lots"]) }
        }
    }

    @Test(arguments: [
        ("5G", Int64(5) << 30), ("500M", Int64(500) << 20), ("1.5GiB", Int64(3) << 29), ("2048", 2048), ("10k", 10240),
        ("1T", Int64(1) << 40), ("none", 0), ("7MB", Int64(7) << 20),
    ])
    func sizes(text: String, bytes: Int64) throws {
        #expect(try CacheMaintenance.parseSize(text, option: "--max-size") == bytes)
    }

    @Test(arguments: [("30d", 30 * 86400.0), ("12h", 43200), ("90m", 5400), ("45s", 45), ("2w", 1_209_600)])
    func ages(text: String, seconds: Double) throws {
        #expect(try CacheMaintenance.parseAge(text, option: "--older-than") == seconds)
    }

    @Test(arguments: ["", "G", "-1G", "5X", "abc"])
    func badSizes(text: String) {
        #expect(throws: LaminaError.self) { try CacheMaintenance.parseSize(text, option: "--max-size") }
    }

    @Test(arguments: ["", "30", "d", "-1d", "3y"])
    func badAges(text: String) {
        #expect(throws: LaminaError.self) { try CacheMaintenance.parseAge(text, option: "--older-than") }
    }
}
