import Foundation
import Testing
import TestSupport

@testable import APK

/// One line of apk-tools' version vectors.
struct VersionVector: CustomTestStringConvertible, Sendable {
    enum Check: Sendable {
        /// `a op b`, or `a !op b` when `negated`.
        case compare(String, String, op: String, negated: Bool)
        /// `ver` (valid) or `!ver` (invalid).
        case validity(String, valid: Bool)
    }
    let line: Int
    let text: String
    let check: Check
    var testDescription: String { "line \(line): \(text)" }

    /// Reads a `version.data` file; `nil` when the shared test data is missing.
    static func load(_ relative: String) -> [VersionVector] {
        guard let content = try? String(contentsOfFile: SharedTestData.path(relative), encoding: .utf8) else {
            return []
        }
        var vectors: [VersionVector] = []
        for (index, raw) in content.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let text = (raw.split(separator: "#", maxSplits: 1, omittingEmptySubsequences: false).first ?? "")
                .trimmingCharacters(in: .whitespaces)
            if text.isEmpty { continue }
            let fields = text.split(whereSeparator: { $0 == " " || $0 == "\t" }).map(String.init)
            if fields.count == 3 {
                var op = fields[1]
                let negated = op.hasPrefix("!")
                if negated { op.removeFirst() }
                vectors.append(
                    VersionVector(
                        line: index + 1, text: text, check: .compare(fields[0], fields[2], op: op, negated: negated)))
            } else {
                var version = fields[0]
                let invalid = version.hasPrefix("!")
                if invalid { version.removeFirst() }
                vectors.append(VersionVector(line: index + 1, text: text, check: .validity(version, valid: !invalid)))
            }
        }
        return vectors
    }

    /// Evaluates the vector with our (apk-tools 2.14) semantics, the way apk-tools 3's unit test does:
    /// `a op b` holds when the comparison result is one of those the operator accepts.
    var holds: Bool {
        switch check {
        case .validity(let version, let valid):
            return APKVersion.isValid(version) == valid
        case .compare(let a, let b, let op, let negated):
            let fuzzy = op.contains("~")
            let result = APKVersion.compare(a, b, fuzzy: fuzzy)
            var accepted: Set<VersionOrdering> = []
            if op.contains("<") { accepted.insert(.less) }
            if op.contains(">") { accepted.insert(.greater) }
            if op.contains("=") || fuzzy { accepted.insert(.equal) }
            return accepted.contains(result) != negated
        }
    }
}

let versionData214 = VersionVector.load("alpinelinux+apk-tools/test/version.data")
let versionDataV3 = VersionVector.load("alpinelinux+apk-tools/test/unit/version.data")

@Suite("APKVersion")
struct VersionTests {
    @Test("apk-tools 2.14 test/version.data has all 733 vectors", .enabled(if: SharedTestData.isAvailable))
    func corpusIsComplete() {
        #expect(versionData214.count == 733)
    }

    /// Every vector of apk-tools 2.14.10's `test/version.data`: `apk version -t a b` prints `op`.
    @Test(
        "apk-tools 2.14 version.data", .enabled(if: SharedTestData.isAvailable, "needs ../shared/testdata"),
        arguments: versionData214)
    func apkTools214Vector(_ vector: VersionVector) throws {
        guard case .compare(let a, let b, let op, false) = vector.check else {
            Issue.record("unexpected line shape")
            return
        }
        #expect(APKVersion.compare(a, b).symbol == op)
        // The same pair read the other way round.
        #expect(APKVersion.compare(b, a).symbol == APKVersion.compare(a, b).reversed.symbol)
    }

    /// The lines of apk-tools 3.x's `test/unit/version.data` whose meaning differs under apk-tools 2.14, which
    /// we follow (evaluated as apk 3's unit test does: `a op b` holds when the comparison result is one the
    /// operator accepts). Every other line (769 of 785, including 22 of 31 validity lines and 15 of 16 fuzzy
    /// lines) holds for us too.
    /// - leading zeros: v3 compares `.0…` components as strings (`8.2.0 < 8.2.001`); 2.14 gives extra zeros a
    ///   negative weight, so `8.2.0 > 8.2.001`.
    /// - `~hash` parts exist only in v3's grammar; 2.14 stops comparing at `~`.
    /// - fuzzy: v3 requires the constraint to run out first (`3.8 !~ 3.8.1`); 2.14 matches when either side
    ///   is a prefix of the other.
    /// - validity: 2.14 accepts the empty version, a bare letter (`a`), letter+digits (`0.1a1`), `-r` without
    ///   a number, repeated `-r` parts, a missing first number (`.1`, `_pre1`, `-r1`) and a trailing `_`; it
    ///   rejects `~hash`.
    static let v3OnlyLines: Set<String> = [
        "8.2.0 < 8.2.001", "8.2.0015 < 8.2.002",
        "1.0~1234 < 1.0~2345", "1.0~1234-r1 < 1.0~2345-r0", "1.0~1234-r1 > 1.0~1234-r0", "0.1_pre2~1234abcd",
        "3.8 !~ 3.8.1",
        "!", "!0.1a1", "!0.1-r", "!0.1-r2-r3", "!.1", "!a", "!_pre1", "!-r1", "!0.1_",
    ]

