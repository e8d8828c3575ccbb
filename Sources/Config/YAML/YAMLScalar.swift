import Yams

/// How a plain YAML scalar resolves under the rules of Go's `gopkg.in/yaml.v3`, which is what apko and
/// melange decode with: the same text must mean the same thing here.
enum ResolvedScalar: Equatable {
    case null
    case bool(Bool)
    case int(Int64)
    case uint(UInt64)
    case float(Double)
    case string(String)
}

enum YAMLScalar {
    static let nullWords: Set<String> = ["", "~", "null", "Null", "NULL"]
    static let trueWords: Set<String> = ["true", "True", "TRUE"]
    static let falseWords: Set<String> = ["false", "False", "FALSE"]
    /// YAML 1.1 booleans that yaml.v3 still accepts when the target is a `bool`.
    static let legacyTrue: Set<String> = ["y", "Y", "yes", "Yes", "YES", "on", "On", "ON"]
    static let legacyFalse: Set<String> = ["n", "N", "no", "No", "NO", "off", "Off", "OFF"]

    /// Whether a scalar node takes part in implicit typing (plain style, no explicit `!!str`).
    static func isPlain(_ scalar: Node.Scalar) -> Bool {
        guard scalar.style == .plain || scalar.style == .any else { return false }
        let tag = scalar.tag.description
        if tag.isEmpty { return true }
        return tag.hasPrefix("tag:yaml.org,2002:") && !tag.hasSuffix(":str")
    }

    /// Resolves a scalar node: quoted and block scalars are always strings.
    static func resolve(_ scalar: Node.Scalar) -> ResolvedScalar {
        isPlain(scalar) ? resolvePlain(scalar.string) : .string(scalar.string)
    }

    /// yaml.v3's implicit resolution of plain text.
    static func resolvePlain(_ text: String) -> ResolvedScalar {
        if nullWords.contains(text) { return .null }
        if trueWords.contains(text) { return .bool(true) }
        if falseWords.contains(text) { return .bool(false) }
        switch text {
        case ".inf", ".Inf", ".INF", "+.inf", "+.Inf", "+.INF": return .float(.infinity)
        case "-.inf", "-.Inf", "-.INF": return .float(-.infinity)
        case ".nan", ".NaN", ".NAN": return .float(.nan)
        default: break
        }
        guard let first = text.unicodeScalars.first else { return .string(text) }
        let numericStart = ("0"..."9").contains(first) || first == "-" || first == "+" || first == "."
        guard numericStart else { return .string(text) }
        if first == "." {
            if let value = parseFloat(text) { return .float(value) }
            return .string(text)
        }
        let plain = text.replacingAll("_", with: "")
        if let value = GoInteger.parseSigned(plain) { return .int(value) }
        if let value = GoInteger.parseUnsigned(plain) { return .uint(value) }
        if isYAMLStyleFloat(plain), let value = parseFloat(plain) { return .float(value) }
        return .string(text)
    }

    /// `^[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?$`, yaml.v3's float shape.
    static func isYAMLStyleFloat(_ text: String) -> Bool {
        var chars = Array(text.utf8)[...]
        if let c = chars.first, c == UInt8(ascii: "-") || c == UInt8(ascii: "+") { chars = chars.dropFirst() }
        func digits() -> Int {
            var count = 0
            while let c = chars.first, c >= UInt8(ascii: "0"), c <= UInt8(ascii: "9") {
                chars = chars.dropFirst()
                count += 1
            }
            return count
        }
        if chars.first == UInt8(ascii: ".") {
            chars = chars.dropFirst()
            if digits() == 0 { return false }
        } else {
            if digits() == 0 { return false }
            if chars.first == UInt8(ascii: ".") {
                chars = chars.dropFirst()
                _ = digits()
            }
        }
        if let c = chars.first, c == UInt8(ascii: "e") || c == UInt8(ascii: "E") {
            chars = chars.dropFirst()
            if let s = chars.first, s == UInt8(ascii: "-") || s == UInt8(ascii: "+") { chars = chars.dropFirst() }
            if digits() == 0 { return false }
        }
        return chars.isEmpty
    }

