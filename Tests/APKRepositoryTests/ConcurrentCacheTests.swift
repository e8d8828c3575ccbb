import APK
import APKRepository
import Archive
import Foundation
import HTTPTransport
import LaminaCore
import TestSupport
import Testing

/// Two clients (think: two builds) filling the same cache folder at the same time.
@Suite struct ConcurrentCacheTests {
    static let packageCount = 12

    static func packages() -> [TestPackage] {
        (0..<packageCount).map { i in
            let name = String(format: "p%02d", i)
            return TestPackage(
                name, "1.0-r0", depends: i == 0 ? [] : [String(format: "p%02d", i - 1)],
                files: ["usr/share/\(name)/data": HTTPRepositoryTests.noise(40_000 + 7_000 * i)])
        }
    }

    /// Every file of the cache: entries are `.apk` with a `.sha256` sidecar matching their bytes, and the
    /// index with its ETag; nothing else (no writer's temporary file) may be left.
    static func expectIntactCache(_ cache: String, repo: SignedRepository) throws {
        let packagesDir = cache + "/packages"
        let names = try FileManager.default.contentsOfDirectory(atPath: packagesDir).sorted()
        #expect(names.filter { $0.hasPrefix(".") }.isEmpty, "temporary files left: \(names.filter { $0.hasPrefix(".") })")
        let apks = names.filter { $0.hasSuffix(".apk") }
        #expect(apks.count == packageCount)
        #expect(Set(names) == Set(apks + apks.map { $0 + ".sha256" }))
        let originals = try Set(FileManager.default.contentsOfDirectory(atPath: repo.root + "/x86_64").filter { $0.hasSuffix(".apk") }.map {
            Hasher.digest(.sha256, Array(try Data(contentsOf: URL(fileURLWithPath: repo.root + "/x86_64/" + $0)))).hex
        })
        var seen = Set<String>()
        for apk in apks {
            let bytes = Array(try Data(contentsOf: URL(fileURLWithPath: packagesDir + "/" + apk)))
            let sidecar = try String(contentsOfFile: packagesDir + "/" + apk + ".sha256", encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines)
            let actual = Hasher.digest(.sha256, bytes).hex
            #expect(sidecar == actual, "\(apk): sidecar does not match the bytes")
            seen.insert(actual)
        }
        #expect(seen == originals, "the cache holds exactly the repository's packages")
        #expect(try PackageCache(root: cache).isIntact(packagesDir + "/" + apks[0]))
        for folder in try FileManager.default.contentsOfDirectory(atPath: cache + "/indexes") {
            let files = try FileManager.default.contentsOfDirectory(atPath: cache + "/indexes/" + folder).sorted()
            #expect(files == ["APKINDEX.tar.gz", "APKINDEX.tar.gz.etag"], "\(files)")
        }
    }

