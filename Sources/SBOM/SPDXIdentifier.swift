// Source: SPDX 2.3 clause 3.2 / 7.2 (`idstring = 1*(ALPHA / DIGIT / "-" / ".")`), and apko's
// `stringToIdentifier` (pkg/sbom/generator/spdx/spdx.go), whose spellings we reproduce.

/// Makes SPDX element ids from arbitrary text.
public enum SPDXIdentifier {
    /// Turns `text` into a valid idstring the way apko does: `:` becomes `-`, and every other byte outside
    /// `[A-Za-z0-9.-]` becomes `C<code>` (`_` → `C95`; each byte of a non-ASCII character → `C65533`).
    public static func sanitize(_ text: String) -> String {
        var out = ""
        for byte in text.utf8 {
            switch byte {
            case UInt8(ascii: ":"): out.append("-")
            case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"),
                UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "-"), UInt8(ascii: "."):
                out.append(Character(Unicode.Scalar(byte)))
            default:
                out.append(byte < 0x80 ? "C\(byte)" : "C65533")
            }
        }
        return out
    }

    /// Whether `id` is `SPDXRef-` followed by a non-empty idstring.
    public static func isValid(_ id: String) -> Bool {
        guard id.hasPrefix("SPDXRef-") else { return false }
        let rest = id.utf8.dropFirst("SPDXRef-".count)
        return !rest.isEmpty
            && rest.allSatisfy { c in
                (c >= 48 && c <= 57) || (c >= 65 && c <= 90) || (c >= 97 && c <= 122) || c == 45 || c == 46
            }
    }
}
