import LaminaCore

/// A strict RFC 8259 JSON reader producing ``FeedNode``s with line numbers and keys in document order.
///
/// Foundation's `JSONSerialization` on Linux accepts trailing commas; real secdb tooling (Go's `encoding/json`)
/// refuses them, and so must we, or a feed that every other scanner rejects would be read here.
struct StrictJSON {
    private let bytes: [UInt8]
    private let source: String
    private var position = 0
    private var line = 1
    private var depth = 0

    static func parse(_ bytes: [UInt8], source: String) throws -> FeedNode {
        var parser = StrictJSON(bytes: bytes, source: source)
        if parser.bytes.starts(with: [0xEF, 0xBB, 0xBF]) { parser.position = 3 }
        let node = try parser.value()
        parser.skipWhitespace()
        guard parser.position == parser.bytes.count else { throw parser.error("unexpected text after the document") }
        return node
    }

    private init(bytes: [UInt8], source: String) {
        self.bytes = bytes
        self.source = source
    }

    private func error(_ message: String) -> LaminaError {
        let found = position < bytes.count ? "'\(Character(Unicode.Scalar(bytes[position])))'" : "the end of the input"
        return LaminaError(.malformed, "invalid JSON: line \(line): \(message) (at \(found))", subject: source)
    }

    private mutating func skipWhitespace() {
        while position < bytes.count {
            switch bytes[position] {
            case 0x0A: line += 1
            case 0x20, 0x09, 0x0D: break
            default: return
            }
            position += 1
        }
    }

    private mutating func value() throws -> FeedNode {
        skipWhitespace()
        guard position < bytes.count else { throw error("expected a value") }
        let startLine = line
        switch bytes[position] {
        case UInt8(ascii: "{"):
            depth += 1
            guard depth <= 512 else { throw error("nested too deeply") }
            position += 1
            var fields: [(key: String, value: FeedNode)] = []
            skipWhitespace()
            if position < bytes.count, bytes[position] == UInt8(ascii: "}") {
                position += 1
            } else {
                while true {
                    skipWhitespace()
                    guard position < bytes.count, bytes[position] == UInt8(ascii: "\"") else { throw error("expected a string key") }
                    let key = try string()
                    skipWhitespace()
                    try expect(UInt8(ascii: ":"), "expected ':' after a key")
                    fields.append((key: key, value: try value()))
                    skipWhitespace()
                    if try endOrComma(UInt8(ascii: "}")) { break }
                }
            }
            depth -= 1
            return FeedNode(value: .map(fields), line: startLine)
        case UInt8(ascii: "["):
            depth += 1
            guard depth <= 512 else { throw error("nested too deeply") }
            position += 1
            var items: [FeedNode] = []
            skipWhitespace()
            if position < bytes.count, bytes[position] == UInt8(ascii: "]") {
                position += 1
            } else {
                while true {
                    items.append(try value())
                    skipWhitespace()
                    if try endOrComma(UInt8(ascii: "]")) { break }
                }
            }
            depth -= 1
            return FeedNode(value: .list(items), line: startLine)
        case UInt8(ascii: "\""):
            return FeedNode(value: .scalar(try string()), line: startLine)
        case UInt8(ascii: "t"):
            try literal("true")
            return FeedNode(value: .scalar("true"), line: startLine)
        case UInt8(ascii: "f"):
            try literal("false")
            return FeedNode(value: .scalar("false"), line: startLine)
        case UInt8(ascii: "n"):
            try literal("null")
            return FeedNode(value: .null, line: startLine)
        case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"):
            return FeedNode(value: .scalar(try number()), line: startLine)
        default:
            throw error("expected a value")
        }
    }

