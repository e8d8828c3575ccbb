// Source: cosign `pkg/oci/remote/remote.go` (tags `sha256-<hex>.sig` / `.att`), `pkg/oci/static/signature.go`
// (one uncompressed layer per payload, the signature in the `dev.cosignproject.cosign/signature` annotation),
// `pkg/oci/mutate` (a new signature is appended; an identical one is not added twice; an attached file replaces the
// one before: `AttachFileToImage`, `sha256-<hex>.sbom`).
import LaminaCore
import OCI

/// Where cosign keeps signatures and attestations of an image, and how a new one is added.
public enum SignatureImage {
    public static let signatureAnnotation = "dev.cosignproject.cosign/signature"
    public static let predicateTypeAnnotation = "predicateType"

    public enum Kind: String, Sendable {
        case signature = "sig"
        case attestation = "att"
        case sbom = "sbom"
    }

    /// `sha256-<hex>.sig`: the tag the signatures of `digest` live under, in the image's repository.
    public static func tag(for digest: Digest, _ kind: Kind) -> String {
        "\(digest.algorithm.rawValue)-\(digest.hex).\(kind.rawValue)"
    }

    /// A simple-signing layer: the payload bytes, its signature (base64) in the annotation.
    public static func signatureLayer(payload: [UInt8], signature: [UInt8]) -> Blob {
        Blob(bytes: payload, mediaType: .cosignSimpleSigning, annotations: [signatureAnnotation: Base64.encode(signature)])
    }

    /// An attestation layer: the DSSE envelope, an empty signature annotation (the signature is inside) and the
    /// predicate type.
    public static func attestationLayer(envelope: [UInt8], predicateType: String) -> Blob {
        Blob(
            bytes: envelope, mediaType: .dsseEnvelope,
            annotations: [signatureAnnotation: "", predicateTypeAnnotation: predicateType])
    }

    /// An SBOM attachment layer (cosign attach sbom, apko publish): the SPDX JSON document itself, no annotations.
    /// Its image replaces any earlier attachment of that digest (``appending(_:to:)`` with `existing` nil).
    public static func sbomLayer(spdx: [UInt8]) -> Blob {
        Blob(bytes: spdx, mediaType: .spdxJSON)
    }

    /// The layer media type cosign gives an attached SBOM of `type` (spdx, cyclonedx, syft) in `format` (json, xml,
    /// text), or nil for a pair cosign does not know.
    public static func sbomMediaType(type: String, format: String) -> MediaType? {
        switch (type, format) {
        case ("spdx", "json"): .spdxJSON
        case ("spdx", "text"): MediaType("text/spdx")
        case ("cyclonedx", "json"): MediaType("application/vnd.cyclonedx+json")
        case ("cyclonedx", "xml"): MediaType("application/vnd.cyclonedx+xml")
        case ("syft", "json"): MediaType("application/vnd.syft+json")
        default: nil
        }
    }

    /// The result of adding a layer: the manifest and config to push, and whether anything changed.
    public struct Update: Sendable {
        public var manifest: Blob
        public var config: Blob
        /// False when an identical layer (same payload and annotations) was already there.
        public var added: Bool
    }

    /// `existing` (the manifest at the tag now, or nil) with `layer` appended; the config lists every layer's
    /// digest as its diff ID (the layers are not compressed), as go-containerregistry's empty image does. A new image
    /// gets `mediaType` (cosign's `COSIGN_DOCKER_MEDIA_TYPES` asks for Docker's); an existing one keeps its own.
    /// - Throws: `LaminaError(.internal)` if encoding fails.
    public static func appending(_ layer: Blob, to existing: Manifest?, mediaType: MediaType = .ociManifest) throws -> Update {
        var layers = existing?.layers ?? []
        let duplicate = layers.contains { $0.digest == layer.descriptor.digest && $0.annotations == layer.descriptor.annotations }
        if !duplicate { layers.append(layer.descriptor) }
        let config = try Blob(json: SignatureConfig(diffIDs: layers.map(\.digest)), mediaType: .ociConfig)
        var manifest = Manifest(
            mediaType: existing?.mediaType ?? mediaType, config: config.descriptor, layers: layers,
            annotations: existing?.annotations)
        if manifest.mediaType == .dockerManifest {
            manifest.config.mediaType = .dockerConfig
        }
        return Update(manifest: try Blob(json: manifest, mediaType: manifest.mediaType ?? .ociManifest), config: config, added: !duplicate)
    }
}

/// The config of a signature image: no platform, one diff ID per layer.
struct SignatureConfig: Encodable {
    var diffIDs: [Digest]

    struct RootFS: Encodable {
        var type = "layers"
        var diff_ids: [Digest]
    }
    struct History: Encodable { var created = "0001-01-01T00:00:00Z" }
    struct Empty: Encodable {}

    func encode(to encoder: any Encoder) throws {
        enum Key: String, CodingKey { case architecture, created, history, os, rootfs, config }
        var c = encoder.container(keyedBy: Key.self)
        try c.encode("", forKey: .architecture)
        try c.encode("0001-01-01T00:00:00Z", forKey: .created)
        try c.encode(diffIDs.map { _ in History() }, forKey: .history)
        try c.encode("", forKey: .os)
        try c.encode(RootFS(diff_ids: diffIDs), forKey: .rootfs)
        try c.encode(Empty(), forKey: .config)
    }
}
