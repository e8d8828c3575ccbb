// Source: OCI image-spec image-index.md (https://github.com/opencontainers/image-spec/blob/main/image-index.md)
// and image-layout.md (`index.json`); also reads Docker manifest lists, which share the shape.

/// An image index: a list of manifests, usually one per platform. Also the shape of a layout's `index.json`.
public struct Index: Codable, Sendable, Hashable {
    /// Always 2.
    public var schemaVersion: Int
    /// `application/vnd.oci.image.index.v1+json` (or the Docker manifest list type).
    public var mediaType: MediaType?
    /// The artifact type, for indexes that are not images.
    public var artifactType: MediaType?
    /// The listed manifests (or nested indexes).
    public var manifests: [Descriptor]
    /// The manifest this one refers to (OCI 1.1 referrers).
    public var subject: Descriptor?
    /// Index annotations.
    public var annotations: [String: String]?

    public init(
        mediaType: MediaType? = .ociIndex, artifactType: MediaType? = nil, manifests: [Descriptor],
        subject: Descriptor? = nil, annotations: [String: String]? = nil
    ) {
        self.schemaVersion = 2
        self.mediaType = mediaType
        self.artifactType = artifactType
        self.manifests = manifests
        self.subject = subject
        self.annotations = annotations
    }

    enum CodingKeys: String, CodingKey {
        case schemaVersion, mediaType, artifactType, manifests, subject, annotations
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        schemaVersion = try c.decodeSchemaVersion2(forKey: .schemaVersion)
        mediaType = try c.decodeMediaTypeIfPresent(forKey: .mediaType)
        artifactType = try c.decodeMediaTypeIfPresent(forKey: .artifactType)
        manifests = try c.decodeIfPresent([Descriptor].self, forKey: .manifests) ?? []
        subject = try c.decodeIfPresent(Descriptor.self, forKey: .subject)
        annotations = try c.decodeIfPresent([String: String].self, forKey: .annotations).nonEmpty
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(schemaVersion, forKey: .schemaVersion)
        try c.encodeIfPresent(mediaType, forKey: .mediaType)
        try c.encodeIfPresent(artifactType, forKey: .artifactType)
        try c.encode(manifests, forKey: .manifests)
        try c.encodeIfPresent(subject, forKey: .subject)
        try c.encodeIfPresent(annotations.nonEmpty, forKey: .annotations)
    }
}
