import APK
import Foundation
import LaminaCore
import Synchronization
import TestSupport
import Testing

@testable import PackageBuilder

@Suite(.enabled(if: EmitFixtures.available, "needs ../shared/testdata (Alpine minirootfs, apko test key and index)"))
struct EmitIndexTests {
    /// Emits a small package (one data file) named `name` into `repository`.
    func emit(
        _ name: String, version: String = "1.0.0", epoch: UInt64 = 0, clock: Int64 = 0, in dir: TemporaryDirectory,
        repository: String, architecture: String = "x86_64"
    ) throws -> EmittedPackage {
        let destdir = dir.file("dest-\(name)-\(version)-\(clock)")
        try FileManager.default.createDirectory(atPath: destdir + "/usr/share/\(name)", withIntermediateDirectories: true)
        try Data("\(name) \(version)\n".utf8).write(to: URL(fileURLWithPath: destdir + "/usr/share/\(name)/VERSION"))
        return try PackageEmitter().emit(
            directory: destdir,
            metadata: PackageMetadata(name: name, version: version, epoch: epoch, architecture: architecture),
            repositoryDirectory: repository, clock: BuildClock(epoch: clock), signingKey: try EmitFixtures.signingKey())
    }

    var updater: RepositoryIndexUpdater {
        get throws { RepositoryIndexUpdater(signingKeys: [try EmitFixtures.signingKey()]) }
    }

