import APK
import Archive
import Config
import Foundation
import LaminaCore
import OCI

/// `contents.baseimage` for one architecture, as apko reads it: the image of that architecture from an OCI
/// layout (directory or tarball), and `<apkindex>/<apk arch>/APKINDEX` — the base's installed database in
/// apk's `installed` format — naming the packages it already holds.
///
/// Every base layer is read once on load: its blob digest and its `diff_id` are checked, and its tar entries
/// give the base's symlinks to directories (a usr-merged `lib → usr/lib`, say), which our layer must go
/// through rather than shadow with a directory.
public struct BaseImage: Sendable {
    public var architecture: Architecture
    /// The layout as the config names it, for messages.
    public var source: String
    public var manifestDigest: Digest
    /// The base's config blob, exactly as stored.
    public var config: Blob
    /// The base's layers, bottom first; `path` is the blob on disk (in the layout folder, or copied out of a
    /// layout tarball).
    public var layers: [WrittenLayer]
    /// The base's installed packages, in its database's order.
    public var installed: [InstalledPackage]
    /// sha256 of the APKINDEX bytes.
    public var installedDigest: Digest
    /// Symlinks of the base filesystem that lead to directories (path → target), after whiteouts.
    public var directoryLinks: [String: String]

    /// Loads the base for `architecture`.
    /// - Parameters:
    ///   - descriptor: the config's `contents.baseimage`.
    ///   - searchDirectories: where relative paths are looked up, in order (apko: the working directory, then its
    ///     include paths; we add the config's folder last).
    ///   - scratch: where layers of a layout tarball are copied out.
    /// - Throws: `LaminaError(.notFound)` naming `contents.baseimage.*` for a missing layout, image of this
    ///   architecture or APKINDEX; `.checksumMismatch` for a layer that is not what its manifest or config says;
    ///   `.invalidInput` for a layer that is not a gzip or plain tar.
    public static func load(
        _ descriptor: BaseImageDescriptor, architecture: Architecture, searchDirectories: [String], scratch: String
    ) throws -> BaseImage {
        let imagePath = try locate(descriptor.image, key: "contents.baseimage.image", in: searchDirectories)
        let indexPath = try locate(descriptor.apkIndex, key: "contents.baseimage.apkindex", in: searchDirectories)
        guard let reader = try ImageLayoutReader.open(imagePath) else {
            throw LaminaError(.invalidInput, "not an OCI image layout (no index.json and oci-layout)", subject: "contents.baseimage.image: \(imagePath)")
        }
        guard let index = try reader.json(Index.self, "index.json") else {
            throw LaminaError(.invalidInput, "the layout has no index.json", subject: "contents.baseimage.image: \(imagePath)")
        }

        // apko looks through one nested index (a layout whose index.json names an image index), then picks the
        // image whose config says this architecture.
        var manifests = index.manifests
        if let nested = manifests.first(where: { $0.mediaType.isIndex }) {
            manifests = try decodeJSON(Index.self, from: try reader.blob(nested).bytes, what: reader.location(ImageLayout.blobPath(nested.digest))).manifests
        }
        var chosen: (Descriptor, Manifest, Blob, ImageConfig)?
        for entry in manifests where entry.mediaType.isManifest {
            let manifestBlob = try reader.blob(entry)
            let manifest = try decodeJSON(Manifest.self, from: manifestBlob.bytes, what: reader.location(ImageLayout.blobPath(entry.digest)))
            let configBlob = try reader.blob(manifest.config)
            let config = try decodeJSON(ImageConfig.self, from: configBlob.bytes, what: reader.location(ImageLayout.blobPath(manifest.config.digest)))
            if config.architecture == architecture.oci, config.variant == architecture.variant {
                chosen = (entry, manifest, configBlob, config)
                break
            }
        }
        guard let (entry, manifest, configBlob, config) = chosen else {
            throw LaminaError(.notFound, "the base image has no \(architecture.ociPlatform) image", subject: "contents.baseimage.image: \(imagePath)")
        }
        guard config.rootfs.diffIDs.count == manifest.layers.count else {
            throw LaminaError(
                .malformed, "the \(architecture.ociPlatform) base image has \(manifest.layers.count) layers but \(config.rootfs.diffIDs.count) diff_ids",
                subject: "contents.baseimage.image: \(imagePath)")
        }

        var layers: [WrittenLayer] = []
        var entries: [String: (kind: TarEntry.Kind, target: String)] = [:]
        for (descriptor, diffID) in zip(manifest.layers, config.rootfs.diffIDs) {
            let file = try reader.layerFile(descriptor, scratch: scratch)
            let size = try scanLayer(file, descriptor: descriptor, diffID: diffID, into: &entries)
            layers.append(
                WrittenLayer(
                    path: file, digest: descriptor.digest, diffID: diffID, size: descriptor.size, uncompressedSize: size,
                    mediaType: descriptor.mediaType == .ociLayerGzip ? nil : descriptor.mediaType))
        }
        var links: [String: String] = [:]
        for (path, entry) in entries where entry.kind == .symbolicLink {
            let parent = split(path).parent
            let target = entry.target.hasPrefix("/") ? String(entry.target.dropFirst()) : (parent.isEmpty ? entry.target : parent + "/" + entry.target)
            if let resolved = try? SafePath.normalize(target), entries[resolved]?.kind == .directory { links[path] = entry.target }
        }

        let apkIndexFile = indexPath + "/" + architecture.apk + "/APKINDEX"
        guard let source = try? FileSource(path: apkIndexFile) else {
            throw LaminaError(.notFound, "no APKINDEX for \(architecture.apk)", subject: "contents.baseimage.apkindex: \(apkIndexFile)")
        }
        let bytes = try LaminaError.about(apkIndexFile) { try source.readAll(limit: Int(SizeLimits.default.maxIndexSize), what: "APKINDEX") }
        let installed = try InstalledDatabase.parse(String(decoding: bytes, as: UTF8.self), source: apkIndexFile).packages
        return BaseImage(
            architecture: architecture, source: descriptor.image, manifestDigest: entry.digest, config: configBlob, layers: layers,
            installed: installed, installedDigest: Hasher.digest(.sha256, bytes), directoryLinks: links)
    }

