import Foundation
import LaminaCore

/// One configuration file as read from disk.
public struct ConfigFile: Sendable, Equatable {
    /// The path as resolved (relative paths stay relative to the working directory).
    public var path: String
    /// The raw bytes: apko's lock files hash these (`config.checksum`), so CRLF vs LF matters.
    public var bytes: [UInt8]

    public init(path: String, bytes: [UInt8]) {
        self.path = path
        self.bytes = bytes
    }
}

/// An `apko.yaml` after `include:` resolution.
public struct LoadedImageConfiguration: Sendable {
    /// The merged configuration (the including file wins over what it includes).
    public var configuration: ImageConfiguration
    /// Every file read, in the order apko feeds them to its config hash: the top file first, then each
    /// included file.
    public var files: [ConfigFile]
    /// Positions in the top-level file, for errors found later (validation, package resolution).
    public var sourceMap: SourceMap
}

extension ImageConfiguration {
    /// Decodes one `apko.yaml` document without resolving `include:`.
    /// - Parameter file: the name used in error locations.
    /// - Throws: `LaminaError(.invalidInput)` naming `file:line:column` and the key path.
    public static func decode(yaml: String, file: String = "apko.yaml") throws -> ImageConfiguration {
        try decodeWithSourceMap(yaml: yaml, file: file).configuration
    }

    /// Decodes one document and returns where each key sits.
    public static func decodeWithSourceMap(
        yaml: String, file: String = "apko.yaml"
    ) throws -> (configuration: ImageConfiguration, sourceMap: SourceMap) {
        let (value, map) = try YAMLConfigDecoder(file: file).decode(ImageConfiguration.self, from: yaml)
        return (value, map)
    }

    /// Loads an `apko.yaml`, resolving `include:` chains the way apko does, then applies apko's load-time
    /// rules (trailing `/` stripped from repositories; a `baseimage` allows only contents, archs and include).
    ///
    /// A relative include path is looked up as apko does, from the working directory, then under each of
    /// `includePaths` (`--include-paths`), and finally next to the including file. Remote includes
    /// (`host/org/repo/path@ref`) are refused: they need the network.
    /// - Throws: `LaminaError` `.notFound` for missing files, `.invalidInput` for bad YAML, unknown keys,
    ///   include cycles and remote includes.
    public static func load(path: String, includePaths: [String] = []) throws -> LoadedImageConfiguration {
        var files: [ConfigFile] = []
        let (configuration, sourceMap) = try loadChain(
            path: path, displayName: path, includePaths: includePaths, chain: [], files: &files)
        return LoadedImageConfiguration(configuration: configuration, files: files, sourceMap: sourceMap)
    }

    private static func loadChain(
        path: String, displayName: String, includePaths: [String], chain: [String], files: inout [ConfigFile]
    ) throws -> (ImageConfiguration, SourceMap) {
        let bytes = try ConfigFiles.read(path)
        files.append(ConfigFile(path: path, bytes: bytes))
        let text = String(decoding: bytes, as: UTF8.self)
        var (configuration, sourceMap) = try decodeWithSourceMap(yaml: text, file: displayName)

        if !configuration.include.isEmpty {
            let includePath = ConfigPath([.key("include")])
            let canonical = ConfigFiles.canonical(path)
            let resolved = try resolveInclude(
                configuration.include, from: path, includePaths: includePaths, sourceMap: sourceMap)
            let resolvedCanonical = ConfigFiles.canonical(resolved)
            if resolvedCanonical == canonical || chain.contains(resolvedCanonical) {
                let cycle = (chain + [canonical, resolvedCanonical]).joined(separator: " -> ")
                throw sourceMap.error(at: includePath, "include cycle: \(cycle)")
            }
            let included: ImageConfiguration
            do {
                (included, _) = try loadChain(
                    path: resolved, displayName: resolved, includePaths: includePaths, chain: chain + [canonical],
                    files: &files)
            } catch var error as LaminaError {
                if !error.message.contains("(included from") {
                    error.message += " (included from \(sourceMap.location(of: includePath)))"
                }
                throw error
            }
            configuration = included.merged(into: configuration)
        }

        configuration.contents.buildRepositories = configuration.contents.buildRepositories.map(trimTrailingSlashes)
        configuration.contents.runtimeRepositories = configuration.contents.runtimeRepositories.map(
            trimTrailingSlashes)
        configuration.contents.repositories = configuration.contents.repositories.map(trimTrailingSlashes)

        if configuration.contents.baseImage != nil {
            let disallowed: [(String, Bool)] = [
                ("entrypoint", !configuration.entrypoint.isEmpty), ("cmd", !configuration.cmd.isEmpty),
                ("stop-signal", !configuration.stopSignal.isEmpty), ("work-dir", !configuration.workDir.isEmpty),
                ("accounts", !configuration.accounts.isEmpty), ("environment", !configuration.environment.isEmpty),
                ("paths", !configuration.paths.isEmpty), ("annotations", !configuration.annotations.isEmpty),
            ]
            if let (key, _) = disallowed.first(where: { $0.1 }) {
                throw sourceMap.error(
                    at: ConfigPath([.key(key)]),
                    "cannot be used with contents.baseimage (with a base image only contents, archs and include "
                        + "are supported)", atKey: true)
            }
        }
        return (configuration, sourceMap)
    }

