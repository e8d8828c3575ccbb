import APK
import ArgumentParser
import Foundation
import LaminaCore

/// `lamina package create --name N --version V DIR -o OUT.apk --signing-key KEY`
struct PackageCreate: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "create", abstract: "Build a signed .apk from a directory tree.",
        discussion: "Every mtime and the builddate come from SOURCE_DATE_EPOCH (default 0): the same inputs give the same bytes.")

    @Argument(help: "The directory whose contents become the package's files.") var directory: String
    @Option(help: "Package name.") var name: String
    @Option(help: "Package version including the release, e.g. 1.0.0-r0 (-r0 is added when missing).") var version: String
    @Option(help: "Architecture (apk or OCI spelling, or noarch).") var arch: String = Architecture.host.apk
    @Option(help: "One-line description.") var description: String?
    @Option(help: "SPDX license expression.") var license: String?
    @Option(help: "Homepage URL.") var url: String?
    @Option(help: "Origin (source package) name; defaults to the name.") var origin: String?
    @Option(help: "VCS commit.") var commit: String?
    @Option(help: "Maintainer.") var maintainer: String?
    @Option(name: .customLong("dep"), help: "A dependency, e.g. 'busybox>=1.36' or 'so:libc.musl-x86_64.so.1' (repeatable).")
    var dependencies: [String] = []
    @Option(name: .customLong("provides"), help: "A provided name, e.g. 'cmd:hello=1.0.0-r0' (repeatable).") var provides: [String] = []
    @Option(name: .customLong("replaces"), help: "A package whose files this one may overwrite (repeatable).") var replaces: [String] = []
    @Option(name: .customLong("script"), help: "ACTION=FILE, e.g. post-install=./post.sh (repeatable).") var scripts: [String] = []
    @Option(
        name: .customLong("trigger-paths"),
        help: "Absolute path globs whose changes fire the trigger script, e.g. '/usr/share/fonts/*' (repeatable; a value may hold several, separated by spaces or commas).")
    var triggerPaths: [String] = []
    @Option(name: [.customShort("o"), .customLong("output")], help: "The .apk to write.") var output: String
    @Option(name: .customLong("signing-key"), help: "RSA private key (PEM); the signature names '<basename>.pub'.") var signingKey: String?
    @Flag(name: .customLong("sign-sha1"), help: "Also add a SHA-1 signature (.SIGN.RSA.*) for apk-tools older than 2.10.") var signSHA1 = false
    @OptionGroup var global: GlobalOptions

    func run() async throws {
        let clock = try BuildClock.fromEnvironment(ProcessInfo.processInfo.environment)
        let architecture = arch == "noarch" ? "noarch" : try Architecture(arch).apk
        let fullVersion = version.contains("-r") ? version : version + "-r0"
        guard APKVersion.isValid(fullVersion) else { throw LaminaError(.invalidInput, "'\(version)' is not a valid apk version", subject: "--version") }
        func parse(_ values: [String], _ option: String) throws -> [Dependency] {
            try values.map { value in
                do { return try Dependency(parsing: value) } catch let error as LaminaError { throw error.about(option) }
            }
        }
        var info = PackageInfo(
            name: name, version: fullVersion, arch: architecture, description: description, url: url, license: license,
            origin: origin ?? name, maintainer: maintainer, commit: commit)
        info.depends = try parse(dependencies, "--dep")
        info.provides = try parse(provides, "--provides")
        info.replaces = try parse(replaces, "--replaces")
        info.triggers = try Self.triggerGlobs(triggerPaths)
        var scriptTexts: [String: String] = [:]
        for item in scripts {
            guard let eq = item.firstIndex(of: "=") else { throw LaminaError(.usage, "expected ACTION=FILE, got '\(item)'", subject: "--script") }
            scriptTexts[String(item[..<eq])] = try String(contentsOfFile: String(item[item.index(after: eq)...]), encoding: .utf8)
        }
        if scriptTexts["trigger"] != nil && info.triggers.isEmpty {
            throw LaminaError(
                .usage, "a trigger script needs the paths that fire it: add --trigger-paths (e.g. --trigger-paths '/usr/share/fonts/*')",
                subject: "--script trigger")
        }
        if !info.triggers.isEmpty && scriptTexts["trigger"] == nil {
            global.logger.warn("--trigger-paths without --script trigger=FILE: apk records the paths but has nothing to run")
        }
        var keys: [SigningKey] = []
        if let signingKey { keys.append(try SigningKey.load(path: signingKey)) } else {
            global.logger.warn("no --signing-key: the package is UNSIGNED (apk installs it only from a signed index that lists it, or with --allow-untrusted)")
        }
        let writer = PackageWriter(
            info: info, scripts: scriptTexts, clock: clock, signingKeys: keys, algorithms: signSHA1 ? [.rsaSHA256, .rsaSHA1] : [.rsaSHA256])
        let outputDir = (output as NSString).deletingLastPathComponent
        if !outputDir.isEmpty { try FileManager.default.createDirectory(atPath: outputDir, withIntermediateDirectories: true) }
        let written = try writer.write(directory: directory, to: output)
        global.logger.result("wrote \(output) (\(written.nameVersion), \(written.fileSize ?? 0) bytes, \(written.checksum?.apkIdentity ?? ""))")
    }

    /// The globs of `--trigger-paths`: split on spaces and commas, each an absolute path (apk-tools
    /// matches them against the installed directories, which it names with a leading slash).
    static func triggerGlobs(_ values: [String]) throws -> [String] {
        var globs: [String] = []
        for value in values {
            for glob in value.split(whereSeparator: { $0 == " " || $0 == "," || $0 == "\t" }).map(String.init) {
                guard glob.hasPrefix("/") else {
                    throw LaminaError(.usage, "trigger path '\(glob)' must be absolute, e.g. '/\(glob)'", subject: "--trigger-paths")
                }
                if !globs.contains(glob) { globs.append(glob) }
            }
        }
        if !values.isEmpty && globs.isEmpty {
            throw LaminaError(.usage, "--trigger-paths needs at least one path glob", subject: "--trigger-paths")
        }
        return globs
    }
}