    @Test(
        "apk-tools 3.x unit/version.data: all lines agree except the documented v3-only ones",
        .enabled(if: SharedTestData.isAvailable, "needs ../shared/testdata"))
    func apkTools3Vectors() {
        #expect(versionDataV3.count == 785)
        let disagreeing = Set(versionDataV3.filter { !$0.holds }.map(\.text))
        #expect(disagreeing == Self.v3OnlyLines)
        let validity = versionDataV3.filter { if case .validity = $0.check { return true } else { return false } }
        #expect(validity.count == 31)
        let fuzzy = versionDataV3.filter {
            if case .compare(_, _, let op, _) = $0.check { return op.contains("~") } else { return false }
        }
        #expect(fuzzy.count == 16)
    }

    struct Case: Sendable, CustomTestStringConvertible {
        let a: String
        let b: String
        let expected: VersionOrdering
        var testDescription: String { "\(a) vs \(b)" }
    }

    @Test(
        "ordering examples from formats.md §3.5",
        arguments: [
            Case(a: "1.2", b: "1.2.1", expected: .less),
            Case(a: "1.2-r1", b: "1.2.1", expected: .less),
            Case(a: "1.0", b: "1.0a", expected: .less),
            Case(a: "1.0", b: "1.0_p1", expected: .less),
            Case(a: "1.2.3_rc1-r0", b: "1.2.3-r0", expected: .less),
            Case(a: "1.2.3-r0", b: "1.2.3-r1", expected: .less),
            Case(a: "1.2.3-r1", b: "1.2.3a", expected: .less),
            Case(a: "1.2.3a", b: "1.2.3.1", expected: .less),
            Case(a: "1.0_alpha", b: "1.0_beta", expected: .less),
            Case(a: "1.0_beta", b: "1.0_pre", expected: .less),
            Case(a: "1.0_pre", b: "1.0_rc", expected: .less),
            Case(a: "1.0_rc", b: "1.0", expected: .less),
            Case(a: "1.0", b: "1.0_cvs", expected: .less),
            Case(a: "1.0_cvs", b: "1.0_svn", expected: .less),
            Case(a: "1.0_svn", b: "1.0_git", expected: .less),
            Case(a: "1.0_git", b: "1.0_hg", expected: .less),
            Case(a: "1.0_hg", b: "1.0_p", expected: .less),
            Case(a: "2.10", b: "2.9", expected: .greater),
            Case(a: "1.0-r0", b: "1.0-r0", expected: .equal),
            Case(a: "", b: "", expected: .equal),
            Case(a: "1.0", b: "1.0bc", expected: .less),
        ])
    func ordering(_ c: Case) {
        #expect(APKVersion.compare(c.a, c.b) == c.expected)
        #expect(APKVersion.compare(c.b, c.a) == c.expected.reversed)
    }

    @Test(
        "validity",
        arguments: [
            ("1.2.3", true), ("1.2.3-r10", true), ("0.1_pre2", true), ("0.1_p1_pre2", true), ("1.0a", true),
            ("2023c-r0", true), ("1.0_foobar", false), ("1.0-r2.1", false), ("1.0~abc", false),
            ("1.0 ", false), ("1.0-pre1", false), ("1.0__alpha", false), ("1.0_alpha_", true),
            ("1.0-r2-r3", true), ("1..0", true), ("1.0-r", true),
            ("123456789012345678", false), ("12345678901234567", true),
        ])
    func validity(_ version: String, _ valid: Bool) {
        #expect(APKVersion.isValid(version) == valid)
    }

    @Test("fuzzy matching (apk-tools 2.14 semantics)")
    func fuzzy() {
        #expect(APKVersion.fuzzyMatches("3.6.9", "3.6"))
        #expect(APKVersion.fuzzyMatches("3.6.0", "3.6"))
        #expect(APKVersion.fuzzyMatches("3.6_pre1", "3.6"))
        #expect(APKVersion.fuzzyMatches("3.6", "3.6"))
        #expect(!APKVersion.fuzzyMatches("3.7", "3.6"))
        #expect(!APKVersion.fuzzyMatches("3.6.0", "3.8"))
        // 2.14 matches when either side runs out first; apk-tools 3 says 3.8 !~ 3.8.1.
        #expect(APKVersion.fuzzyMatches("3.8", "3.8.1"))
        #expect(APKVersion.matches("3.5", VersionConstraint(.lessOrFuzzy, "3.6")))
        #expect(APKVersion.matches("3.6.2", VersionConstraint(.lessOrFuzzy, "3.6")))
        #expect(!APKVersion.matches("3.7", VersionConstraint(.lessOrFuzzy, "3.6")))
        #expect(APKVersion.matches("3.7", VersionConstraint(.greaterOrFuzzy, "3.6")))
        #expect(APKVersion.matches("3.6.1", VersionConstraint(.greaterOrFuzzy, "3.6")))
        #expect(!APKVersion.matches("3.5.9", VersionConstraint(.greaterOrFuzzy, "3.6")))
    }

    @Test("comparing does not depend on string storage (bridged or native)")
    func nonContiguous() {
        let bridged = NSString(string: "1.2.3_rc1-r0") as String
        #expect(APKVersion.compare(bridged, "1.2.3-r0") == .less)
        #expect(APKVersion.isValid(bridged))
    }
}
