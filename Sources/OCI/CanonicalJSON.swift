// Canonical JSON for OCI blobs: the same value always gives the same bytes, so the same digest.

import Crypto
import Foundation
import LaminaCore

/// Encodes `value` deterministically: keys sorted, no insignificant whitespace, `/` not escaped, UTF-8.
///
/// Numbers in OCI documents are integers (`size`, `schemaVersion`) and encode as plain decimals. Keys are
/// sorted by Foundation's `.sortedKeys` (code-point order, the same as byte order for the ASCII keys OCI uses).
/// Empty optional collections are left out by our types, as Go's `omitempty` does.
/// - Throws: `LaminaError(.internal)` if the value cannot be encoded (a non-finite number, say).
public func canonicalJSON<T: Encodable>(_ value: T) throws -> [UInt8] {
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
    do {
        return Array(try encoder.encode(value))
    } catch {
        throw LaminaError(.internal, "cannot encode \(T.self) as JSON: \(error)", cause: error)
    }
}

/// A blob held in memory with its descriptor: the bytes of a config, manifest, index or small layer.
public struct Blob: Sendable, Hashable {
    /// The exact bytes; `descriptor.digest` is their sha256.
    public let bytes: [UInt8]
    /// Media type, sha256 digest and size of `bytes`.
    public let descriptor: Descriptor

    /// Wraps bytes, computing their sha256 digest and size.
    public init(
        bytes: [UInt8], mediaType: MediaType, annotations: [String: String]? = nil, platform: Platform? = nil,
        artifactType: MediaType? = nil
    ) {
        self.bytes = bytes
        self.descriptor = Descriptor(
            mediaType: mediaType, digest: Self.sha256(bytes), size: Int64(bytes.count),
            annotations: annotations.nonEmpty, platform: platform, artifactType: artifactType)
    }

    /// The canonical JSON of `value` as a blob.
    /// - Throws: `LaminaError(.internal)` if the value cannot be encoded.
    public init<T: Encodable>(json value: T, mediaType: MediaType) throws {
        self.init(bytes: try canonicalJSON(value), mediaType: mediaType)
    }

    /// An image config blob (`application/vnd.oci.image.config.v1+json`).
    public init(config: ImageConfig) throws { try self.init(json: config, mediaType: .ociConfig) }

    /// A manifest blob; its media type comes from the manifest (OCI by default).
    public init(manifest: Manifest) throws {
        try self.init(json: manifest, mediaType: manifest.mediaType ?? .ociManifest)
    }

    /// An index blob; its media type comes from the index (OCI by default).
    public init(index: Index) throws { try self.init(json: index, mediaType: index.mediaType ?? .ociIndex) }

    /// The empty JSON object `{}` with media type `application/vnd.oci.empty.v1+json` (artifact configs).
    public static let empty = Blob(bytes: Array("{}".utf8), mediaType: .ociEmpty)

    /// The same bytes described with a different descriptor's metadata (platform, annotations, artifact type).
    public func describing(platform: Platform? = nil, annotations: [String: String]? = nil, artifactType: MediaType? = nil)
        -> Blob
    {
        Blob(
            bytes: bytes, mediaType: descriptor.mediaType, annotations: annotations ?? descriptor.annotations,
            platform: platform ?? descriptor.platform, artifactType: artifactType ?? descriptor.artifactType)
    }

    /// sha256 of `bytes` as a typed digest.
    public static func sha256<C: Collection>(_ bytes: C) -> LaminaCore.Digest where C.Element == UInt8 {
        let hash: SHA256.Digest
        if let contiguous = bytes as? [UInt8] {
            hash = SHA256.hash(data: contiguous)
        } else {
            hash = SHA256.hash(data: Array(bytes))
        }
        return LaminaCore.Digest(.sha256, bytes: Array(hash))
    }
}
