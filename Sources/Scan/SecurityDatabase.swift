import APK

/// A package to check: what an installed database (or an image's) says about it.
public struct ScannedPackage: Sendable, Hashable, Codable {
    public var name: String
    public var version: String
    /// The source package (`o:`); secdb feeds are keyed by it. nil when unknown.
    public var origin: String?

    public init(name: String, version: String, origin: String? = nil) {
        self.name = name
        self.version = version
        self.origin = origin
    }

    /// From an installed-database record.
    public init(_ info: PackageInfo) {
        self.init(name: info.name, version: info.version, origin: info.origin)
    }
}

/// One id a package is vulnerable to, and the first version that fixes it.
public struct Vulnerability: Sendable, Hashable, Codable {
    public var id: String
    public var fixedIn: String

    public init(id: String, fixedIn: String) {
        self.id = id
        self.fixedIn = fixedIn
    }
}

/// An installed package with the ids it is vulnerable to.
public struct Finding: Sendable, Hashable, Codable {
    public var package: String
    public var version: String
    public var origin: String?
    /// The version that fixes every id below (the highest of their `fixedIn`).
    public var fixedIn: String
    /// Sorted by fix version (apk order), then id.
    public var vulnerabilities: [Vulnerability]

    public init(package: String, version: String, origin: String?, fixedIn: String, vulnerabilities: [Vulnerability]) {
        self.package = package
        self.version = version
        self.origin = origin
        self.fixedIn = fixedIn
        self.vulnerabilities = vulnerabilities
    }
}

/// What one feed contributed to a ``SecurityDatabase``.
public struct FeedSummary: Sendable, Hashable, Codable {
    public var source: String
    public var packages: Int
    /// Fix entries usable for matching (not `"0"`, valid versions).
    public var fixes: Int
    /// Entries not used, with the reason.
    public var skipped: [String]

    public init(source: String, packages: Int, fixes: Int, skipped: [String]) {
        self.source = source
        self.packages = packages
        self.fixes = fixes
        self.skipped = skipped
    }
}

/// The fixes of any number of feeds, by package name, ready for matching.
///
/// Feeds are added one at a time (``add(_:)``), so a caller holds at most one parsed feed besides this index.
///
/// The rule: an installed package `P` at version `I` is vulnerable to an id when a feed entry for `P`'s name, or
/// for its origin (Alpine's secdb is keyed by source package), lists the id under a fix version `V` with
/// `I < V` in apk version order. `"0"` entries ("never affected") never match. Each id is reported once per
/// package, with the highest such `V`.
public struct SecurityDatabase: Sendable {
    struct Entry: Sendable {
        var version: String
        var ids: [String]
    }

    private var entries: [String: [Entry]] = [:]
    /// The feeds added, in order.
    public private(set) var feeds: [FeedSummary] = []

    public init() {}

    /// Creates a database from feeds already parsed.
    public init(_ feeds: [SecurityFeed]) {
        for feed in feeds { add(feed) }
    }

    /// Adds a feed's usable fixes.
    public mutating func add(_ feed: SecurityFeed) {
        var fixes = 0
        for package in feed.packages {
            for fix in package.fixes where !fix.isNotAffected && !fix.ids.isEmpty {
                entries[package.name, default: []].append(Entry(version: fix.version, ids: fix.ids))
                fixes += 1
            }
        }
        feeds.append(FeedSummary(
            source: feed.source, packages: feed.packages.count, fixes: fixes, skipped: feed.skipped.map(\.description)))
    }

    /// Names the database knows fixes for.
    public var packageNames: [String] { entries.keys.sorted() }

    /// The finding for one package, or nil when no entry applies.
    public func finding(for package: ScannedPackage) -> Finding? {
        var keys = [package.name]
        if let origin = package.origin, !origin.isEmpty, origin != package.name { keys.append(origin) }
        var best: [String: String] = [:]
        for key in keys {
            for entry in entries[key] ?? [] where APKVersion.compare(package.version, entry.version) == .less {
                for id in entry.ids {
                    if let known = best[id], APKVersion.compare(known, entry.version) != .less { continue }
                    best[id] = entry.version
                }
            }
        }
        guard !best.isEmpty else { return nil }
        let vulnerabilities = best.map { Vulnerability(id: $0.key, fixedIn: $0.value) }.sorted { a, b in
            switch APKVersion.compare(a.fixedIn, b.fixedIn) {
            case .less: return true
            case .greater: return false
            case .equal: return IdentifierOrder.less(a.id, b.id)
            }
        }
        let highest = vulnerabilities.map(\.fixedIn).max { APKVersion.compare($0, $1) == .less } ?? ""
        return Finding(
            package: package.name, version: package.version, origin: package.origin, fixedIn: highest,
            vulnerabilities: vulnerabilities)
    }

    /// Findings for `packages`, sorted by package name, then version. Duplicated packages are checked once.
    public func findings(for packages: [ScannedPackage]) -> [Finding] {
        var seen = Set<ScannedPackage>()
        let unique = packages.filter { seen.insert($0).inserted }
        return unique.compactMap(finding(for:)).sorted { a, b in
            if a.package != b.package { return a.package < b.package }
            return APKVersion.compare(a.version, b.version) == .less
        }
    }
}

/// Orders ids so that numbers compare as numbers: `CVE-2024-9143` before `CVE-2024-13176`.
enum IdentifierOrder {
    static func less(_ a: String, _ b: String) -> Bool {
        let left = parts(a), right = parts(b)
        for (x, y) in zip(left, right) where x != y {
            switch (x, y) {
            case (.number(let m), .number(let n)): return m < n
            case (.text(let s), .text(let t)): return s < t
            case (.number, .text): return true
            case (.text, .number): return false
            }
        }
        if left.count != right.count { return left.count < right.count }
        return a < b
    }

    enum Part: Equatable {
        case text(String)
        case number(UInt64)
    }

    static func parts(_ id: String) -> [Part] {
        var out: [Part] = []
        var current = ""
        var inDigits = false
        func flush() {
            guard !current.isEmpty else { return }
            if inDigits, let value = UInt64(current) { out.append(.number(value)) } else { out.append(.text(current)) }
            current = ""
        }
        for character in id {
            let digit = character.isASCII && character.isNumber
            if digit != inDigits { flush() }
            inDigits = digit
            current.append(character)
        }
        flush()
        return out
    }
}
