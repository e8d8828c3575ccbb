import APK
import Archive
import Foundation
import LaminaCore
import TestSupport

/// Fixtures for the Emit tests: real musl binaries from the Alpine minirootfs, the apko test signing key.
enum EmitFixtures {
    static let minirootfs = Minirootfs.relativePath
    static let signingKeyPath = "chainguard-dev+apko/internal/cli/testdata/melange.rsa"
    static let publicKeyPath = "chainguard-dev+apko/internal/cli/testdata/melange.rsa.pub"
    /// A signed (melange.rsa.pub) index of five packages, apko's test repository.
    static let apkoIndex = "chainguard-dev+apko/internal/cli/testdata/packages/x86_64/APKINDEX.tar.gz"

    static var available: Bool {
        SharedTestData.isAvailable && FileManager.default.fileExists(atPath: SharedTestData.path(minirootfs))
    }

    static func signingKey() throws -> SigningKey { try SigningKey.load(path: SharedTestData.path(signingKeyPath)) }

    static func keyring() throws -> Keyring {
        var keyring = Keyring()
        try keyring.addFile(SharedTestData.path(publicKeyPath))
        return keyring
    }

    /// Copies the minirootfs entries named in `paths` (as `./lib/…` in the tarball) into `root`, keeping
    /// modes and symlinks, using our own gzip and tar readers.
    static func extract(_ paths: Set<String>, into root: String) throws {
        let gzip = try GzipReader(FileSource(path: SharedTestData.path(minirootfs)), name: minirootfs)
        let tar = TarReader(gzip, name: minirootfs)
        var found = Set<String>()
        while let entry = try tar.next() {
            let path = entry.path.hasPrefix("./") ? String(entry.path.dropFirst(2)) : entry.path
            guard paths.contains(path) else { continue }
            found.insert(path)
            let target = root + "/" + path
            try FileManager.default.createDirectory(
                atPath: (target as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
            switch entry.kind {
            case .symbolicLink:
                try FileManager.default.createSymbolicLink(atPath: target, withDestinationPath: entry.linkTarget)
            case .regular:
                let bytes = try tar.readContent(limit: 16 << 20)
                try Data(bytes).write(to: URL(fileURLWithPath: target))
                chmod(target, mode_t(entry.mode & 0o7777))
            default:
                continue
            }
        }
        guard found == paths else {
            throw LaminaError(.notFound, "not in the minirootfs: \(paths.subtracting(found).sorted())")
        }
    }

    /// A package folder with a musl executable (`usr/bin/iconv`), a shared library with a SONAME
    /// (`lib/libz.so.1.3.1` and its `libz.so.1` link), a pkg-config file and a plain data file.
    static func makeDestdir(in dir: TemporaryDirectory, name: String = "destdir") throws -> String {
        let root = dir.file(name)
        try FileManager.default.createDirectory(atPath: root, withIntermediateDirectories: true)
        try extract(["usr/bin/iconv", "lib/libz.so.1.3.1", "lib/libz.so.1"], into: root)
        try FileManager.default.createDirectory(atPath: root + "/usr/lib/pkgconfig", withIntermediateDirectories: true)
        try Data("Name: foo\nVersion: 1.0.0\nDescription: test\nRequires: zlib\n".utf8)
            .write(to: URL(fileURLWithPath: root + "/usr/lib/pkgconfig/foo.pc"))
        try FileManager.default.createDirectory(atPath: root + "/usr/share/foo", withIntermediateDirectories: true)
        try Data("hello\n".utf8).write(to: URL(fileURLWithPath: root + "/usr/share/foo/README"))
        for directory in ["", "/usr", "/usr/bin", "/usr/lib", "/usr/lib/pkgconfig", "/usr/share", "/usr/share/foo", "/lib"] {
            chmod(root + directory, 0o755)
        }
        chmod(root + "/usr/lib/pkgconfig/foo.pc", 0o644)
        chmod(root + "/usr/share/foo/README", 0o644)
        return root
    }

    /// Every path below `root` with its kind and mode, for before/after comparisons.
    static func listing(_ root: String) -> [String] {
        let walker = FileManager.default.enumerator(atPath: root)
        var out: [String] = []
        while let path = walker?.nextObject() as? String {
            var st = stat()
            lstat(root + "/" + path, &st)
            out.append("\(path) \(String(st.st_mode, radix: 8)) \(st.st_size)")
        }
        return out.sorted()
    }

    /// The contents of data entry `path` in the package at `apk`.
    static func dataFile(_ path: String, in apk: String) throws -> [UInt8]? {
        var bytes: [UInt8]?
        _ = try PackageReader().read(path: apk) { entry, tar in
            if entry.path == path { bytes = try tar.readContent(limit: 16 << 20) }
        }
        return bytes
    }

    /// Unpacks the data of the package at `apk` (a path in the shared test data) into `root` with our
    /// `PackageReader`, leaving out its SBOM; returns its `.PKGINFO` fields.
    static func unpack(_ apk: String, into root: String) throws -> PackageInfo {
        try FileManager.default.createDirectory(atPath: root, withIntermediateDirectories: true)
        let archive = try PackageReader().read(path: SharedTestData.path(apk)) { entry, tar in
            guard !entry.path.hasPrefix("var/lib/db/sbom") else { return }
            let target = root + "/" + entry.path
            switch entry.kind {
            case .directory:
                try FileManager.default.createDirectory(atPath: target, withIntermediateDirectories: true)
                chmod(target, mode_t(entry.mode & 0o7777))
            case .regular:
                try Data(try tar.readContent(limit: 64 << 20)).write(to: URL(fileURLWithPath: target))
                chmod(target, mode_t(entry.mode & 0o7777))
            case .symbolicLink:
                try FileManager.default.createSymbolicLink(atPath: target, withDestinationPath: entry.linkTarget)
            case .hardLink:
                try FileManager.default.linkItem(atPath: root + "/" + entry.linkTarget, toPath: target)
            default:
                break
            }
        }
        return archive.info
    }

    static func bytes(_ path: String) throws -> [UInt8] { Array(try Data(contentsOf: URL(fileURLWithPath: path))) }
}

/// The SPDX validator: `$LAMINA_PYSPDXTOOLS`, `./.venv/bin`, `PATH`, or `/work/venv-spdx/bin`.
enum SPDXTool {
    static let path: String? = {
        var candidates: [String] = []
        if let explicit = ProcessInfo.processInfo.environment["LAMINA_PYSPDXTOOLS"], !explicit.isEmpty {
            candidates.append(explicit)
        }
        candidates.append(SharedTestData.packageRoot.appendingPathComponent(".venv/bin/pyspdxtools").path)
        if let found = CommandRunner.which("pyspdxtools") { candidates.append(found) }
        candidates.append("/work/venv-spdx/bin/pyspdxtools")
        return candidates.first { FileManager.default.isExecutableFile(atPath: $0) }
    }()
}
