// Source: DSSE v1 protocol (secure-systems-lab/dsse `protocol.md`, `envelope.md`): the signature covers
// PAE(type, body) = "DSSEv1" SP len(type) SP type SP len(body) SP body, lengths as ASCII decimals.
import Foundation
import LaminaCore

/// A DSSE envelope: a typed payload and the signatures over its pre-authentication encoding.
public struct DSSEEnvelope: Sendable, Hashable {
    public struct Signature: Sendable, Hashable {
        public var keyID: String
        public var signature: [UInt8]
        public init(keyID: String = "", signature: [UInt8]) {
            self.keyID = keyID
            self.signature = signature
        }
    }

    /// `application/vnd.in-toto+json` for attestations.
    public static let inTotoPayloadType = "application/vnd.in-toto+json"

    public var payloadType: String
    public var payload: [UInt8]
    public var signatures: [Signature]

    public init(payloadType: String, payload: [UInt8], signatures: [Signature] = []) {
        self.payloadType = payloadType
        self.payload = payload
        self.signatures = signatures
    }

    /// The pre-authentication encoding of `payload` under `payloadType`: what is signed.
    public static func pae(type: String, payload: [UInt8]) -> [UInt8] {
        Array("DSSEv1 \(type.utf8.count) \(type) \(payload.count) ".utf8) + payload
    }

    /// Signs `payload` with `key` into a one-signature envelope.
    public static func sign(_ payload: [UInt8], type: String, with key: CosignPrivateKey) throws -> DSSEEnvelope {
        DSSEEnvelope(
            payloadType: type, payload: payload, signatures: [Signature(signature: try key.sign(pae(type: type, payload: payload)))])
    }

    /// Whether any signature verifies with `key`.
    public func isSigned(by key: CosignPublicKey) -> Bool {
        let message = Self.pae(type: payloadType, payload: payload)
        return signatures.contains { key.isValidSignature($0.signature, for: message) }
    }

    /// The envelope JSON, in the field order of the Go implementation cosign uses.
    public func encoded() throws -> [UInt8] {
        var text = #"{"payloadType":"# + (try jsonString(payloadType)) + #","payload":""# + Base64.encode(payload) + #"","signatures":["#
        text += try signatures.map { #"{"keyid":"# + (try jsonString($0.keyID)) + #","sig":""# + Base64.encode($0.signature) + #""}"# }
            .joined(separator: ",")
        return Array((text + "]}").utf8)
    }

    /// Parses an envelope.
    /// - Throws: `LaminaError(.malformed)` naming the bad field.
    public init(parsing bytes: [UInt8]) throws {
        guard let object = try? JSONSerialization.jsonObject(with: Data(bytes)) as? [String: Any] else {
            throw LaminaError(.malformed, "DSSE envelope is not a JSON object")
        }
        guard let type = object["payloadType"] as? String else { throw LaminaError(.malformed, "DSSE envelope has no payloadType") }
        guard let body = (object["payload"] as? String).flatMap(Base64.decode) else {
            throw LaminaError(.malformed, "DSSE envelope payload is missing or not base64")
        }
        guard let list = object["signatures"] as? [[String: Any]] else {
            throw LaminaError(.malformed, "DSSE envelope has no signatures list")
        }
        var signatures: [Signature] = []
        for (index, entry) in list.enumerated() {
            guard let sig = (entry["sig"] as? String).flatMap(Base64.decode) else {
                throw LaminaError(.malformed, "DSSE envelope signatures[\(index)].sig is missing or not base64")
            }
            signatures.append(Signature(keyID: entry["keyid"] as? String ?? "", signature: sig))
        }
        self.init(payloadType: type, payload: body, signatures: signatures)
    }
}
