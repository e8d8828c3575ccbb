// Source: OCI image-spec image-layout.md and annotations.md (`org.opencontainers.image.ref.name`);
// the docker-archive `manifest.json` / `repositories` shape written by `docker save` since Docker 25
// (moby `image/tarexport/save.go`) and read by `docker load` and containerd's importer.

import LaminaCore

/// Where a blob's bytes are: in memory or in a file (a layer in the cache or a temp file).
public enum BlobContent: Sendable, Hashable {
    case bytes([UInt8])
    case file(path: String)
}

/// A blob to store in a layout: its descriptor and where to read its bytes.
public struct LayoutBlob: Sendable, Hashable {
    public var descriptor: Descriptor
    public var content: BlobContent

    public init(descriptor: Descriptor, content: BlobContent) {
        self.descriptor = descriptor
        self.content = content
    }

    /// An in-memory blob (config, manifest, index, small layer).
    public init(_ blob: Blob) { self.init(descriptor: blob.descriptor, content: .bytes(blob.bytes)) }

    /// A blob whose bytes are the file at `path` (a compressed layer).
    public init(descriptor: Descriptor, file path: String) { self.init(descriptor: descriptor, content: .file(path: path)) }

    /// `blobs/<algorithm>/<hex>`.
    public var path: String { ImageLayout.blobPath(descriptor.digest) }
}

/// One per-architecture image to store: its manifest, config and layers.
public struct LayoutImage: Sendable, Hashable {
    public var architecture: Architecture
    /// The manifest blob; its digest is the image digest.
    public var manifest: Blob
    /// The config blob the manifest names.
    public var config: Blob
    /// The layers the manifest names, in order.
    public var layers: [LayoutBlob]

    public init(architecture: Architecture, manifest: Blob, config: Blob, layers: [LayoutBlob]) {
        self.architecture = architecture
        self.manifest = manifest
        self.config = config
        self.layers = layers
    }
}

/// One file or directory of a layout, in the order a sink receives them.
public enum LayoutEntry: Sendable, Hashable {
    case directory(path: String)
    case bytes(path: String, bytes: [UInt8])
    case file(path: String, source: String, size: Int64)

    /// Path relative to the layout root, without a trailing `/`.
    public var path: String {
        switch self {
        case .directory(let path), .bytes(let path, _), .file(let path, _, _): return path
        }
    }
}

/// One image of a docker-archive `manifest.json`.
public struct DockerManifestEntry: Codable, Sendable, Hashable {
    /// Path of the config blob inside the archive: `blobs/sha256/<hex>`.
    public var config: String
    /// Tags `docker load` applies, in docker's short form (`senhas:1.0.0`).
    public var repoTags: [String]
    /// Paths of the layer blobs, base first (gzip layers are accepted by `docker load`).
    public var layers: [String]

    public init(config: String, repoTags: [String], layers: [String]) {
        self.config = config
        self.repoTags = repoTags
        self.layers = layers
    }

    enum CodingKeys: String, CodingKey {
        case config = "Config"
        case repoTags = "RepoTags"
        case layers = "Layers"
    }
}

/// The model of an OCI image layout that is also a `docker load`-able archive.
///
/// The same files serve both readers, as `docker save` writes them since Docker 25:
/// `oci-layout`, `index.json`, `blobs/sha256/<hex>` for every config, manifest and layer, plus a docker
/// `manifest.json` whose `Config`/`Layers` point into `blobs/`, and the legacy `repositories` map.
///
/// Naming (apko issues #529, #532, #543), ``Naming/hostAndArchitecture``: a single-architecture build is tagged
/// exactly `TAG`; a multi-architecture build tags the host's image `TAG` and every image `TAG-<arch>`
/// (`arm/v7` → `arm_v7`). When the host's architecture was not built, the first image gets `TAG`.
/// ``Naming/architectureOnly`` is apko's own: every image `TAG-<arch>` only, also for one architecture.
/// When an image index is given, `index.json` names it `TAG` (so `skopeo copy --all oci-archive:OUT:TAG`
/// copies every architecture) and the manifests only by their `TAG-<arch>` names; docker's `manifest.json`
/// keeps the per-image tags above. `index.json` lists each
/// per-architecture manifest with its `platform`, once per tag, annotated with
/// `org.opencontainers.image.ref.name` (the tag) and `io.containerd.image.name` (the full name), which
/// is what docker's containerd image store and `skopeo`/`oras` read. `RepoTags` carry docker's short form
/// of the tag as the user wrote it (`senhas:1.0.0`, `registry.example/senhas:1.0.0`); a tag-less name
/// gets `:latest`, as `docker tag` would.
public struct ImageLayout: Sendable {
    /// How the images of a build are tagged.
    public enum Naming: Sendable {
        /// One architecture: `TAG`; several: the host's `TAG`, each `TAG-<arch>`.
        case hostAndArchitecture
        /// Every image `TAG-<arch>` only (apko's `BuildIndex`).
        case architectureOnly
        /// No names: `index.json` is the image index itself (apko's OCI layout folder, ggcr's `layout.Write`).
        case unnamed
    }

