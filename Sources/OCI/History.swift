// Source: OCI image-spec config.md, "history" (https://github.com/opencontainers/image-spec/blob/main/config.md).

/// One entry of an image config's `history`: how a layer was made.
public struct History: Codable, Sendable, Hashable {
    /// RFC 3339 time the layer was created.
    public var created: String?
    /// The command that created the layer (`apko`).
    public var createdBy: String?
    /// The author of the layer.
    public var author: String?
    /// A free-form comment.
    public var comment: String?
    /// True when this entry made no filesystem layer.
    public var emptyLayer: Bool?

    public init(
        created: String? = nil, createdBy: String? = nil, author: String? = nil, comment: String? = nil,
        emptyLayer: Bool? = nil
    ) {
        self.created = created
        self.createdBy = createdBy
        self.author = author
        self.comment = comment
        self.emptyLayer = emptyLayer
    }

    enum CodingKeys: String, CodingKey {
        case created, author, comment
        case createdBy = "created_by"
        case emptyLayer = "empty_layer"
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        created = try c.decodeIfPresent(String.self, forKey: .created).nonEmpty
        createdBy = try c.decodeIfPresent(String.self, forKey: .createdBy).nonEmpty
        author = try c.decodeIfPresent(String.self, forKey: .author).nonEmpty
        comment = try c.decodeIfPresent(String.self, forKey: .comment).nonEmpty
        emptyLayer = try c.decodeIfPresent(Bool.self, forKey: .emptyLayer).flatMap { $0 ? true : nil }
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encodeIfPresent(created.nonEmpty, forKey: .created)
        try c.encodeIfPresent(createdBy.nonEmpty, forKey: .createdBy)
        try c.encodeIfPresent(author.nonEmpty, forKey: .author)
        try c.encodeIfPresent(comment.nonEmpty, forKey: .comment)
        if emptyLayer == true { try c.encode(true, forKey: .emptyLayer) }
    }
}
