import APK
import Archive
import ELF
import Foundation
import LaminaCore
import SBOM

/// A package written by ``PackageEmitter``.
public struct EmittedPackage: Sendable, Hashable {
    /// `<repository>/<arch>/NAME-VERSION-rEPOCH.apk`.
    public var path: String
    /// The metadata as written: merged dependencies, `size`, `datahash`, `builddate`, and the identity
    /// (`checksum`) and file size an index records.
    public var info: PackageInfo
    /// What the file scan generated, before it was merged with the declared dependencies.
    public var generated: AutoDependencies
    /// Where the package's SBOM is inside the package (no leading `/`), nil when none was written.
    public var sbomPath: String?
}

/// Turns a filled destination folder into a signed `.apk` in a repository folder, the way melange emits a
/// package: the files are scanned for dependencies, an SPDX SBOM is added, `.PKGINFO` is written with the
/// declared and generated dependencies, and the result is signed and written atomically.
///
/// The output is reproducible: every mtime and `builddate` come from the ``BuildClock``, entries are
/// owned by root and sorted, so the same folder, metadata and clock give the same bytes.
public struct PackageEmitter: Sendable {
    /// The distribution name the SBOM uses for purls and the supplier (melange's `--namespace`).
    public var namespace: String
    /// Signature algorithms, as `lamina package create` uses them (`.SIGN.RSA256.<key name>`).
    public var algorithms: [SignatureAlgorithm]
    /// Whether to put the package's SBOM into it under `var/lib/db/sbom/`.
    public var writesSBOM: Bool
    public var compressionLevel: Int32
    /// Receives scan warnings and a note per written package.
    public var progress: ProgressHandler?

    public init(
        namespace: String = "unknown", algorithms: [SignatureAlgorithm] = [.rsaSHA256], writesSBOM: Bool = true,
        compressionLevel: Int32 = 6, progress: ProgressHandler? = nil
    ) {
        self.namespace = namespace
        self.algorithms = algorithms
        self.writesSBOM = writesSBOM
        self.compressionLevel = compressionLevel
        self.progress = progress
    }

    /// Packages `directory` as described by `metadata`.
    ///
    /// The SBOM is written into `directory` at ``PackageMetadata/sbomPath`` while the package is written
    /// (melange leaves it there); it and any folders created for it are removed again afterwards, and a
    /// file that was already at that path gets its old contents back.
    ///
    /// - Parameters:
    ///   - directory: the package's files (`${{targets.destdir}}` or a subpackage's folder).
    ///   - metadata: names, versions and declared dependencies.
    ///   - repositoryDirectory: the repository root (`./packages`); the package goes to
    ///     `<repositoryDirectory>/<arch>/NAME-VERSION-rEPOCH.apk`.
    ///   - repositoryArchitecture: the `<arch>` folder; defaults to the package's architecture, and must be
    ///     given for `noarch` packages.
    ///   - clock: mtimes, `builddate` and the SBOM's `created`.
    ///   - signingKey: the RSA key to sign with, its ``SigningKey/keyName`` naming the signature; nil writes
    ///     an unsigned package (with a warning).
    ///   - relatives: the origin package and its subpackages, so a `-dev` package's `libfoo.so` symlink can
    ///     depend on the `so:` name of the library in its sibling (default: just this package).
    /// - Throws: `LaminaError(.invalidInput)` for bad metadata, `.unsafePath` when the SBOM folder would
    ///   leave the destination through a symlink, `.io` for file system failures.
    public func emit(
        directory: String, metadata: PackageMetadata, repositoryDirectory: String,
        repositoryArchitecture: String? = nil, clock: BuildClock, signingKey: SigningKey?,
        relatives: [PackageTree]? = nil
    ) throws -> EmittedPackage {
        try metadata.validate()
        let archFolder = repositoryArchitecture ?? metadata.architecture
        guard !archFolder.isEmpty, archFolder != "noarch", !archFolder.contains("/") else {
            throw LaminaError(
                .invalidInput, "no repository architecture folder for a '\(metadata.architecture)' package",
                subject: metadata.name)
        }
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: directory, isDirectory: &isDirectory), isDirectory.boolValue else {
            throw LaminaError(.notFound, "package folder does not exist", subject: directory)
        }

        // 1. Dependencies: scan the files, then merge with what the configuration declares.
        let tree = PackageTree(name: metadata.name, root: URL(fileURLWithPath: directory, isDirectory: true))
        let generated = try DependencyScanner(options: metadata.options).scan(
            tree, version: metadata.fullVersion, relatives: relatives, declaredRuntime: metadata.runtimeDependencies,
            progress: progress)
        let merged = generated.merged(
            declaredRuntime: metadata.runtimeDependencies, declaredProvides: metadata.provides)
        let info = try packageInfo(metadata, depends: merged.runtime, provides: merged.provides)

        // 2. The SBOM, inside the tree while the package is written.
        var inserted: InsertedFile?
        if writesSBOM {
            let bytes = PackageSBOM.encoded(for: metadata, namespace: namespace, clock: clock)
            inserted = try InsertedFile.write(bytes, at: metadata.sbomPath, under: directory)
        }
        defer { inserted?.undo() }

