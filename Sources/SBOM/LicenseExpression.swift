// Source: SPDX 2.3 Annex D (license expressions: `AND`, `OR`, `WITH`, `+`, parentheses, `LicenseRef-`)
// and clause 10 (other licensing information detected).

import LaminaCore

/// Turns a package's free-form license field into a valid SPDX license expression.
public enum LicenseExpression {
    /// A valid expression, plus the `LicenseRef-` licenses it introduced.
    public struct Normalized: Sendable, Hashable {
        public var expression: String
        public var extracted: [ExtractedLicense]
    }

    /// Normalises `raw`: known SPDX ids get their canonical spelling, `and`/`or`/`with` are upper-cased,
    /// and every unknown id becomes `LicenseRef-<id>` with an extracted-license entry whose text is the
    /// original id (Alpine's `custom`, `GPL2`). Text that is not an expression at all becomes one
    /// `LicenseRef-` for the whole string. An empty field gives `NOASSERTION`.
    public static func normalize(_ raw: String) -> Normalized {
        let text = raw.trimmingSpaces
        guard !text.isEmpty, text != noAssertion, text != "NONE" else {
            return Normalized(expression: text.isEmpty ? noAssertion : text, extracted: [])
        }
        if let parsed = parse(text) { return parsed }
        let id = "LicenseRef-" + SPDXIdentifier.sanitize(text)
        return Normalized(expression: id, extracted: [ExtractedLicense(id: id, text: text, name: text)])
    }

    private static let lookup: [String: String] = Dictionary(
        SPDXLicenseList.licenses.map { ($0.lowercased(), $0) }, uniquingKeysWith: { first, _ in first })
    private static let exceptionLookup: [String: String] = Dictionary(
        SPDXLicenseList.exceptions.map { ($0.lowercased(), $0) }, uniquingKeysWith: { first, _ in first })

    private enum Token: Equatable {
        case open, close, and, or, with
        case id(String)
    }

    private static func tokenize(_ text: String) -> [Token]? {
        var tokens: [Token] = []
        var word = ""
        func flush() {
            guard !word.isEmpty else { return }
            switch word.uppercased() {
            case "AND": tokens.append(.and)
            case "OR": tokens.append(.or)
            case "WITH": tokens.append(.with)
            default: tokens.append(.id(word))
            }
            word = ""
        }
        for c in text {
            switch c {
            case "(":
                flush()
                tokens.append(.open)
            case ")":
                flush()
                tokens.append(.close)
            case " ", "\t", "\n":
                flush()
            default:
                guard c.isASCII, c.isLetter || c.isNumber || c == "-" || c == "." || c == "+" || c == ":" else {
                    return nil
                }
                word.append(c)
            }
        }
        flush()
        return tokens
    }

    /// Recursive descent over `or := and (OR and)*`, `and := term (AND term)*`,
    /// `term := '(' or ')' | id [WITH exception]`. Nil when the syntax is wrong.
    private static func parse(_ text: String) -> Normalized? {
        guard let tokens = tokenize(text), !tokens.isEmpty else { return nil }
        var position = 0
        var extracted: [ExtractedLicense] = []

        func license(_ word: String) -> String? {
            var base = word
            var plus = ""
            if base.hasSuffix("+") {
                base.removeLast()
                plus = "+"
            }
            guard !base.isEmpty, !base.contains("+"), !base.contains(":") else { return nil }
            if base.hasPrefix("LicenseRef-") {
                let id = "LicenseRef-" + SPDXIdentifier.sanitize(String(base.dropFirst("LicenseRef-".count)))
                if !extracted.contains(where: { $0.id == id }) {
                    extracted.append(ExtractedLicense(id: id, text: word, name: word))
                }
                return id + plus
            }
            if let known = lookup[base.lowercased()] { return known + plus }
            let id = "LicenseRef-" + SPDXIdentifier.sanitize(base)
            if !extracted.contains(where: { $0.id == id }) {
                extracted.append(ExtractedLicense(id: id, text: base, name: base))
            }
            return id + plus
        }

        func term() -> String? {
            guard position < tokens.count else { return nil }
            switch tokens[position] {
            case .open:
                position += 1
                guard let inner = orExpression(), position < tokens.count, tokens[position] == .close else { return nil }
                position += 1
                return "(\(inner))"
            case .id(let word):
                position += 1
                guard let id = license(word) else { return nil }
                if position < tokens.count, tokens[position] == .with {
                    position += 1
                    guard position < tokens.count, case .id(let exception) = tokens[position],
                        let known = exceptionLookup[exception.lowercased()]
                    else { return nil }
                    position += 1
                    return "\(id) WITH \(known)"
                }
                return id
            default:
                return nil
            }
        }

        func andExpression() -> String? {
            guard var result = term() else { return nil }
            while position < tokens.count, tokens[position] == .and {
                position += 1
                guard let next = term() else { return nil }
                result += " AND " + next
            }
            return result
        }

        func orExpression() -> String? {
            guard var result = andExpression() else { return nil }
            while position < tokens.count, tokens[position] == .or {
                position += 1
                guard let next = andExpression() else { return nil }
                result += " OR " + next
            }
            return result
        }

        guard let expression = orExpression(), position == tokens.count else { return nil }
        return Normalized(expression: expression, extracted: extracted)
    }
}
