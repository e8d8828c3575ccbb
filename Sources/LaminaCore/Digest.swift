/// A typed content digest: an algorithm and its raw bytes.
///
/// Renders as `sha256:<hex>` (OCI), as lowercase hex (datahash, PAX checksums), or as `Q1<base64>`
/// (the apk identity of a SHA-1 digest).
public struct Digest: Hashable, Sendable, Comparable, CustomStringConvertible, Codable {
    public enum Algorithm: String, Sendable, Codable, CaseIterable {
        case sha1, sha256, sha512
        /// Digest length in bytes.
        public var byteCount: Int {
            switch self {
            case .sha1: return 20
            case .sha256: return 32
            case .sha512: return 64
            }
        }
    }

    public let algorithm: Algorithm
    public let bytes: [UInt8]

    public init(_ algorithm: Algorithm, bytes: [UInt8]) {
        precondition(bytes.count == algorithm.byteCount, "digest length does not match \(algorithm)")
        self.algorithm = algorithm
        self.bytes = bytes
    }

    /// Hashes the bytes in one call (the synthesized conformance feeds them one at a time, which shows when
    /// the solver indexes 50,000 packages by identity).
    public func hash(into hasher: inout Hasher) {
        hasher.combine(algorithm)
        bytes.withUnsafeBytes { hasher.combine(bytes: $0) }
    }

    /// Parses `algorithm:hex` (OCI form).
    public init(parsing text: String) throws {
        guard let colon = text.firstIndex(of: ":"),
            let algorithm = Algorithm(rawValue: String(text[..<colon]))
        else { throw LaminaError(.malformed, "not a digest (want sha256:<hex>): '\(text)'") }
        try self.init(algorithm, hex: String(text[text.index(after: colon)...]))
    }

    /// Parses lowercase or uppercase hex of the right length.
    public init(_ algorithm: Algorithm, hex: String) throws {
        guard let bytes = Hex.decode(hex), bytes.count == algorithm.byteCount else {
            throw LaminaError(.malformed, "not a \(algorithm) hex digest: '\(hex)'")
        }
        self.init(algorithm, bytes: bytes)
    }

    /// Lowercase hex of the digest bytes.
    public var hex: String { Hex.encode(bytes) }
    /// Standard base64 of the digest bytes.
    public var base64: String { Base64.encode(bytes) }
    /// `sha256:<hex>`.
    public var description: String { "\(algorithm.rawValue):\(hex)" }

    public static func < (lhs: Digest, rhs: Digest) -> Bool { lhs.description < rhs.description }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        try self.init(parsing: try container.decode(String.self))
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(description)
    }
}

/// Lowercase hex codec.
public enum Hex {
    private static let digits = Array("0123456789abcdef".utf8)

    public static func encode<C: Collection>(_ bytes: C) -> String where C.Element == UInt8 {
        var out = [UInt8]()
        out.reserveCapacity(bytes.count * 2)
        for byte in bytes {
            out.append(digits[Int(byte >> 4)])
            out.append(digits[Int(byte & 0x0f)])
        }
        return String(decoding: out, as: UTF8.self)
    }

    public static func decode(_ text: String) -> [UInt8]? {
        let utf8 = Array(text.utf8)
        guard utf8.count % 2 == 0 else { return nil }
        var out = [UInt8]()
        out.reserveCapacity(utf8.count / 2)
        var index = 0
        while index < utf8.count {
            guard let high = nibble(utf8[index]), let low = nibble(utf8[index + 1]) else { return nil }
            out.append(high << 4 | low)
            index += 2
        }
        return out
    }

    private static func nibble(_ c: UInt8) -> UInt8? {
        switch c {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): return c - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): return c - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): return c - UInt8(ascii: "A") + 10
        default: return nil
        }
    }
}

/// Standard base64 (RFC 4648, with padding), without Foundation.
public enum Base64 {
    private static let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/".utf8)
    private static let reverse: [UInt8] = {
        var table = [UInt8](repeating: 0xff, count: 256)
        for (index, c) in alphabet.enumerated() { table[Int(c)] = UInt8(index) }
        return table
    }()

    public static func encode<C: Collection>(_ bytes: C) -> String where C.Element == UInt8 {
        let input = Array(bytes)
        var out = [UInt8]()
        out.reserveCapacity((input.count + 2) / 3 * 4)
        var index = 0
        while index + 3 <= input.count {
            let n = UInt32(input[index]) << 16 | UInt32(input[index + 1]) << 8 | UInt32(input[index + 2])
            out += [alphabet[Int(n >> 18 & 63)], alphabet[Int(n >> 12 & 63)], alphabet[Int(n >> 6 & 63)], alphabet[Int(n & 63)]]
            index += 3
        }
        let rest = input.count - index
        if rest == 1 {
            let n = UInt32(input[index]) << 16
            out += [alphabet[Int(n >> 18 & 63)], alphabet[Int(n >> 12 & 63)], UInt8(ascii: "="), UInt8(ascii: "=")]
        } else if rest == 2 {
            let n = UInt32(input[index]) << 16 | UInt32(input[index + 1]) << 8
            out += [alphabet[Int(n >> 18 & 63)], alphabet[Int(n >> 12 & 63)], alphabet[Int(n >> 6 & 63)], UInt8(ascii: "=")]
        }
        return String(decoding: out, as: UTF8.self)
    }

    /// Decodes standard base64; whitespace is ignored, padding optional. Returns nil on any other character.
    public static func decode(_ text: String) -> [UInt8]? {
        var text = text
        return text.withUTF8 { decode(bytes: UnsafeRawBufferPointer($0)) }
    }

    /// Decodes standard base64 held as bytes (see `decode(_:)`).
    public static func decode(bytes: UnsafeRawBufferPointer) -> [UInt8]? {
        var out = [UInt8]()
        out.reserveCapacity(bytes.count / 4 * 3)
        var accumulator: UInt32 = 0
        var bits = 0
        var sawPadding = false
        for c in bytes {
            if c == UInt8(ascii: "=") { sawPadding = true; continue }
            if c == 10 || c == 13 || c == 32 || c == 9 { continue }
            if sawPadding { return nil }
            let value = reverse[Int(c)]
            if value == 0xff { return nil }
            accumulator = accumulator << 6 | UInt32(value)
            bits += 6
            if bits >= 8 {
                bits -= 8
                out.append(UInt8(truncatingIfNeeded: accumulator >> UInt32(bits)))
            }
        }
        return out
    }
}
