import APK
import APKRepository
import Archive
import Foundation
import HTTPTransport
import LaminaCore
import TestSupport
import Synchronization
import Testing

/// Repositories served over HTTP by an in-process server on 127.0.0.1, with faults injected.
@Suite struct HTTPRepositoryTests {
    /// Text that gzip cannot shrink much, so packages are large enough to break mid-transfer.
    static func noise(_ count: Int) -> String {
        var state: UInt64 = 12345
        return String((0..<count).map { _ -> Character in
            state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            return Character(UnicodeScalar(UInt8(33 + (state >> 33) % 90)))
        })
    }

    func client(_ repo: SignedRepository, cache: String, transport: HTTPClientTransport, offline: Bool = false) throws -> RepositoryClient {
        RepositoryClient(keyring: repo.keyring, cache: try PackageCache(root: cache), transport: transport, offline: offline)
    }

    func withRepo(_ body: (SignedRepository, TestHTTPServer, HTTPClientTransport, TemporaryDirectory) async throws -> Void) async throws {
        try await TemporaryDirectory.with { dir in
            let repo = try SignedRepository.make(
                at: dir.file("repo"),
                packages: [
                    TestPackage("a", "1.0-r0", depends: ["b"], files: ["etc/a": Self.noise(50_000)]),
                    TestPackage("b", "2.0-r0", files: ["etc/b": "b"]),
                ])
            var config = HTTPTransportConfiguration()
            config.retry = RetryPolicy(maxAttempts: 3, initialDelay: .milliseconds(10), maxDelay: .milliseconds(50))
            let transport = HTTPClientTransport(configuration: config)
            do {
                try await withTestHTTPServer(root: repo.root) { server in
                    try await body(repo, server, transport, dir)
                }
            } catch {
                try? await transport.shutdown()
                throw error
            }
            try await transport.shutdown()
        }
    }

    /// A cached package whose bytes changed on disk is never served: it is reported, downloaded again,
    /// and the cache holds the right bytes afterwards.
    @Test func damagedCacheEntryIsReportedAndFetchedAgain() async throws {
        try await withRepo { repo, server, transport, dir in
            var client = try client(repo, cache: dir.file("cache"), transport: transport)
            let warnings = Mutex<[String]>([])
            client.progress = { event in
                if case .warning(let text) = event { warnings.withLock { $0.append(text) } }
            }
            let ref = RepositoryReference(location: server.baseURL)
            let index = try await client.loadIndex(ref, architecture: "x86_64")
            let a = try #require(index.packages.first { $0.info.name == "a" })
            let path = try await client.fetch(a)
            var bytes = Array(try Data(contentsOf: URL(fileURLWithPath: path)))
            bytes[bytes.count / 2] ^= 0x01
            try Data(bytes).write(to: URL(fileURLWithPath: path))

            let before = await server.requests().count
            #expect(try await client.fetch(a) == path)
            #expect(await server.requests().count == before + 1)
            #expect(try PackageReader().read(path: path).identity == a.info.checksum)
            #expect(warnings.withLock { $0 } == ["discarded the cached a-1.0-r0: its bytes no longer match their recorded sha256"])
        }
    }

    @Test func fetchesVerifiesAndCaches() async throws {
        try await withRepo { repo, server, transport, dir in
            let client = try client(repo, cache: dir.file("cache"), transport: transport)
            let ref = RepositoryReference(location: server.baseURL)
            let index = try await client.loadIndex(ref, architecture: "x86_64")
            #expect(index.trustedBy == "lamina-test.rsa.pub")
            let paths = try await client.fetchAll(index.packages)
            for (path, package) in zip(paths, index.packages) {
                #expect(path.hasPrefix(dir.file("cache") + "/packages/"))
                #expect(try PackageReader().read(path: path).identity == package.info.checksum)
            }
            // Warm: no package is downloaded again; the index is revalidated with its ETag.
            let before = await server.requests().count
            _ = try await client.fetchAll(index.packages)
            _ = try await client.loadIndex(ref, architecture: "x86_64")
            let after = await server.requests()
            #expect(after.count == before + 1)
            #expect(after.last?.path == "/x86_64/APKINDEX.tar.gz")
            #expect(after.last?.header("If-None-Match") != nil)

            // Offline uses the cache only.
            let offline = try self.client(repo, cache: dir.file("cache"), transport: transport, offline: true)
            let again = try await offline.loadIndex(ref, architecture: "x86_64")
            _ = try await offline.fetchAll(again.packages)
            #expect(await server.requests().count == after.count)
        }
    }

