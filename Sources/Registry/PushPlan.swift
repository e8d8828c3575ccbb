// Source: OCI image-spec image-layout.md (`index.json`, `blobs/<alg>/<hex>`), image-index.md.
import Foundation
import LaminaCore
import OCI

/// Everything one push sends: blobs (layers and configs), the per-architecture manifests, and the root that gets
/// the tag — the manifest itself for one architecture (as apko publishes it), else the image index.
public struct PushPlan: Sendable {
    /// Layers and configs, each once, in the order they are uploaded.
    public var blobs: [LayoutBlob]
    /// The per-architecture manifests, pushed by digest before the root (empty for one architecture: the root is
    /// then the manifest).
    public var manifests: [Blob]
    /// What the tag points at; its digest is the published digest.
    public var root: Blob

    public init(blobs: [LayoutBlob], manifests: [Blob], root: Blob) {
        self.blobs = blobs
        self.manifests = manifests
        self.root = root
    }

    /// The plan for freshly built images: one image is pushed as its manifest, several under `index`.
    /// - Throws: `LaminaError(.invalidInput)` for no images; `.internal` for several images and no index.
    public init(images: [LayoutImage], index: Blob?) throws {
        guard let first = images.first else { throw LaminaError(.invalidInput, "no images to push") }
        var seen = Set<Digest>()
        var blobs: [LayoutBlob] = []
        for image in images {
            for blob in image.layers + [LayoutBlob(image.config)] where seen.insert(blob.descriptor.digest).inserted {
                blobs.append(blob)
            }
        }
        if images.count == 1 {
            self.init(blobs: blobs, manifests: [], root: first.manifest)
        } else {
            guard let index else { throw LaminaError(.internal, "several images to push but no index") }
            self.init(blobs: blobs, manifests: images.map(\.manifest), root: index)
        }
    }

    /// Total bytes of ``blobs``.
    public var blobBytes: Int64 { blobs.reduce(0) { $0 + $1.descriptor.size } }

    /// Reads an OCI image layout directory (what `lamina image build --format oci-layout` writes, or an unpacked
    /// tarball): the distinct manifests `index.json` names, with their configs and layers from `blobs/`.
    ///
    /// One manifest is pushed as itself. Several are pushed under an image index: the one `index.json` names (a
    /// layout holding an index), else one made from `index.json`'s descriptors (without their naming annotations)
    /// and annotations — the same bytes as the index `lamina image build` stores beside the manifests.
    /// - Throws: `LaminaError(.notFound)` for a missing file or blob; `.malformed` for bad JSON;
    ///   `.checksumMismatch` when a manifest, index or config does not hash to its digest.
    public static func layout(at directory: String) throws -> PushPlan {
        let indexPath = directory + "/index.json"
        let top = try decodeJSON(Index.self, from: try read(indexPath), what: indexPath)
        var descriptors: [Descriptor] = []
        var seen = Set<Digest>()
        // Signature, attestation and SBOM images (`kind: dev.cosignproject.cosign/sigs|atts|sboms`, as `cosign save`
        // and `image sign LAYOUT` write them) are not part of the image.
        for descriptor in top.manifests
        where !cosignKinds.contains(descriptor.annotations?["kind"] ?? "") && seen.insert(descriptor.digest).inserted {
            descriptors.append(descriptor)
        }
        guard !descriptors.isEmpty else { throw LaminaError(.invalidInput, "index.json names no manifests", subject: indexPath) }

        var nested: Blob?
        if descriptors.count == 1, descriptors[0].mediaType.isIndex {
            let blob = try loadBlob(descriptors[0], in: directory)
            let inner = try decodeJSON(Index.self, from: blob.bytes, what: blobPath(descriptors[0].digest, in: directory))
            nested = blob
            descriptors = inner.manifests
        }

        var blobs: [LayoutBlob] = []
        var blobSeen = Set<Digest>()
        var manifests: [Blob] = []
        for descriptor in descriptors {
            guard descriptor.mediaType.isManifest else {
                throw LaminaError(
                    .invalidInput, "\(descriptor.digest) is a \(descriptor.mediaType), not an image manifest", subject: indexPath)
            }
            let manifestBlob = try loadBlob(descriptor, in: directory)
            let manifest = try decodeJSON(Manifest.self, from: manifestBlob.bytes, what: blobPath(descriptor.digest, in: directory))
            manifests.append(manifestBlob)
            for layer in manifest.layers where blobSeen.insert(layer.digest).inserted {
                let path = blobPath(layer.digest, in: directory)
                guard let size = fileSize(path) else { throw LaminaError(.notFound, "layer blob is missing", subject: path) }
                guard size == layer.size else {
                    throw LaminaError(.checksumMismatch, "layer blob is \(size) bytes, its descriptor says \(layer.size)", subject: path)
                }
                blobs.append(LayoutBlob(descriptor: layer, file: path))
            }
            if blobSeen.insert(manifest.config.digest).inserted {
                blobs.append(LayoutBlob(try loadBlob(manifest.config, in: directory)))
            }
        }
        if let nested { return PushPlan(blobs: blobs, manifests: manifests, root: nested) }
        if manifests.count == 1 { return PushPlan(blobs: blobs, manifests: [], root: manifests[0]) }
        let index = try Blob(
            index: Index(
                manifests: descriptors.map {
                    Descriptor(mediaType: $0.mediaType, digest: $0.digest, size: $0.size, platform: $0.platform)
                },
                annotations: top.annotations))
        return PushPlan(blobs: blobs, manifests: manifests, root: index)
    }

    static let cosignKinds: Set = [
        "dev.cosignproject.cosign/sigs", "dev.cosignproject.cosign/atts", "dev.cosignproject.cosign/sboms",
    ]

    static func blobPath(_ digest: Digest, in directory: String) -> String {
        directory + "/" + ImageLayout.blobPath(digest)
    }

    static func read(_ path: String) throws -> [UInt8] {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw LaminaError(.notFound, "cannot read the file", subject: path)
        }
        return Array(data)
    }

    static func fileSize(_ path: String) -> Int64? {
        (try? FileManager.default.attributesOfItem(atPath: path)[.size] as? NSNumber)?.int64Value
    }

    /// A small blob (manifest, index, config) read into memory and checked against its descriptor.
    static func loadBlob(_ descriptor: Descriptor, in directory: String) throws -> Blob {
        let path = blobPath(descriptor.digest, in: directory)
        guard descriptor.size <= 16 << 20 else {
            throw LaminaError(.limitExceeded, "\(descriptor.mediaType) of \(descriptor.size) bytes is too large", subject: path)
        }
        let blob = Blob(bytes: try read(path), mediaType: descriptor.mediaType)
        guard blob.descriptor.digest == descriptor.digest else {
            throw LaminaError(.checksumMismatch, "blob hashes to \(blob.descriptor.digest), not \(descriptor.digest)", subject: path)
        }
        return blob
    }
}
