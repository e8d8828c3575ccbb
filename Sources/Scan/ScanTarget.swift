import APK
import Archive
import Foundation
import LaminaCore
import OCI

/// The installed packages of what is being scanned, and where they were read from.
public struct InstalledPackages: Sendable {
    /// The packages, in database order.
    public var packages: [ScannedPackage]
    /// What was read: the database path inside a root, image, or layer.
    public var location: String
    /// The platform of the image scanned, when the target was an image.
    public var platform: String?

    public init(packages: [ScannedPackage], location: String, platform: String? = nil) {
        self.packages = packages
        self.location = location
        self.platform = platform
    }
}

/// Reads the apk installed database out of a scan target.
///
/// A target is one of:
/// - an image tarball as `lamina image build` writes it (OCI layout + docker `manifest.json`), or a docker-archive;
/// - an OCI layout directory (`oci-layout`, `index.json`, `blobs/`);
/// - a root filesystem: a directory, or a `.tar`/`.tar.gz` of one (e.g. `image build-minirootfs` output);
/// - an installed database file (`lib/apk/db/installed`).
///
/// Layers are streamed (gzip → tar) and only the database member is kept in memory.
public enum ScanTarget {
    /// Where apk keeps its database, relative to the root: apk-tools 2 and apk-tools 3.
    public static let databasePaths = ["lib/apk/db/installed", "usr/lib/apk/db/installed"]

    /// Reads the installed packages of `path`.
    /// - Parameter architecture: which image of a multi-architecture index to read; required when there are several.
    /// - Throws: `LaminaError(.notFound)` when there is no target or no database in it, `.usage` when a
    ///   multi-arch image needs `--arch`, `.malformed` for unreadable images or databases.
    public static func load(_ path: String, architecture: Architecture? = nil) throws -> InstalledPackages {
        if let layout = try ImageLayoutReader.open(path) {
            return try LayoutReader(layout: layout).read(architecture: architecture)
        }
        var isDirectory: ObjCBool = false
        if FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory), isDirectory.boolValue {
            return try readRootDirectory(path)
        }
        if try ImageLayoutReader.isTarball(path) {
            return try LaminaError.about(path) { try readLayer(FileSource(path: path), gzip: false, name: path) }
        }
        if try isGzip(path) {
            // A compressed root filesystem (a layer, a minirootfs).
            return try LaminaError.about(path) { try readLayer(FileSource(path: path), gzip: true, name: path) }
        }
        let text = try readText(path)
        let database = try InstalledDatabase.parse(text, source: path)
        return InstalledPackages(packages: database.packages.map { ScannedPackage($0.info) }, location: path)
    }

    static func isGzip(_ path: String) throws -> Bool {
        let source = try LaminaError.about(path) { try FileSource(path: path) }
        var buffer = [UInt8](repeating: 0, count: 2)
        return try buffer.withUnsafeMutableBytes { try source.readFully(into: $0) } == 2 && buffer == [0x1F, 0x8B]
    }

    static func readText(_ path: String) throws -> String {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw LaminaError(.io, "cannot read", subject: path)
        }
        return String(decoding: data, as: UTF8.self)
    }

    static func parseDatabase(_ bytes: [UInt8], location: String, platform: String? = nil) throws -> InstalledPackages {
        let database = try InstalledDatabase.parse(String(decoding: bytes, as: UTF8.self), source: location)
        return InstalledPackages(packages: database.packages.map { ScannedPackage($0.info) }, location: location, platform: platform)
    }

    /// A root directory: the database at one of ``databasePaths``, symlinks resolved inside the root.
    static func readRootDirectory(_ root: String) throws -> InstalledPackages {
        for relative in databasePaths {
            if let resolved = resolveInRoot(root, relative) {
                return InstalledPackages(
                    packages: try InstalledDatabase.parse(readText(resolved), source: resolved).packages.map { ScannedPackage($0.info) },
                    location: resolved)
            }
        }
        throw LaminaError(.notFound, "no apk database (\(databasePaths.joined(separator: " or "))) in this directory", subject: root)
    }

    /// How the database path resolves inside a scanned root (folder or tar): an absolute link target
    /// starts again at the root, and `..` stops there, so nothing outside the root is read.
    static let resolver = RootPath(.init(absoluteTarget: .fromRoot, parentOfRoot: .staysAtRoot, followFinal: true, mustExist: false))

    /// The path of the regular file `relative` below the folder `root`, links followed inside the root; nil when absent.
    static func resolveInRoot(_ root: String, _ relative: String) -> String? {
        var policy = resolver.policy
        policy.mustExist = true
        guard let real = try? RootPath(policy).resolve(relative, inFolder: root) else { return nil }
        let path = root + "/" + real
        var info = stat()
        guard stat(path, &info) == 0, (info.st_mode & S_IFMT) == S_IFREG else { return nil }
        return path
    }

    /// Streams a root filesystem tar (optionally gzip-compressed) and returns its installed database.
    static func readLayer(_ source: ByteSource, gzip: Bool, name: String, platform: String? = nil) throws -> InstalledPackages {
        var stream = source
        if gzip {
            let reader = try GzipReader(source, name: name)
            reader.continuous = true  // a layer may be several gzip members back to back
            stream = reader
        }
        let reader = TarReader(stream, name: name)
        var found: [String: [UInt8]] = [:]
        var links: [String: String] = [:]
        while let entry = try reader.next() {
            guard let path = try? SafePath.normalize(entry.path, leadingSlash: .strip) else { continue }
            switch entry.kind {
            case .regular where databasePaths.contains(path):
                found[path] = try reader.readContent(limit: 256 << 20)
            case .symbolicLink:
                links[path] = entry.linkTarget
            case .hardLink:
                if let target = try? SafePath.normalize(entry.linkTarget, leadingSlash: .strip) { links[path] = "/" + target }
            default:
                break
            }
        }
        for wanted in databasePaths {
            if let path = resolveLinks(wanted, links: links), let bytes = found[path] {
                return try parseDatabase(bytes, location: "\(name):\(path)", platform: platform)
            }
        }
        throw LaminaError(.notFound, "no apk database (\(databasePaths.joined(separator: " or "))) in the filesystem", subject: name)
    }

    /// Resolves symlinks recorded in a tar, as a root-relative path; nil when there are too many.
    static func resolveLinks(_ relative: String, links: [String: String]) -> String? {
        try? resolver.resolve(relative) { links[$0].map { .symlink(target: $0) } ?? .missing }
    }
}

