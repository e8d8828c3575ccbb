import APK
import APKRepository
import Archive
import Foundation
import LaminaCore
import TestSupport
import Testing

/// The compiled form of each verified index, kept in the cache by the archive's SHA-256.
@Suite struct CompiledIndexCacheTests {
    final class Warnings: @unchecked Sendable {  // test-only: one task appends, then the test reads
        var items: [String] = []
    }

    @Test func secondLoadReadsTheCompiledFormAndADamagedOneIsRebuilt() async throws {
        try await TemporaryDirectory.with { dir in
            let repo = try SignedRepository.make(
                at: dir.file("repo"), packages: [TestPackage("a", "1.0-r0", depends: ["b"]), TestPackage("b", "2.0-r0")])
            let cache = try PackageCache(root: dir.file("cache"))
            let warnings = Warnings()
            let client = RepositoryClient(keyring: repo.keyring, cache: cache, transport: nil, progress: { event in
                if case .warning(let text) = event { warnings.items.append(text) }
            })
            let reference = RepositoryReference(location: repo.root)
            let archivePath = repo.root + "/x86_64/APKINDEX.tar.gz"
            let digest = try Hasher.digest(.sha256, file: archivePath)
            let compiledPath = cache.compiledIndexPath(archiveDigest: digest)

            let first = try await client.loadIndex(reference, architecture: "x86_64")
            #expect(first.trustedBy == "lamina-test.rsa.pub")
            let compiled = try #require(FileManager.default.contents(atPath: compiledPath))
            #expect(APKIndex.damage(ofCompiled: Array(compiled), archiveDigest: digest) == nil)

            // Served from the compiled form: a sound compiled form that says something else is what comes back.
            var altered = first.index
            altered.packages[0].description = "from the compiled form"
            try AtomicFileSink.write(try altered.compiledRepresentation(), to: compiledPath)
            let second = try await client.loadIndex(reference, architecture: "x86_64")
            #expect(second.index.packages[0].description == "from the compiled form")
            #expect(second.trustedBy == "lamina-test.rsa.pub")
            #expect(warnings.items.isEmpty)

            // Damaged: discarded with a warning, the archive parsed again, the compiled form rebuilt.
            var damaged = Array(try #require(FileManager.default.contents(atPath: compiledPath)))
            damaged[damaged.count / 2] ^= 0xff
            try AtomicFileSink.write(damaged, to: compiledPath)
            let report = CacheMaintenance(root: cache.root).verify()
            #expect(report.damaged.map(\.path) == ["compiled-indexes/\(digest.hex).idx"])
            let third = try await client.loadIndex(reference, architecture: "x86_64")
            #expect(third.index.packages == first.index.packages)
            #expect(warnings.items.count == 1)
            #expect(warnings.items.first?.contains("discarded the compiled index") == true)
            let rebuilt = try #require(FileManager.default.contents(atPath: compiledPath))
            #expect(Array(rebuilt) == Array(compiled))
            #expect(CacheMaintenance(root: cache.root).verify().damaged.isEmpty)
            #expect(CacheMaintenance(root: cache.root).entries().contains { $0.area == "compiled-indexes" })
        }
    }

    @Test func compiledFormNeverVouchesForAnIndex() async throws {
        try await TemporaryDirectory.with { dir in
            let repo = try SignedRepository.make(at: dir.file("repo"), packages: [TestPackage("a", "1.0-r0")])
            let cache = try PackageCache(root: dir.file("cache"))
            let reference = RepositoryReference(location: repo.root)
            _ = try await RepositoryClient(keyring: repo.keyring, cache: cache, transport: nil).loadIndex(reference, architecture: "x86_64")
            // The compiled form is there, but a keyring without the key still refuses the index.
            let strict = RepositoryClient(keyring: Keyring(), cache: cache, transport: nil)
            let error = await #expect(throws: LaminaError.self) { try await strict.loadIndex(reference, architecture: "x86_64") }
            #expect(error?.code == .untrusted)

            // A compiled form named for this archive but made from another is refused and replaced.
            let digest = try Hasher.digest(.sha256, file: repo.root + "/x86_64/APKINDEX.tar.gz")
            let other = try SignedRepository.make(at: dir.file("other"), packages: [TestPackage("z", "9.0-r0")])
            let otherIndex = try APKIndex.read(path: other.root + "/x86_64/APKINDEX.tar.gz")
            try AtomicFileSink.write(try otherIndex.compiledRepresentation(), to: cache.compiledIndexPath(archiveDigest: digest))
            let report = CacheMaintenance(root: cache.root).verify()
            #expect(report.damaged.first?.reason.contains("another archive") == true)
            let loaded = try await RepositoryClient(keyring: repo.keyring, cache: cache, transport: nil).loadIndex(reference, architecture: "x86_64")
            #expect(loaded.index.packages.map(\.name) == ["a"])
        }
    }
}
