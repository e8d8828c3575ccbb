// Source: OCI image-spec descriptor.md (https://github.com/opencontainers/image-spec/blob/main/descriptor.md).

import LaminaCore

/// A typed pointer to content: media type, digest and size, plus optional metadata.
public struct Descriptor: Codable, Sendable, Hashable {
    /// Media type of the referenced content.
    public var mediaType: MediaType
    /// Digest of the referenced bytes.
    public var digest: Digest
    /// Size of the referenced bytes.
    public var size: Int64
    /// Alternative download locations.
    public var urls: [String]?
    /// Arbitrary metadata, such as `org.opencontainers.image.ref.name` in an `index.json`.
    public var annotations: [String: String]?
    /// The platform of the referenced manifest (index entries only).
    public var platform: Platform?
    /// The artifact type of the referenced manifest (its `artifactType` or config media type).
    public var artifactType: MediaType?
    /// The referenced bytes embedded in the descriptor (base64 in JSON).
    public var data: [UInt8]?

    public init(
        mediaType: MediaType, digest: Digest, size: Int64, urls: [String]? = nil,
        annotations: [String: String]? = nil, platform: Platform? = nil, artifactType: MediaType? = nil,
        data: [UInt8]? = nil
    ) {
        self.mediaType = mediaType
        self.digest = digest
        self.size = size
        self.urls = urls
        self.annotations = annotations
        self.platform = platform
        self.artifactType = artifactType
        self.data = data
    }

    /// The same descriptor with more annotations (later values win).
    public func adding(annotations extra: [String: String]) -> Descriptor {
        var copy = self
        copy.annotations = (annotations ?? [:]).merging(extra) { _, new in new }.nonEmptyMap
        return copy
    }

    enum CodingKeys: String, CodingKey {
        case mediaType, digest, size, urls, annotations, platform, artifactType, data
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        mediaType = try c.decode(MediaType.self, forKey: .mediaType)
        digest = try c.decodeDigest(forKey: .digest)
        size = try c.decode(Int64.self, forKey: .size)
        guard size >= 0 else {
            throw DecodingError.dataCorruptedError(forKey: .size, in: c, debugDescription: "negative size \(size)")
        }
        urls = try c.decodeIfPresent([String].self, forKey: .urls).nonEmpty
        annotations = try c.decodeIfPresent([String: String].self, forKey: .annotations).nonEmpty
        platform = try c.decodeIfPresent(Platform.self, forKey: .platform)
        artifactType = try c.decodeMediaTypeIfPresent(forKey: .artifactType)
        if let text = try c.decodeIfPresent(String.self, forKey: .data), !text.isEmpty {
            guard let bytes = Base64.decode(text) else {
                throw DecodingError.dataCorruptedError(forKey: .data, in: c, debugDescription: "data is not base64")
            }
            data = bytes
        } else {
            data = nil
        }
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(mediaType, forKey: .mediaType)
        try c.encode(digest, forKey: .digest)
        try c.encode(size, forKey: .size)
        try c.encodeIfPresent(urls.nonEmpty, forKey: .urls)
        try c.encodeIfPresent(annotations.nonEmpty, forKey: .annotations)
        try c.encodeIfPresent(platform, forKey: .platform)
        if let artifactType, !artifactType.rawValue.isEmpty { try c.encode(artifactType, forKey: .artifactType) }
        if let data, !data.isEmpty { try c.encode(Base64.encode(data), forKey: .data) }
    }
}

extension Dictionary {
    var nonEmptyMap: [Key: Value]? { isEmpty ? nil : self }
}
