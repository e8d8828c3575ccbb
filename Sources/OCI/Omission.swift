// Go's `omitempty`: OCI JSON written by ggcr, containerd and docker leaves out empty strings, arrays and
// maps. Our types decode such values as nil and never encode them, so a value and its re-encoding agree.

import LaminaCore

extension Optional where Wrapped: Collection {
    /// nil for nil or an empty collection.
    var nonEmpty: Wrapped? {
        switch self {
        case .some(let value) where !value.isEmpty: return value
        default: return nil
        }
    }
}

/// An array position in a coding path.
struct IndexKey: CodingKey {
    let intValue: Int?
    var stringValue: String { "\(intValue ?? 0)" }
    init(_ index: Int) { intValue = index }
    init?(stringValue: String) { nil }
    init?(intValue: Int) { self.intValue = intValue }
}

extension KeyedDecodingContainer {
    /// Decodes a digest; a malformed one becomes a `DecodingError` that carries the key path.
    func decodeDigest(forKey key: Key) throws -> Digest {
        let text = try decode(String.self, forKey: key)
        do {
            return try Digest(parsing: text)
        } catch let error as LaminaError {
            throw DecodingError.dataCorrupted(
                .init(codingPath: codingPath + [key], debugDescription: error.message, underlyingError: error))
        }
    }

    /// Decodes an array of digests, naming the position of a malformed one.
    func decodeDigests(forKey key: Key) throws -> [Digest] {
        let texts = try decode([String].self, forKey: key)
        return try texts.enumerated().map { index, text in
            do {
                return try Digest(parsing: text)
            } catch let error as LaminaError {
                throw DecodingError.dataCorrupted(
                    .init(
                        codingPath: codingPath + [key, IndexKey(index)], debugDescription: error.message,
                        underlyingError: error))
            }
        }
    }
}
