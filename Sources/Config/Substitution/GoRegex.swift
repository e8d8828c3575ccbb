import Foundation
import LaminaCore

/// Go `regexp.ReplaceAllString` for melange's `var-transforms` (and `update.version-transform`): Go's RE2
/// syntax (including `(?P<name>…)`), non-overlapping leftmost matches, empty matches right after a match
/// skipped, and Go's template expansion (`$1`, `${1}`, `$name`, `${name}`, `$$`).
public enum GoRegex {
    /// Replaces every match of `pattern` in `text` by `template`.
    /// - Throws: `LaminaError(.invalidInput)` when the pattern does not compile.
    public static func replaceAll(in text: String, pattern: String, with template: String) throws -> String {
        let regex = try compile(pattern)
        var result = ""
        var copiedUpTo = text.startIndex
        var previousEnd: String.Index?
        for match in text.matches(of: regex) {
            let range = match.range
            if range.isEmpty, let previousEnd, range.lowerBound == previousEnd { continue }
            result += text[copiedUpTo..<range.lowerBound]
            result += expand(template, match: match)
            copiedUpTo = range.upperBound
            previousEnd = range.upperBound
        }
        result += text[copiedUpTo...]
        return result
    }

    /// Whether `pattern` matches anywhere in `text`.
    public static func matches(_ text: String, pattern: String) throws -> Bool {
        try text.firstMatch(of: compile(pattern)) != nil
    }

    static func compile(_ pattern: String) throws -> Regex<AnyRegexOutput> {
        // Go spells named groups (?P<name>…); Swift also accepts (?<name>…).
        let translated = pattern.replacingOccurrences(of: "(?P<", with: "(?<")
        do {
            return try Regex(translated).matchingSemantics(.unicodeScalar)
        } catch {
            throw LaminaError(.invalidInput, "invalid regular expression '\(pattern)': \(error)")
        }
    }

    private static func expand(_ template: String, match: Regex<AnyRegexOutput>.Match) -> String {
        let chars = Array(template.unicodeScalars)
        var out = String.UnicodeScalarView()
        var index = 0
        func isNameScalar(_ c: Unicode.Scalar) -> Bool {
            ("a"..."z").contains(c) || ("A"..."Z").contains(c) || ("0"..."9").contains(c) || c == "_"
        }
        while index < chars.count {
            let c = chars[index]
            guard c == "$" else {
                out.append(c)
                index += 1
                continue
            }
            // "$$" is a literal dollar.
            if index + 1 < chars.count, chars[index + 1] == "$" {
                out.append("$")
                index += 2
                continue
            }
            var cursor = index + 1
            let braced = cursor < chars.count && chars[cursor] == "{"
            if braced { cursor += 1 }
            let nameStart = cursor
            while cursor < chars.count, isNameScalar(chars[cursor]) { cursor += 1 }
            let name = String(String.UnicodeScalarView(chars[nameStart..<cursor]))
            var valid = !name.isEmpty
            if braced {
                if cursor < chars.count, chars[cursor] == "}" { cursor += 1 } else { valid = false }
            }
            guard valid else {
                // Malformed reference: the "$" is kept as text.
                out.append("$")
                index += 1
                continue
            }
            index = cursor
            out.append(contentsOf: group(name, in: match).unicodeScalars)
        }
        return String(out)
    }

    private static func group(_ name: String, in match: Regex<AnyRegexOutput>.Match) -> String {
        if name.unicodeScalars.allSatisfy({ ("0"..."9").contains($0) }) {
            guard let number = Int(name), number < match.output.count else { return "" }
            return match.output[number].substring.map(String.init) ?? ""
        }
        return match.output[name]?.substring.map(String.init) ?? ""
    }
}
