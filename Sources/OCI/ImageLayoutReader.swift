// Source: OCI image-spec image-layout.md (`oci-layout`, `index.json`, `blobs/<alg>/<hex>`), image-index.md;
// docker-archive's `manifest.json` (docker `image save`).
import Archive
import Foundation
import LaminaCore

/// Reads an image layout, from a directory or from a tarball of one (what `image build` writes, or a
/// docker-archive): its small JSON files in memory, layers as streams or files, never all at once.
///
/// A tarball is read in two passes: opening keeps the small JSON members (`index.json`, `manifest.json`,
/// JSON blobs); each layer stream reads the tarball again up to its member.
public final class ImageLayoutReader: Sendable {
    /// Largest JSON file or blob (index, manifest, config) read into memory.
    public static let smallLimit = 16 << 20

    /// What was opened, for messages.
    public let name: String
    /// The layout directory, or nil for a tarball.
    public let directory: String?
    private let smallMembers: [String: [UInt8]]

    /// Opens the layout directory at `directory`.
    public init(directory: String) {
        self.name = directory
        self.directory = directory
        self.smallMembers = [:]
    }

    /// Opens a layout tarball (or docker-archive), reading its small JSON members.
    /// - Throws: `LaminaError(.malformed)` for a broken tar, `.io` when it cannot be read.
    public init(tarball: String) throws {
        self.name = tarball
        self.directory = nil
        var members: [String: [UInt8]] = [:]
        let reader = TarReader(try LaminaError.about(tarball) { try FileSource(path: tarball) }, name: tarball)
        try LaminaError.about(tarball) {
            while let entry = try reader.next() {
                guard entry.kind == .regular, entry.size <= Int64(Self.smallLimit),
                    let path = try? SafePath.normalize(entry.path, leadingSlash: .strip),
                    path == "index.json" || path == "manifest.json" || path == "oci-layout" || path.hasPrefix("blobs/")
                else { continue }
                let bytes = try reader.readContent(limit: Self.smallLimit)
                // Layers are gzip or tar; only JSON (starting with `{` or `[`) is kept.
                if path.hasPrefix("blobs/"), let first = bytes.first, first != UInt8(ascii: "{"), first != UInt8(ascii: "[") { continue }
                members[path] = bytes
            }
        }
        self.smallMembers = members
    }

    /// Opens `path`: a directory holding `index.json` and `oci-layout`, or a tarball holding `index.json` or
    /// docker's `manifest.json`; nil when it is neither (a root folder, a plain root tarball).
    /// - Throws: `LaminaError(.notFound)` when `path` does not exist; tar errors as ``init(tarball:)``.
    public static func open(_ path: String) throws -> ImageLayoutReader? {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else {
            throw LaminaError(.notFound, "no such file or directory", subject: path)
        }
        if isDirectory.boolValue {
            let manager = FileManager.default
            guard manager.fileExists(atPath: path + "/index.json"), manager.fileExists(atPath: path + "/oci-layout") else { return nil }
            return ImageLayoutReader(directory: path)
        }
        guard try isTarball(path) else { return nil }
        let reader = try ImageLayoutReader(tarball: path)
        return try reader.small("index.json") != nil || reader.small("manifest.json") != nil ? reader : nil
    }

    /// Whether the file at `path` starts with a ustar header.
    public static func isTarball(_ path: String) throws -> Bool {
        let source = try LaminaError.about(path) { try FileSource(path: path) }
        var head = [UInt8](repeating: 0, count: 512)
        let count = try head.withUnsafeMutableBytes { try source.readFully(into: $0) }
        return count == 512 && Array(head[257..<262]) == Array("ustar".utf8)
    }

    /// A small file of the layout (`index.json`, `manifest.json`, a JSON blob), or nil when absent.
    /// - Throws: `.io` or `.limitExceeded` for a directory file that cannot be read.
    public func small(_ path: String) throws -> [UInt8]? {
        guard let directory else { return (try? SafePath.normalize(path, leadingSlash: .strip)).flatMap { smallMembers[$0] } }
        let full = directory + "/" + path
        guard FileManager.default.fileExists(atPath: full) else { return nil }
        let source = try LaminaError.about(full) { try FileSource(path: full) }
        return try LaminaError.about(full) { try source.readAll(limit: Self.smallLimit, what: path) }
    }

    /// `small(path)` decoded as JSON, or nil when absent.
    /// - Throws: `LaminaError(.malformed)` naming the file when it does not decode.
    public func json<T: Decodable>(_ type: T.Type, _ path: String) throws -> T? {
        guard let bytes = try small(path) else { return nil }
        return try decodeJSON(type, from: bytes, what: location(path))
    }

