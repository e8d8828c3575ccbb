import Foundation

extension DecodingError {
    /// One line for a decoding failure: the key path (`layers[0].digest`, or `document`) and what was wrong
    /// there; for input that is no JSON at all, the parser's own detail.
    public var summary: String {
        func path(_ codingPath: [any CodingKey]) -> String {
            let text = codingPath.map { $0.intValue.map { "[\($0)]" } ?? ".\($0.stringValue)" }.joined()
            return text.isEmpty ? "document" : String(text.drop { $0 == "." })
        }
        switch self {
        case .keyNotFound(let key, let context):
            let at = context.codingPath.isEmpty ? "" : " in \(path(context.codingPath))"
            return "missing key '\(key.stringValue)'\(at)"
        case .typeMismatch(let type, let context):
            return "\(path(context.codingPath)): expected \(type)"
        case .valueNotFound(let type, let context):
            return "\(path(context.codingPath)): expected \(type), found null"
        case .dataCorrupted(let context):
            if let underlying = context.underlyingError as? LaminaError {
                return "\(path(context.codingPath)): \(underlying.message)"
            }
            if context.codingPath.isEmpty {
                let detail = (context.underlyingError as NSError?)?.userInfo[NSDebugDescriptionErrorKey] as? String
                return "not valid JSON: " + (detail ?? context.debugDescription)
            }
            return "\(path(context.codingPath)): \(context.debugDescription)"
        @unknown default:
            return "\(self)"
        }
    }
}

/// Decodes a JSON document (OCI, SPDX, …), failures as one line naming the key path.
/// - Parameter what: names the input in errors (a file path or `manifest sha256:…`).
/// - Throws: `LaminaError(.malformed)` naming the key path that failed.
public func decodeJSON<T: Decodable>(_ type: T.Type, from bytes: [UInt8], what: String) throws -> T {
    do {
        return try JSONDecoder().decode(T.self, from: Data(bytes))
    } catch let error as LaminaError {
        throw error.about(what)
    } catch let error as DecodingError {
        throw LaminaError(.malformed, error.summary, subject: what, cause: error)
    } catch {
        throw LaminaError(.malformed, "\(error)", subject: what, cause: error)
    }
}