    @Test func retriesServerErrorsAndDroppedConnections() async throws {
        try await withRepo { repo, server, transport, dir in
            await server.addFault(.status(500, times: 2), for: "/x86_64/APKINDEX.tar.gz")
            await server.addFault(.dropConnection(afterBytes: 1000, times: 1), for: "/x86_64/a-1.0-r0.apk")
            let client = try client(repo, cache: dir.file("cache"), transport: transport)
            let index = try await client.loadIndex(RepositoryReference(location: server.baseURL), architecture: "x86_64")
            #expect(await server.requests(path: "/x86_64/APKINDEX.tar.gz").count == 3)
            let paths = try await client.fetchAll(index.packages)
            #expect(await server.requests(path: "/x86_64/a-1.0-r0.apk").count == 2)
            #expect(try PackageReader().read(path: paths[0]).verify(keyring: repo.keyring).isOK)
        }
    }

    @Test func persistentFailureIsAClearError() async throws {
        try await withRepo { repo, server, transport, dir in
            await server.addFault(.status(503, times: 100), for: "/x86_64/APKINDEX.tar.gz")
            let client = try client(repo, cache: dir.file("cache"), transport: transport)
            let error = await #expect(throws: LaminaError.self) {
                try await client.loadIndex(RepositoryReference(location: server.baseURL), architecture: "x86_64")
            }
            #expect(error?.code == .network)
            #expect(error?.description.contains("503") == true)
        }
    }

    @Test func tamperedPackageIsRejectedAndNotCached() async throws {
        try await withRepo { repo, server, transport, dir in
            let client = try client(repo, cache: dir.file("cache"), transport: transport)
            let index = try await client.loadIndex(RepositoryReference(location: server.baseURL), architecture: "x86_64")
            // Serve b's bytes under a's name: a valid, signed package, but not the one the index vouches for.
            let other = Array(try Data(contentsOf: URL(fileURLWithPath: repo.root + "/x86_64/b-2.0-r0.apk")))
            await server.addFault(.tamper(other), for: "/x86_64/a-1.0-r0.apk")
            let a = index.packages.first { $0.info.name == "a" }!
            var sized = a
            sized.info.fileSize = Int64(other.count)
            let error = await #expect(throws: LaminaError.self) { try await client.fetch(sized) }
            #expect(error?.code == .checksumMismatch)
            let cache = try PackageCache(root: dir.file("cache"))
            #expect(!FileManager.default.fileExists(atPath: cache.packagePath(identity: a.info.checksum!)))
        }
    }

    @Test func corruptCacheEntryIsFetchedAgain() async throws {
        try await withRepo { repo, server, transport, dir in
            let client = try client(repo, cache: dir.file("cache"), transport: transport)
            let index = try await client.loadIndex(RepositoryReference(location: server.baseURL), architecture: "x86_64")
            let b = index.packages.first { $0.info.name == "b" }!
            let path = try await client.fetch(b)
            var bytes = Array(try Data(contentsOf: URL(fileURLWithPath: path)))
            bytes[bytes.count - 5] ^= 0xff
            try Data(bytes).write(to: URL(fileURLWithPath: path))
            let before = await server.requests(path: "/x86_64/b-2.0-r0.apk").count
            let again = try await client.fetch(b)
            #expect(await server.requests(path: "/x86_64/b-2.0-r0.apk").count == before + 1)
            #expect(try PackageReader().read(path: again).verify(keyring: repo.keyring).isOK)
        }
    }

    @Test func missingIndexIs404NotFound() async throws {
        try await withRepo { repo, server, transport, dir in
            let client = try client(repo, cache: dir.file("cache"), transport: transport)
            let error = await #expect(throws: LaminaError.self) {
                try await client.loadIndex(RepositoryReference(location: server.baseURL), architecture: "aarch64")
            }
            #expect(error?.code == .notFound)
        }
    }
}
