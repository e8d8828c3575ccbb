// Source: RFC 9110 §11.6.1 (`WWW-Authenticate`), RFC 6750 §3 (bearer challenges), the docker token
// authentication spec (distribution `docs/spec/auth/token.md`: realm, service, scope).
import LaminaCore

/// One challenge of a `WWW-Authenticate` header: `Bearer realm="…",service="…",scope="…"` or `Basic realm="…"`.
public struct AuthChallenge: Sendable, Hashable {
    /// The scheme, lowercased: `bearer`, `basic`.
    public var scheme: String
    /// Parameters, names lowercased, values unquoted.
    public var parameters: [String: String]

    public init(scheme: String, parameters: [String: String] = [:]) {
        self.scheme = scheme.lowercased()
        self.parameters = parameters
    }

    public var realm: String? { parameters["realm"] }
    public var service: String? { parameters["service"] }
    public var scope: String? { parameters["scope"] }

    /// Parses one header value, which may hold several challenges (`Basic realm="a", Bearer realm="b"`).
    /// Malformed parameters are skipped; an empty or unparsable value gives no challenges.
    ///
    /// One forward pass: each byte is looked at once (a token that turns out not to be a parameter name
    /// becomes the next challenge's scheme as it is, never rescanned), so time is linear in the header.
    public static func parse(_ header: String) -> [AuthChallenge] {
        var scanner = Scanner(Array(header.utf8))
        var result: [AuthChallenge] = []
        // A bare token that ended the previous challenge's parameters: the next scheme.
        var pendingScheme: String?
        while true {
            let scheme: String
            if let pending = pendingScheme {
                scheme = pending
                pendingScheme = nil
            } else {
                scanner.skipSeparators()
                guard let token = scanner.token() else { break }
                scheme = token
            }
            var challenge = AuthChallenge(scheme: scheme)
            // Parameters: name=value or name="quoted", separated by commas, until the next scheme token.
            while true {
                scanner.skipSeparators()
                guard let name = scanner.token() else { break }
                scanner.skipSpaces()
                guard scanner.consume(UInt8(ascii: "=")) else {
                    // A bare token: the next challenge's scheme (or a token68, which registries do not use).
                    pendingScheme = name
                    break
                }
                scanner.skipSpaces()
                let value = scanner.quoted() ?? scanner.token() ?? ""
                challenge.parameters[name.lowercased()] = value
            }
            result.append(challenge)
            // Stopped at neither a token nor a separator (or at the end): nothing more to parse.
            if pendingScheme == nil { break }
        }
        return result
    }

    /// Every challenge in every `WWW-Authenticate` value.
    public static func parse(values: [String]) -> [AuthChallenge] { values.flatMap(parse) }

    private struct Scanner {
        let bytes: [UInt8]
        var position = 0
        init(_ bytes: [UInt8]) { self.bytes = bytes }

        /// Skips spaces, tabs and commas (between challenges and parameters).
        mutating func skipSeparators() {
            while position < bytes.count {
                switch bytes[position] {
                case UInt8(ascii: " "), UInt8(ascii: ","), UInt8(ascii: "\t"): position += 1
                default: return
                }
            }
        }

        /// Skips spaces (around `=`).
        mutating func skipSpaces() {
            while position < bytes.count, bytes[position] == UInt8(ascii: " ") { position += 1 }
        }

        mutating func consume(_ byte: UInt8) -> Bool {
            guard position < bytes.count, bytes[position] == byte else { return false }
            position += 1
            return true
        }

        /// An RFC 9110 token (plus `/` and `=`-free token68 characters registries use in schemes).
        mutating func token() -> String? {
            let start = position
            while position < bytes.count, Self.isTokenByte(bytes[position]) { position += 1 }
            return position > start ? String(decoding: bytes[start..<position], as: UTF8.self) : nil
        }

        /// A quoted string with backslash escapes; nil when not at a quote.
        mutating func quoted() -> String? {
            guard consume(UInt8(ascii: "\"")) else { return nil }
            var out: [UInt8] = []
            while position < bytes.count {
                let byte = bytes[position]
                position += 1
                if byte == UInt8(ascii: "\"") { break }
                if byte == UInt8(ascii: "\\"), position < bytes.count {
                    out.append(bytes[position])
                    position += 1
                } else {
                    out.append(byte)
                }
            }
            return String(decoding: out, as: UTF8.self)
        }

        static func isTokenByte(_ byte: UInt8) -> Bool {
            switch byte {
            case UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "a")...UInt8(ascii: "z"):
                return true
            case UInt8(ascii: "!"), UInt8(ascii: "#"), UInt8(ascii: "$"), UInt8(ascii: "%"), UInt8(ascii: "&"),
                UInt8(ascii: "'"), UInt8(ascii: "*"), UInt8(ascii: "+"), UInt8(ascii: "-"), UInt8(ascii: "."),
                UInt8(ascii: "^"), UInt8(ascii: "_"), UInt8(ascii: "`"), UInt8(ascii: "|"), UInt8(ascii: "~"),
                UInt8(ascii: "/"), UInt8(ascii: ":"):
                return true
            default:
                return false
            }
        }
    }
}
