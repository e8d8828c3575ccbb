/// The parts of a pkg-config `.pc` file that dependency scanning needs: variables, `Name`, `Version`
/// and the `Requires`, `Requires.private` and `Requires.internal` lists.
public struct PkgConfigFile: Sendable, Hashable {
    /// One entry of a `Requires` list: `glib-2.0 >= 2.50` → name `glib-2.0`, constraint `>= 2.50`.
    public struct Requirement: Sendable, Hashable {
        public var name: String
        /// The comparison and version (`>= 2.50`), if any.
        public var constraint: String?
    }

    public var variables: [String: String] = [:]
    public var name: String?
    public var version: String?
    public var requires: [Requirement] = []
    public var requiresPrivate: [Requirement] = []
    public var requiresInternal: [Requirement] = []

    /// Parses the text of a `.pc` file. Unknown keywords and malformed lines are ignored, as pkg-config does.
    public init(parsing text: String) {
        for rawLine in text.split(omittingEmptySubsequences: false, whereSeparator: { $0 == "\n" || $0 == "\r\n" }) {
            let line = rawLine.trimmingWhitespace
            if line.isEmpty || line.hasPrefix("#") { continue }
            guard let separator = line.firstIndex(where: { $0 == "=" || $0 == ":" }) else { continue }
            let key = String(line[..<separator]).trimmingWhitespace
            guard !key.isEmpty, key.allSatisfy({ $0.isLetter || $0.isNumber || $0 == "_" || $0 == "." }) else {
                continue
            }
            let value = expand(String(line[line.index(after: separator)...]).trimmingWhitespace)
            if line[separator] == "=" {
                variables[key] = value
                continue
            }
            switch key.lowercased() {
            case "name": name = value
            case "version": version = value
            case "requires": requires = Self.requirements(value)
            case "requires.private": requiresPrivate = Self.requirements(value)
            case "requires.internal": requiresInternal = Self.requirements(value)
            default: break
            }
        }
    }

    /// Replaces `${var}` with variables defined so far (unknown ones stay as written).
    private func expand(_ value: String) -> String {
        guard value.contains("${") else { return value }
        var result = ""
        var rest = Substring(value)
        while let open = rest.range(of: "${") {
            result += rest[..<open.lowerBound]
            guard let close = rest[open.upperBound...].firstIndex(of: "}") else {
                result += rest[open.lowerBound...]
                return result
            }
            let name = String(rest[open.upperBound ..< close])
            result += variables[name] ?? "${\(name)}"
            rest = rest[rest.index(after: close)...]
        }
        return result + rest
    }

    /// Splits `a >= 1, b c=2` into requirements.
    static func requirements(_ value: String) -> [Requirement] {
        let withoutComment = value.split(separator: "#", maxSplits: 1, omittingEmptySubsequences: false).first ?? ""
        let characters = Array(withoutComment)
        let operatorCharacters: Set<Character> = ["<", ">", "=", "!"]
        func isSeparator(_ character: Character) -> Bool { character == "," || character.isWhitespace }
        var result: [Requirement] = []
        var index = 0
        func skip(_ predicate: (Character) -> Bool) {
            while index < characters.count, predicate(characters[index]) { index += 1 }
        }
        func take(_ predicate: (Character) -> Bool) -> String {
            let start = index
            skip(predicate)
            return String(characters[start ..< index])
        }
        while index < characters.count {
            skip(isSeparator)
            let name = take { !isSeparator($0) && !operatorCharacters.contains($0) }
            skip { $0.isWhitespace }
            var constraint: String?
            if index < characters.count, operatorCharacters.contains(characters[index]) {
                let op = take { operatorCharacters.contains($0) }
                skip { $0.isWhitespace }
                let version = take { !isSeparator($0) }
                constraint = "\(op) \(version)"
            }
            if !name.isEmpty { result.append(Requirement(name: name, constraint: constraint)) }
        }
        return result
    }
}

extension StringProtocol {
    var trimmingWhitespace: String {
        guard let first = firstIndex(where: { !$0.isWhitespace }),
            let last = lastIndex(where: { !$0.isWhitespace })
        else { return "" }
        return String(self[first ... last])
    }
}
