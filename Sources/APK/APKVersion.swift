// Source: apk-tools 2.14 `doc/apk-package.5.scd` (version grammar) and the behaviour of `apk version -t`,
// checked against apk-tools' `test/version.data`. See formats.md §3.5.

/// The result of comparing two apk versions.
public enum VersionOrdering: Sendable, Hashable {
    case less, equal, greater

    /// The ordering seen from the other side (`a < b` ⇔ `b > a`).
    public var reversed: VersionOrdering {
        switch self {
        case .less: return .greater
        case .equal: return .equal
        case .greater: return .less
        }
    }

    /// The operator apk prints for this result (`<`, `=`, `>`).
    public var symbol: String {
        switch self {
        case .less: return "<"
        case .equal: return "="
        case .greater: return ">"
        }
    }
}

/// apk version strings: validation and ordering, with the semantics of apk-tools 2.14.
///
/// Grammar: `number{.number}...{letter}{_suffix{number}}...{-r#}`; suffixes rank
/// `alpha < beta < pre < rc < (none) < cvs < svn < git < hg < p`. Comparison walks both strings token by
/// token; a string that stops being valid simply stops the walk, which gives apk's ordering for invalid
/// versions too (`1.0 < 1.0bc`). apk-tools 3.x differs in a few places (`~hash` parts, leading zeros, the
/// fuzzy operator and stricter validity); those are not followed here.
///
/// All functions work on the UTF-8 bytes in place and do not allocate for native Swift strings: the solver
/// calls them millions of times.
public enum APKVersion {
    /// Compares two version strings: `.less` when `a` sorts before `b`.
    public static func compare(_ a: String, _ b: String) -> VersionOrdering {
        compare(a, b, fuzzy: false)
    }

    /// Compares `a` with `b`; with `fuzzy`, a version whose leading components equal all of the other
    /// version's components compares equal (`3.6.9` vs `3.6`), as apk-tools 2.14's `~` operator does.
    public static func compare(_ a: String, _ b: String, fuzzy: Bool) -> VersionOrdering {
        withBytes(a) { ab in withBytes(b) { bb in compareBytes(ab, bb, fuzzy: fuzzy) } }
    }

    /// Whether `version` follows the apk version grammar (as `apk version -c` checks it).
    ///
    /// The empty string counts as valid, as in apk-tools 2.14; the dependency parser rejects an empty
    /// version separately.
    public static func isValid(_ version: String) -> Bool {
        withBytes(version) { bytes in
            var cursor = Cursor(bytes: bytes)
            var kind = TokenKind.digit
            while kind != .end && kind != .invalid {
                _ = cursor.nextToken(&kind)
            }
            return kind == .end
        }
    }

    /// Whether a package `version` satisfies `constraint` (without the `><` checksum operator, which is
    /// never satisfied by a version alone).
    public static func matches(_ version: String, _ constraint: VersionConstraint) -> Bool {
        let mask = constraint.op.resultMask
        if constraint.op == .checksum { return false }
        let ordering = compare(version, constraint.version, fuzzy: constraint.op.isFuzzy)
        return mask.accepts(ordering)
    }

    /// Fuzzy (`~`) match: `version` starts with the components of `prefix` (`3.6.9 ~ 3.6`).
    public static func fuzzyMatches(_ version: String, _ prefix: String) -> Bool {
        compare(version, prefix, fuzzy: true) == .equal
    }

    // MARK: - Byte-level implementation

    @inline(__always)
    static func withBytes<R>(_ string: String, _ body: (UnsafeBufferPointer<UInt8>) -> R) -> R {
        if let result = string.utf8.withContiguousStorageIfAvailable(body) { return result }
        let copy = Array(string.utf8)
        return copy.withUnsafeBufferPointer(body)
    }

    /// Token kinds in the order apk uses to decide which of two unequal-length versions is newer.
    enum TokenKind: Int8, Comparable {
        case invalid = -1
        /// After a `.`: a number where leading zeros are weighted specially.
        case digitOrZero = 0
        case digit = 1
        case letter = 2
        case suffix = 3
        case suffixNumber = 4
        case revision = 5
        case end = 6

        static func < (lhs: TokenKind, rhs: TokenKind) -> Bool { lhs.rawValue < rhs.rawValue }
    }

    struct Cursor {
        let bytes: UnsafeBufferPointer<UInt8>
        var position = 0

        init(bytes: UnsafeBufferPointer<UInt8>) { self.bytes = bytes }

        @inline(__always) var remaining: Int { bytes.count - position }
        @inline(__always) func byte(_ offset: Int = 0) -> UInt8 { bytes[position + offset] }

        @inline(__always) static func isDigit(_ c: UInt8) -> Bool { c >= 0x30 && c <= 0x39 }
        @inline(__always) static func isLower(_ c: UInt8) -> Bool { c >= 0x61 && c <= 0x7A }

        /// Decides the kind of the token that starts at the cursor, consuming its separator.
        mutating func classifyNext(_ kind: inout TokenKind) {
            var next = TokenKind.invalid
            if remaining == 0 || byte() == 0 {
                next = .end
            } else if (kind == .digit || kind == .digitOrZero) && Self.isLower(byte()) {
                next = .letter
            } else if kind == .letter && Self.isDigit(byte()) {
                next = .digit
            } else if kind == .suffix && Self.isDigit(byte()) {
                next = .suffixNumber
            } else {
                switch byte() {
                case UInt8(ascii: "."): next = .digitOrZero
                case UInt8(ascii: "_"): next = .suffix
                case UInt8(ascii: "-"):
                    if remaining > 1 && byte(1) == UInt8(ascii: "r") {
                        next = .revision
                        position += 1
                    }
                default: break
                }
                position += 1
            }
            // Token kinds only move forward, except for these repeatable steps.
            if next < kind {
                let allowed = (next == .digitOrZero && kind == .digit) || (next == .suffix && kind == .suffixNumber)
                    || (next == .digit && kind == .letter)
                if !allowed { next = .invalid }
            }
            kind = next
        }

