import APKRepository
import ArgumentParser
import Foundation
import ImageBuilder
import LaminaCore

/// `lamina cache ls|du|prune`
struct CacheCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "cache",
        abstract: "List, measure and prune Lamina's download and layer cache.",
        discussion: """
            The cache ($XDG_CACHE_HOME/lamina, or --cache-dir) holds verified indexes and packages, fetched
            sources, finished layers and output stamps; every entry is checked against its digest when used.
            After each build the cache is pruned down to LAMINA_CACHE_MAX_SIZE (default 20G; 0 or none: no
            bound), least recently used first. Entries used in the last hour are never pruned, so pruning is
            safe while builds run.
            """,
        subcommands: [CacheList.self, CacheUsage.self, CachePrune.self, CacheVerify.self])
}

/// Where the cache is: shared by the `cache` subcommands.
struct CacheLocation: ParsableArguments {
    @Option(name: .customLong("cache-dir"), help: "The cache (default $XDG_CACHE_HOME/lamina).") var cacheDir: String?

    var maintenance: CacheMaintenance {
        CacheMaintenance(root: cacheDir ?? PackageCache.defaultRoot(environment: ProcessInfo.processInfo.environment))
    }
}

/// `lamina cache ls`
struct CacheList: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "ls", abstract: "List cache entries, least recently used first.")

    @OptionGroup var location: CacheLocation
    @Option(name: .customLong("area"), help: "Only this area: \(CacheMaintenance.areas.joined(separator: ", ")).") var area: String?
    @Flag(help: "Print JSON.") var json = false
    @OptionGroup var global: GlobalOptions

    func run() async throws {
        if let area, !CacheMaintenance.areas.contains(area) {
            throw LaminaError(.usage, "unknown area '\(area)'; expected one of \(CacheMaintenance.areas.joined(separator: ", "))", subject: "--area")
        }
        let entries = location.maintenance.entries().filter { area == nil || $0.area == area }
            .sorted { ($0.lastUsed, $0.path) < ($1.lastUsed, $1.path) }
        if json { return try printJSON(entries) }
        let formatter = ISO8601DateFormatter()
        for entry in entries {
            let used = formatter.string(from: Date(timeIntervalSince1970: TimeInterval(entry.lastUsed)))
            let size = CacheMaintenance.formatSize(entry.size)
            global.logger.result("\(used)  \(size.padding(toLength: 10, withPad: " ", startingAt: 0))  \(entry.path)\(entry.temporary ? "  (temporary)" : "")")
        }
    }
}

/// `lamina cache du`
struct CacheUsage: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "du", abstract: "Show entries and bytes per cache area.")

    @OptionGroup var location: CacheLocation
    @Flag(help: "Print JSON.") var json = false
    @OptionGroup var global: GlobalOptions

    func run() async throws {
        let cache = location.maintenance
        let usage = cache.usage()
        if json { return try printJSON(usage) }
        for area in usage {
            global.logger.result(
                "\(area.area.padding(toLength: 9, withPad: " ", startingAt: 0)) \(String(area.entries).leftPadded(7)) entries  \(CacheMaintenance.formatSize(area.bytes))")
        }
        let total = usage.reduce(Int64(0)) { $0 + $1.bytes }
        global.logger.result("total     \(String(usage.reduce(0) { $0 + $1.entries }).leftPadded(7)) entries  \(CacheMaintenance.formatSize(total))  (\(cache.root))")
    }
}

/// `lamina cache prune`
struct CachePrune: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "prune",
        abstract: "Remove cache entries: those unused for --older-than, then the least recently used beyond --max-size.",
        discussion: "With neither option, removes only writers' temporary files left for more than a day.")

    @OptionGroup var location: CacheLocation
    @Option(name: .customLong("max-size"), help: "Keep at most this much (e.g. 5G, 500M).") var maxSize: String?
    @Option(name: .customLong("older-than"), help: "Remove entries not used for this long (e.g. 30d, 12h).") var olderThan: String?
    @Option(name: .customLong("grace"), help: "Never remove entries used this recently (default 1h).") var grace: String = "1h"
    @Flag(name: .customLong("dry-run"), help: "Only say what would be removed.") var dryRun = false
    @Flag(help: "Print JSON.") var json = false
    @OptionGroup var global: GlobalOptions

    func run() async throws {
        let size = try maxSize.map { try CacheMaintenance.parseSize($0, option: "--max-size") }
        let age = try olderThan.map { try CacheMaintenance.parseAge($0, option: "--older-than") }
        let report = location.maintenance.prune(
            maxSize: size, olderThan: age, grace: try CacheMaintenance.parseAge(grace, option: "--grace"), dryRun: dryRun)
        if json { return try printJSON(report) }
        for entry in report.removed { global.logger.info("\(dryRun ? "would remove" : "removed") \(entry.path)") }
        global.logger.result(
            "\(dryRun ? "would free" : "freed") \(CacheMaintenance.formatSize(report.freedBytes)) in \(report.removed.count) entries; kept \(report.kept) entries, \(CacheMaintenance.formatSize(report.keptBytes))")
    }
}

/// `lamina cache verify`
struct CacheVerify: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "verify",
        abstract: "Check every cache entry against its digest; exit 1 when any is damaged.",
        discussion: "Builds never use a damaged entry (they check on use); --repair removes them now.")

    @OptionGroup var location: CacheLocation
    @Flag(help: "Remove damaged entries.") var repair = false
    @Flag(help: "Print JSON.") var json = false
    @OptionGroup var global: GlobalOptions

    struct Report: Encodable {
        var checked: Int
        var damaged: [CacheMaintenance.Damage]
    }

    func run() async throws {
        let (checked, damaged) = location.maintenance.verify(checks: ["layers": { LayerCache.damage(ofEntry: $0) }], repair: repair)
        if json {
            try printJSON(Report(checked: checked, damaged: damaged))
        } else {
            for damage in damaged {
                global.logger.result("\(damage.path): \(damage.reason)\(damage.removed ? " (removed)" : "")")
            }
            global.logger.result("\(checked) entries checked, \(damaged.count) damaged")
        }
        if !damaged.isEmpty && !repair { throw ExitCode(1) }
    }
}

extension String {
    fileprivate func leftPadded(_ width: Int) -> String { count >= width ? self : String(repeating: " ", count: width - count) + self }
}
