import APK
import ELF
import Foundation
import LaminaCore
import SBOM
import TestSupport
import Testing

@testable import PackageBuilder

@Suite(.enabled(if: EmitFixtures.available, "needs ../shared/testdata (Alpine minirootfs, apko test key)"))
struct EmitPackageTests {
    static let metadata = PackageMetadata(
        name: "foo", version: "1.0.0", epoch: 3, description: "A test package", url: "https://example.com/foo",
        commit: "c0ffee", license: "MIT", architecture: "x86_64", runtimeDependencies: ["busybox"],
        provides: ["foo-virtual=1.0"], scripts: ["post-install": "#!/bin/sh\necho installed\n"])
    static let clock = BuildClock(epoch: 1_700_000_000)

    func emit(
        _ destdir: String, _ metadata: PackageMetadata = Self.metadata, into repository: String,
        clock: BuildClock = Self.clock
    ) throws -> EmittedPackage {
        try PackageEmitter(namespace: "wolfi").emit(
            directory: destdir, metadata: metadata, repositoryDirectory: repository, clock: clock,
            signingKey: try EmitFixtures.signingKey())
    }

    @Test func pkginfoHasDeclaredAndGeneratedDependencies() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let destdir = try EmitFixtures.makeDestdir(in: dir)
        let emitted = try emit(destdir, into: dir.file("packages"))
        #expect(emitted.path == dir.file("packages") + "/x86_64/foo-1.0.0-r3.apk")
        let info = try PackageReader().read(path: emitted.path).info
        #expect(info.name == "foo")
        #expect(info.version == "1.0.0-r3")
        #expect(info.arch == "x86_64")
        #expect(info.origin == "foo")
        #expect(info.commit == "c0ffee")
        #expect(info.license == "MIT")
        #expect(info.url == "https://example.com/foo")
        #expect(info.buildDate == 1_700_000_000)
        // Declared busybox; the musl interpreter and DT_NEEDED of iconv and libz; pc: Requires of foo.pc.
        // so:libz.so.1 (from the libz.so.1 symlink) is dropped because the package provides it.
        #expect(info.depends.map(\.description) == ["busybox", "pc:zlib", "so:libc.musl-x86_64.so.1"])
        #expect(
            info.provides.map(\.description) == [
                "cmd:iconv=1.0.0-r3", "foo-virtual=1.0", "pc:foo=1.0.0-r3", "so-ver:libz.so.1=1.0.0-r3",
                "so:libz.so.1=1",
            ])
        #expect(emitted.generated.runtime.contains("so:libz.so.1"))
        #expect(emitted.info.depends == info.depends)
        // size counts every regular file, the SBOM included; datahash matches the data member.
        let sbomSize = try #require(try EmitFixtures.dataFile(Self.metadata.sbomPath, in: emitted.path)).count
        #expect(info.installedSize == Int64(24520 + 100_208 + 58 + 6 + sbomSize))
        let archive = try PackageReader().read(path: emitted.path)
        #expect(archive.verify(keyring: try EmitFixtures.keyring()) == .ok(keyName: "melange.rsa.pub"))
        #expect(archive.signatures.map { $0.algorithm } == [.rsaSHA256])
        #expect(archive.controlFiles.map(\.entry.path) == [".post-install"])
        #expect(emitted.info.checksum == archive.identity)
        #expect(emitted.info.fileSize == archive.fileSize)
    }

    @Test func unsignedWithoutKeyAndSignatureNameOverride() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let destdir = try EmitFixtures.makeDestdir(in: dir)
        let unsigned = try PackageEmitter().emit(
            directory: destdir, metadata: Self.metadata, repositoryDirectory: dir.file("a"), clock: Self.clock,
            signingKey: nil)
        let archive = try PackageReader().read(path: unsigned.path)
        #expect(archive.signatures.isEmpty)
        #expect(archive.verify(keyring: try EmitFixtures.keyring()) == .untrusted)

        let renamed = try PackageEmitter().emit(
            directory: destdir, metadata: Self.metadata, repositoryDirectory: dir.file("b"), clock: Self.clock,
            signingKey: try EmitFixtures.signingKey(), keyName: "other.rsa.pub")
        #expect(try PackageReader().read(path: renamed.path).signatures.map(\.keyName) == ["other.rsa.pub"])
    }

    @Test func sbomIsInsideAndDescribesThePackage() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let destdir = try EmitFixtures.makeDestdir(in: dir)
        let emitted = try emit(destdir, into: dir.file("packages"))
        #expect(emitted.sbomPath == "var/lib/db/sbom/foo-1.0.0-r3.spdx.json")
        // apko looks for it there first.
        #expect(ImageSBOM.embeddedSBOMPaths(name: "foo", version: "1.0.0-r3").first == emitted.sbomPath)
        let bytes = try #require(try EmitFixtures.dataFile("var/lib/db/sbom/foo-1.0.0-r3.spdx.json", in: emitted.path))
        let document = try SPDXJSON.decode(bytes, what: "sbom")
        #expect(document.name == "apk-foo-1.0.0-r3")
        #expect(document.created == "2023-11-14T22:13:20Z")
        let described = try #require(document.describedIDs.first.flatMap { document.package(id: $0) })
        #expect(described.name == "foo")
        #expect(described.version == "1.0.0-r3")
        #expect(described.licenseDeclared == "MIT")
        #expect(described.supplier == "Organization: Wolfi")
        #expect(described.purl == "pkg:apk/wolfi/foo@1.0.0-r3?arch=x86_64&distro=wolfi")
        // An image built from the package copies the described package into the image SBOM, as apko does.
        let image = try ImageSBOM.image(
            ImageSBOM.Input(
                imageDigest: nil, layers: [ImageSBOM.Layer(digest: nil, mediaType: "layer")], architecture: .x86_64,
                operatingSystem: .unknown, created: "1970-01-01T00:00:00Z",
                packages: [InstalledPackage(name: "foo", version: "1.0.0-r3", architecture: "x86_64", embeddedSBOM: document)]))
        #expect(image.packages.contains { $0.purl == described.purl && $0.licenseDeclared == "MIT" })
        // The folders the SBOM needed are in the package, with directory modes.
        let files = try PackageReader().read(path: emitted.path, listFiles: true).files
        let sbomDir = try #require(files.first { $0.entry.path == "var/lib/db/sbom" })
        #expect(sbomDir.entry.mode == 0o755)
    }

    @Test(.enabled(if: SPDXTool.path != nil, "pyspdxtools not found (LAMINA_PYSPDXTOOLS, .venv, PATH)"))
    func sbomPassesTheSPDXValidator() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let destdir = try EmitFixtures.makeDestdir(in: dir)
        var metadata = Self.metadata
        // A license that needs a LicenseRef- and an attestation.
        metadata.license = "MIT AND custom"
        metadata.copyrightText = "Copyright 2024 Example"
        let emitted = try emit(destdir, metadata, into: dir.file("packages"))
        let bytes = try #require(try EmitFixtures.dataFile(metadata.sbomPath, in: emitted.path))
        let file = dir.file("sbom.spdx.json")
        try Data(bytes).write(to: URL(fileURLWithPath: file))
        let result = try CommandRunner.run(try #require(SPDXTool.path), ["-i", file])
        #expect(result.status == 0, "\(result.stdout)\(result.stderr)")
        let document = try SPDXJSON.decode(bytes, what: "sbom")
        #expect(document.extractedLicenses.map(\.id) == ["LicenseRef-custom"])
    }

    @Test func destdirIsLeftAsItWas() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let destdir = try EmitFixtures.makeDestdir(in: dir)
        let before = EmitFixtures.listing(destdir)
        _ = try emit(destdir, into: dir.file("packages"))
        #expect(EmitFixtures.listing(destdir) == before)

        // An existing var/lib keeps existing; only what was created goes; a file already at the SBOM path
        // gets its contents back.
        try FileManager.default.createDirectory(atPath: destdir + "/var/lib/db/sbom", withIntermediateDirectories: true)
        try Data("old".utf8).write(to: URL(fileURLWithPath: destdir + "/" + Self.metadata.sbomPath))
        let withExisting = EmitFixtures.listing(destdir)
        let emitted = try emit(destdir, into: dir.file("packages2"))
        #expect(EmitFixtures.listing(destdir) == withExisting)
        #expect(try EmitFixtures.bytes(destdir + "/" + Self.metadata.sbomPath) == Array("old".utf8))
        let inside = try #require(try EmitFixtures.dataFile(Self.metadata.sbomPath, in: emitted.path))
        #expect(inside != Array("old".utf8))
    }

    @Test func symlinkedSBOMFolderIsRefused() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let destdir = try EmitFixtures.makeDestdir(in: dir)
        try FileManager.default.createDirectory(atPath: dir.file("outside"), withIntermediateDirectories: true)
        try FileManager.default.createSymbolicLink(atPath: destdir + "/var", withDestinationPath: dir.file("outside"))
        #expect {
            _ = try emit(destdir, into: dir.file("packages"))
        } throws: { ($0 as? LaminaError)?.code == .unsafePath }
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir.file("outside")).isEmpty)
    }

    @Test func reproducible() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let destdir = try EmitFixtures.makeDestdir(in: dir)
        let first = try emit(destdir, into: dir.file("one"))
        // A second copy of the tree with other mtimes gives the same bytes.
        let copy = try EmitFixtures.makeDestdir(in: dir, name: "copy")
        let second = try emit(copy, into: dir.file("two"))
        #expect(try EmitFixtures.bytes(first.path) == EmitFixtures.bytes(second.path))
        // Emitting again into the same place overwrites with the same bytes.
        let again = try emit(destdir, into: dir.file("one"))
        #expect(try EmitFixtures.bytes(again.path) == EmitFixtures.bytes(second.path))
        // Another epoch gives another package.
        let later = try emit(destdir, into: dir.file("three"), clock: BuildClock(epoch: 1_800_000_000))
        #expect(try EmitFixtures.bytes(later.path) != EmitFixtures.bytes(first.path))
        // Only the package is left in the arch folder (no temporary files).
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir.file("one") + "/x86_64") == ["foo-1.0.0-r3.apk"])
    }

    struct OptionsCase: Sendable, CustomTestStringConvertible {
        var options: DependencyScanner.Options
        var depends: [String]
        var provides: [String]
        var testDescription: String {
            "noProvides=\(options.noProvides) noDepends=\(options.noDepends) noCommands=\(options.noCommands)"
        }
    }

    @Test(arguments: [
        OptionsCase(
            options: .init(noProvides: true), depends: ["busybox", "pc:zlib", "so:libc.musl-x86_64.so.1", "so:libz.so.1"],
            provides: ["foo-virtual=1.0"]),
        OptionsCase(
            options: .init(noDepends: true), depends: ["busybox"],
            provides: [
                "cmd:iconv=1.0.0-r3", "foo-virtual=1.0", "pc:foo=1.0.0-r3", "so-ver:libz.so.1=1.0.0-r3",
                "so:libz.so.1=1",
            ]),
        OptionsCase(
            options: .init(noCommands: true), depends: ["busybox", "pc:zlib", "so:libc.musl-x86_64.so.1"],
            provides: ["foo-virtual=1.0", "pc:foo=1.0.0-r3", "so-ver:libz.so.1=1.0.0-r3", "so:libz.so.1=1"]),
    ])
    func optionsAreHonoured(_ testCase: OptionsCase) throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let destdir = try EmitFixtures.makeDestdir(in: dir)
        var metadata = Self.metadata
        metadata.options = testCase.options
        let emitted = try emit(destdir, metadata, into: dir.file("packages"))
        let info = try PackageReader().read(path: emitted.path).info
        #expect(info.depends.map(\.description) == testCase.depends)
        #expect(info.provides.map(\.description) == testCase.provides)
    }

    /// Packages built by melange, unpacked and packaged again: the generated dependencies match melange's.
    @Test(arguments: [
        "chainguard-dev+apko/pkg/apk/apk/testdata/hello-wolfi-2.12.1-r0.apk",
        "chainguard-dev+melange/pkg/sca/testdata/ruby3.2-base64-0.2.0-r2.apk",
    ])
    func reemittedMelangePackageGetsMelangesDependencies(_ apk: String) throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let original = try EmitFixtures.unpack(apk, into: dir.file("destdir"))
        let dash = try #require(original.version.range(of: "-r", options: .backwards))
        let metadata = PackageMetadata(
            name: original.name, version: String(original.version[..<dash.lowerBound]),
            epoch: try #require(UInt64(original.version[dash.upperBound...])), license: original.license,
            architecture: try #require(original.arch))
        let emitted = try emit(dir.file("destdir"), metadata, into: dir.file("packages"))
        let info = try PackageReader().read(path: emitted.path).info
        #expect(info.depends == original.depends)
        #expect(info.provides == original.provides)
        #expect(info.nameVersion == original.nameVersion)
        // (melange's `size` also counts the folders' on-disk sizes, so it is not compared.)
        let sbom = try #require(try EmitFixtures.dataFile(metadata.sbomPath, in: emitted.path))
        #expect(try SPDXJSON.decode(sbom, what: "sbom").name == "apk-\(original.nameVersion)")
    }

    @Test func subpackageFromItsOwnFolder() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let destdir = dir.file("foo-doc")
        try FileManager.default.createDirectory(atPath: destdir + "/usr/share/doc/foo", withIntermediateDirectories: true)
        try Data("docs\n".utf8).write(to: URL(fileURLWithPath: destdir + "/usr/share/doc/foo/README"))
        let metadata = PackageMetadata(
            name: "foo-doc", version: "1.0.0", epoch: 3, license: "MIT", architecture: "x86_64", origin: "foo")
        let emitted = try emit(destdir, metadata, into: dir.file("packages"))
        let info = try PackageReader().read(path: emitted.path).info
        #expect(info.origin == "foo")
        #expect(info.depends.isEmpty)
        #expect(info.provides.isEmpty)
        #expect(emitted.path.hasSuffix("/x86_64/foo-doc-1.0.0-r3.apk"))
    }

    /// A `-dev` subpackage's `libz.so` link depends on the library's soname found in its sibling.
    @Test func devSubpackageLinkDependsOnTheSiblingsLibrary() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let main = dir.file("zlib")
        try EmitFixtures.extract(["lib/libz.so.1.3.1"], into: main)
        let dev = dir.file("zlib-dev")
        try FileManager.default.createDirectory(atPath: dev + "/lib", withIntermediateDirectories: true)
        try FileManager.default.createSymbolicLink(atPath: dev + "/lib/libz.so", withDestinationPath: "libz.so.1.3.1")
        let metadata = PackageMetadata(name: "zlib-dev", version: "1.3.1", architecture: "x86_64", origin: "zlib")
        let relatives = [
            PackageTree(name: "zlib", root: URL(fileURLWithPath: main)),
            PackageTree(name: "zlib-dev", root: URL(fileURLWithPath: dev)),
        ]
        let withSibling = try PackageEmitter().emit(
            directory: dev, metadata: metadata, repositoryDirectory: dir.file("a"), clock: Self.clock, signingKey: nil,
            relatives: relatives)
        #expect(try PackageReader().read(path: withSibling.path).info.depends.map(\.description) == ["so:libz.so.1"])
        let alone = try PackageEmitter().emit(
            directory: dev, metadata: metadata, repositoryDirectory: dir.file("b"), clock: Self.clock, signingKey: nil)
        #expect(try PackageReader().read(path: alone.path).info.depends.isEmpty)
    }

    @Test func noarchNeedsARepositoryFolder() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let destdir = dir.file("data")
        try FileManager.default.createDirectory(atPath: destdir + "/usr/share/foo", withIntermediateDirectories: true)
        let metadata = PackageMetadata(name: "foo-data", version: "1", architecture: "noarch")
        #expect {
            _ = try emit(destdir, metadata, into: dir.file("packages"))
        } throws: { ($0 as? LaminaError)?.code == .invalidInput }
        let emitted = try PackageEmitter().emit(
            directory: destdir, metadata: metadata, repositoryDirectory: dir.file("packages"),
            repositoryArchitecture: "aarch64", clock: Self.clock, signingKey: nil)
        #expect(emitted.path == dir.file("packages") + "/aarch64/foo-data-1-r0.apk")
        #expect(try PackageReader().read(path: emitted.path).info.arch == "noarch")
    }

    @Test func badMetadataIsRefusedBeforeWriting() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let destdir = try EmitFixtures.makeDestdir(in: dir)
        var metadata = Self.metadata
        metadata.version = "1.0.0 beta"
        #expect {
            _ = try emit(destdir, metadata, into: dir.file("packages"))
        } throws: { ($0 as? LaminaError)?.code == .invalidInput }
        metadata = Self.metadata
        metadata.runtimeDependencies = ["bad>="]
        #expect {
            _ = try emit(destdir, metadata, into: dir.file("packages"))
        } throws: { error in
            (error as? LaminaError)?.message.contains("dependencies.runtime[0]") == true
        }
        #expect(!FileManager.default.fileExists(atPath: dir.file("packages")))
    }
}
