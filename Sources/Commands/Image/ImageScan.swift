import APK
import APKRepository
import ArgumentParser
import Archive
import Foundation
import HTTPTransport
import LaminaCore
import Scan

/// `lamina image scan TARGET --secdb FILE_OR_URL... [--format table|json] [--fail-on-vulnerable]`
struct ImageScan: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "scan", abstract: "Match an image's installed packages against Alpine/Wolfi secdb feeds.",
        discussion: "TARGET is an image tarball from `lamina image build` (or a docker-archive), an OCI layout "
            + "directory, a root filesystem (directory, .tar or .tar.gz), or an installed database file (lib/apk/db/installed). "
            + "A multi-architecture image needs --arch.\n\n"
            + "Feeds (--secdb) are files, directories of per-package files (aquasecurity/vuln-list), or http(s) URLs, which "
            + "are fetched into <cache-dir>/secdb and revalidated with their ETag. Accepted shapes: Alpine secdb (JSON or "
            + "YAML), Wolfi/Chainguard security.json, and vuln-list's per-package files.\n\n"
            + "A package is vulnerable to an id when a feed lists the id for the package's name or origin under a fix "
            + "version newer than the installed one (\"0\" means never affected). Exit status 0, also with findings, unless "
            + "--fail-on-vulnerable is given: then 1 when a package is vulnerable.")

    @Argument(help: "Image tarball, OCI layout, root directory or tarball, or installed database.") var target: String
    @Option(name: .customLong("secdb"), parsing: .upToNextOption, help: "secdb feed files, directories or URLs (repeatable).")
    var secdb: [String] = []
    @Option(help: "table or json.") var format: String = "table"
    @Flag(name: .customLong("fail-on-vulnerable"), help: "Exit 1 when any package is vulnerable.") var failOnVulnerable = false
    @Option(name: .customLong("arch"), help: "Which image of a multi-architecture index to scan (e.g. amd64, aarch64).")
    var arch: String?
    @Option(name: .customLong("cache-dir"), help: "Cache for downloaded feeds (default $XDG_CACHE_HOME/lamina).") var cacheDir: String?
    @Flag(name: .customLong("offline"), help: "Use only cached copies of feed URLs.") var offline = false
    @OptionGroup var global: GlobalOptions

    func run() async throws {
        guard format == "table" || format == "json" else {
            throw LaminaError(.usage, "unknown format '\(format)' (table, json)", subject: "--format")
        }
        guard !secdb.isEmpty else { throw LaminaError(.usage, "give at least one feed with --secdb FILE_OR_URL") }
        let architecture = try arch.map { try Architecture($0, option: "--arch") }
        let logger = global.logger

        let installed = try ScanTarget.load(target, architecture: architecture)
        logger.debug("\(installed.packages.count) installed packages in \(installed.location)")

        var database = SecurityDatabase()
        let environment = ProcessInfo.processInfo.environment
        let cache = cacheDir ?? PackageCache.defaultRoot(environment: environment)
        let urls = secdb.filter(Self.isURL)
        var fetched: [String: String] = [:]
        if !urls.isEmpty {
            let configuration = try HTTPTransportConfiguration.fromEnvironment(environment)
            fetched = try await HTTPClientTransport.with(configuration) { transport in
                var paths: [String: String] = [:]
                for url in urls { paths[url] = try await FeedFetcher(transport: transport, cache: cache, offline: offline, logger: logger).fetch(url) }
                return paths
            }
        }
        for feed in secdb {
            // One feed parsed at a time: each is folded into the index before the next is read.
            for (path, source) in try Self.files(feed, fetched: fetched) {
                let bytes = try LaminaError.about(source) { try FileSource(path: path).readAll(limit: 256 << 20, what: "feed") }
                let parsed = try SecurityFeed.parse(bytes, source: source)
                if !parsed.skipped.isEmpty {
                    logger.warn("\(source): \(parsed.skipped.count) entries not used (fix versions that are no apk version)")
                    for entry in parsed.skipped { logger.debug("  \(entry)") }
                }
                database.add(parsed)
            }
        }
        let report = ScanReport(target: target, installed: installed, database: database)
        Terminal.standardOutput.write(format == "json" ? try report.json() : report.table())
        if failOnVulnerable && !report.findings.isEmpty { throw ExitCode(1) }
    }

    static func isURL(_ text: String) -> Bool { text.hasPrefix("http://") || text.hasPrefix("https://") }

    /// The files of one `--secdb` argument with the name to show for each: a URL's cached copy, a file, or the
    /// `.json`/`.yaml`/`.yml` files of a directory (vuln-list's one-file-per-package layout), sorted.
    static func files(_ feed: String, fetched: [String: String]) throws -> [(path: String, source: String)] {
        if let path = fetched[feed] { return [(path, feed)] }
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: feed, isDirectory: &isDirectory) else {
            throw LaminaError(.notFound, "no such feed file or directory", subject: feed)
        }
        guard isDirectory.boolValue else { return [(feed, feed)] }
        let names = try LaminaError.about(feed) { try FileManager.default.contentsOfDirectory(atPath: feed) }
        let files = names.filter { [".json", ".yaml", ".yml"].contains(where: $0.hasSuffix) && !$0.hasPrefix(".") }.sorted()
        guard !files.isEmpty else { throw LaminaError(.notFound, "no .json or .yaml feed files in this directory", subject: feed) }
        return files.map { (feed + "/" + $0, feed + "/" + $0) }
    }
}

/// Downloads secdb feeds into `<cache>/secdb/<sha256 of URL>/feed`, with the ETag beside it for the next
/// conditional GET; the file is replaced atomically, so concurrent scans share the cache safely.
struct FeedFetcher {
    let transport: any HTTPTransport
    let cache: String
    let offline: Bool
    let logger: Logger

    func fetch(_ url: String) async throws -> String {
        let folder = cache + "/secdb/" + APK.Hasher.digest(.sha256, Array(url.utf8)).hex
        let path = folder + "/feed"
        let exists = FileManager.default.fileExists(atPath: path)
        let subject = HTTPRequest(method: .get, url: url).redactedDescription
        if offline {
            guard exists else { throw LaminaError(.notFound, "not in the cache and --offline was given", subject: subject) }
            return path
        }
        let etag = exists ? (try? String(contentsOfFile: path + ".etag", encoding: .utf8))?.trimmingCharacters(in: .whitespacesAndNewlines) : nil
        switch try await transport.download(url, to: path, ifNoneMatch: etag) {
        case .notModified:
            logger.debug("\(subject): not modified, using the cached copy")
        case .modified(let result):
            logger.debug("\(subject): \(result.size) bytes")
            if let tag = result.response.headers["ETag"], !tag.isEmpty {
                try? AtomicFileSink.write(Array(tag.utf8), to: path + ".etag")
            } else {
                unlink(path + ".etag")
            }
        }
        return path
    }
}
