import APK
import Archive
import Config
import Foundation
@testable import ImageBuilder
import LaminaCore
import TestSupport
import Synchronization
import Testing

@Suite struct LayerCacheTests {
    static let base = LayerCacheKey(
        architecture: "x86_64", epoch: 0, compressionLevel: 6,
        packages: [
            .init(identity: "Q1m6wB0UFePGN8Drz82pC8y2uAiu8=", name: "pretend-baselayout", version: "1.0.0-r0", repositoryTag: nil),
            .init(identity: "Q1abcdefghijklmnopqrstuvwxyz0=", name: "replayout", version: "1.0.0-r0", repositoryTag: nil),
        ],
        world: ["replayout"], repositories: ["./testdata/packages"], keys: ["melange.rsa.pub": "PEM"], accounts: ImageAccounts(),
        paths: [], osRelease: nil, certificates: nil)

    /// Each input that can change the layer's bytes changes the key.
    static let variations: [(String, @Sendable (inout LayerCacheKey) -> Void)] = [
        ("architecture", { $0.architecture = "aarch64" }),
        ("epoch", { $0.epoch = 1_700_000_000 }),
        ("level", { $0.compressionLevel = 9 }),
        ("format version", { $0.formatVersion += 1 }),
        ("package identity", { $0.packages[1].identity = "Q1bbcdefghijklmnopqrstuvwxyz0=" }),
        ("package order", { $0.packages.reverse() }),
        ("repository tag", { $0.packages[0].repositoryTag = "edge" }),
        ("world", { $0.world = ["replayout", "busybox"] }),
        ("runtime repositories", { $0.repositories = ["https://example.invalid/repo"] }),
        ("keys", { $0.keys["other.rsa.pub"] = "PEM2" }),
        ("accounts", { $0.accounts.runAs = "65532" }),
        ("users", { $0.accounts.users = [User(username: "nonroot", uid: 65532)] }),
        ("paths", { $0.paths = [PathMutation(path: "/data", type: .directory, permissions: 0o755)] }),
        ("os-release", { $0.osRelease = OSRelease(id: "wolfi") }),
        ("services", { $0.services = ["web": "/usr/bin/web"] }),
        ("layering", { $0.layering = Layering(strategy: "origin", budget: 2) }),
        ("layering budget", { $0.layering = Layering(strategy: "origin", budget: 3) }),
    ]

    @Test func keyIsStableAndCoversEveryInput() throws {
        let key = try #require(try Self.base.digest())
        #expect(try Self.base.digest() == key)
        var seen: [Digest: String] = [key: "base"]
        for (what, change) in Self.variations {
            var changed = Self.base
            change(&changed)
            let other = try #require(try changed.digest())
            #expect(seen[other] == nil, "changing \(what) gives the key of \(seen[other] ?? "")")
            seen[other] = what
        }
        // A package without a control checksum cannot be keyed: no caching.
        var unkeyed = Self.base
        unkeyed.packages[0].identity = ""
        #expect(try unkeyed.digest() == nil)
    }

    /// The layer bytes the tests store.
    static let layerBytes = [UInt8](repeating: 7, count: 100)

    static func entry(size: Int64, digest: Digest = Hasher.digest(.sha256, layerBytes)) throws -> LayerCacheEntry {
        LayerCacheEntry(
            layer: WrittenLayer(path: "", digest: digest, diffID: Hasher.digest(.sha256, [2]), size: size, uncompressedSize: 1024),
            facts: LayerFacts(userNames: ["0": "root", "65532": "nonroot"], osRelease: "ID=wolfi\n", embeddedSBOMs: ["var/lib/db/sbom/x.spdx.json": "{}"]))
    }

    @Test func commitThenLookup() throws {
        try TemporaryDirectory.withSync { dir in
            let cache = LayerCache(cacheDirectory: dir.path)
            let key = Hasher.digest(.sha256, Array("key".utf8))
            #expect(cache.lookup(key) == nil)
            let staging = try cache.stagingDirectory()
            try AtomicFileSink.write(Self.layerBytes, to: staging + "/layer.tar.gz")
            let stored = try cache.commit(try Self.entry(size: 100), staging: staging, key: key)
            #expect(stored.layer.path == dir.path + "/layers/\(key.hex)/layer.tar.gz")
            #expect(!FileManager.default.fileExists(atPath: staging))
            let hit = try #require(cache.lookup(key))
            #expect(hit.layer == stored.layer)
            #expect(hit.facts == stored.facts)
            #expect(hit.facts.userNamesByID == [0: "root", 65532: "nonroot"])

            // A second build storing the same key keeps the first entry and drops its own.
            let again = try cache.stagingDirectory()
            try AtomicFileSink.write(Self.layerBytes, to: again + "/layer.tar.gz")
            #expect(try cache.commit(try Self.entry(size: 100), staging: again, key: key).layer.path == stored.layer.path)
            #expect(!FileManager.default.fileExists(atPath: again))
            #expect(try FileManager.default.contentsOfDirectory(atPath: dir.path + "/layers") == [key.hex])

            // A damaged entry (layer truncated) is a miss, and the next commit replaces it.
            try AtomicFileSink.write([1, 2, 3], to: stored.layer.path)
            #expect(cache.lookup(key) == nil)
            let fix = try cache.stagingDirectory()
            try AtomicFileSink.write(Self.layerBytes, to: fix + "/layer.tar.gz")
            _ = try cache.commit(try Self.entry(size: 100), staging: fix, key: key)
            #expect(cache.lookup(key) != nil)
        }
    }

