import LaminaCore
import Yams

/// Writes configuration values as YAML or JSON, with the field omission rules of apko and melange (Go's
/// `omitempty`): empty strings, lists, maps, `false` and `0` are left out unless the field is one Go
/// always writes.
public enum ConfigRenderer {
    /// YAML with 2-space indentation, fields in schema order, map keys sorted, strings quoted whenever
    /// they would otherwise read back as another type, multi-line strings as literal blocks.
    /// - Throws: `LaminaError(.internal)` if the YAML emitter fails.
    public static func yaml<T: Encodable>(_ value: T) throws -> String {
        let tree = try TreeEncoder.encode(value)
        let node = yamlNode(prune(tree, json: false))
        do {
            return try Yams.serialize(node: node, indent: 2, width: -1, allowUnicode: true)
        } catch {
            throw LaminaError(.internal, "cannot write YAML: \(error)", cause: error)
        }
    }

    /// Compact JSON as Go's `encoding/json` writes it: fields in schema order, map keys sorted, `<`, `>`,
    /// `&`, U+2028 and U+2029 escaped, structs always present. No trailing newline (apko's
    /// `/etc/apko.json` is this plus `"\n"`).
    public static func json<T: Encodable>(_ value: T) throws -> String {
        let tree = try TreeEncoder.encode(value)
        var out = ""
        writeJSON(prune(tree, json: true), into: &out)
        return out
    }

    /// Applies the omission rules to every struct in the tree.
    static func prune(_ value: EncodedValue, json: Bool) -> EncodedValue {
        switch value {
        case .object(let fields):
            var kept: [EncodedField] = []
            for field in fields {
                let omit: Bool
                if (json ? field.alwaysInJSON : field.always) || field.explicit {
                    omit = false
                } else if json {
                    omit = field.value.isEmptyScalarOrCollection
                } else {
                    omit = field.value.isZero
                }
                if !omit {
                    kept.append(
                        EncodedField(
                            key: field.key, value: prune(field.value, json: json), explicit: field.explicit,
                            always: field.always, alwaysInJSON: field.alwaysInJSON))
                }
            }
            return .object(kept)
        case .sequence(let items):
            return .sequence(items.map { prune($0, json: json) })
        case .dictionary(let entries):
            return .dictionary(entries.mapValues { prune($0, json: json) })
        default:
            return value
        }
    }

    // MARK: YAML

    static func yamlNode(_ value: EncodedValue) -> Node {
        switch value {
        case .null: return Node("null", Tag(.null), .plain)
        case .bool(let flag): return Node(flag ? "true" : "false", Tag(.bool), .plain)
        case .int(let number): return Node(String(number), Tag(.int), .plain)
        case .uint(let number): return Node(String(number), Tag(.int), .plain)
        case .double(let number): return Node(String(number), Tag(.float), .plain)
        case .string(let text): return stringNode(text)
        case .sequence(let items): return Node(items.map(yamlNode), Tag(.seq), .block)
        case .object(let fields):
            return Node(fields.map { (stringNode($0.key), yamlNode($0.value)) }, Tag(.map), .block)
        case .dictionary(let entries):
            let pairs = entries.keys.sorted().map { key in (stringNode(key), yamlNode(entries[key] ?? .null)) }
            return Node(pairs, Tag(.map), .block)
        }
    }

    static func stringNode(_ text: String) -> Node {
        if text.contains("\n") {
            // Literal blocks cannot carry trailing spaces on a line or leading spaces on the first line.
            let lines = text.split(separator: "\n", omittingEmptySubsequences: false)
            let blockSafe = !text.hasPrefix(" ") && !lines.contains { $0.hasSuffix(" ") || $0.hasSuffix("\t") }
                && !text.contains("\r")
            return Node(text, Tag(.str), blockSafe ? .literal : .doubleQuoted)
        }
        if YAMLScalar.needsQuoting(text) { return Node(text, Tag(.str), .singleQuoted) }
        return Node(text, Tag(.str), .any)
    }

    // MARK: JSON

    static func writeJSON(_ value: EncodedValue, into out: inout String) {
        switch value {
        case .null: out += "null"
        case .bool(let flag): out += flag ? "true" : "false"
        case .int(let number): out += String(number)
        case .uint(let number): out += String(number)
        case .double(let number): out += number.isFinite ? formatDouble(number) : "null"
        case .string(let text): writeJSONString(text, into: &out)
        case .sequence(let items):
            out += "["
            for (index, item) in items.enumerated() {
                if index > 0 { out += "," }
                writeJSON(item, into: &out)
            }
            out += "]"
        case .object(let fields):
            out += "{"
            for (index, field) in fields.enumerated() {
                if index > 0 { out += "," }
                writeJSONString(field.key, into: &out)
                out += ":"
                writeJSON(field.value, into: &out)
            }
            out += "}"
        case .dictionary(let entries):
            out += "{"
            for (index, key) in entries.keys.sorted().enumerated() {
                if index > 0 { out += "," }
                writeJSONString(key, into: &out)
                out += ":"
                writeJSON(entries[key] ?? .null, into: &out)
            }
            out += "}"
        }
    }

    static func formatDouble(_ number: Double) -> String {
        if number == number.rounded(), abs(number) < 1e21 { return String(Int64(number)) }
        return String(number)
    }

    /// Go's `encoding/json` string escaping with HTML escaping on.
    static func writeJSONString(_ text: String, into out: inout String) {
        out += "\""
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            case "<", ">", "&", "\u{2028}", "\u{2029}":
                out += "\\u" + hex4(scalar.value)
            default:
                if scalar.value < 0x20 {
                    out += "\\u" + hex4(scalar.value)
                } else {
                    out.unicodeScalars.append(scalar)
                }
            }
        }
        out += "\""
    }

    private static func hex4(_ value: UInt32) -> String {
        let digits = Array("0123456789abcdef")
        return String([digits[Int(value >> 12 & 0xf)], digits[Int(value >> 8 & 0xf)], digits[Int(value >> 4 & 0xf)],
                       digits[Int(value & 0xf)]])
    }
}