    /// The first of `searchDirectories` holding `path` (or `path` itself when absolute).
    static func locate(_ path: String, key: String, in searchDirectories: [String]) throws -> String {
        guard !path.isEmpty else { throw LaminaError(.invalidInput, "must not be empty", subject: key) }
        if path.hasPrefix("/") {
            guard FileManager.default.fileExists(atPath: path) else { throw LaminaError(.notFound, "no such file or directory: '\(path)'", subject: key) }
            return path
        }
        for directory in searchDirectories {
            let candidate = directory.isEmpty || directory == "." ? path : directory + "/" + path
            if FileManager.default.fileExists(atPath: candidate) { return candidate }
        }
        throw LaminaError(.notFound, "'\(path)' not found (looked in \(searchDirectories.joined(separator: ", ")))", subject: key)
    }

    /// Reads one layer: checks its blob digest and diff_id, and applies its entries (whiteouts included) to `entries`.
    /// Returns the uncompressed size.
    private static func scanLayer(
        _ file: String, descriptor: Descriptor, diffID: Digest, into entries: inout [String: (kind: TarEntry.Kind, target: String)]
    ) throws -> Int64 {
        let gzipped: Bool
        switch descriptor.mediaType.rawValue {
        case "application/vnd.oci.image.layer.v1.tar+gzip", "application/vnd.docker.image.rootfs.diff.tar.gzip": gzipped = true
        case "application/vnd.oci.image.layer.v1.tar", "application/vnd.docker.image.rootfs.diff.tar": gzipped = false
        default:
            throw LaminaError(.invalidInput, "base layer media type \(descriptor.mediaType.rawValue) is not supported (gzip or plain tar)", subject: file)
        }
        // The blob's digest first: nothing is parsed from bytes the manifest does not vouch for.
        var blobHasher = Hasher(.sha256)
        _ = try LaminaError.about(file) { try FileSource(path: file).copy(to: CallbackSink { blobHasher.update($0) }) }
        let blobDigest = blobHasher.finalize()
        guard blobDigest == descriptor.digest else {
            throw LaminaError(.checksumMismatch, "base layer hashes to \(blobDigest), not \(descriptor.digest)", subject: file)
        }
        var tarHasher = Hasher(.sha256)
        var uncompressed: Int64 = 0
        let blob = try LaminaError.about(file) { try FileSource(path: file) }
        let tar: ByteSource = gzipped ? try {
            let gzip = try GzipReader(blob, limit: Int64.max, name: file)
            gzip.continuous = true
            return gzip
        }() : blob
        let observed = ObservedSource(tar) { tarHasher.update($0); uncompressed += Int64($0.count) }
        let reader = TarReader(observed, name: file)
        try LaminaError.about(file) {
            while let entry = try reader.next() {
                guard let path = try? SafePath.normalize(entry.path, leadingSlash: .strip), !path.isEmpty else { continue }
                let (parent, name) = split(path)
                if name == ".wh..wh..opq" {
                    let prefix = parent.isEmpty ? "" : parent + "/"
                    entries = entries.filter { !$0.key.hasPrefix(prefix) }
                } else if name.hasPrefix(".wh.") {
                    let gone = (parent.isEmpty ? "" : parent + "/") + name.dropFirst(4)
                    entries = entries.filter { $0.key != gone && !$0.key.hasPrefix(gone + "/") }
                } else {
                    entries[path] = (entry.kind, entry.linkTarget)
                }
            }
            _ = try observed.copy(to: CallbackSink { _ in })
        }
        let tarDigest = tarHasher.finalize()
        guard tarDigest == diffID else {
            throw LaminaError(.checksumMismatch, "base layer's tar hashes to \(tarDigest), but the config's diff_id is \(diffID)", subject: file)
        }
        return uncompressed
    }

