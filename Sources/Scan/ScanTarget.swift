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
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else {
            throw LaminaError(.notFound, "no such file or directory", subject: path)
        }
        if isDirectory.boolValue {
            if FileManager.default.fileExists(atPath: path + "/index.json") && FileManager.default.fileExists(atPath: path + "/oci-layout") {
                return try LayoutReader(store: DirectoryBlobStore(root: path), name: path).read(architecture: architecture)
            }
            return try readRootDirectory(path)
        }
        let head = try Self.head(path, count: 512)
        if head.starts(with: [0x1F, 0x8B]) {
            // A compressed root filesystem (a layer, a minirootfs).
            return try LaminaError.about(path) { try readLayer(FileSource(path: path), gzip: true, name: path) }
        }
        if head.count == 512, Array(head[257..<262]) == Array("ustar".utf8) {
            let store = try TarBlobStore(path: path)
            if store.hasLayout {
                return try LayoutReader(store: store, name: path).read(architecture: architecture)
            }
            return try LaminaError.about(path) { try readLayer(FileSource(path: path), gzip: false, name: path) }
        }
        let text = try readText(path)
        let database = try InstalledDatabase.parse(text, source: path)
        return InstalledPackages(packages: database.packages.map { ScannedPackage($0.info) }, location: path)
    }

    static func head(_ path: String, count: Int) throws -> [UInt8] {
        let source = try LaminaError.about(path) { try FileSource(path: path) }
        var buffer = [UInt8](repeating: 0, count: count)
        let n = try buffer.withUnsafeMutableBytes { try source.readFully(into: $0) }
        return Array(buffer[0..<n])
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

    /// Follows `relative` below `root` component by component; an absolute symlink target starts again at `root`,
    /// so nothing outside the root is read. Returns the path of a regular file, or nil.
    static func resolveInRoot(_ root: String, _ relative: String) -> String? {
        var pending = relative.split(separator: "/").map(String.init)
        var resolved: [String] = []
        var hops = 0
        while !pending.isEmpty {
            let component = pending.removeFirst()
            if component == "." || component.isEmpty { continue }
            if component == ".." {
                _ = resolved.popLast()
                continue
            }
            let candidate = root + "/" + (resolved + [component]).joined(separator: "/")
            var info = stat()
            guard lstat(candidate, &info) == 0 else { return nil }
            if (info.st_mode & 0o170000) == 0o120000 {
                hops += 1
                guard hops <= 40, let target = try? FileManager.default.destinationOfSymbolicLink(atPath: candidate) else { return nil }
                if target.hasPrefix("/") { resolved = [] }
                pending = target.split(separator: "/").map(String.init) + pending
                continue
            }
            resolved.append(component)
        }
        let path = root + "/" + resolved.joined(separator: "/")
        var info = stat()
        guard stat(path, &info) == 0, (info.st_mode & 0o170000) == 0o100000 else { return nil }
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
            let path = normalize(entry.path)
            switch entry.kind {
            case .regular where databasePaths.contains(path):
                found[path] = try reader.readContent(limit: 256 << 20)
            case .symbolicLink, .hardLink:
                links[path] = entry.kind == .hardLink ? "/" + normalize(entry.linkTarget) : entry.linkTarget
            default:
                break
            }
        }
        for wanted in databasePaths {
            let path = resolveLinks(wanted, links: links)
            if let bytes = found[path] {
                return try parseDatabase(bytes, location: "\(name):\(path)", platform: platform)
            }
        }
        throw LaminaError(.notFound, "no apk database (\(databasePaths.joined(separator: " or "))) in the filesystem", subject: name)
    }

    /// `./lib/x` and `/lib/x` → `lib/x`.
    static func normalize(_ path: String) -> String {
        path.split(separator: "/").map(String.init).filter { $0 != "." && !$0.isEmpty }.joined(separator: "/")
    }

    /// Resolves symlinks recorded in a tar, as a root-relative path.
    static func resolveLinks(_ relative: String, links: [String: String]) -> String {
        var pending = relative.split(separator: "/").map(String.init)
        var resolved: [String] = []
        var hops = 0
        while !pending.isEmpty {
            let component = pending.removeFirst()
            if component == "." || component.isEmpty { continue }
            if component == ".." {
                _ = resolved.popLast()
                continue
            }
            let candidate = (resolved + [component]).joined(separator: "/")
            if let target = links[candidate], hops < 40 {
                hops += 1
                if target.hasPrefix("/") { resolved = [] }
                pending = target.split(separator: "/").map(String.init) + pending
                continue
            }
            resolved.append(component)
        }
        return resolved.joined(separator: "/")
    }
}

/// Where the blobs of an image layout are: a directory or a tarball.
protocol BlobStore {
    /// A small file of the layout (`index.json`, `manifest.json`) or blob, or nil when absent.
    func small(_ path: String) throws -> [UInt8]?
    /// Streams the member or file at `path` to `body`.
    func withStream<T>(_ path: String, _ body: (ByteSource) throws -> T) throws -> T
}

struct DirectoryBlobStore: BlobStore {
    let root: String

