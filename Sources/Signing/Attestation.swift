// Source: in-toto attestation framework `spec/v1/statement.md`; cosign `pkg/cosign/attestation/attestation.go`
// (predicate types by `--type` name, and the `custom` predicate {"Data":…,"Timestamp":…}).
import Foundation
import LaminaCore

/// The predicate types `--type` names, as cosign maps them.
public enum PredicateType {
    public static let custom = "https://cosign.sigstore.dev/attestation/v1"
    static let known: [String: String] = [
        "custom": custom,
        "slsaprovenance": "https://slsa.dev/provenance/v0.2",
        "slsaprovenance02": "https://slsa.dev/provenance/v0.2",
        "slsaprovenance1": "https://slsa.dev/provenance/v1",
        "link": "https://in-toto.io/Link/v1",
        "spdx": "https://spdx.dev/Document",
        "spdxjson": "https://spdx.dev/Document",
        "cyclonedx": "https://cyclonedx.org/bom",
        "vuln": "https://cosign.sigstore.dev/attestation/vuln/v1",
        "openvex": "https://openvex.dev/ns",
    ]

    /// The predicate type URI for a `--type` value: a known name, or a URI given as is.
    /// - Throws: `LaminaError(.usage)` for anything else, listing the names.
    public static func resolve(_ name: String) throws -> String {
        if let uri = known[name] { return uri }
        if let url = URL(string: name), url.scheme != nil, url.host != nil { return name }
        throw LaminaError(
            .usage, "unknown predicate type '\(name)': want a URI or one of \(known.keys.sorted().joined(separator: ", "))",
            subject: "--type")
    }
}

/// An in-toto Statement v1 about one image digest.
public struct InTotoStatement: Sendable {
    public static let type = "https://in-toto.io/Statement/v1"
    /// Also accepted when reading (what cosign 2 writes).
    public static let legacyType = "https://in-toto.io/Statement/v0.1"

    public var subjectName: String
    public var subjectDigest: Digest
    public var predicateType: String
    /// The predicate, raw JSON.
    public var predicate: [UInt8]

    public init(subjectName: String, subjectDigest: Digest, predicateType: String, predicate: [UInt8]) {
        self.subjectName = subjectName
        self.subjectDigest = subjectDigest
        self.predicateType = predicateType
        self.predicate = predicate
    }

    /// A statement whose predicate is the file `contents`: JSON for every type but `custom`, which wraps the text
    /// as cosign does (`{"Data": text, "Timestamp": timestamp}`, `timestamp` in RFC 3339).
    /// - Throws: `LaminaError(.invalidInput)` when a non-custom predicate is not JSON.
    public init(subjectName: String, subjectDigest: Digest, predicateType: String, contents: [UInt8], timestamp: String)
        throws
    {
        var predicate = contents
        if predicateType == PredicateType.custom {
            predicate = Array(
                (#"{"Data":"# + (try jsonString(String(decoding: contents, as: UTF8.self))) + #","Timestamp":""#
                    + timestamp + #""}"#).utf8)
        } else {
            guard (try? JSONSerialization.jsonObject(with: Data(contents), options: [.fragmentsAllowed])) != nil else {
                throw LaminaError(.invalidInput, "the predicate is not JSON (only --type custom takes any text)")
            }
            while let last = predicate.last, [10, 13, 32, 9].contains(last) { predicate.removeLast() }
        }
        self.init(subjectName: subjectName, subjectDigest: subjectDigest, predicateType: predicateType, predicate: predicate)
    }

    /// `{"_type":…,"predicateType":…,"subject":[{"name":…,"digest":{"sha256":…}}],"predicate":…}`.
    public func encoded() throws -> [UInt8] {
        let head =
            #"{"_type":"# + (try jsonString(Self.type)) + #","predicateType":"# + (try jsonString(predicateType))
            + #","subject":[{"name":"# + (try jsonString(subjectName)) + #","digest":{"# + (try jsonString(subjectDigest.algorithm.rawValue))
            + ":" + (try jsonString(subjectDigest.hex)) + #"}}],"predicate":"#
        return Array(head.utf8) + predicate + [UInt8(ascii: "}")]
    }

    /// The parts of a statement verification needs: its type, predicate type and subject digests.
    public struct Parsed: Sendable {
        public var predicateType: String
        public var subjectDigests: [Digest]
    }

    /// Parses a statement.
    /// - Throws: `LaminaError(.malformed)` for a missing field or unknown `_type`.
    public static func parse(_ bytes: [UInt8]) throws -> Parsed {
        guard let object = try? JSONSerialization.jsonObject(with: Data(bytes)) as? [String: Any] else {
            throw LaminaError(.malformed, "in-toto statement is not a JSON object")
        }
        let type = object["_type"] as? String ?? ""
        guard type == Self.type || type == Self.legacyType else {
            throw LaminaError(.malformed, "in-toto statement _type is '\(type)'")
        }
        guard let predicateType = object["predicateType"] as? String else {
            throw LaminaError(.malformed, "in-toto statement has no predicateType")
        }
        let subjects = object["subject"] as? [[String: Any]] ?? []
        var digests: [Digest] = []
        for subject in subjects {
            for (algorithm, hex) in subject["digest"] as? [String: String] ?? [:] {
                if let known = Digest.Algorithm(rawValue: algorithm), let digest = try? Digest(known, hex: hex) { digests.append(digest) }
            }
        }
        return Parsed(predicateType: predicateType, subjectDigests: digests)
    }
}
