import APK
import APKRepository
import Archive
import Foundation
import LaminaCore
import TestSupport
import Testing

/// A signed repository made by the tests: `root/<arch>/*.apk` + `APKINDEX.tar.gz`.
struct TestRepository {
    static let key: SigningKey = try! SigningKey.generate(bits: 2048, keyName: "repo-test.rsa.pub")
    let root: String
    let arch = "x86_64"

    var keyring: Keyring {
        var ring = Keyring()
        try! ring.add(name: Self.key.keyName, pem: Self.key.publicKey.pem)
        return ring
    }

    /// Writes packages `(name, version, depends, files)` and a signed index.
    init(at root: String, packages: [(String, String, [String], [String: String])], signIndex: Bool = true) throws {
        self.root = root
        let dir = root + "/" + arch
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        var infos: [PackageInfo] = []
        for (name, version, depends, files) in packages {
            let src = root + "/src/\(name)-\(version)"
            for (path, content) in files {
                let full = src + "/" + path
                try FileManager.default.createDirectory(atPath: (full as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
                try Data(content.utf8).write(to: URL(fileURLWithPath: full))
            }
            try FileManager.default.createDirectory(atPath: src, withIntermediateDirectories: true)
            var info = PackageInfo(name: name, version: version, arch: arch, description: "\(name) for tests", license: "MIT", origin: name)
            info.depends = try depends.map { try Dependency(parsing: $0) }
            var written = try PackageWriter(info: info, clock: BuildClock(epoch: 0), signingKeys: [Self.key]).write(directory: src, to: dir + "/\(name)-\(version).apk")
            written.dataHash = nil
            infos.append(written)
        }
        let index = APKIndex(packages: infos, description: "test")
        try AtomicFileSink.write(try index.archiveBytes(signingKeys: signIndex ? [Self.key] : []), to: dir + "/APKINDEX.tar.gz")
    }
}

@Suite struct LocalRepositoryTests {
    @Test func repositoryLines() throws {
        let tagged = try RepositoryReference(parsing: "@local /srv/repo/")
        #expect(tagged.tag == "local" && tagged.location == "/srv/repo")
        #expect(tagged.description == "@local /srv/repo")
        let remote = try RepositoryReference(parsing: "https://user:secret@example.invalid/alpine/v3.20/main")
        #expect(remote.isRemote)
        #expect(remote.redacted == "https://***@example.invalid/alpine/v3.20/main")
        #expect(throws: LaminaError.self) { try RepositoryReference(parsing: "@tag") }
    }

    @Test func loadsVerifiedIndexAndPackages() async throws {
        try await TemporaryDirectory.with { dir in
            let repo = try TestRepository(at: dir.file("repo"), packages: [("a", "1.0-r0", ["b"], ["etc/a": "a"]), ("b", "2.0-r0", [], ["etc/b": "b"])])
            let client = RepositoryClient(keyring: repo.keyring, cache: nil, transport: nil)
            let loaded = try await client.loadIndex(RepositoryReference(location: repo.root), architecture: "x86_64")
            #expect(loaded.trustedBy == "repo-test.rsa.pub")
            #expect(loaded.packages.map(\.info.name) == ["a", "b"])
            let paths = try await client.fetchAll(loaded.packages)
            #expect(paths == [repo.root + "/x86_64/a-1.0-r0.apk", repo.root + "/x86_64/b-2.0-r0.apk"])
        }
    }

    @Test func untrustedIndexIsRefusedUnlessAllowed() async throws {
        try await TemporaryDirectory.with { dir in
            let repo = try TestRepository(at: dir.file("repo"), packages: [("a", "1.0-r0", [], [:])], signIndex: false)
            let strict = RepositoryClient(keyring: repo.keyring, cache: nil, transport: nil)
            await #expect(throws: LaminaError.self) { try await strict.loadIndex(RepositoryReference(location: repo.root), architecture: "x86_64") }
            final class Warnings: @unchecked Sendable { var items: [String] = [] }  // test-only, single task
            let warnings = Warnings()
            let lenient = RepositoryClient(keyring: Keyring(), cache: nil, transport: nil, allowUntrusted: true, progress: { event in
                if case .warning(let text) = event { warnings.items.append(text) }
            })
            let loaded = try await lenient.loadIndex(RepositoryReference(location: repo.root), architecture: "x86_64")
            #expect(loaded.trustedBy == nil)
            #expect(warnings.items.first?.contains("UNTRUSTED") == true)
        }
    }

    @Test func missingIndexIsNotFound() async throws {
        try await TemporaryDirectory.with { dir in
            let client = RepositoryClient(keyring: Keyring(), cache: nil, transport: nil)
            let error = await #expect(throws: LaminaError.self) { try await client.loadIndex(RepositoryReference(location: dir.path), architecture: "aarch64") }
            #expect(error?.code == .notFound)
        }
    }
}