    func small(_ path: String) throws -> [UInt8]? {
        let full = root + "/" + path
        guard FileManager.default.fileExists(atPath: full) else { return nil }
        let source = try LaminaError.about(full) { try FileSource(path: full) }
        return try LaminaError.about(full) { try source.readAll(limit: TarBlobStore.smallLimit, what: path) }
    }

    func withStream<T>(_ path: String, _ body: (ByteSource) throws -> T) throws -> T {
        let full = root + "/" + path
        guard FileManager.default.fileExists(atPath: full) else { throw LaminaError(.notFound, "missing blob", subject: full) }
        return try body(try LaminaError.about(full) { try FileSource(path: full) })
    }
}

/// An image tarball, read in two passes: the first keeps the small JSON files, the second streams one layer.
final class TarBlobStore: BlobStore {
    static let smallLimit = 4 << 20
    let path: String
    private var smallFiles: [String: [UInt8]] = [:]

    init(path: String) throws {
        self.path = path
        let reader = TarReader(try FileSource(path: path), name: path)
        try LaminaError.about(path) {
            while let entry = try reader.next() {
                guard entry.kind == .regular, entry.size <= Int64(Self.smallLimit) else { continue }
                let name = ScanTarget.normalize(entry.path)
                guard name == "index.json" || name == "manifest.json" || name == "oci-layout" || name.hasPrefix("blobs/") else { continue }
                // Layers are gzip; only JSON (starting with `{` or `[`) is kept.
                let bytes = try reader.readContent(limit: Self.smallLimit)
                if name.hasPrefix("blobs/"), let first = bytes.first, first != UInt8(ascii: "{"), first != UInt8(ascii: "[") { continue }
                smallFiles[name] = bytes
            }
        }
    }

    var hasLayout: Bool { smallFiles["index.json"] != nil || smallFiles["manifest.json"] != nil }

    func small(_ path: String) throws -> [UInt8]? { smallFiles[ScanTarget.normalize(path)] }

    func withStream<T>(_ member: String, _ body: (ByteSource) throws -> T) throws -> T {
        let wanted = ScanTarget.normalize(member)
        let reader = TarReader(try FileSource(path: path), name: path)
        while let entry = try reader.next() {
            if entry.kind == .regular, ScanTarget.normalize(entry.path) == wanted { return try body(reader.content) }
        }
        throw LaminaError(.notFound, "no member \(wanted)", subject: path)
    }
}

/// Finds the image (per architecture) in an OCI layout or docker-archive and reads its installed database.
struct LayoutReader<Store: BlobStore> {
    let store: Store
    let name: String

    struct Candidate {
        var platform: Platform?
        /// Blob paths (OCI) or member paths (docker-archive), bottom layer first.
        var layers: [String]
        /// The manifest's digest (OCI), so a manifest named twice in `index.json` is one candidate.
        var manifest: Digest? = nil
    }

    func read(architecture: Architecture?) throws -> InstalledPackages {
        let candidates = try images()
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
                return try store.withStream(layer) { source in
                    let (stream, gzip) = try sniff(source)
                    return try ScanTarget.readLayer(stream, gzip: gzip, name: "\(name):\(layer)", platform: chosen.platform?.description)
                }
            } catch let error as LaminaError where error.code == .notFound {
                lastMissing = error
            }
        }
        throw lastMissing ?? LaminaError(.notFound, "the image has no layers", subject: name)
    }

    func describe(_ candidates: [Candidate]) -> String {
        let names = candidates.map { $0.platform?.description ?? "unknown platform" }
        return "\(names.count) platforms (\(names.joined(separator: ", ")))"
    }

    func json<T: Decodable>(_ type: T.Type, _ path: String) throws -> T? {
        guard let bytes = try store.small(path) else { return nil }
        do {
            return try JSONDecoder().decode(type, from: Data(bytes))
        } catch {
            throw LaminaError(.malformed, "\(path) is not valid: \(error)", subject: name, cause: error)
        }
    }

    func images() throws -> [Candidate] {
        if let index = try json(Index.self, "index.json") {
            var out: [Candidate] = []
            try collect(index.manifests, depth: 0, into: &out)
            if !out.isEmpty { return out }
        }
        if let docker = try json([DockerManifestEntry].self, "manifest.json") {
            return docker.map { Candidate(platform: nil, layers: $0.layers) }
        }
        return []
    }

    func collect(_ descriptors: [Descriptor], depth: Int, into out: inout [Candidate]) throws {
        guard depth < 4 else { return }
        for descriptor in descriptors {
            let path = ImageLayout.blobPath(descriptor.digest)
            if descriptor.mediaType.isIndex {
                guard let nested = try json(Index.self, path) else { throw LaminaError(.notFound, "missing blob \(path)", subject: name) }
                try collect(nested.manifests, depth: depth + 1, into: &out)
            } else if descriptor.mediaType.isManifest, !out.contains(where: { $0.manifest == descriptor.digest }) {
                guard let manifest = try json(Manifest.self, path) else { throw LaminaError(.notFound, "missing blob \(path)", subject: name) }
                out.append(
                    Candidate(platform: descriptor.platform, layers: manifest.layers.map { ImageLayout.blobPath($0.digest) }, manifest: descriptor.digest))
            }
        }
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