    /// `index.json`.
    public let index: Index
    /// `manifest.json` (docker-archive).
    public let dockerManifest: [DockerManifestEntry]
    /// `repositories` (legacy docker-archive): short name → tag → top layer blob hex.
    public let repositories: [String: [String: String]]
    /// The tags each image received, in image order.
    public let tags: [(architecture: Architecture, tags: [Reference])]
    /// Every directory and file, in the order a sink receives them (lexical by path, each directory
    /// before its contents: `blobs`, `blobs/sha256`, `blobs/sha256/…`, `index.json`, `manifest.json`,
    /// `oci-layout`, `repositories`).
    public let entries: [LayoutEntry]

    /// `oci-layout` contents.
    public static let layoutFileBytes: [UInt8] = Array(#"{"imageLayoutVersion":"1.0.0"}"#.utf8)
    /// Annotation naming a manifest in `index.json` (OCI).
    public static let refNameAnnotation = "org.opencontainers.image.ref.name"
    /// Annotation naming a manifest in `index.json` (containerd, docker's containerd store).
    public static let containerdNameAnnotation = "io.containerd.image.name"

    /// `blobs/sha256/<hex>`.
    public static func blobPath(_ digest: Digest) -> String { "blobs/\(digest.algorithm.rawValue)/\(digest.hex)" }

    /// The tag an architecture gets in a multi-architecture build: `TAG-amd64`, `TAG-arm_v7`.
    /// - Throws: `LaminaError(.invalidInput)` when the suffixed tag is longer than docker allows.
    public static func architectureTag(_ reference: Reference, _ architecture: Architecture) throws -> Reference {
        let base = reference.defaultingTag.tag ?? "latest"
        let suffix = architecture.ociPlatform.replacingSlashes
        return try reference.tagged("\(base)-\(suffix)")
    }

    /// Plans the layout of `images` named by `tag`.
    /// - Parameters:
    ///   - images: one image per architecture, in the order they should be listed (sorted by the caller).
    ///   - tag: the name the user asked for; a digest is not allowed (an image being built has no digest yet).
    ///   - hostArchitecture: the architecture that gets the plain `TAG` in a multi-architecture build.
    ///   - indexAnnotations: annotations of `index.json` itself (apko puts the build date there).
    ///   - index: the image index over `images`; stored and named `TAG` in `index.json`.
    ///   - naming: which tags each image gets.
    ///   - extraBlobs: more blobs to store.
    ///   - includeDockerFiles: false leaves out `manifest.json` and `repositories` (a plain OCI layout).
    /// - Throws: `LaminaError(.invalidInput)` for no images, a duplicated architecture or a digest in `tag`;
    ///   `LaminaError(.internal)` when two blobs share a digest but not a size, or a manifest names a blob
    ///   that was not supplied.
    public static func plan(
        images: [LayoutImage], tag: Reference, hostArchitecture: Architecture = .host,
        indexAnnotations: [String: String]? = nil, index imageIndex: Blob? = nil, naming: Naming = .hostAndArchitecture,
        extraBlobs: [LayoutBlob] = [], includeDockerFiles: Bool = true
    ) throws -> ImageLayout {
        guard !images.isEmpty else { throw LaminaError(.invalidInput, "no images to write") }
        guard tag.digest == nil else {
            throw LaminaError(
                .invalidInput, "'\(tag.familiarDescription)' names a digest; an image being built needs a tag")
        }
        var seen = Set<Architecture>()
        for image in images where !seen.insert(image.architecture).inserted {
            throw LaminaError(.invalidInput, "architecture \(image.architecture.ociPlatform) is listed twice")
        }
        let named = tag.defaultingTag

        // Names per image.
        var tags: [(architecture: Architecture, tags: [Reference])] = []
        if naming == .unnamed {
            tags = images.map { ($0.architecture, []) }
        } else if naming == .architectureOnly {
            tags = try images.map { ($0.architecture, [try architectureTag(named, $0.architecture)]) }
        } else if images.count == 1 {
            tags = [(images[0].architecture, [named])]
        } else {
            let hostIndex = images.firstIndex { $0.architecture == hostArchitecture } ?? 0
            for (position, image) in images.enumerated() {
                var list: [Reference] = []
                if position == hostIndex { list.append(named) }
                list.append(try architectureTag(named, image.architecture))
                tags.append((image.architecture, list))
            }
        }

        // Blobs, each once.
        var blobs: [Digest: LayoutBlob] = [:]
        func add(_ blob: LayoutBlob) throws {
            if let existing = blobs[blob.descriptor.digest] {
                guard existing.descriptor.size == blob.descriptor.size else {
                    throw LaminaError(
                        .internal, "blob \(blob.descriptor.digest) given with sizes \(existing.descriptor.size) "
                            + "and \(blob.descriptor.size)")
                }
                return
            }
            blobs[blob.descriptor.digest] = blob
        }
        for image in images {
            try checkReferences(image)
            try add(LayoutBlob(image.config))
            try add(LayoutBlob(image.manifest))
            for layer in image.layers { try add(layer) }
        }
        if let imageIndex { try add(LayoutBlob(imageIndex)) }
        for blob in extraBlobs { try add(blob) }

        // index.json: the image index as TAG, when there is one; every manifest once per other name.
        var manifests: [Descriptor] = []
        if let imageIndex {
            manifests.append(
                imageIndex.descriptor.adding(annotations: [
                    containerdNameAnnotation: named.description,
                    refNameAnnotation: named.tag ?? "latest",
                ]))
        }
        for (image, (_, allNames)) in zip(images, tags) {
            let names = imageIndex == nil ? allNames : allNames.filter { $0 != named }
            let platform = Self.platform(of: image)
            var base = image.manifest.descriptor
            base.platform = platform
            if naming == .unnamed { manifests.append(base) }
            for name in names {
                manifests.append(
                    base.adding(annotations: [
                        containerdNameAnnotation: name.description,
                        refNameAnnotation: name.tag ?? "latest",
                    ]))
            }
        }
        let index = Index(manifests: manifests, annotations: indexAnnotations.nonEmpty)

        // Docker files.
        var dockerManifest: [DockerManifestEntry] = []
        var repositories: [String: [String: String]] = [:]
        for (image, (_, names)) in zip(images, tags) {
            dockerManifest.append(
                DockerManifestEntry(
                    config: blobPath(image.config.descriptor.digest),
                    repoTags: names.map(\.familiarDescription),
                    layers: image.layers.map(\.path)))
            if let top = image.layers.last {
                for name in names { repositories[name.familiarName, default: [:]][name.tag ?? "latest"] = top.descriptor.digest.hex }
            }
        }

        // Entries, lexical by path with directories first.
        var files: [LayoutEntry] = [
            .bytes(path: "index.json", bytes: try canonicalJSON(index)),
            .bytes(path: "oci-layout", bytes: layoutFileBytes),
        ]
        if includeDockerFiles {
            files.append(.bytes(path: "manifest.json", bytes: try canonicalJSON(dockerManifest)))
            if !repositories.isEmpty { files.append(.bytes(path: "repositories", bytes: try canonicalJSON(repositories))) }
        }
        var directories = Set<String>()
        for blob in blobs.values {
            directories.insert("blobs")
            directories.insert("blobs/\(blob.descriptor.digest.algorithm.rawValue)")
            switch blob.content {
            case .bytes(let bytes):
                guard Int64(bytes.count) == blob.descriptor.size else {
                    throw LaminaError(
                        .internal, "blob \(blob.descriptor.digest) has \(bytes.count) bytes, its descriptor says "
                            + "\(blob.descriptor.size)")
                }
                files.append(.bytes(path: blob.path, bytes: bytes))
            case .file(let source):
                files.append(.file(path: blob.path, source: source, size: blob.descriptor.size))
            }
        }
        let all = directories.map { LayoutEntry.directory(path: $0) } + files
        let entries = all.sorted { $0.path.utf8.lexicographicallyPrecedes($1.path.utf8) }

        return ImageLayout(
            index: index, dockerManifest: includeDockerFiles ? dockerManifest : [],
            repositories: includeDockerFiles ? repositories : [:], tags: tags, entries: entries)
    }

    /// Sends every entry to `sink`, in order.
    /// - Throws: whatever the sink throws.
    public func write<Sink: LayoutSink>(to sink: inout Sink) throws {
        for entry in entries {
            switch entry {
            case .directory(let path): try sink.makeDirectory(path: path)
            case .bytes(let path, let bytes): try sink.write(path: path, bytes: bytes)
            case .file(let path, let source, let size): try sink.writeFile(path: path, from: source, size: size)
            }
        }
    }

    /// The image's platform: from its config when it decodes, else from its architecture.
    private static func platform(of image: LayoutImage) -> Platform {
        if let config = try? decodeJSON(ImageConfig.self, from: image.config.bytes, what: "config") {
            return config.platform
        }
        return Platform(image.architecture)
    }

    /// The manifest must name exactly the supplied config and layers.
    private static func checkReferences(_ image: LayoutImage) throws {
        let what = "manifest \(image.manifest.descriptor.digest)"
        let manifest = try decodeJSON(Manifest.self, from: image.manifest.bytes, what: what)
        guard manifest.config.digest == image.config.descriptor.digest else {
            throw LaminaError(
                .internal, "names config \(manifest.config.digest), but \(image.config.descriptor.digest) was given",
                subject: what)
        }
        let named = manifest.layers.map(\.digest)
        let given = image.layers.map(\.descriptor.digest)
        guard named == given else {
            throw LaminaError(
                .internal, "names layers \(named.map(\.description)), but \(given.map(\.description)) were given",
                subject: what)
        }
    }
}

extension String {
    fileprivate var replacingSlashes: String { String(map { $0 == "/" ? "_" : $0 }) }
}