    private static func trimTrailingSlashes(_ text: String) -> String {
        var result = Substring(text)
        while result.hasSuffix("/") { result = result.dropLast() }
        return String(result)
    }

    private static func resolveInclude(
        _ include: String, from path: String, includePaths: [String], sourceMap: SourceMap
    ) throws -> String {
        let at = ConfigPath([.key("include")])
        var candidates: [String] = []
        if include.hasPrefix("/") {
            candidates = [include]
        } else {
            // apko (`paths.ResolvePath`): as written, i.e. from the working directory, then under each include
            // path; ours adds the including file's folder last.
            candidates.append(include)
            for base in includePaths {
                candidates.append(base.isEmpty ? include : (base as NSString).appendingPathComponent(include))
            }
            let directory = (path as NSString).deletingLastPathComponent
            if !directory.isEmpty { candidates.append((directory as NSString).appendingPathComponent(include)) }
        }
        var seen: Set<String> = []
        for candidate in candidates where seen.insert(candidate).inserted {
            var isDirectory: ObjCBool = false
            if FileManager.default.fileExists(atPath: candidate, isDirectory: &isDirectory), !isDirectory.boolValue {
                return candidate
            }
        }
        if isRemoteInclude(include) {
            throw sourceMap.error(
                at: at, "remote includes are not supported offline ('\(include)'); copy the file and include it by path")
        }
        throw sourceMap.error(
            .notFound, at: at,
            "cannot find included file '\(include)' (looked in: \(candidates.joined(separator: ", ")))")
    }

    /// `github.com/org/repo/path.yaml@ref` or a URL.
    static func isRemoteInclude(_ include: String) -> Bool {
        if include.contains("://") { return true }
        guard include.contains("@"), let host = include.split(separator: "/").first else { return false }
        return host.contains(".") && include.split(separator: "/").count >= 3
    }

    /// Merges this (included) configuration under `target`, apko's `MergeInto`: the target's scalars and
    /// blocks win, lists are concatenated with this configuration's entries first, maps keep the target's
    /// values for keys both have.
    public func merged(into target: ImageConfiguration) -> ImageConfiguration {
        var result = target
        if result.entrypoint.isEmpty { result.entrypoint = entrypoint }
        if result.cmd.isEmpty { result.cmd = cmd }
        if result.stopSignal.isEmpty { result.stopSignal = stopSignal }
        if result.workDir.isEmpty { result.workDir = workDir }
        if result.layering == nil { result.layering = layering }
        if result.format == nil { result.format = format }
        if result.certificates == nil { result.certificates = certificates }
        if result.osRelease == nil { result.osRelease = osRelease }
        if result.archs.isEmpty { result.archs = archs }
        if result.accounts.runAs.isEmpty { result.accounts.runAs = accounts.runAs }
        result.accounts.users = accounts.users + result.accounts.users
        result.accounts.groups = accounts.groups + result.accounts.groups
        result.environment = environment.merging(result.environment) { _, mine in mine }
        result.paths = paths + result.paths
        result.annotations = annotations.merging(result.annotations) { _, mine in mine }
        result.volumes = volumes + result.volumes
        result.contents.keyring = contents.keyring + result.contents.keyring
        result.contents.runtimeKeyring = contents.runtimeKeyring + result.contents.runtimeKeyring
        result.contents.buildRepositories = contents.buildRepositories + result.contents.buildRepositories
        result.contents.runtimeRepositories = contents.runtimeRepositories + result.contents.runtimeRepositories
        result.contents.repositories = contents.repositories + result.contents.repositories
        result.contents.packages = contents.packages + result.contents.packages
        if result.contents.baseImage == nil { result.contents.baseImage = contents.baseImage }
        return result
    }

