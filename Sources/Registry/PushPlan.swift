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

    /// Reads an OCI image layout directory (what `lamina image build --format oci-layout` writes).
    /// - Throws: as ``layout(_:scratch:)``.
    public static func layout(at directory: String) throws -> PushPlan {
        try layout(ImageLayoutReader(directory: directory), scratch: directory)
    }

    /// Reads an OCI image layout (a directory, or a tarball as `lamina image build` writes it): the distinct
    /// manifests `index.json` names, with their configs and layers from `blobs/`. A tarball's layers are copied
    /// below `scratch`, which must outlive the push.
    ///
    /// One manifest is pushed as itself. Several are pushed under an image index: the one `index.json` names (a
    /// layout holding an index), else one made from `index.json`'s descriptors (without their naming annotations)
    /// and annotations — the same bytes as the index `lamina image build` stores beside the manifests.
    /// - Throws: `LaminaError(.notFound)` for a missing file or blob; `.malformed` for bad JSON;
    ///   `.checksumMismatch` when a manifest, index or config does not hash to its digest.
    public static func layout(_ layout: ImageLayoutReader, scratch: String) throws -> PushPlan {
        let indexPath = layout.location("index.json")
        guard let top = try layout.json(Index.self, "index.json") else {
            throw LaminaError(.notFound, "cannot read the file", subject: indexPath)
        }
        var descriptors: [Descriptor] = []
        var seen = Set<Digest>()
        // Signature, attestation and SBOM images (`kind: dev.cosignproject.cosign/sigs|atts|sboms`, as `cosign save`
        // and `image sign LAYOUT` write them) are not part of the image.
        for descriptor in top.manifests
        where !cosignKinds.contains(descriptor.annotations?["kind"] ?? "") && seen.insert(descriptor.digest).inserted {
            descriptors.append(descriptor)
        }
        guard !descriptors.isEmpty else { throw LaminaError(.invalidInput, "index.json names no manifests", subject: indexPath) }

        // A layout naming an image index (alone, or beside its per-architecture manifests) pushes that index.
        var nested: Blob?
        if let top = descriptors.first(where: { $0.mediaType.isIndex }) {
            let blob = try layout.blob(top)
            let inner = try decodeJSON(Index.self, from: blob.bytes, what: layout.location(ImageLayout.blobPath(top.digest)))
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
            let manifestBlob = try layout.blob(descriptor)
            let manifest = try decodeJSON(
                Manifest.self, from: manifestBlob.bytes, what: layout.location(ImageLayout.blobPath(descriptor.digest)))
            manifests.append(manifestBlob)
            for layer in manifest.layers where blobSeen.insert(layer.digest).inserted {
                blobs.append(LayoutBlob(descriptor: layer, file: try layout.layerFile(layer, scratch: scratch)))
            }
            if blobSeen.insert(manifest.config.digest).inserted {
                blobs.append(LayoutBlob(try layout.blob(manifest.config)))
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
}
