import LaminaCore

// Source: apk-tools 2.14 `src/package.c` (`apk_blob_pull_dep`, `apk_dep_is_provided`), `doc/apk-world.5.scd`;
// formats.md §3.6.

extension Dependency {
    /// Parses one atom: `[!]name[@tag][op version]`.
    ///
    /// Operators: `=`, `<`, `<=`, `>`, `>=`, `~` (also spelled `=~` or `~=`), `>~`, `<~` and `><` (identity
    /// checksum, also `<>`). As in apk-tools 2.14 the tag comes before the operator: `name@tag>=1` is accepted,
    /// `name>=1@tag` is not (the version would be `1@tag`). Names may use letters, digits and `. _ - + : , [ ] /`
    /// so that `so:libc.musl-x86_64.so.1`, `cmd:[`, `pc:zlib` and `py3.11:foo` parse.
    ///
    /// - Throws: `LaminaError(.invalidInput)` quoting the atom when the name is empty or has a character apk
    ///   does not allow, the tag is empty or malformed, the operator is unknown, the version is empty or not a
    ///   valid apk version (unless `validateVersion` is false: metadata written by other tools, such as
    ///   `so:libfoo.so.0unstable=0unstable`, is read as apk-tools reads it, comparing such versions as strings).
    public init(parsing text: String, validateVersion: Bool = true) throws {
        var rest = Substring(text)
        var isConflict = false
        if rest.first == "!" {
            isConflict = true
            rest = rest.dropFirst()
        }
        func fail(_ why: String) -> LaminaError {
            LaminaError(.invalidInput, "'\(text)' is not a valid dependency: \(why)")
        }
        guard !rest.isEmpty else { throw fail("the package name is empty") }

        let opStart = rest.firstIndex(where: { Self.operatorCharacters.contains($0) }) ?? rest.endIndex
        var nameAndTag = rest[..<opStart]
        var tag: String?
        if let at = nameAndTag.firstIndex(of: "@") {
            let tagText = nameAndTag[nameAndTag.index(after: at)...]
            guard !tagText.isEmpty else { throw fail("the repository tag after '@' is empty") }
            if let bad = tagText.first(where: { !Self.isTagCharacter($0) }) {
                throw fail("the repository tag '\(tagText)' contains '\(bad)'")
            }
            tag = String(tagText)
            nameAndTag = nameAndTag[..<at]
        }
        guard !nameAndTag.isEmpty else { throw fail("the package name is empty") }
        if let bad = nameAndTag.first(where: { !Self.isNameCharacter($0) }) {
            throw fail("the package name contains '\(bad)' (allowed: letters, digits and . _ - + : , [ ] /)")
        }

        var constraint: VersionConstraint?
        if opStart != rest.endIndex {
            let afterOp = rest[opStart...].firstIndex(where: { !Self.operatorCharacters.contains($0) }) ?? rest.endIndex
            let opText = String(rest[opStart..<afterOp])
            let version = String(rest[afterOp...])
            guard let op = Self.operatorSpellings[opText] else {
                throw fail("unknown operator '\(opText)' (use =, <, <=, >, >=, ~, >~, <~ or ><)")
            }
            guard !version.isEmpty else { throw fail("no version after '\(opText)'") }
            if op != .checksum {
                if version.contains("@") {
                    throw fail("the tag must come before the operator, as in 'name@tag\(opText)version'")
                }
                guard !validateVersion || APKVersion.isValid(version) else {
                    throw fail("'\(version)' is not a valid apk version")
                }
            } else if version.contains(where: { $0 == " " || $0 == "\t" }) {
                throw fail("malformed identity checksum '\(version)'")
            }
            constraint = VersionConstraint(op, version)
        }
        self.init(name: String(nameAndTag), constraint: constraint, tag: tag, isConflict: isConflict)
    }

    /// Parses a space-separated list of atoms, as found in `D:`, `p:`, `i:` and `r:` lines and in
    /// `/etc/apk/world` (newlines and tabs also separate). Empty input gives an empty list.
    ///
    /// - Throws: `LaminaError(.invalidInput)` naming the first invalid atom.
    public static func parseList(_ text: String, validateVersion: Bool = true) throws -> [Dependency] {
        try text.split(whereSeparator: { $0 == " " || $0 == "\n" || $0 == "\t" || $0 == "\r" })
            .map { try Dependency(parsing: String($0), validateVersion: validateVersion) }
    }

    /// The version a provides entry (`p:so:libfoo.so.1=1.2`) gives its name, or nil for an unversioned
    /// (virtual) provide.
    public var providedVersion: String? { constraint?.version }

