// Source: OCI image-spec media-types.md (https://github.com/opencontainers/image-spec/blob/main/media-types.md),
// Docker image manifest v2 schema 2 (https://distribution.github.io/distribution/spec/manifest-v2-2/),
// cosign SIGNATURE_SPEC.md (simple signing payloads).

/// A media type string, as carried in descriptors and manifests.
///
/// An open set: any string decodes, and the well-known values are static members.
public struct MediaType: RawRepresentable, Hashable, Sendable, Codable, Comparable, CustomStringConvertible,
    ExpressibleByStringLiteral
{
    public let rawValue: String

    public init(rawValue: String) { self.rawValue = rawValue }
    public init(_ rawValue: String) { self.rawValue = rawValue }
    public init(stringLiteral value: String) { self.rawValue = value }

    public init(from decoder: any Decoder) throws {
        rawValue = try decoder.singleValueContainer().decode(String.self)
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(rawValue)
    }

    public var description: String { rawValue }
    public static func < (lhs: MediaType, rhs: MediaType) -> Bool { lhs.rawValue < rhs.rawValue }

    // MARK: OCI

    /// `application/vnd.oci.image.index.v1+json`
    public static let ociIndex: MediaType = "application/vnd.oci.image.index.v1+json"
    /// `application/vnd.oci.image.manifest.v1+json`
    public static let ociManifest: MediaType = "application/vnd.oci.image.manifest.v1+json"
    /// `application/vnd.oci.image.config.v1+json`
    public static let ociConfig: MediaType = "application/vnd.oci.image.config.v1+json"
    /// `application/vnd.oci.image.layer.v1.tar`
    public static let ociLayer: MediaType = "application/vnd.oci.image.layer.v1.tar"
    /// `application/vnd.oci.image.layer.v1.tar+gzip`
    public static let ociLayerGzip: MediaType = "application/vnd.oci.image.layer.v1.tar+gzip"
    /// `application/vnd.oci.image.layer.v1.tar+zstd`
    public static let ociLayerZstd: MediaType = "application/vnd.oci.image.layer.v1.tar+zstd"
    /// `application/vnd.oci.empty.v1+json`: the `{}` blob used as the config of artifacts.
    public static let ociEmpty: MediaType = "application/vnd.oci.empty.v1+json"

    // MARK: Docker v2 schema 2

    /// `application/vnd.docker.distribution.manifest.list.v2+json`
    public static let dockerManifestList: MediaType = "application/vnd.docker.distribution.manifest.list.v2+json"
    /// `application/vnd.docker.distribution.manifest.v2+json`
    public static let dockerManifest: MediaType = "application/vnd.docker.distribution.manifest.v2+json"
    /// `application/vnd.docker.container.image.v1+json`
    public static let dockerConfig: MediaType = "application/vnd.docker.container.image.v1+json"
    /// `application/vnd.docker.image.rootfs.diff.tar.gzip`
    public static let dockerLayerGzip: MediaType = "application/vnd.docker.image.rootfs.diff.tar.gzip"
    /// `application/vnd.docker.image.rootfs.foreign.diff.tar.gzip`
    public static let dockerForeignLayerGzip: MediaType = "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip"

    // MARK: Signing and attestations

    /// `application/vnd.dev.cosign.simplesigning.v1+json`: a cosign signature payload layer.
    public static let cosignSimpleSigning: MediaType = "application/vnd.dev.cosign.simplesigning.v1+json"
    /// `application/vnd.dsse.envelope.v1+json`: an in-toto attestation envelope layer.
    public static let dsseEnvelope: MediaType = "application/vnd.dsse.envelope.v1+json"
    /// `application/vnd.dev.sigstore.bundle.v0.3+json`: a Sigstore bundle (cosign v3 referrers).
    public static let sigstoreBundle: MediaType = "application/vnd.dev.sigstore.bundle.v0.3+json"
    /// `text/spdx+json`: an SPDX JSON document attached as a layer.
    public static let spdxJSON: MediaType = "text/spdx+json"

    // MARK: Classification

    /// An image index or Docker manifest list.
    public var isIndex: Bool { self == .ociIndex || self == .dockerManifestList }
    /// An image manifest (OCI or Docker).
    public var isManifest: Bool { self == .ociManifest || self == .dockerManifest }
    /// A filesystem layer, compressed or not (OCI or Docker).
    public var isLayer: Bool {
        rawValue.hasPrefix("application/vnd.oci.image.layer.") || rawValue.hasPrefix("application/vnd.docker.image.rootfs.")
    }
}

extension KeyedDecodingContainer {
    /// An optional media type; an empty string counts as absent (Go's `omitempty` writers never send one, other
    /// writers do).
    func decodeMediaTypeIfPresent(forKey key: Key) throws -> MediaType? {
        try decodeIfPresent(MediaType.self, forKey: key).flatMap { $0.rawValue.isEmpty ? nil : $0 }
    }

    /// `schemaVersion` of an image manifest or index, which must be 2.
    func decodeSchemaVersion2(forKey key: Key) throws -> Int {
        let version = try decode(Int.self, forKey: key)
        guard version == 2 else {
            throw DecodingError.dataCorruptedError(forKey: key, in: self, debugDescription: "schemaVersion \(version), want 2")
        }
        return version
    }
}
