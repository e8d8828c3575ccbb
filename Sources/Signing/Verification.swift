// Source: cosign `pkg/cosign/verify.go` (every layer is tried; one valid signature over a payload that names the
// image digest suffices; the claims are checked after the signature).
import LaminaCore
import OCI

/// Checks cosign signatures and attestations of one image digest against a public key.
public struct CosignVerifier: Sendable {
    public let key: CosignPublicKey
    /// The digest the signatures must be about.
    public let digest: Digest
    /// The repository the image is in; a payload naming another repository is refused when set.
    public let identity: String?
    /// `-a key=value`: annotations every accepted payload must carry.
    public let annotations: [String: String]

    public init(key: CosignPublicKey, digest: Digest, identity: String?, annotations: [String: String] = [:]) {
        self.key = key
        self.digest = digest
        self.identity = identity
        self.annotations = annotations
    }

    /// The outcome for one layer: the payload when it verified, else why not.
    public enum Outcome: Sendable {
        case verified([UInt8])
        case rejected(String)
    }

    /// Checks one simple-signing layer (`payload` are its bytes, already checked against its digest).
    public func checkSignature(_ descriptor: Descriptor, payload: [UInt8]) -> Outcome {
        guard descriptor.mediaType == .cosignSimpleSigning else {
            return .rejected("layer \(descriptor.digest) is \(descriptor.mediaType), not a simple-signing payload")
        }
        guard let text = descriptor.annotations?[SignatureImage.signatureAnnotation], !text.isEmpty,
            let signature = Base64.decode(text)
        else { return .rejected("layer \(descriptor.digest) has no base64 \(SignatureImage.signatureAnnotation) annotation") }
        guard key.isValidSignature(signature, for: payload) else {
            return .rejected("layer \(descriptor.digest): the signature does not verify with the given key")
        }
        let parsed: SimpleSigningPayload
        do { parsed = try SimpleSigningPayload(parsing: payload) } catch { return .rejected("layer \(descriptor.digest): \(error)") }
        guard parsed.manifestDigest == digest else {
            return .rejected("layer \(descriptor.digest): the payload is for \(parsed.manifestDigest), not \(digest)")
        }
        if let identity, Self.normalized(parsed.dockerReference) != Self.normalized(identity) {
            return .rejected("layer \(descriptor.digest): the payload names '\(parsed.dockerReference)', not '\(identity)'")
        }
        for (name, value) in annotations.sorted(by: { $0.key < $1.key }) where parsed.optional?[name] != value {
            return .rejected("layer \(descriptor.digest): annotation \(name)=\(value) is missing from the payload")
        }
        return .verified(payload)
    }

    /// Checks one attestation layer (a DSSE envelope): its signature, that the statement's subject is the digest,
    /// and, when `predicateType` is set, the statement's predicate type.
    public func checkAttestation(_ descriptor: Descriptor, envelope bytes: [UInt8], predicateType: String?) -> Outcome {
        let envelope: DSSEEnvelope
        do { envelope = try DSSEEnvelope(parsing: bytes) } catch { return .rejected("layer \(descriptor.digest): \(error)") }
        guard envelope.payloadType == DSSEEnvelope.inTotoPayloadType else {
            return .rejected("layer \(descriptor.digest): DSSE payload type is '\(envelope.payloadType)'")
        }
        guard envelope.isSigned(by: key) else {
            return .rejected("layer \(descriptor.digest): no DSSE signature verifies with the given key")
        }
        let statement: InTotoStatement.Parsed
        do { statement = try InTotoStatement.parse(envelope.payload) } catch { return .rejected("layer \(descriptor.digest): \(error)") }
        guard statement.subjectDigests.contains(digest) else {
            return .rejected("layer \(descriptor.digest): the statement's subject is not \(digest)")
        }
        if let predicateType, statement.predicateType != predicateType {
            return .rejected("layer \(descriptor.digest): predicate type \(statement.predicateType), not \(predicateType)")
        }
        return .verified(bytes)
    }

    /// `index.docker.io/x` and `docker.io/x` name the same repository.
    static func normalized(_ name: String) -> String {
        if let reference = try? Reference(name) { return reference.name }
        return name
    }
}
