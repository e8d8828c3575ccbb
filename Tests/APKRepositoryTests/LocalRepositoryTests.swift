import APK
import APKRepository
import Archive
import Foundation
import LaminaCore
import TestSupport
import Testing

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
            let repo = try SignedRepository.make(at: dir.file("repo"), packages: [TestPackage("a", "1.0-r0", depends: ["b"], files: ["etc/a": "a"]), TestPackage("b", "2.0-r0", files: ["etc/b": "b"])])
            let client = RepositoryClient(keyring: repo.keyring, cache: nil, transport: nil)
            let loaded = try await client.loadIndex(RepositoryReference(location: repo.root), architecture: "x86_64")
            #expect(loaded.trustedBy == "lamina-test.rsa.pub")
            #expect(loaded.packages.map(\.info.name) == ["a", "b"])
            let paths = try await client.fetchAll(loaded.packages)
            #expect(paths == [repo.root + "/x86_64/a-1.0-r0.apk", repo.root + "/x86_64/b-2.0-r0.apk"])
        }
    }

    @Test func untrustedIndexIsRefusedUnlessAllowed() async throws {
        try await TemporaryDirectory.with { dir in
            let repo = try SignedRepository.make(at: dir.file("repo"), packages: [TestPackage("a", "1.0-r0")], signIndex: false)
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