    /// A layer altered in place (same size, one byte changed) is never served: the entry is removed,
    /// the caller is told why, and the next lookup is a plain miss.
    @Test func alteredLayerIsDiscardedNotServed() throws {
        try TemporaryDirectory.withSync { dir in
            let cache = LayerCache(cacheDirectory: dir.path)
            let key = Hasher.digest(.sha256, Array("altered".utf8))
            let staging = try cache.stagingDirectory()
            try AtomicFileSink.write(Self.layerBytes, to: staging + "/layer.tar.gz")
            let stored = try cache.commit(try Self.entry(size: 100), staging: staging, key: key)
            #expect(cache.lookup(key) != nil)

            var altered = Self.layerBytes
            altered[50] ^= 0xff
            try AtomicFileSink.write(altered, to: stored.layer.path)
            let messages = Mutex<[String]>([])
            #expect(cache.lookup(key, discarded: { message in messages.withLock { $0.append(message) } }) == nil)
            let said = messages.withLock { $0 }
            #expect(said.count == 1)
            #expect(said.first?.contains("no longer hashes to \(Hasher.digest(.sha256, Self.layerBytes))") == true)
            #expect(!FileManager.default.fileExists(atPath: cache.entryDirectory(key)))
            #expect(cache.lookup(key, discarded: { _ in Issue.record("a missing entry is not damaged") }) == nil)

            // An unreadable entry.json is damaged too.
            let second = try cache.stagingDirectory()
            try AtomicFileSink.write(Self.layerBytes, to: second + "/layer.tar.gz")
            _ = try cache.commit(try Self.entry(size: 100), staging: second, key: key)
            try AtomicFileSink.write(Array("{".utf8), to: cache.entryDirectory(key) + "/entry.json")
            var reason = ""
            #expect(cache.lookup(key, discarded: { reason = $0 }) == nil)
            #expect(reason.contains("entry.json"))
        }
    }
}

extension LayerCacheTests {
    /// A layered entry keeps every layer; a missing upper layer makes the entry a miss.
    @Test func layeredEntryRoundTrip() throws {
        try TemporaryDirectory.withSync { dir in
            let cache = LayerCache(cacheDirectory: dir.path)
            let key = Hasher.digest(.sha256, Array("layered".utf8))
            let staging = try cache.stagingDirectory()
            var layers: [WrittenLayer] = []
            for (index, name) in ["layer.tar.gz", "layer-1.tar.gz", "layer-2.tar.gz"].enumerated() {
                let bytes = [UInt8](repeating: UInt8(index), count: 10 + index)
                try AtomicFileSink.write(bytes, to: staging + "/" + name)
                layers.append(
                    WrittenLayer(
                        path: staging + "/" + name, digest: Hasher.digest(.sha256, bytes),
                        diffID: Hasher.digest(.sha256, [UInt8(index), 1]), size: Int64(10 + index), uncompressedSize: 512))
            }
            let facts = try Self.entry(size: 1).facts
            let stored = try cache.commit(LayerCacheEntry(layers: layers, facts: facts), staging: staging, key: key)
            #expect(stored.layers.map { ($0.path as NSString).lastPathComponent } == ["layer.tar.gz", "layer-1.tar.gz", "layer-2.tar.gz"])
            let hit = try #require(cache.lookup(key))
            #expect(hit.layers == stored.layers)
            #expect(hit.layers.map(\.digest) == layers.map(\.digest))
            // An upper layer altered in place is caught by its digest too.
            try AtomicFileSink.write([UInt8](repeating: 9, count: 12), to: stored.layers[2].path)
            #expect(cache.lookup(key) == nil, "an entry with a damaged layer is not served")
            #expect(!FileManager.default.fileExists(atPath: cache.entryDirectory(key)))
        }
    }
}

