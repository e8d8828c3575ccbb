import LaminaCore

/// melange's `if:` expressions (`pkg/cond`): string values compared with `==` / `!=`, combined with `&&` and
/// `||` (evaluated left to right, no precedence), grouped with parentheses.
///
/// A value is a quoted string (`'x86_64'` or `"x86_64"`, with `\\`, `\'`, `\"`, `\n`, `\t` escapes; other
/// escapes are kept as written) or a variable `${{name}}` resolved through `lookup`.
public enum Condition {
    /// Evaluates `expression`.
    /// - Parameter lookup: resolves `${{name}}` references left in the expression; the default treats every
    ///   variable as the empty string, as melange does once substitution has run.
    /// - Throws: `LaminaError(.invalidInput)` describing the syntax error and its position.
    public static func evaluate(_ expression: String, lookup: (String) throws -> String = { _ in "" }) throws -> Bool {
        try withoutActuallyEscaping(lookup) { lookup in
            var parser = ConditionParser(input: Array(expression.utf8), lookup: lookup)
            let result = try parser.parseExpression()
            parser.skipSpaces()
            if parser.position != parser.input.count {
                let rest = String(decoding: parser.input[parser.position...], as: UTF8.self)
                throw parser.failure("unexpected text '\(rest)' at position \(parser.position)")
            }
            return result
        }
    }
}

private struct ConditionParser {
    let input: [UInt8]
    var position = 0
    let lookup: (String) throws -> String

    init(input: [UInt8], lookup: @escaping (String) throws -> String) {
        self.input = input
        self.lookup = lookup
    }

    func failure(_ message: String) -> LaminaError {
        LaminaError(.invalidInput, "invalid condition '\(String(decoding: input, as: UTF8.self))': \(message)")
    }

    mutating func skipSpaces() {
        while position < input.count, [0x20, 0x09, 0x0a, 0x0d].contains(input[position]) { position += 1 }
    }

    mutating func startsWith(_ text: String) -> Bool {
        skipSpaces()
        let bytes = Array(text.utf8)
        return position + bytes.count <= input.count && Array(input[position..<position + bytes.count]) == bytes
    }

    mutating func expect(_ text: String) throws {
        guard startsWith(text) else { throw failure("expected '\(text)' at position \(position)") }
        position += text.utf8.count
    }

    static func isNameByte(_ c: UInt8) -> Bool {
        (c >= 0x61 && c <= 0x7a) || (c >= 0x41 && c <= 0x5a) || (c >= 0x30 && c <= 0x39) || c == 0x2e || c == 0x2d
            || c == 0x5f
    }

    mutating func parseValue() throws -> String {
        skipSpaces()
        guard position < input.count else { throw failure("unexpected end of the expression") }
        let first = input[position]
        if first == UInt8(ascii: "'") || first == UInt8(ascii: "\"") {
            position += 1
            var bytes: [UInt8] = []
            while position < input.count, input[position] != first {
                let c = input[position]
                if c == UInt8(ascii: "\\"), position + 1 < input.count {
                    position += 1
                    let escaped = input[position]
                    switch escaped {
                    case UInt8(ascii: "\\"), UInt8(ascii: "'"), UInt8(ascii: "\""): bytes.append(escaped)
                    case UInt8(ascii: "n"): bytes.append(0x0a)
                    case UInt8(ascii: "t"): bytes.append(0x09)
                    default: bytes += [UInt8(ascii: "\\"), escaped]
                    }
                } else {
                    bytes.append(c)
                }
                position += 1
            }
            guard position < input.count else { throw failure("unterminated string at position \(position)") }
            position += 1
            return String(decoding: bytes, as: UTF8.self)
        }
        if startsWith("${{") {
            position += 3
            skipSpaces()
            let start = position
            while position < input.count, Self.isNameByte(input[position]) { position += 1 }
            guard position > start else { throw failure("empty variable name at position \(position)") }
            let name = String(decoding: input[start..<position], as: UTF8.self)
            skipSpaces()
            guard startsWith("}}") else { throw failure("unterminated variable '\(name)' at position \(start)") }
            position += 2
            return try lookup(name)
        }
        throw failure("unexpected '\(Character(Unicode.Scalar(first)))' at position \(position)")
    }

    mutating func parseComparison() throws -> Bool {
        let left = try parseValue()
        skipSpaces()
        let isEqual: Bool
        if startsWith("==") {
            isEqual = true
        } else if startsWith("!=") {
            isEqual = false
        } else {
            throw failure("expected '==' or '!=' at position \(position)")
        }
        position += 2
        let right = try parseValue()
        return isEqual ? left == right : left != right
    }

    mutating func parseAtom() throws -> Bool {
        skipSpaces()
        if position < input.count, input[position] == UInt8(ascii: "(") {
            position += 1
            let value = try parseExpression()
            try expect(")")
            return value
        }
        return try parseComparison()
    }

    mutating func parseExpression() throws -> Bool {
        var result = try parseAtom()
        while true {
            if startsWith("&&") {
                position += 2
                let right = try parseAtom()
                result = result && right
            } else if startsWith("||") {
                position += 2
                let right = try parseAtom()
                result = result || right
            } else {
                return result
            }
        }
    }
}