        // 3. The signed package, atomically.
        let outputDirectory = repositoryDirectory + "/" + archFolder
        do {
            try FileManager.default.createDirectory(atPath: outputDirectory, withIntermediateDirectories: true)
        } catch {
            throw LaminaError(.io, "cannot create the repository folder: \(error.localizedDescription)",
                subject: outputDirectory)
        }
        if signingKey == nil {
            progress?(.warning("\(metadata.fileName) is UNSIGNED: no signing key was given"))
        }
        let writer = PackageWriter(
            info: info, scripts: metadata.scripts, clock: clock, signingKeys: signingKey.map { [$0] } ?? [],
            algorithms: algorithms, compressionLevel: compressionLevel, xattrs: metadata.xattrs)
        let output = outputDirectory + "/" + metadata.fileName
        let written = try writer.write(directory: directory, to: output)
        progress?(.note("wrote \(output) (\(written.fileSize ?? 0) bytes)"))
        return EmittedPackage(
            path: output, info: written, generated: generated, sbomPath: writesSBOM ? metadata.sbomPath : nil)
    }

    /// ``emit(directory:metadata:repositoryDirectory:repositoryArchitecture:clock:signingKey:relatives:)``
    /// with the signature named `keyName` (`melange.rsa.pub`) whatever the key's own name.
    public func emit(
        directory: String, metadata: PackageMetadata, repositoryDirectory: String,
        repositoryArchitecture: String? = nil, clock: BuildClock, signingKey: SigningKey?, keyName: String,
        relatives: [PackageTree]? = nil
    ) throws -> EmittedPackage {
        var key = signingKey
        key?.keyName = keyName
        return try emit(
            directory: directory, metadata: metadata, repositoryDirectory: repositoryDirectory,
            repositoryArchitecture: repositoryArchitecture, clock: clock, signingKey: key, relatives: relatives)
    }

    /// The `.PKGINFO` fields of `metadata` with the final dependency lists.
    func packageInfo(_ metadata: PackageMetadata, depends: [String], provides: [String]) throws -> PackageInfo {
        func atoms(_ list: [String], _ key: String) throws -> [Dependency] {
            try list.map { atom in
                do { return try Dependency(parsing: atom, validateVersion: false) } catch let error as LaminaError {
                    throw LaminaError(.invalidInput, "\(key) '\(atom)': \(error.message)", subject: metadata.name)
                }
            }
        }
        return PackageInfo(
            name: metadata.name, version: metadata.fullVersion, arch: metadata.architecture,
            description: metadata.description, url: metadata.url, license: metadata.license, origin: metadata.origin,
            maintainer: metadata.maintainer, commit: metadata.commit, depends: try atoms(depends, "depend"),
            provides: try atoms(provides, "provides"), replaces: try atoms(metadata.replaces, "replaces"),
            providerPriority: metadata.providerPriority, replacesPriority: metadata.replacesPriority,
            triggers: metadata.triggers)
    }
}

/// A file put into a package folder for the time of one write, and how to take it out again.
struct InsertedFile {
    /// Absolute path of the file.
    var path: String
    /// Folders created for it, outermost first.
    var createdDirectories: [String]
    /// The contents and mode of a file that was there before.
    var previous: (bytes: [UInt8], mode: mode_t)?

    /// Writes `bytes` (mode 0644) at `relative` below `root`, creating missing folders with mode 0755.
    /// - Throws: `.unsafePath` when a path component is a symlink or not a folder, `.io` on failure.
    static func write(_ bytes: [UInt8], at relative: String, under root: String) throws -> InsertedFile {
        let components = relative.split(separator: "/").map(String.init)
        guard let fileName = components.last, !components.contains(".."), !components.contains(".") else {
            throw LaminaError(.unsafePath, "not a plain relative path", subject: relative)
        }
        var created: [String] = []
        var current = root
        do {
            for component in components.dropLast() {
                current += "/" + component
                var st = stat()
                if lstat(current, &st) == 0 {
                    guard st.st_mode & S_IFMT == S_IFDIR else {
                        throw LaminaError(
                            .unsafePath, "is a symlink or file, not a folder; cannot put the SBOM below it",
                            subject: current)
                    }
                    continue
                }
                guard mkdir(current, 0o755) == 0 else {
                    let reason = String(cString: strerror(errno))
                    throw LaminaError(.io, "cannot create folder: \(reason)", subject: current)
                }
                chmod(current, 0o755)
                created.append(current)
            }
            let path = current + "/" + fileName
            var previous: (bytes: [UInt8], mode: mode_t)?
            var st = stat()
            if lstat(path, &st) == 0 {
                guard st.st_mode & S_IFMT == S_IFREG else {
                    throw LaminaError(.unsafePath, "exists and is not a regular file", subject: path)
                }
                previous = (try FileSource(path: path).readAll(limit: 64 << 20, what: "SBOM"), st.st_mode & 0o7777)
            }
            try AtomicFileSink.write(bytes, to: path)
            chmod(path, 0o644)
            return InsertedFile(path: path, createdDirectories: created, previous: previous)
        } catch {
            for directory in created.reversed() { rmdir(directory) }
            throw error
        }
    }

    /// Removes the file (or restores the previous one) and the folders created for it.
    func undo() {
        if let previous {
            try? AtomicFileSink.write(previous.bytes, to: path)
            chmod(path, previous.mode)
        } else {
            unlink(path)
        }
        for directory in createdDirectories.reversed() { rmdir(directory) }
    }
}