        /// Reads the value of the token of kind `kind` at the cursor and classifies the following token.
        mutating func nextToken(_ kind: inout TokenKind) -> Int64 {
            if remaining <= 0 {
                kind = .end
                return 0
            }
            var length = 0
            var value: Int64 = 0
            var forced: TokenKind?
            switch kind {
            case .digitOrZero where byte() == UInt8(ascii: "0"):
                // Leading zeros: the more zeros, the older; the last zero is read again as a number.
                while length + 1 < remaining && byte(length + 1) == UInt8(ascii: "0") { length += 1 }
                value = -Int64(length)
                forced = .digit
            case .digitOrZero, .digit, .suffixNumber, .revision:
                while length < remaining && Self.isDigit(byte(length)) {
                    value = value &* 10 &+ Int64(byte(length) &- 0x30)
                    length += 1
                }
                if length >= 18 {
                    kind = .invalid
                    return -1
                }
            case .letter:
                value = Int64(byte())
                length = 1
            case .suffix:
                guard let (rank, count) = suffixRank() else {
                    kind = .invalid
                    return -1
                }
                value = rank
                length = count
            case .invalid, .end:
                kind = .invalid
                return -1
            }
            position += length
            if remaining == 0 {
                kind = .end
            } else if let forced {
                kind = forced
            } else {
                classifyNext(&kind)
            }
            return value
        }

        /// Matches a known suffix name as a prefix of the text at the cursor: pre-release suffixes rank
        /// below zero, post-release ones at or above it.
        func suffixRank() -> (Int64, Int)? {
            for (index, word) in APKVersion.preReleaseSuffixes.enumerated() where hasPrefix(word) {
                return (Int64(index - APKVersion.preReleaseSuffixes.count), word.utf8CodeUnitCount)
            }
            for (index, word) in APKVersion.postReleaseSuffixes.enumerated() where hasPrefix(word) {
                return (Int64(index), word.utf8CodeUnitCount)
            }
            return nil
        }

        @inline(__always) func hasPrefix(_ word: StaticString) -> Bool {
            let count = word.utf8CodeUnitCount
            guard count <= remaining else { return false }
            let start = word.utf8Start
            for i in 0..<count where bytes[position + i] != start[i] { return false }
            return true
        }
    }

    static let preReleaseSuffixes: [StaticString] = ["alpha", "beta", "pre", "rc"]
    static let postReleaseSuffixes: [StaticString] = ["cvs", "svn", "git", "hg", "p"]

    static func compareBytes(_ a: UnsafeBufferPointer<UInt8>, _ b: UnsafeBufferPointer<UInt8>, fuzzy: Bool)
        -> VersionOrdering
    {
        var ca = Cursor(bytes: a)
        var cb = Cursor(bytes: b)
        var ka = TokenKind.digit
        var kb = TokenKind.digit
        var va: Int64 = 0
        var vb: Int64 = 0
        while ka == kb && ka != .end && ka != .invalid && va == vb {
            va = ca.nextToken(&ka)
            vb = cb.nextToken(&kb)
        }
        if va < vb { return .less }
        if va > vb { return .greater }
        if ka == kb || fuzzy { return .equal }
        // Equal so far and one side continues: it is newer, unless what follows is a pre-release suffix.
        if ka == .suffix {
            var probeKind = ka
            var probe = ca
            if probe.nextToken(&probeKind) < 0 { return .less }
        }
        if kb == .suffix {
            var probeKind = kb
            var probe = cb
            if probe.nextToken(&probeKind) < 0 { return .greater }
        }
        if ka > kb { return .less }
        if kb > ka { return .greater }
        return .equal
    }
}

/// The set of orderings an operator accepts (apk's "result mask").
struct VersionResultMask: OptionSet, Sendable {
    let rawValue: UInt8
    static let equal = VersionResultMask(rawValue: 1)
    static let less = VersionResultMask(rawValue: 2)
    static let greater = VersionResultMask(rawValue: 4)

    func accepts(_ ordering: VersionOrdering) -> Bool {
        switch ordering {
        case .less: return contains(VersionResultMask.less)
        case .equal: return contains(VersionResultMask.equal)
        case .greater: return contains(VersionResultMask.greater)
        }
    }
}

extension VersionConstraint.Operator {
    /// The orderings (package version compared with the constraint version) this operator accepts.
    var resultMask: VersionResultMask {
        switch self {
        case .equal, .fuzzy: return .equal
        case .less: return .less
        case .lessOrEqual, .lessOrFuzzy: return [.less, .equal]
        case .greater: return .greater
        case .greaterOrEqual, .greaterOrFuzzy: return [.greater, .equal]
        case .checksum: return [.less, .greater]
        }
    }

    /// Whether the operator compares fuzzily (`~`, `>~`, `<~`).
    public var isFuzzy: Bool { self == .fuzzy || self == .greaterOrFuzzy || self == .lessOrFuzzy }
}