    /// apko's `Validate` including its changes: checks (see `validate`), then empty home directories become
    /// `/home/<username>`, and a `service-bundle` entrypoint becomes `/bin/s6-svscan /sv` with `s6` added to
    /// the packages.
    /// - Throws: `LaminaError(.invalidInput)`.
    public func validated(sourceMap: SourceMap? = nil) throws -> ImageConfiguration {
        try validate(sourceMap: sourceMap)
        var result = self
        for index in result.accounts.users.indices where result.accounts.users[index].homedir.isEmpty {
            result.accounts.users[index].homedir = "/home/" + result.accounts.users[index].username
        }
        if result.entrypoint.type == "service-bundle" {
            result.entrypoint.command = "/bin/s6-svscan /sv"
            result.contents.packages.append("s6")
        }
        return result
    }

    /// apko's pre-build checks (`Validate`): users have names and non-zero uids, groups have names, additional
    /// certificates and runtime keys have safe file names (and keys have content, without duplicates),
    /// `layering` is not combined with `erofs`.
    /// - Parameter sourceMap: positions for the messages; without it errors name only the key path.
    /// - Throws: `LaminaError(.invalidInput)`.
    public func validate(sourceMap: SourceMap? = nil) throws {
        let map = sourceMap ?? SourceMap(file: "apko.yaml")
        for (index, user) in accounts.users.enumerated() {
            let path = ConfigPath([.key("accounts"), .key("users"), .index(index)])
            if user.username.isEmpty { throw map.error(at: path.appending("username"), "user has no username") }
            if user.uid == 0 {
                throw map.error(
                    at: path.appending("uid"),
                    "user '\(user.username)' has uid 0 (to run as root, use 'run-as: 0' instead of a user entry)")
            }
        }
        for (index, group) in accounts.groups.enumerated() where group.groupname.isEmpty {
            throw map.error(
                at: ConfigPath([.key("accounts"), .key("groups"), .index(index), .key("groupname")]),
                "group has no groupname")
        }
        for name in entrypoint.services.keys.sorted()
        where name.isEmpty || name.contains("/") || name == "." || name == ".." {
            throw map.error(
                at: ConfigPath([.key("entrypoint"), .key("services"), .key(name)]),
                "service name '\(name)' must be one path component (it becomes /sv/<name>/run)", atKey: true)
        }
        if format == .erofs, layering != nil {
            throw map.error(at: ConfigPath([.key("layering")]), "layering is not supported with format 'erofs' yet")
        }
        for (index, certificate) in (certificates?.additional ?? []).enumerated() {
            let path = ConfigPath([.key("certificates"), .key("additional"), .index(index), .key("name")])
            if certificate.name.isEmpty { throw map.error(at: path, "additional certificate has no name") }
            if !Self.isSafeFileName(certificate.name) {
                throw map.error(
                    at: path, "invalid certificate name '\(certificate.name)' (letters, digits, '_', '-', '.'; "
                        + "not starting with '.')")
            }
        }
        var seenKeys = Set<String>()
        for (index, key) in contents.runtimeKeyring.enumerated() {
            let path = ConfigPath([.key("contents"), .key("runtime_keyring"), .index(index)])
            if key.name.isEmpty { throw map.error(at: path.appending("name"), "runtime_keyring entry has no name") }
            if key.content.isEmpty {
                throw map.error(at: path.appending("content"), "runtime_keyring entry '\(key.name)' has no content")
            }
            if !Self.isSafeFileName(key.name) {
                throw map.error(at: path.appending("name"), "invalid runtime_keyring name '\(key.name)'")
            }
            if !seenKeys.insert(key.name).inserted {
                throw map.error(at: path.appending("name"), "runtime_keyring entry '\(key.name)' is a duplicate")
            }
        }
    }