    /// `path`'s parent folder ("" at the top) and last component.
    private static func split(_ path: String) -> (parent: String, name: String) {
        guard let slash = path.lastIndex(of: "/") else { return ("", path) }
        return (String(path[..<slash]), String(path[path.index(after: slash)...]))
    }

    /// `name=version` of every base package: added to the world, so the solver keeps them as they are.
    public var worldPins: [String] { installed.map { "\($0.info.name)=\($0.info.version)" } }

    /// The base packages as a repository the solver may pick from (apko's auxiliary base-image index).
    public var packages: [PackageInfo] { installed.map(\.info) }

    /// The image config on this base, as apko appends to a base image: the base's config with `ours`'
    /// architecture, OS, creation time and author, the base's history followed by ours, `ours`' `rootfs`
    /// (every layer, base first), and in `config` our `Env` and `Labels`, plus what else `ours` sets; the base's
    /// other run settings (entrypoint, user, ports, …) stay.
    /// - Throws: `LaminaError(.malformed)` when the base config is not a JSON object.
    public func configWithLayers(on ours: ImageConfig) throws -> Blob {
        let what = "\(source): config \(config.descriptor.digest)"
        guard var merged = try? JSONSerialization.jsonObject(with: Data(config.bytes)) as? [String: Any] else {
            throw LaminaError(.malformed, "the base image config is not a JSON object", subject: what)
        }
        guard let top = try JSONSerialization.jsonObject(with: Data(try canonicalJSON(ours))) as? [String: Any] else {
            throw LaminaError(.internal, "our image config is not a JSON object")
        }
        for key in ["architecture", "os", "variant", "created", "author", "rootfs"] { merged[key] = top[key] }
        merged["history"] = ((merged["history"] as? [Any]) ?? []) + ((top["history"] as? [Any]) ?? [])
        var run = (merged["config"] as? [String: Any]) ?? [:]
        let own = (top["config"] as? [String: Any]) ?? [:]
        run["Env"] = own["Env"]
        run["Labels"] = own["Labels"]
        for key in ["User", "Entrypoint", "Cmd", "WorkingDir", "Volumes", "StopSignal", "ExposedPorts"] where own[key] != nil {
            run[key] = own[key]
        }
        merged["config"] = run
        let bytes = try JSONSerialization.data(withJSONObject: merged, options: [.sortedKeys, .withoutEscapingSlashes])
        return Blob(bytes: Array(bytes), mediaType: .ociConfig)
    }
}
