// Source: OCI image-spec manifest.md (https://github.com/opencontainers/image-spec/blob/main/manifest.md);
// also reads Docker v2 schema 2 manifests, which share the shape.

/// An image manifest: one config blob and an ordered list of layers.
public struct Manifest: Codable, Sendable, Hashable {
    /// Always 2.
    public var schemaVersion: Int
    /// `application/vnd.oci.image.manifest.v1+json` (or the Docker v2 type).
    public var mediaType: MediaType?
    /// The artifact type, for manifests that are not images.
    public var artifactType: MediaType?
    /// The image config (or `application/vnd.oci.empty.v1+json` for artifacts).
    public var config: Descriptor
    /// Layers, base first.
    public var layers: [Descriptor]
    /// The manifest this one refers to (OCI 1.1 referrers).
    public var subject: Descriptor?
    /// Manifest annotations.
    public var annotations: [String: String]?

    public init(
        mediaType: MediaType? = .ociManifest, artifactType: MediaType? = nil, config: Descriptor,
        layers: [Descriptor], subject: Descriptor? = nil, annotations: [String: String]? = nil
    ) {
        self.schemaVersion = 2
        self.mediaType = mediaType
        self.artifactType = artifactType
        self.config = config
        self.layers = layers
        self.subject = subject
        self.annotations = annotations
    }

    enum CodingKeys: String, CodingKey {
        case schemaVersion, mediaType, artifactType, config, layers, subject, annotations
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        schemaVersion = try c.decodeSchemaVersion2(forKey: .schemaVersion)
        mediaType = try c.decodeMediaTypeIfPresent(forKey: .mediaType)
        artifactType = try c.decodeMediaTypeIfPresent(forKey: .artifactType)
        config = try c.decode(Descriptor.self, forKey: .config)
        layers = try c.decodeIfPresent([Descriptor].self, forKey: .layers) ?? []
        subject = try c.decodeIfPresent(Descriptor.self, forKey: .subject)
        annotations = try c.decodeIfPresent([String: String].self, forKey: .annotations).nonEmpty
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(schemaVersion, forKey: .schemaVersion)
        try c.encodeIfPresent(mediaType, forKey: .mediaType)
        try c.encodeIfPresent(artifactType, forKey: .artifactType)
        try c.encode(config, forKey: .config)
        try c.encode(layers, forKey: .layers)
        try c.encodeIfPresent(subject, forKey: .subject)
        try c.encodeIfPresent(annotations.nonEmpty, forKey: .annotations)
    }
}