    @Test func newIndexIsSignedAndListsThePackage() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let repository = dir.file("packages")
        let emitted = try emit("foo", in: dir, repository: repository)
        let written = try updater.update(repositoryDirectory: repository, architecture: "x86_64", adding: [emitted.path])
        let path = RepositoryIndexUpdater.indexPath(repositoryDirectory: repository, architecture: "x86_64")
        #expect(path == repository + "/x86_64/APKINDEX.tar.gz")
        let index = try APKIndex.read(path: path)
        #expect(index.verify(keyring: try EmitFixtures.keyring()) == .ok(keyName: "melange.rsa.pub"))
        #expect(index.signatures.map(\.algorithm) == [.rsaSHA256])
        let entry = try #require(index.packages.first)
        #expect(index.packages.count == 1)
        #expect(entry.nameVersion == "foo-1.0.0-r0")
        #expect(entry.checksum == emitted.info.checksum)
        #expect(entry.fileSize == emitted.info.fileSize)
        #expect(entry.installedSize == emitted.info.installedSize)
        #expect(written.packages.map(\.nameVersion) == ["foo-1.0.0-r0"])
        #expect(
            try FileManager.default.contentsOfDirectory(atPath: repository + "/x86_64").sorted() == [
                "APKINDEX.json", "APKINDEX.tar.gz", "foo-1.0.0-r0.apk",
            ])
    }

    @Test func mergeKeepsOtherPackagesAndVerifiesTheOldIndex() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let repository = dir.file("packages")
        try FileManager.default.createDirectory(atPath: repository + "/x86_64", withIntermediateDirectories: true)
        let indexPath = repository + "/x86_64/APKINDEX.tar.gz"
        try FileManager.default.copyItem(atPath: SharedTestData.path(EmitFixtures.apkoIndex), toPath: indexPath)
        let before = try APKIndex.read(path: indexPath).packages
        #expect(before.count == 4)

        let emitted = try emit("hello", in: dir, repository: repository)
        let events = EventLog()
        var updater = try self.updater
        updater.progress = { events.append($0) }
        try updater.update(repositoryDirectory: repository, architecture: "x86_64", adding: [emitted.path])
        #expect(events.warnings.isEmpty)  // verified with the signing key's public half

        let after = try APKIndex.read(path: indexPath)
        #expect(after.verify(keyring: try EmitFixtures.keyring()).isOK)
        #expect(
            after.packages.map(\.name) == [
                "custom-ca-certs-1", "custom-ca-certs-2", "hello", "pretend-baselayout", "replayout",
            ])
        // The old records are kept (apk drops an empty `t:0`, and writes `U:` even when empty).
        for old in before {
            var expected = old
            expected.buildDate = nil
            expected.url = old.url ?? ""
            #expect(after.packages.first { $0.nameVersion == old.nameVersion } == expected)
        }
    }

    @Test func rebuildReplacesTheSameNameAndVersionOnly() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let repository = dir.file("packages")
        let updater = try self.updater
        let old = try emit("foo", version: "1.9", clock: 100, in: dir, repository: repository)
        let first = try emit("foo", version: "1.10", clock: 100, in: dir, repository: repository)
        let other = try emit("Bar", version: "2", in: dir, repository: repository)
        try updater.update(repositoryDirectory: repository, architecture: "x86_64", adding: [old.path, first.path])
        try updater.update(repositoryDirectory: repository, architecture: "x86_64", adding: [other.path])
        let rebuilt = try emit("foo", version: "1.10", clock: 200, in: dir, repository: repository)
        #expect(rebuilt.info.checksum != first.info.checksum)
        try updater.update(repositoryDirectory: repository, architecture: "x86_64", adding: [rebuilt.path])

        let index = try APKIndex.read(path: repository + "/x86_64/APKINDEX.tar.gz")
        // apk order: names case-insensitively, versions ascending (1.9 before 1.10).
        #expect(index.packages.map(\.nameVersion) == ["Bar-2-r0", "foo-1.9-r0", "foo-1.10-r0"])
        #expect(index.packages[2].checksum == rebuilt.info.checksum)
        #expect(index.packages[2].buildDate == 200)
        #expect(index.packages[1].checksum == old.info.checksum)
    }

    @Test func aTamperedIndexIsNotMergedInto() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let repository = dir.file("packages")
        try FileManager.default.createDirectory(atPath: repository + "/x86_64", withIntermediateDirectories: true)
        let indexPath = repository + "/x86_64/APKINDEX.tar.gz"
        try FileManager.default.copyItem(atPath: SharedTestData.path(EmitFixtures.apkoIndex), toPath: indexPath)
        let original = try EmitFixtures.bytes(indexPath)
        let emitted = try emit("foo", in: dir, repository: repository)
        // Another key under the same name: the old index's signature by "melange.rsa.pub" does not verify.
        let impostor = TestKey.stranger(named: "melange.rsa.pub")
        #expect {
            try RepositoryIndexUpdater(signingKeys: [impostor])
                .update(repositoryDirectory: repository, architecture: "x86_64", adding: [emitted.path])
        } throws: { ($0 as? LaminaError)?.code == .badSignature }
        #expect(try EmitFixtures.bytes(indexPath) == original)
    }

    @Test func anIndexByAnUnknownKeyIsMergedWithAWarning() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let repository = dir.file("packages")
        try FileManager.default.createDirectory(atPath: repository + "/x86_64", withIntermediateDirectories: true)
        try FileManager.default.copyItem(
            atPath: SharedTestData.path(EmitFixtures.apkoIndex), toPath: repository + "/x86_64/APKINDEX.tar.gz")
        let emitted = try emit("foo", in: dir, repository: repository)
        let events = EventLog()
        let other = TestKey.stranger(named: "other.rsa.pub")
        let index = try RepositoryIndexUpdater(signingKeys: [other], progress: { events.append($0) })
            .update(repositoryDirectory: repository, architecture: "x86_64", adding: [emitted.path])
        #expect(index.packages.count == 5)
        #expect(events.warnings.count == 1)
        #expect(events.warnings.first?.contains("melange.rsa.pub") == true)
    }

    @Test func unsignedIndexIsReadAndNoarchIsListedUnderTheArch() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let repository = dir.file("packages")
        try FileManager.default.createDirectory(atPath: repository + "/x86_64", withIntermediateDirectories: true)
        let indexPath = repository + "/x86_64/APKINDEX.tar.gz"
        try FileManager.default.copyItem(
            atPath: SharedTestData.path("chainguard-dev+apko/pkg/apk/apk/testdata/APKINDEX.tar.gz"), toPath: indexPath)
        let before = try APKIndex.read(path: indexPath).packages
        let destdir = dir.file("data")
        try FileManager.default.createDirectory(atPath: destdir + "/usr/share/x", withIntermediateDirectories: true)
        let noarch = try PackageEmitter().emit(
            directory: destdir, metadata: PackageMetadata(name: "x-data", version: "1", architecture: "noarch"),
            repositoryDirectory: repository, repositoryArchitecture: "x86_64", clock: BuildClock(epoch: 0),
            signingKey: nil)
        let index = try updater.update(repositoryDirectory: repository, architecture: "x86_64", adding: [noarch.path])
        #expect(index.packages.count == before.count + 1)
        #expect(index.packages.first { $0.name == "x-data" }?.arch == "x86_64")
    }

    @Test func packageOfAnotherArchitectureIsRefused() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let repository = dir.file("packages")
        let arm = try emit("foo", in: dir, repository: repository, architecture: "aarch64")
        #expect {
            try updater.update(repositoryDirectory: repository, architecture: "x86_64", adding: [arm.path])
        } throws: { ($0 as? LaminaError)?.code == .invalidInput }
        #expect(!FileManager.default.fileExists(atPath: repository + "/x86_64/APKINDEX.tar.gz"))
    }

    @Test func jsonIndexHasMelangesShape() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let repository = dir.file("packages")
        let first = try emit("foo", clock: 1_700_000_000, in: dir, repository: repository)
        try updater.update(repositoryDirectory: repository, architecture: "x86_64", adding: [first.path])
        let second = try emit("bar", in: dir, repository: repository)
        try updater.update(repositoryDirectory: repository, architecture: "x86_64", adding: [second.path])

        let ours = try #require(
            try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: repository + "/x86_64/APKINDEX.json")))
                as? [String: Any])
        let melange = try #require(
            try JSONSerialization.jsonObject(
                with: Data(
                    contentsOf: URL(
                        fileURLWithPath: SharedTestData.path(
                            "chainguard-dev+apko/internal/cli/testdata/private_packages/packages/x86_64/APKINDEX.json"))))
                as? [String: Any])
        #expect(Set(ours.keys) == Set(melange.keys))
        let packages = try #require(ours["Packages"] as? [[String: Any]])
        let melangePackage = try #require((melange["Packages"] as? [[String: Any]])?.first)
        #expect(packages.map { Set($0.keys) } == [Set(melangePackage.keys), Set(melangePackage.keys)])
        #expect(packages.map { $0["Name"] as? String } == ["bar", "foo"])
        let foo = packages[1]
        #expect(foo["Version"] as? String == "1.0.0-r0")
        #expect(foo["Checksum"] as? String == first.info.checksum?.base64)
        #expect((foo["Size"] as? NSNumber)?.int64Value == first.info.fileSize)
        #expect(foo["BuildTime"] as? String == "2023-11-14T22:13:20Z")
        #expect((foo["BuildDate"] as? NSNumber)?.int64Value == 1_700_000_000)
        #expect(foo["Dependencies"] is NSNull)
        // foo's data hash, which the APKINDEX text cannot hold, is carried over from the previous JSON.
        #expect(foo["DataHash"] as? String == first.info.dataHash)
        #expect(packages[0]["DataHash"] as? String == second.info.dataHash)
    }

    @Test func concurrentUpdatesLoseNoPackage() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let repository = dir.file("packages")
        let paths = try (0..<6).map { try emit("pkg\($0)", in: dir, repository: repository).path }
        let updater = try self.updater
        let failures = Mutex<[String]>([])
        DispatchQueue.concurrentPerform(iterations: paths.count) { i in
            do {
                try updater.update(repositoryDirectory: repository, architecture: "x86_64", adding: [paths[i]])
            } catch {
                failures.withLock { $0.append("\(error)") }
            }
        }
        #expect(failures.withLock { $0 }.isEmpty)
        let index = try APKIndex.read(path: repository + "/x86_64/APKINDEX.tar.gz")
        #expect(index.packages.map(\.name) == (0..<6).map { "pkg\($0)" })
    }

    @Test func apkSortOrder() {
        let names = [("b", "1"), ("B", "1"), ("a", "2.0"), ("a", "10.0"), ("a", "2.0_rc1"), ("A", "1")]
        let sorted = RepositoryIndexUpdater.sortedForIndex(names.map { PackageInfo(name: $0.0, version: $0.1) })
        #expect(sorted.map(\.nameVersion) == ["A-1", "a-2.0_rc1", "a-2.0", "a-10.0", "B-1", "b-1"])
    }
}