    static func parseFloat(_ text: String) -> Double? {
        guard !text.isEmpty, text.utf8.allSatisfy({ c in
            (c >= UInt8(ascii: "0") && c <= UInt8(ascii: "9")) || c == UInt8(ascii: ".") || c == UInt8(ascii: "e")
                || c == UInt8(ascii: "E") || c == UInt8(ascii: "-") || c == UInt8(ascii: "+")
        }) else { return nil }
        return Double(text)
    }

    /// Whether a string would read back as something other than that string, under either yaml.v3 or the
    /// YAML 1.1 rules other tools use, and so must be quoted when written.
    static func needsQuoting(_ text: String) -> Bool {
        if case .string = resolvePlain(text) {} else { return true }
        if legacyTrue.contains(text) || legacyFalse.contains(text) { return true }
        let lower = text.lowercased()
        if ["yes", "no", "on", "off", "y", "n", "true", "false", "null", "~"].contains(lower) { return true }
        // Timestamps (2024-01-01) and base-60 numbers (1:20) resolve specially in YAML 1.1.
        if let first = text.unicodeScalars.first, ("0"..."9").contains(first) {
            if text.contains("-") || text.contains(":") { return true }
        }
        return false
    }
}

/// Go's `strconv.ParseInt(s, 0, 64)` / `ParseUint(s, 0, 64)`: sign, then `0x`, `0o`, `0b` or a leading `0`
/// (octal) prefix, else decimal. Underscores must already be removed.
enum GoInteger {
    static func parseUnsignedMagnitude(_ text: Substring) -> UInt64? {
        var body = text
        var radix: UInt64 = 10
        let lower = body.lowercased()
        if lower.hasPrefix("0x") {
            radix = 16
            body = body.dropFirst(2)
        } else if lower.hasPrefix("0o") {
            radix = 8
            body = body.dropFirst(2)
        } else if lower.hasPrefix("0b") {
            radix = 2
            body = body.dropFirst(2)
        } else if body.count > 1, body.first == "0" {
            radix = 8
            body = body.dropFirst()
        }
        guard !body.isEmpty else { return nil }
        var value: UInt64 = 0
        for c in body.unicodeScalars {
            let digit: UInt64
            switch c {
            case "0"..."9": digit = UInt64(c.value - 48)
            case "a"..."f": digit = UInt64(c.value - 97 + 10)
            case "A"..."F": digit = UInt64(c.value - 65 + 10)
            default: return nil
            }
            guard digit < radix else { return nil }
            let (product, overflow1) = value.multipliedReportingOverflow(by: radix)
            let (sum, overflow2) = product.addingReportingOverflow(digit)
            if overflow1 || overflow2 { return nil }
            value = sum
        }
        return value
    }

    static func parseSigned(_ text: String) -> Int64? {
        var body = Substring(text)
        var negative = false
        if body.first == "-" {
            negative = true
            body = body.dropFirst()
        } else if body.first == "+" {
            body = body.dropFirst()
        }
        guard let magnitude = parseUnsignedMagnitude(body) else { return nil }
        if negative {
            if magnitude == UInt64(Int64.max) + 1 { return Int64.min }
            guard magnitude <= UInt64(Int64.max) else { return nil }
            return -Int64(magnitude)
        }
        guard magnitude <= UInt64(Int64.max) else { return nil }
        return Int64(magnitude)
    }

    static func parseUnsigned(_ text: String) -> UInt64? {
        var body = Substring(text)
        if body.first == "+" { body = body.dropFirst() }
        return parseUnsignedMagnitude(body)
    }
}

extension String {
    func replacingAll(_ target: Character, with replacement: String) -> String {
        var out = ""
        out.reserveCapacity(count)
        for c in self {
            if c == target { out += replacement } else { out.append(c) }
        }
        return out
    }
}
