// Source: the Alpine secdb (https://secdb.alpinelinux.org/, `alpine-secdb` repository), Wolfi/Chainguard
// `security.json` (https://packages.wolfi.dev/os/security.json) and aquasecurity/vuln-list's per-package split.
// All three carry the same record: a package name and `secfixes`, a map from the apk version that fixed
// something to the ids it fixed.

import Foundation

/// One secdb feed as parsed from one file or URL: the packages it names and, per package, the fixes.
///
/// Three shapes are read (see ``SecurityFeed/parse(_:source:)``):
/// - Alpine secdb, JSON or YAML: `{distroversion, reponame, archs, urlprefix, apkurl, packages: [{pkg: {name, secfixes}}]}`;
/// - Wolfi / Chainguard `security.json`: the same without `distroversion`;
/// - vuln-list's split files: one package per file, `{name, secfixes, …}`.
public struct SecurityFeed: Sendable, Hashable {
    /// Which of the known shapes the document had.
    public enum Shape: String, Sendable, Hashable {
        /// A whole repository's feed (`packages: [...]`): Alpine secdb, Wolfi/Chainguard `security.json`.
        case repository
        /// One package per document (`{name, secfixes}`): aquasecurity/vuln-list.
        case package
    }

    /// Where the feed came from (a path or URL), used in messages.
    public var source: String
    public var shape: Shape
    /// `distroversion` (`v3.20`, `edge`); absent for Wolfi and Chainguard.
    public var distroVersion: String?
    /// `reponame` (`main`, `community`, `os`, `chainguard`).
    public var repositoryName: String?
    /// `urlprefix`.
    public var urlPrefix: String?
    /// The packages, in document order.
    public var packages: [SecurityPackage]
    /// Entries that were read but cannot be used, with the reason (e.g. a fix version that is no apk version).
    public var skipped: [SkippedEntry]

    public init(
        source: String, shape: Shape = .repository, distroVersion: String? = nil, repositoryName: String? = nil,
        urlPrefix: String? = nil, packages: [SecurityPackage] = [], skipped: [SkippedEntry] = []
    ) {
        self.source = source
        self.shape = shape
        self.distroVersion = distroVersion
        self.repositoryName = repositoryName
        self.urlPrefix = urlPrefix
        self.packages = packages
        self.skipped = skipped
    }

    /// Every (package, fix version, id) triple, ids normalised, including `"0"` (not affected) entries.
    public var triples: [(package: String, version: String, id: String)] {
        packages.flatMap { package in
            package.fixes.flatMap { fix in fix.ids.map { (package.name, fix.version, $0) } }
        }
    }
}

/// One package of a feed: its name (for Alpine the origin, i.e. source package) and its fixes.
public struct SecurityPackage: Sendable, Hashable {
    public var name: String
    /// Fixes in document order.
    public var fixes: [SecurityFix]

    public init(name: String, fixes: [SecurityFix]) {
        self.name = name
        self.fixes = fixes
    }
}

/// One `secfixes` entry: the ids fixed in `version`.
public struct SecurityFix: Sendable, Hashable {
    /// The apk version that carries the fix, or `"0"`: the package was never affected.
    public var version: String
    /// The ids, normalised by ``SecurityFix/normalizeIdentifiers(_:)``, without duplicates, in document order.
    public var ids: [String]

    public init(version: String, ids: [String]) {
        self.version = version
        self.ids = ids
    }

    /// The key `"0"`: "never affected / not applicable", not a fix version.
    public var isNotAffected: Bool { version == "0" }

    /// Turns one `secfixes` id string into the identifiers it names.
    ///
    /// Real feeds put more than an id into the string: `"CVE-2017-2616 (+ regression fix)"`,
    /// `"CVE-2024-22195 GHSA-h5c8-rqwp-cp95"`, `"CVE-2016-10013 XSA-204"`, `"CVE-2017-8073.patch"`,
    /// `"CVE_2019-2426"`, `"CVE 2018-16859"`, `"CVE-????-?????  XSA-284"`. The rules: drop text from the
    /// first `(`; split on white space; join a lone `CVE` with a following `YYYY-N`; read `CVE_` as `CVE-`;
    /// cut a CVE token to its `CVE-YYYY-N` prefix; keep tokens shaped like ids (`WORD-…`, letters first,
    /// no `?`). When nothing is left, the trimmed text is kept as it is, so no entry vanishes.
    public static func normalizeIdentifiers(_ raw: String) -> [String] {
        var text = Substring(raw)
        if let paren = text.firstIndex(of: "(") { text = text[..<paren] }
        var tokens = text.split(whereSeparator: { $0 == " " || $0 == "\t" || $0 == "\n" || $0 == "\r" }).map(String.init)
        var out: [String] = []
        var index = 0
        while index < tokens.count {
            var token = tokens[index]
            if token.uppercased() == "CVE", index + 1 < tokens.count, tokens[index + 1].first?.isNumber == true {
                token = "CVE-" + tokens[index + 1]
                tokens.remove(at: index + 1)
            }
            index += 1
            if token.uppercased().hasPrefix("CVE_") { token = "CVE-" + token.dropFirst(4) }
            if token.uppercased().hasPrefix("CVE-") {
                if let cve = cvePrefix(token) { out.append(cve) }
                continue
            }
            if isIdentifierShaped(token) { out.append(token) }
        }
        if out.isEmpty {
            let trimmed = raw.trimmingCharacters(in: .whitespacesAndNewlines)
            return trimmed.isEmpty ? [] : [trimmed]
        }
        var seen = Set<String>()
        return out.filter { seen.insert($0).inserted }
    }

    /// `CVE-YYYY-NNNN…` at the start of `token` (upper-cased prefix), or nil.
    static func cvePrefix(_ token: String) -> String? {
        let chars = Array(token)
        guard chars.count >= 4 else { return nil }
        var position = 4
        var year = ""
        while position < chars.count, chars[position].isASCII, chars[position].isNumber {
            year.append(chars[position])
            position += 1
        }
        guard year.count == 4, position < chars.count, chars[position] == "-" else { return nil }
        position += 1
        var number = ""
        while position < chars.count, chars[position].isASCII, chars[position].isNumber {
            number.append(chars[position])
            position += 1
        }
        guard number.count >= 4 else { return nil }
        return "CVE-\(year)-\(number)"
    }

    /// `GHSA-xxxx-xxxx-xxxx`, `ALPINE-13661`, `XSA-204`, `TALOS-2017-0488`, `wnpa-sec-2017-18`: a letter
    /// first, at least one `-`, then letters, digits and `-` only.
    static func isIdentifierShaped(_ token: String) -> Bool {
        guard let first = token.first, first.isASCII, first.isLetter, token.contains("-"), !token.hasSuffix("-") else {
            return false
        }
        return token.allSatisfy { $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "-") }
    }
}

/// A feed entry that was read but is not used for matching.
public struct SkippedEntry: Sendable, Hashable, CustomStringConvertible {
    public var package: String
    public var version: String
    public var reason: String

    public init(package: String, version: String, reason: String) {
        self.package = package
        self.version = version
        self.reason = reason
    }

    public var description: String { "\(package) \(version): \(reason)" }
}
