/// One dependency atom as apk writes it: `[!]name[@tag][op version]`.
///
/// Used for `depend`, `provides` (`name=version`), `install_if`, `replaces` and world entries.
/// Parsing, rendering and matching live in `Dependency+Parsing.swift`.
public struct Dependency: Hashable, Sendable {
    /// The package or virtual name: `musl`, `so:libc.musl-x86_64.so.1`, `cmd:sh`, `pc:zlib`.
    public var name: String
    /// The version constraint, if any.
    public var constraint: VersionConstraint?
    /// `@tag`: the repository tag this atom may be taken from.
    public var tag: String?
    /// `!name`: the named package must not be installed.
    public var isConflict: Bool

    public init(name: String, constraint: VersionConstraint? = nil, tag: String? = nil, isConflict: Bool = false) {
        self.name = name
        self.constraint = constraint
        self.tag = tag
        self.isConflict = isConflict
    }
}

/// An operator and a version: `>=1.2`, `~3.6`, `=1.0-r0`, `><Q1…` (identity match).
public struct VersionConstraint: Hashable, Sendable {
    public enum Operator: String, Sendable, CaseIterable {
        case equal = "="
        case less = "<"
        case lessOrEqual = "<="
        case greater = ">"
        case greaterOrEqual = ">="
        /// `~`: fuzzy, prefix match on version components (`3.6.9 ~ 3.6`).
        case fuzzy = "~"
        /// `>~`: greater than, or fuzzy-equal.
        case greaterOrFuzzy = ">~"
        /// `<~`: less than, or fuzzy-equal.
        case lessOrFuzzy = "<~"
        /// `><`: the package identity (`Q1…` checksum) must match.
        case checksum = "><"
    }

    public var op: Operator
    /// The version text (or the `Q1…` identity for `.checksum`).
    public var version: String

    public init(_ op: Operator, _ version: String) {
        self.op = op
        self.version = version
    }
}