/// Collects progress events from a handler (which must be `@Sendable`).
final class EventLog: Sendable {
    private let storage = Mutex<[ProgressEvent]>([])
    func append(_ event: ProgressEvent) { storage.withLock { $0.append(event) } }
    var warnings: [String] {
        storage.withLock { events in
            events.compactMap { if case .warning(let text) = $0 { return text } else { return nil } }
        }
    }
}

struct EmitIndexJSONTests {
    @Test func goStyleEscapingAndNulls() {
        let info = PackageInfo(
            name: "a&b", version: "1-r0", arch: "x86_64", maintainer: "Me <me@example.com>", fileSize: 10,
            depends: [Dependency(name: "so:libc.so.6")], triggers: [])
        let text = String(decoding: IndexJSON.encode(APKIndex(packages: [info], description: "v1\n")), as: UTF8.self)
        #expect(text.contains(#""Name": "a\u0026b""#))
        #expect(text.contains(#""Maintainer": "Me \u003cme@example.com\u003e""#))
        #expect(text.contains(#""Description": "v1\n""#))
        #expect(text.contains("\"Dependencies\": [\n        \"so:libc.so.6\"\n      ]"))
        #expect(text.contains(#""Checksum": null"#))
        #expect(text.contains(#""Provides": null"#))
        #expect(text.hasPrefix("{\n  \"Signature\": null,\n  \"Description\""))
        #expect(text.hasSuffix("}\n"))
        #expect(String(decoding: IndexJSON.encode(APKIndex(packages: [])), as: UTF8.self).contains(#""Packages": null"#))
    }
}
