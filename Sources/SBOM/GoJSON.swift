// A JSON writer that reproduces Go's `encoding/json` Encoder with `SetIndent("", "  ")` and HTML escaping,
// which apko and melange use for SPDX files: fields in declaration order, two-space indent, `": "`,
// `&`, `<`, `>`, U+2028 and U+2029 written as `\u00XX`/`\u20XX` escapes, and a final newline.

/// A JSON value whose object members keep their order.
indirect enum GoJSON {
    case string(String)
    case bool(Bool)
    case int(Int64)
    case array([GoJSON])
    case object([(String, GoJSON)])

    /// The indented document, ending in `\n`.
    func rendered() -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(4096)
        write(into: &out, depth: 0)
        out.append(10)
        return out
    }

    private func write(into out: inout [UInt8], depth: Int) {
        switch self {
        case .string(let text): Self.writeString(text, into: &out)
        case .bool(let value): out += Array((value ? "true" : "false").utf8)
        case .int(let value): out += Array(String(value).utf8)
        case .array(let items):
            guard !items.isEmpty else { out += [91, 93]; return }
            out.append(91)
            for (index, item) in items.enumerated() {
                if index > 0 { out.append(44) }
                Self.newline(&out, depth + 1)
                item.write(into: &out, depth: depth + 1)
            }
            Self.newline(&out, depth)
            out.append(93)
        case .object(let members):
            guard !members.isEmpty else { out += [123, 125]; return }
            out.append(123)
            for (index, (key, value)) in members.enumerated() {
                if index > 0 { out.append(44) }
                Self.newline(&out, depth + 1)
                Self.writeString(key, into: &out)
                out += [58, 32]
                value.write(into: &out, depth: depth + 1)
            }
            Self.newline(&out, depth)
            out.append(125)
        }
    }

    private static func newline(_ out: inout [UInt8], _ depth: Int) {
        out.append(10)
        out += [UInt8](repeating: 32, count: depth * 2)
    }

    private static let hex = Array("0123456789abcdef".utf8)

    private static func writeString(_ text: String, into out: inout [UInt8]) {
        out.append(34)
        for scalar in text.unicodeScalars {
            switch scalar.value {
            case 0x22: out += [92, 34]
            case 0x5c: out += [92, 92]
            case 0x0a: out += [92, 110]
            case 0x0d: out += [92, 114]
            case 0x09: out += [92, 116]
            case 0x08: out += [92, 98]
            case 0x0c: out += [92, 102]
            case 0x00..<0x20, 0x26, 0x3c, 0x3e, 0x2028, 0x2029:
                let v = scalar.value
                out += [92, 117, hex[Int(v >> 12 & 15)], hex[Int(v >> 8 & 15)], hex[Int(v >> 4 & 15)], hex[Int(v & 15)]]
            default:
                out += Array(String(scalar).utf8)
            }
        }
        out.append(34)
    }
}