    /// Whether this atom's name and version constraint accept a provider of `name` at `version`, ignoring
    /// `isConflict`. `version` nil means an unversioned provide, which satisfies only atoms without a
    /// version constraint. The identity operator `><` never matches here (see `matches(_:)`).
    public func matches(name: String, version: String?) -> Bool {
        guard name == self.name else { return false }
        guard let constraint else { return true }
        guard let version, constraint.op != .checksum else { return false }
        return APKVersion.matches(version, constraint)
    }

    /// Whether a provider of `name` at `version` is acceptable to this atom: for a normal dependency, whether
    /// it satisfies it; for a conflict (`!name…`), whether it is *not* excluded by it.
    public func isSatisfied(byName name: String, version: String?) -> Bool {
        matches(name: name, version: version) != isConflict
    }

    /// Whether `package` matches this atom's name and constraint, by its own name and version or, failing
    /// that, by the first of its provides with this name (as apk-tools' `apk_dep_analyze`). Ignores
    /// `isConflict`. For `><` the package's identity checksum (`Q1…`) must equal the constraint text.
    public func matches(_ package: PackageInfo) -> Bool {
        if package.name == name {
            if let constraint, constraint.op == .checksum {
                return package.checksum?.apkIdentity == constraint.version
            }
            return matches(name: package.name, version: package.version)
        }
        for provide in package.provides where provide.name == name {
            return matches(name: provide.name, version: provide.providedVersion)
        }
        return false
    }

    /// Whether this atom relates to `package` at all (by name or through one of its provides).
    public func isRelevant(to package: PackageInfo) -> Bool {
        package.name == name || package.provides.contains { $0.name == name }
    }

    static let operatorCharacters: Set<Character> = ["<", ">", "=", "~"]

    /// Accepted operator spellings. apk-tools builds the operator from the set of characters; we accept the
    /// spellings that mean something, including `=~`/`~=` (apko's fuzzy spelling).
    static let operatorSpellings: [String: VersionConstraint.Operator] = [
        "=": .equal, "<": .less, "<=": .lessOrEqual, ">": .greater, ">=": .greaterOrEqual,
        "~": .fuzzy, "=~": .fuzzy, "~=": .fuzzy, ">~": .greaterOrFuzzy, "<~": .lessOrFuzzy,
        "><": .checksum, "<>": .checksum,
    ]

    static func isNameCharacter(_ c: Character) -> Bool {
        guard let ascii = c.asciiValue else { return false }
        return isNameByte(ascii)
    }

    /// Letters, digits and `. _ - + : , [ ] /`.
    static func isNameByte(_ ascii: UInt8) -> Bool {
        switch ascii {
        case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"),
            UInt8(ascii: "0")...UInt8(ascii: "9"):
            return true
        case UInt8(ascii: "."), UInt8(ascii: "_"), UInt8(ascii: "-"), UInt8(ascii: "+"), UInt8(ascii: ":"),
            UInt8(ascii: ","), UInt8(ascii: "["), UInt8(ascii: "]"), UInt8(ascii: "/"):
            return true
        default:
            return false
        }
    }

    static func isTagCharacter(_ c: Character) -> Bool {
        guard let ascii = c.asciiValue else { return false }
        return isTagByte(ascii)
    }

    /// Letters, digits and `. _ - +`.
    static func isTagByte(_ ascii: UInt8) -> Bool {
        switch ascii {
        case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"),
            UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "."), UInt8(ascii: "_"), UInt8(ascii: "-"),
            UInt8(ascii: "+"):
            return true
        default:
            return false
        }
    }
}

extension Dependency: CustomStringConvertible, LosslessStringConvertible {
    /// The atom as apk writes it: `[!]name[@tag][op version]`. Parsing it gives back an equal value.
    public var description: String {
        var text = isConflict ? "!" : ""
        text += name
        if let tag { text += "@" + tag }
        if let constraint { text += constraint.description }
        return text
    }

    /// Parses an atom, or returns nil when it is invalid (see `init(parsing:)` for the error).
    public init?(_ description: String) {
        guard let parsed = try? Dependency(parsing: description) else { return nil }
        self = parsed
    }
}

extension VersionConstraint: CustomStringConvertible {
    /// `op` followed by the version: `>=1.2`, `~3.6`.
    public var description: String { op.rawValue + version }

    /// Whether a package version satisfies this constraint (never true for `><`).
    public func isSatisfied(by version: String) -> Bool { APKVersion.matches(version, self) }
}