    @Test func twoClientsFillOneCacheAtOnce() async throws {
        try await TemporaryDirectory.with { dir in
            let repo = try SignedRepository.make(at: dir.file("repo"), packages: Self.packages())
            let transports = [HTTPClientTransport(), HTTPClientTransport()]
            do {
                try await withTestHTTPServer(root: repo.root) { server in
                    // A little latency so the two clients' downloads overlap.
                    await server.addFault(.delay(.milliseconds(5)), for: "*")
                    let reference = RepositoryReference(location: server.baseURL)
                    for round in 0..<4 {
                        let cache = dir.file("cache-\(round)")
                        let clients = try transports.map {
                            RepositoryClient(keyring: repo.keyring, cache: try PackageCache(root: cache), transport: $0, maxConcurrentDownloads: 4)
                        }
                        // Round 2 starts with one entry corrupted and one entry missing its sidecar.
                        if round == 2 {
                            let warm = try await clients[0].fetchAll(try await clients[0].loadIndex(reference, architecture: "x86_64").packages)
                            var bytes = Array(try Data(contentsOf: URL(fileURLWithPath: warm[3])))
                            bytes[bytes.count - 9] ^= 0x55
                            try Data(bytes).write(to: URL(fileURLWithPath: warm[3]))
                            try FileManager.default.removeItem(atPath: warm[5] + ".sha256")
                        }
                        async let first = Self.fetchEverything(clients[0], reference)
                        async let second = Self.fetchEverything(clients[1], reference)
                        let (a, b) = try await (first, second)
                        #expect(a == b, "both clients name the same cache entries")
                        for path in a { #expect(try PackageCache(root: cache).isIntact(path), "\(path)") }
                        try Self.expectIntactCache(cache, repo: repo)
                    }
                }
            } catch {
                for transport in transports { try? await transport.shutdown() }
                throw error
            }
            for transport in transports { try await transport.shutdown() }
        }
    }

    static func fetchEverything(_ client: RepositoryClient, _ reference: RepositoryReference) async throws -> [String] {
        let index = try await client.loadIndex(reference, architecture: "x86_64")
        let packages = index.packages.sorted { $0.info.name < $1.info.name }
        let paths = try await client.fetchAll(packages)
        // Read every package back, as an install would, while the other client may still be writing.
        for (path, package) in zip(paths, packages) {
            #expect(try PackageReader().read(path: path).identity == package.info.checksum)
        }
        return paths
    }

    @Test func aRejectedDownloadLeavesNoTemporaryFiles() async throws {
        try await TemporaryDirectory.with { dir in
            let repo = try SignedRepository.make(at: dir.file("repo"), packages: Array(Self.packages().prefix(2)))
            let transport = HTTPClientTransport()
            do {
                try await withTestHTTPServer(root: repo.root) { server in
                    let cache = dir.file("cache")
                    let client = RepositoryClient(keyring: repo.keyring, cache: try PackageCache(root: cache), transport: transport)
                    let index = try await client.loadIndex(RepositoryReference(location: server.baseURL), architecture: "x86_64")
                    let other = Array(try Data(contentsOf: URL(fileURLWithPath: repo.root + "/x86_64/p00-1.0-r0.apk")))
                    await server.addFault(.tamper(other), for: "/x86_64/p01-1.0-r0.apk")
                    var packages = index.packages.sorted { $0.info.name < $1.info.name }
                    packages[1].info.fileSize = Int64(other.count)
                    let error = await #expect(throws: LaminaError.self) { try await client.fetchAll(packages) }
                    #expect(error?.code == .checksumMismatch)
                    // p00 was good and is kept; p01 is not cached; no temporary file is left.
                    let names = try FileManager.default.contentsOfDirectory(atPath: cache + "/packages").sorted()
                    let p00 = try PackageCache(root: cache).packagePath(identity: packages[0].info.checksum!)
                    #expect(names == [(p00 as NSString).lastPathComponent, (p00 as NSString).lastPathComponent + ".sha256"])
                }
            } catch {
                try? await transport.shutdown()
                throw error
            }
            try await transport.shutdown()
        }
    }

    /// A writer whose download turns out bad must never touch the entry another writer put in place.
    /// The server hands client "bad" another package's bytes (size-matched), late, after client "good"
    /// has cached and returned the real one.
    @Test func aRejectedWriterDoesNotRemoveAnotherWritersEntry() async throws {
        try await TemporaryDirectory.with { dir in
            let repo = try SignedRepository.make(at: dir.file("repo"), packages: Array(Self.packages().prefix(2)))
            let good = HTTPClientTransport()
            let bad = HTTPClientTransport(configuration: HTTPTransportConfiguration(userAgent: "tampered-client"))
            do {
                try await withTestHTTPServer(root: repo.root) { server in
                    let real = Array(try Data(contentsOf: URL(fileURLWithPath: repo.root + "/x86_64/p01-1.0-r0.apk")))
                    let other = Array(try Data(contentsOf: URL(fileURLWithPath: repo.root + "/x86_64/p00-1.0-r0.apk")))
                    await server.setHandler(method: "GET", path: "/x86_64/p01-1.0-r0.apk") { request in
                        guard request.header("User-Agent") == "tampered-client" else { return TestHTTPResponse(body: real) }
                        try? await Task.sleep(for: .milliseconds(600))
                        return TestHTTPResponse(body: other)
                    }
                    let cache = dir.file("cache")
                    let reference = RepositoryReference(location: server.baseURL)
                    let goodClient = RepositoryClient(keyring: repo.keyring, cache: try PackageCache(root: cache), transport: good)
                    let badClient = RepositoryClient(keyring: repo.keyring, cache: try PackageCache(root: cache), transport: bad)
                    let index = try await goodClient.loadIndex(reference, architecture: "x86_64")
                    let p01 = try #require(index.packages.first { $0.info.name == "p01" })
                    var sized = p01
                    sized.info.fileSize = Int64(other.count)

                    async let rejected: Void = {
                        let error = await #expect(throws: LaminaError.self) { try await badClient.fetch(sized) }
                        #expect(error?.code == .checksumMismatch)
                    }()
                    try await Task.sleep(for: .milliseconds(100))
                    let path = try await goodClient.fetch(p01)
                    #expect(try PackageCache(root: cache).isIntact(path))
                    await rejected
                    // The good entry is still there, intact, and nothing temporary is left.
                    #expect(try PackageCache(root: cache).isIntact(path))
                    #expect(try PackageReader().read(path: path).identity == p01.info.checksum)
                    let names = try FileManager.default.contentsOfDirectory(atPath: cache + "/packages").sorted()
                    let entry = (path as NSString).lastPathComponent
                    #expect(names == [entry, entry + ".sha256"])
                }
            } catch {
                try? await good.shutdown()
                try? await bad.shutdown()
                throw error
            }
            try await good.shutdown()
            try await bad.shutdown()
        }
    }

    /// An index no key vouches for is verified before it is put in the cache, so it never replaces
    /// the trusted copy another build relies on (and leaves no temporary file).
    @Test func anUntrustedIndexNeverReplacesTheCachedOne() async throws {
        try await TemporaryDirectory.with { dir in
            let repo = try SignedRepository.make(at: dir.file("repo"), packages: Array(Self.packages().prefix(1)))
            let transport = HTTPClientTransport()
            do {
                try await withTestHTTPServer(root: repo.root) { server in
                    let cache = dir.file("cache")
                    let client = RepositoryClient(keyring: repo.keyring, cache: try PackageCache(root: cache), transport: transport)
                    let reference = RepositoryReference(location: server.baseURL)
                    _ = try await client.loadIndex(reference, architecture: "x86_64")
                    let cachedPath = try PackageCache(root: cache).indexPath(url: reference.indexLocation(architecture: "x86_64"))
                    let trusted = try Data(contentsOf: URL(fileURLWithPath: cachedPath))
                    let etag = try String(contentsOfFile: cachedPath + ".etag", encoding: .utf8)

                    let stranger = TestKey.stranger(named: "stranger.rsa.pub")
                    await server.setFile("/x86_64/APKINDEX.tar.gz", try APKIndex(packages: [], description: "evil").archiveBytes(signingKeys: [stranger]))
                    let error = await #expect(throws: LaminaError.self) { try await client.loadIndex(reference, architecture: "x86_64") }
                    #expect(error?.code == .untrusted)
                    #expect(try Data(contentsOf: URL(fileURLWithPath: cachedPath)) == trusted)
                    #expect(try String(contentsOfFile: cachedPath + ".etag", encoding: .utf8) == etag)
                    let folder = (cachedPath as NSString).deletingLastPathComponent
                    #expect(try FileManager.default.contentsOfDirectory(atPath: folder).sorted() == ["APKINDEX.tar.gz", "APKINDEX.tar.gz.etag"])
                    // Offline, the trusted copy still loads.
                    let offline = RepositoryClient(keyring: repo.keyring, cache: try PackageCache(root: cache), transport: transport, offline: true)
                    #expect(try await offline.loadIndex(reference, architecture: "x86_64").index.packages.count == 1)
                }
            } catch {
                try? await transport.shutdown()
                throw error
            }
            try await transport.shutdown()
        }
    }

    @Test func staleTemporaryFilesOfKilledBuildsAreRemoved() async throws {
        try await TemporaryDirectory.with { dir in
            let repo = try SignedRepository.make(at: dir.file("repo"), packages: Array(Self.packages().prefix(1)))
            let transport = HTTPClientTransport()
            do {
                try await withTestHTTPServer(root: repo.root) { server in
                    let cache = dir.file("cache")
                    let packages = cache + "/packages"
                    try FileManager.default.createDirectory(atPath: packages, withIntermediateDirectories: true)
                    let stale = PackageCache.privateName(for: packages + "/old.apk", suffix: "download")
                    let fresh = PackageCache.privateName(for: packages + "/new.apk", suffix: "download")
                    for path in [stale, fresh] { try Data([1, 2, 3]).write(to: URL(fileURLWithPath: path)) }
                    try FileManager.default.setAttributes([.modificationDate: Date(timeIntervalSinceNow: -3 * 86400)], ofItemAtPath: stale)
                    let client = RepositoryClient(keyring: repo.keyring, cache: try PackageCache(root: cache), transport: transport)
                    let index = try await client.loadIndex(RepositoryReference(location: server.baseURL), architecture: "x86_64")
                    _ = try await client.fetchAll(index.packages)
                    #expect(!FileManager.default.fileExists(atPath: stale), "a killed build's leftover is removed")
                    #expect(FileManager.default.fileExists(atPath: fresh), "a running build's file is left alone")
                }
            } catch {
                try? await transport.shutdown()
                throw error
            }
            try await transport.shutdown()
        }
    }

    @Test func privateNamesDifferPerWriter() {
        let a = PackageCache.privateName(for: "/c/packages/x.apk", suffix: "download")
        let b = PackageCache.privateName(for: "/c/packages/x.apk", suffix: "download")
        #expect(a != b)
        #expect(a.hasPrefix("/c/packages/.x.apk.\(getpid()).") && a.hasSuffix(".download"))
        #expect(PackageCache.isTemporaryName((a as NSString).lastPathComponent))
    }
}