    /// After a member: `,` (then another must follow; a trailing comma is an error) or the closing bracket.
    private mutating func endOrComma(_ close: UInt8) throws -> Bool {
        guard position < bytes.count else { throw error("unterminated \(close == UInt8(ascii: "}") ? "object" : "array")") }
        if bytes[position] == close {
            position += 1
            return true
        }
        try expect(UInt8(ascii: ","), "expected ',' or '\(Character(Unicode.Scalar(close)))'")
        skipWhitespace()
        if position < bytes.count, bytes[position] == close { throw error("trailing comma") }
        return false
    }

    private mutating func expect(_ byte: UInt8, _ message: String) throws {
        guard position < bytes.count, bytes[position] == byte else { throw error(message) }
        position += 1
    }

    private mutating func literal(_ word: String) throws {
        let expected = Array(word.utf8)
        guard bytes.count - position >= expected.count, Array(bytes[position..<position + expected.count]) == expected else {
            throw error("expected a value")
        }
        position += expected.count
    }

    private mutating func number() throws -> String {
        let start = position
        func digits() -> Int {
            let from = position
            while position < bytes.count, (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(bytes[position]) { position += 1 }
            return position - from
        }
        if bytes[position] == UInt8(ascii: "-") { position += 1 }
        if position < bytes.count, bytes[position] == UInt8(ascii: "0") {
            position += 1  // no leading zeros: `01` is not JSON
        } else {
            guard digits() > 0 else { throw error("malformed number") }
        }
        if position < bytes.count, bytes[position] == UInt8(ascii: ".") {
            position += 1
            guard digits() > 0 else { throw error("malformed number") }
        }
        if position < bytes.count, bytes[position] == UInt8(ascii: "e") || bytes[position] == UInt8(ascii: "E") {
            position += 1
            if position < bytes.count, bytes[position] == UInt8(ascii: "+") || bytes[position] == UInt8(ascii: "-") { position += 1 }
            guard digits() > 0 else { throw error("malformed number") }
        }
        return String(decoding: bytes[start..<position], as: UTF8.self)
    }

    private mutating func string() throws -> String {
        position += 1  // opening quote
        var out: [UInt8] = []
        while true {
            guard position < bytes.count else { throw error("unterminated string") }
            let byte = bytes[position]
            position += 1
            switch byte {
            case UInt8(ascii: "\""):
                guard let text = String(validating: out, as: UTF8.self) else { throw error("string is not UTF-8") }
                return text
            case UInt8(ascii: "\\"):
                guard position < bytes.count else { throw error("unterminated string") }
                let escape = bytes[position]
                position += 1
                switch escape {
                case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"): out.append(escape)
                case UInt8(ascii: "b"): out.append(0x08)
                case UInt8(ascii: "f"): out.append(0x0C)
                case UInt8(ascii: "n"): out.append(0x0A)
                case UInt8(ascii: "r"): out.append(0x0D)
                case UInt8(ascii: "t"): out.append(0x09)
                case UInt8(ascii: "u"):
                    var scalar = try hex4()
                    if (0xD800..<0xDC00).contains(scalar) {
                        guard bytes.count - position >= 6, bytes[position] == UInt8(ascii: "\\"), bytes[position + 1] == UInt8(ascii: "u") else {
                            throw error("unpaired surrogate in \\u escape")
                        }
                        position += 2
                        let low = try hex4()
                        guard (0xDC00..<0xE000).contains(low) else { throw error("unpaired surrogate in \\u escape") }
                        scalar = 0x10000 + ((scalar - 0xD800) << 10) + (low - 0xDC00)
                    }
                    guard let unicode = Unicode.Scalar(scalar) else { throw error("invalid \\u escape") }
                    out.append(contentsOf: Array(String(Character(unicode)).utf8))
                default:
                    throw error("invalid escape")
                }
            case 0x00..<0x20:
                throw error("control character in a string")
            default:
                out.append(byte)
            }
        }
    }

    private mutating func hex4() throws -> UInt32 {
        guard bytes.count - position >= 4, let value = UInt32(String(decoding: bytes[position..<position + 4], as: UTF8.self), radix: 16) else {
            throw error("invalid \\u escape")
        }
        position += 4
        return value
    }
}