    /// The small blob `descriptor` names (manifest, index, config), checked against its digest.
    /// - Throws: `.notFound` when missing, `.limitExceeded` when too large, `.checksumMismatch` when it hashes otherwise.
    public func blob(_ descriptor: Descriptor) throws -> Blob {
        let path = ImageLayout.blobPath(descriptor.digest)
        guard descriptor.size <= Int64(Self.smallLimit) else {
            throw LaminaError(.limitExceeded, "\(descriptor.mediaType) of \(descriptor.size) bytes is too large", subject: location(path))
        }
        guard let bytes = try small(path) else { throw LaminaError(.notFound, "missing blob", subject: location(path)) }
        let blob = Blob(bytes: bytes, mediaType: descriptor.mediaType)
        guard blob.descriptor.digest == descriptor.digest else {
            throw LaminaError(
                .checksumMismatch, "blob hashes to \(blob.descriptor.digest), not \(descriptor.digest)", subject: location(path))
        }
        return blob
    }

    /// Streams the file or member at `path` (a layer) to `body`.
    /// - Throws: `LaminaError(.notFound)` when there is no such file or member.
    public func withStream<T>(_ path: String, _ body: (ByteSource) throws -> T) throws -> T {
        if let directory {
            let full = directory + "/" + path
            guard FileManager.default.fileExists(atPath: full) else { throw LaminaError(.notFound, "missing blob", subject: full) }
            return try body(try LaminaError.about(full) { try FileSource(path: full) })
        }
        let wanted = try SafePath.normalize(path, leadingSlash: .strip)
        let reader = TarReader(try LaminaError.about(name) { try FileSource(path: name) }, name: name)
        while let entry = try reader.next() {
            if entry.kind == .regular, (try? SafePath.normalize(entry.path, leadingSlash: .strip)) == wanted { return try body(reader.content) }
        }
        throw LaminaError(.notFound, "no member \(wanted)", subject: name)
    }

    /// A file holding the layer `descriptor` names, its size checked: the blob itself in a directory; for a
    /// tarball, a copy written below `scratch` (so it can be sent in ranges).
    /// - Throws: `.notFound` when missing, `.checksumMismatch` when its size differs from the descriptor's.
    public func layerFile(_ descriptor: Descriptor, scratch: String) throws -> String {
        let path = ImageLayout.blobPath(descriptor.digest)
        let file: String
        if let directory {
            file = directory + "/" + path
        } else {
            file = scratch + "/" + path
            try FileManager.default.createDirectory(
                atPath: (file as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
            try withStream(path) { source in
                let sink = try AtomicFileSink(path: file)
                _ = try source.copy(to: sink)
                try sink.commit()
            }
        }
        guard let size = (try? FileManager.default.attributesOfItem(atPath: file)[.size] as? NSNumber)?.int64Value else {
            throw LaminaError(.notFound, "layer blob is missing", subject: location(path))
        }
        guard size == descriptor.size else {
            throw LaminaError(.checksumMismatch, "layer blob is \(size) bytes, its descriptor says \(descriptor.size)", subject: location(path))
        }
        return file
    }

    /// One image of the layout: the manifest's descriptor (with its platform, when the index gives one)
    /// and its layer paths, bottom first.
    public struct Image: Sendable, Hashable {
        public var platform: Platform?
        /// Blob paths (OCI) or member paths (docker-archive), bottom layer first.
        public var layers: [String]
        /// The manifest's digest (OCI): a manifest `index.json` names twice (under `TAG-<arch>` and through
        /// the image index named `TAG`) is one image.
        public var manifest: Digest? = nil
    }

    /// Every image manifest `index.json` reaches (through nested indexes, at most four deep), else the images
    /// docker's `manifest.json` lists.
    /// - Throws: `.notFound` for a missing manifest or index blob, `.malformed` for bad JSON.
    public func images() throws -> [Image] {
        if let index = try json(Index.self, "index.json") {
            var out: [Image] = []
            try collect(index.manifests, depth: 0, into: &out)
            if !out.isEmpty { return out }
        }
        if let docker = try json([DockerManifestEntry].self, "manifest.json") {
            return docker.map { Image(platform: nil, layers: $0.layers) }
        }
        return []
    }

    private func collect(_ descriptors: [Descriptor], depth: Int, into out: inout [Image]) throws {
        guard depth < 4 else { return }
        for descriptor in descriptors {
            let path = ImageLayout.blobPath(descriptor.digest)
            if descriptor.mediaType.isIndex {
                guard let nested = try json(Index.self, path) else { throw LaminaError(.notFound, "missing blob \(path)", subject: name) }
                try collect(nested.manifests, depth: depth + 1, into: &out)
            } else if descriptor.mediaType.isManifest, !out.contains(where: { $0.manifest == descriptor.digest }) {
                guard let manifest = try json(Manifest.self, path) else { throw LaminaError(.notFound, "missing blob \(path)", subject: name) }
                out.append(
                    Image(platform: descriptor.platform, layers: manifest.layers.map { ImageLayout.blobPath($0.digest) }, manifest: descriptor.digest))
            }
        }
    }

    /// `path` inside what was opened, for messages: a file path for a directory, `tarball:member` for a tarball.
    public func location(_ path: String) -> String {
        directory.map { $0 + "/" + path } ?? name + ":" + path
    }
}