/// Finds the image (per architecture) in an OCI layout or docker-archive and reads its installed database.
struct LayoutReader {
    let layout: ImageLayoutReader
    var name: String { layout.name }

    func read(architecture: Architecture?) throws -> InstalledPackages {
        let candidates = try layout.images()
        guard !candidates.isEmpty else { throw LaminaError(.notFound, "no image manifest in the layout", subject: name) }
        var chosen = candidates[0]
        if let architecture {
            let wanted = Platform(architecture)
            guard let match = candidates.first(where: { $0.platform.map { $0.architecture == wanted.architecture && ($0.variant ?? wanted.variant) == wanted.variant } ?? false })
                ?? (candidates.count == 1 && candidates[0].platform == nil ? candidates[0] : nil)
            else {
                throw LaminaError(
                    .notFound, "no image for \(architecture.ociPlatform); the image has \(describe(candidates))", subject: name)
            }
            chosen = match
        } else if candidates.count > 1 {
            throw LaminaError(.usage, "the image has \(describe(candidates)); choose one with --arch", subject: name)
        }
        var lastMissing: LaminaError?
        // The last layer that carries the database wins (Lamina images have exactly one).
        for layer in chosen.layers.reversed() {
            do {
                return try layout.withStream(layer) { source in
                    let (stream, gzip) = try sniff(source)
                    return try ScanTarget.readLayer(stream, gzip: gzip, name: "\(name):\(layer)", platform: chosen.platform?.description)
                }
            } catch let error as LaminaError where error.code == .notFound {
                lastMissing = error
            }
        }
        throw lastMissing ?? LaminaError(.notFound, "the image has no layers", subject: name)
    }

    func describe(_ candidates: [ImageLayoutReader.Image]) -> String {
        let names = candidates.map { $0.platform?.description ?? "unknown platform" }
        return "\(names.count) platforms (\(names.joined(separator: ", ")))"
    }

    /// Peeks at the first bytes to tell gzip from plain tar, whatever the media type says.
    func sniff(_ source: ByteSource) throws -> (ByteSource, Bool) {
        var head = [UInt8](repeating: 0, count: 2)
        let n = try head.withUnsafeMutableBytes { try source.readFully(into: $0) }
        let prefix = Array(head[0..<n])
        return (PrefixedSource(prefix: prefix, base: source), prefix == [0x1F, 0x8B])
    }
}

/// Replays a few bytes already read, then continues with the base stream.
final class PrefixedSource: ByteSource {
    private var prefix: [UInt8]
    private let base: ByteSource

    init(prefix: [UInt8], base: ByteSource) {
        self.prefix = prefix
        self.base = base
    }

    func read(into buffer: UnsafeMutableRawBufferPointer) throws -> Int {
        if !prefix.isEmpty {
            let n = min(prefix.count, buffer.count)
            prefix.withUnsafeBytes { buffer.copyMemory(from: UnsafeRawBufferPointer(rebasing: $0[0..<n])) }
            prefix.removeFirst(n)
            return n
        }
        return try base.read(into: buffer)
    }
}
