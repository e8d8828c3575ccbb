import APKRepository
import ArgumentParser
import Foundation
import LaminaCore

/// Where packages come from and how far to trust them: the flags every command that resolves packages
/// takes (`image …`, `package build|test`, and the `apko`/`melange` faces), declared once.
struct RepositoryFlags: ParsableArguments {
    @Option(
        name: [.customShort("k"), .customLong("keyring-append")],
        help: "Add a public key file or URL to the keyring (repeatable).")
    var keyrings: [String] = []
    @Option(name: [.customShort("r"), .customLong("repository-append")], help: "Add a repository (repeatable).")
    var repositories: [String] = []
    @Option(
        name: .customLong("arch"), parsing: .singleValue, help: "Architectures (comma-separated or repeated; 'host').")
    var archs: [String] = []
    @Option(name: .customLong("cache-dir"), help: "Package cache (default $XDG_CACHE_HOME/lamina).") var cacheDir:
        String?
    @Flag(name: .customLong("offline"), help: "Use only the cache and local repositories.") var offline = false
    @Flag(
        name: [.customLong("allow-untrusted"), .customLong("ignore-signatures")],
        help: "Accept indexes no key vouches for (dangerous).")
    var allowUntrusted = false

    init() {}

    /// The cache folder: `--cache-dir` or the default under `$XDG_CACHE_HOME`.
    func cacheDirectory(environment: [String: String] = ProcessInfo.processInfo.environment) -> String {
        cacheDir ?? PackageCache.defaultRoot(environment: environment)
    }

    /// The architectures `--arch` names, or nil when it was not given. `host` is this machine's; `all`
    /// (only when `allowAll`) every architecture Lamina knows.
    func architectures(allowAll: Bool) throws -> [Architecture]? {
        let names = Self.splitList(archs)
        if names.isEmpty { return nil }
        var out: [Architecture] = []
        for name in names {
            switch name {
            case "host": out.append(.host)
            case "all" where allowAll: out += Architecture.all
            default: out.append(try Architecture(name, option: "--arch"))
            }
        }
        return out
    }

    /// Exactly one architecture: `--arch` once, or the host's.
    func singleArchitecture() throws -> Architecture {
        let given = try architectures(allowAll: false) ?? [.host]
        guard given.count == 1 else {
            throw LaminaError(.usage, "expected one architecture, got \(given.count)", subject: "--arch")
        }
        return given[0]
    }

    /// Prints the one loud `--allow-untrusted` warning (call once per command).
    func warnIfUntrusted() {
        if allowUntrusted {
            Terminal.standardError.write(
                "WARNING: --allow-untrusted: packages and indexes will be used WITHOUT a trusted signature\n")
        }
    }

    /// These flags as Lamina's own command line spells them (for a face handing over to a `lamina` command),
    /// with `cacheOverride` in place of `--cache-dir`.
    func laminaArguments(cacheOverride: String?) -> [String] {
        var out: [String] = []
        for key in Self.splitList(keyrings) { out += ["--keyring-append", key] }
        for repository in Self.splitList(repositories) { out += ["--repository-append", repository] }
        for arch in Self.splitList(archs) { out += ["--arch", arch] }
        if let cacheOverride { out += ["--cache-dir", cacheOverride] }
        if offline { out.append("--offline") }
        if allowUntrusted { out.append("--allow-untrusted") }
        return out
    }

    /// `a,b` and repeated values as one list, blanks dropped (cobra's string-slice flags).
    static func splitList(_ values: [String]) -> [String] {
        values.flatMap { $0.split(separator: ",").map { String($0).trimmingSpaces } }.filter { !$0.isEmpty }
    }
}

extension Architecture {
    /// Parses, naming the option in errors.
    init(_ name: String, option: String) throws {
        do { try self.init(name) } catch let error as LaminaError { throw error.about(option) }
    }
}

/// `withScratchDirectory` for synchronous work.
func withScratchDirectorySync<T>(_ label: String = "lamina", _ body: (String) throws -> T) throws -> T {
    let scratch = try makeScratchDirectory(label)
    defer { try? FileManager.default.removeItem(atPath: scratch) }
    return try body(scratch)
}

/// A fresh private (0700) folder under the temporary directory.
private func makeScratchDirectory(_ label: String) throws -> String {
    let scratch = NSTemporaryDirectory() + "\(label)-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
    do {
        try FileManager.default.createDirectory(
            atPath: scratch, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
    } catch {
        throw LaminaError(
            .io, "cannot create a scratch folder: \(error.localizedDescription)", subject: scratch, cause: error)
    }
    return scratch
}

/// Runs `body` with a fresh private scratch folder, removed afterwards whatever happens.
func withScratchDirectory<T>(_ label: String = "lamina", _ body: (String) async throws -> T) async throws -> T {
    let scratch = try makeScratchDirectory(label)
    defer { try? FileManager.default.removeItem(atPath: scratch) }
    return try await body(scratch)
}
