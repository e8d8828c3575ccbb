// Source: RFC 7468 (textual encodings of PKIX structures): `-----BEGIN <label>-----`, base64 body, `-----END <label>-----`.
import LaminaCore

/// One PEM block: its label (`PUBLIC KEY`, `ENCRYPTED SIGSTORE PRIVATE KEY`, …) and the decoded body.
public struct PEMBlock: Sendable, Hashable {
    public var label: String
    public var bytes: [UInt8]

    public init(label: String, bytes: [UInt8]) {
        self.label = label
        self.bytes = bytes
    }

    /// The first PEM block in `text` (text before it, such as OpenSSL's "Bag Attributes", is skipped).
    /// - Throws: `LaminaError(.malformed)` when there is no complete block or its body is not base64.
    public init(parsing text: String) throws {
        let lines = text.split(omittingEmptySubsequences: true, whereSeparator: \.isNewline).map {
            $0.trimmingCharacters(in: " \t\r")
        }
        guard let begin = lines.firstIndex(where: { $0.hasPrefix("-----BEGIN ") && $0.hasSuffix("-----") }) else {
            throw LaminaError(.malformed, "no PEM block (-----BEGIN …-----)")
        }
        let label = String(lines[begin].dropFirst("-----BEGIN ".count).dropLast(5))
        guard let end = lines[begin...].firstIndex(of: "-----END \(label)-----") else {
            throw LaminaError(.malformed, "PEM block '\(label)' has no -----END \(label)----- line")
        }
        // Headers such as `Proc-Type:` (RFC 1421) carry a colon; base64 never does.
        let body = lines[(begin + 1)..<end].filter { !$0.contains(":") }.joined()
        guard let bytes = Base64.decode(body) else {
            throw LaminaError(.malformed, "PEM block '\(label)' is not valid base64")
        }
        self.init(label: label, bytes: bytes)
    }

    /// The block as PEM text, 64 base64 characters a line, ending with a newline.
    public var pem: String {
        let body = Base64.encode(bytes)
        var out = "-----BEGIN \(label)-----\n"
        var index = body.startIndex
        while index < body.endIndex {
            let next = body.index(index, offsetBy: 64, limitedBy: body.endIndex) ?? body.endIndex
            out += body[index..<next] + "\n"
            index = next
        }
        return out + "-----END \(label)-----\n"
    }
}

extension StringProtocol {
    fileprivate func trimmingCharacters(in set: String) -> String {
        var slice = Substring(self)
        while let first = slice.first, set.contains(first) { slice.removeFirst() }
        while let last = slice.last, set.contains(last) { slice.removeLast() }
        return String(slice)
    }
}
