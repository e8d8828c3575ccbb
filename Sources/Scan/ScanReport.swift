import Foundation

/// The outcome of a scan, as the CLI prints it (table or JSON with stable, sorted keys).
public struct ScanReport: Sendable, Hashable, Codable {
    /// What was scanned (the path given).
    public var target: String
    /// Where the installed database was found.
    public var database: String
    /// The image platform, when the target was an image.
    public var platform: String?
    /// How many installed packages were checked.
    public var packages: Int
    public var feeds: [FeedSummary]
    public var findings: [Finding]

    public init(target: String, database: String, platform: String?, packages: Int, feeds: [FeedSummary], findings: [Finding]) {
        self.target = target
        self.database = database
        self.platform = platform
        self.packages = packages
        self.feeds = feeds
        self.findings = findings
    }

    /// Scans `installed` against `database`.
    public init(target: String, installed: InstalledPackages, database: SecurityDatabase) {
        self.init(
            target: target, database: installed.location, platform: installed.platform, packages: installed.packages.count,
            feeds: database.feeds, findings: database.findings(for: installed.packages))
    }

    /// Number of distinct (package, id) pairs found.
    public var vulnerabilityCount: Int { findings.reduce(0) { $0 + $1.vulnerabilities.count } }

    /// Pretty-printed JSON with sorted keys, ending in a newline.
    public func json() throws -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        return String(decoding: try encoder.encode(self), as: UTF8.self) + "\n"
    }

    /// A table with one row per package and fix version: `PACKAGE INSTALLED FIXED-IN IDS`, then a summary line.
    public func table() -> String {
        var rows: [[String]] = [["PACKAGE", "INSTALLED", "FIXED-IN", "IDS"]]
        for finding in findings {
            var groups: [(version: String, ids: [String])] = []
            for vulnerability in finding.vulnerabilities {
                if groups.last?.version == vulnerability.fixedIn {
                    groups[groups.count - 1].ids.append(vulnerability.id)
                } else {
                    groups.append((vulnerability.fixedIn, [vulnerability.id]))
                }
            }
            for group in groups {
                rows.append([finding.package, finding.version, group.version, group.ids.joined(separator: " ")])
            }
        }
        var out = ""
        if !findings.isEmpty {
            let widths = (0..<3).map { column in rows.map { $0[column].count }.max() ?? 0 }
            for row in rows {
                var line = ""
                for column in 0..<3 { line += row[column].padding(toLength: widths[column] + 2, withPad: " ", startingAt: 0) }
                out += line + row[3] + "\n"
            }
        }
        let fixes = feeds.reduce(0) { $0 + $1.fixes }
        if findings.isEmpty {
            out += "no known vulnerabilities in \(packages) packages (\(feeds.count) feeds, \(fixes) fixes)\n"
        } else {
            out += "\(findings.count) of \(packages) packages vulnerable, \(vulnerabilityCount) ids (\(feeds.count) feeds, \(fixes) fixes)\n"
        }
        return out
    }
}
