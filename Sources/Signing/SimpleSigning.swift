// Source: sigstore `pkg/signature/payload/payload.go` (the payload cosign signs), cosign `specs/SIGNATURE_SPEC.md`.
import Foundation
import LaminaCore
import OCI

/// The "simple signing" payload cosign signs for a container image:
/// `{"critical":{"identity":{"docker-reference":…},"image":{"docker-manifest-digest":…},"type":…},"optional":…}`.
public struct SimpleSigningPayload: Sendable, Hashable {
    public static let type = "cosign container image signature"

    /// The repository the image was signed in: `registry/repository` (go-containerregistry's name, so Docker Hub
    /// is `index.docker.io/…`).
    public var dockerReference: String
    /// The digest of the manifest or index that was signed.
    public var manifestDigest: Digest
    /// `-a key=value` annotations; nil is written as `null`.
    public var optional: [String: String]?

    public init(dockerReference: String, manifestDigest: Digest, optional: [String: String]? = nil) {
        self.dockerReference = dockerReference
        self.manifestDigest = manifestDigest
        self.optional = optional
    }

    /// The name cosign puts in `docker-reference` for an image in `reference`'s repository.
    public static func identity(of reference: Reference) -> String {
        (reference.registry == Reference.dockerHub ? "index.docker.io" : reference.registry) + "/" + reference.repository
    }

    /// The bytes that are signed: Go's `encoding/json` order (struct fields in order, map keys sorted).
    /// - Throws: `LaminaError(.internal)` if the annotations cannot be encoded.
    public func encoded() throws -> [UInt8] {
        var text = #"{"critical":{"identity":{"docker-reference":"# + (try jsonString(dockerReference))
        text += #"},"image":{"docker-manifest-digest":"# + (try jsonString(manifestDigest.description))
        text += #"},"type":"# + (try jsonString(Self.type)) + #"},"optional":"#
        if let optional {
            text += goEscaped(String(decoding: try canonicalJSON(optional), as: UTF8.self))
        } else {
            text += "null"
        }
        return Array((text + "}").utf8)
    }

    /// Parses a payload. Only the critical fields are required; `optional` values that are not strings are kept
    /// out of ``optional`` (they are still in the signed bytes).
    /// - Throws: `LaminaError(.malformed)` naming the missing field; `.invalidInput` for a type other than cosign's.
    public init(parsing bytes: [UInt8]) throws {
        guard let object = try? JSONSerialization.jsonObject(with: Data(bytes)) as? [String: Any] else {
            throw LaminaError(.malformed, "signature payload is not a JSON object")
        }
        let critical = object["critical"] as? [String: Any]
        guard let reference = (critical?["identity"] as? [String: Any])?["docker-reference"] as? String else {
            throw LaminaError(.malformed, "signature payload has no critical.identity.docker-reference")
        }
        guard let digestText = (critical?["image"] as? [String: Any])?["docker-manifest-digest"] as? String,
            let digest = try? Digest(parsing: digestText)
        else {
            throw LaminaError(.malformed, "signature payload has no valid critical.image.docker-manifest-digest")
        }
        let type = critical?["type"] as? String ?? ""
        guard type.lowercased() == Self.type else {
            throw LaminaError(.invalidInput, "signature payload type is '\(type)', not '\(Self.type)'")
        }
        self.init(
            dockerReference: reference, manifestDigest: digest,
            optional: (object["optional"] as? [String: Any])?.compactMapValues { $0 as? String })
    }
}

/// A JSON string literal for `text` (quotes included), escaped as Go's `encoding/json` does.
func jsonString(_ text: String) throws -> String {
    goEscaped(String(decoding: try canonicalJSON(text), as: UTF8.self))
}

/// Go's HTML-safe escapes over compact JSON: `<`, `>`, `&`, U+2028 and U+2029 only ever occur inside strings there.
func goEscaped(_ json: String) -> String {
    guard json.unicodeScalars.contains(where: { "<>&\u{2028}\u{2029}".unicodeScalars.contains($0) }) else { return json }
    var out = ""
    for scalar in json.unicodeScalars {
        switch scalar {
        case "<": out += "\\u003c"
        case ">": out += "\\u003e"
        case "&": out += "\\u0026"
        case "\u{2028}": out += "\\u2028"
        case "\u{2029}": out += "\\u2029"
        default: out.unicodeScalars.append(scalar)
        }
    }
    return out
}