    /// The configuration with passwords in repository and keyring URLs replaced by `xxxxx`, as apko prints it
    /// (`show-config`, logs). Repository entries may carry an `@tag ` prefix.
    public func redactingCredentials() -> ImageConfiguration {
        var result = self
        func redactRepository(_ entry: String) -> String {
            let parts = entry.split(separator: " ", maxSplits: 1, omittingEmptySubsequences: false)
            if parts.count == 2, parts[0].hasPrefix("@") { return "\(parts[0]) \(Self.redactURL(String(parts[1])))" }
            return Self.redactURL(entry)
        }
        result.contents.buildRepositories = contents.buildRepositories.map(redactRepository)
        result.contents.repositories = contents.repositories.map(redactRepository)
        result.contents.runtimeRepositories = contents.runtimeRepositories.map(redactRepository)
        result.contents.keyring = contents.keyring.map(Self.redactURL)
        return result
    }

    /// Go's `url.URL.Redacted`: `https://user:secret@host/x` → `https://user:xxxxx@host/x`.
    static func redactURL(_ text: String) -> String {
        guard let schemeEnd = text.range(of: "://") else { return text }
        let authorityStart = schemeEnd.upperBound
        let authorityEnd = text[authorityStart...].firstIndex(where: { $0 == "/" || $0 == "?" || $0 == "#" })
            ?? text.endIndex
        let authority = text[authorityStart..<authorityEnd]
        guard let at = authority.lastIndex(of: "@") else { return text }
        let userInfo = authority[..<at]
        guard let colon = userInfo.firstIndex(of: ":") else { return text }
        return String(text[..<authorityStart]) + userInfo[...colon] + "xxxxx" + text[at..<text.endIndex]
    }

    /// `^[a-zA-Z0-9_-]+[a-zA-Z0-9_.-]*$`.
    static func isSafeFileName(_ name: String) -> Bool {
        guard let first = name.unicodeScalars.first, first != "." else { return false }
        return name.unicodeScalars.allSatisfy { c in
            ("a"..."z").contains(c) || ("A"..."Z").contains(c) || ("0"..."9").contains(c) || c == "_" || c == "-"
                || c == "."
        }
    }

    /// The architectures to build, apko's `ParseArchitectures`: `archs: [all]` (or none) means every
    /// architecture, `host` the machine's; apk and OCI spellings are both accepted; duplicates removed; sorted.
    /// - Throws: `LaminaError(.invalidInput)` naming the entry for an unknown architecture.
    public func resolvedArchitectures(sourceMap: SourceMap? = nil) throws -> [Architecture] {
        if archs.isEmpty || archs == ["all"] { return Architecture.all.sorted() }
        var result = Set<Architecture>()
        for (index, name) in archs.enumerated() {
            if name == "host" {
                result.insert(.host)
                continue
            }
            do {
                result.insert(try Architecture(name))
            } catch let error as LaminaError {
                let map = sourceMap ?? SourceMap(file: "apko.yaml")
                throw map.error(at: ConfigPath([.key("archs"), .index(index)]), error.message)
            }
        }
        return result.sorted()
    }
}

enum ConfigFiles {
    static func read(_ path: String) throws -> [UInt8] {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else {
            throw LaminaError(.notFound, "no such file", subject: path)
        }
        if isDirectory.boolValue { throw LaminaError(.invalidInput, "is a directory, not a YAML file", subject: path) }
        guard let data = FileManager.default.contents(atPath: path) else {
            throw LaminaError(.io, "cannot read the file", subject: path)
        }
        return [UInt8](data)
    }

    static func canonical(_ path: String) -> String {
        URL(fileURLWithPath: path).standardizedFileURL.resolvingSymlinksInPath().path
    }
}
