import APK
import Archive
import ArgumentParser
import Config
import Foundation
import LaminaCore
import PackageBuilder

/// `melange …` (melange's `pkg/cli`): the same subcommands, flags and defaults, run by Lamina's engines.
struct MelangeFace: FaceRoot {
    static let face = Face.melange
    static let configuration = CommandConfiguration(
        commandName: "melange",
        abstract: "Build APK packages from a YAML configuration file (Lamina speaking melange's command line).",
        subcommands: [
            MelangeBuild.self, MelangeTest.self, MelangeKeygen.self, MelangeIndex.self, MelangeSign.self,
            MelangeSignIndex.self, MelangeQuery.self,
            MelangePackageVersion.self, MelangeBump.self, MelangeLint.self, PackageCompile.self, FaceVersion<MelangeFace>.self,
            FaceCompletion<MelangeFace>.self,
        ])

    init() {}

    /// Flags of melange that Lamina refuses, per subcommand.
    static let refusals: [String: [Face.Refusal]] = {
        let runnerResources: [Face.Refusal] = [
            .init(flag: "cpu", reason: "runner resource limits (qemu/kubernetes runners)"),
            .init(flag: "cpumodel", reason: "runner resource limits (qemu runner)"),
            .init(flag: "disk", reason: "runner resource limits (qemu runner)"),
            .init(flag: "memory", reason: "runner resource limits (qemu/kubernetes runners)"),
            .init(flag: "timeout", reason: "a runner-wide timeout (use package.timeout in the config)"),
            .init(flag: "debug-runner", reason: "keeping the runner alive after the build"),
            .init(flag: "interactive", short: "i", reason: "attaching a terminal to a failed build"),
            .init(flag: "cache-source", reason: "preloading the cache from a bucket"),
        ]
        return [
            "build": runnerResources + [
                .init(flag: "trace", reason: "OpenTelemetry trace files"),
                .init(flag: "dependency-log", reason: "the dependency log file"),
                .init(flag: "strip-origin-name", reason: "bootstrap builds without origin names"),
                .init(
                    flag: "override-host-triplet-libc-substitution-flavor",
                    reason: "host triplet libc flavours other than gnu"),
                .init(flag: "lint-require", reason: "build-time linters"),
                .init(flag: "lint-warn", reason: "build-time linters"),
                .init(flag: "persist-lint-results", reason: "build-time linters"),
                .init(flag: "fail-on-lint-warning", reason: "build-time linters"),
                .init(flag: "git-commit", reason: "SBOM provenance of the build config"),
                .init(flag: "git-repo-url", reason: "SBOM provenance of the build config"),
                .init(flag: "license", reason: "SBOM provenance of the build config"),
                .init(flag: "generate-provenance", reason: "SLSA provenance attestations"),
            ],
            "lint": [
                .init(flag: "persist-lint-results", reason: "lint result files"),
                .init(flag: "fail-on-lint-warning", reason: "a deprecated flag (use --lint-require and --lint-warn)"),
            ],
            "test": runnerResources + [
                .init(flag: "test-option", reason: "test options"),
                .init(flag: "test-package-append", reason: "extra test packages"),
                .init(flag: "env-file", reason: "environment files for tests"),
            ],
        ]
    }()
}

/// The runners melange names; Lamina runs bubblewrap, docker and podman.
func melangeRunner(_ name: String) throws -> String {
    switch name {
    case "", "bubblewrap": return "bubblewrap"
    case "docker", "podman": return name
    default:
        throw LaminaError(
            .usage, "not supported by Lamina: the \(name) runner (bubblewrap, docker, podman)",
            subject: "--runner \(name)")
    }
}

/// `melange build [config.yaml]`
struct MelangeBuild: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "build", abstract: "Build a package from a YAML configuration file")

    @Argument(help: "The melange.yaml.") var config: String = "melange.yaml"
    @OptionGroup var repository: RepositoryFlags
    @Option(name: .customLong("build-date"), help: "date used for the timestamps of the files inside the image")
    var buildDate = ""
    @Option(name: .customLong("workspace-dir"), help: "directory used for the workspace at /home/build")
    var workspaceDir = ""
    @Option(name: .customLong("pipeline-dir"), help: "directory used to extend defined built-in pipelines")
    var pipelineDir = ""
    @Option(name: .customLong("pipeline-dirs"), help: "directories used to extend defined built-in pipelines")
    var pipelineDirs: [String] = []
    @Option(name: .customLong("source-dir"), help: "directory used for included sources") var sourceDir = ""
    @Option(
        name: .customLong("apk-cache-dir"),
        help: "directory used for cached apk packages (default is system-defined cache directory)")
    var apkCacheDir = ""
    @Option(name: .customLong("signing-key"), help: "key to use for signing") var signingKey = ""
    @Option(name: .customLong("env-file"), help: "files to use for preloaded environment variables") var envFiles:
        [String] = []
    @Option(name: .customLong("vars-file"), help: "file to use for preloaded build configuration variables")
    var varsFile = ""
    @Flag(name: .customLong("generate-index"), inversion: .prefixedNo, help: "whether to generate APKINDEX.tar.gz")
    var generateIndex = true
    @Flag(name: .customLong("empty-workspace"), help: "whether the build workspace should be empty")
    var emptyWorkspace = false
    @Option(name: .customLong("out-dir"), help: "directory where packages will be output") var outDir = "./packages/"

    /// `--out-dir` without the trailing slash of its default, so messages name `./packages/x86_64/…`.
    var outputDirectory: String { outDir.count > 1 && outDir.hasSuffix("/") ? String(outDir.dropLast()) : outDir }
    @Option(name: .customLong("namespace"), help: "namespace to use in package URLs in SBOM (eg wolfi, alpine)")
    var namespace = "unknown"
    @Option(name: .customLong("build-option"), help: "build options to enable") var buildOptions: [String] = []
    @Option(name: .customLong("runner"), help: "which runner to use: bubblewrap (default), docker or podman")
    var runner = ""
    @Option(name: .customLong("package-append"), help: "extra packages to install for each of the build environments")
    var packages: [String] = []
    @Flag(
        name: .customLong("create-build-log"),
        help: "creates a package.log file containing a list of packages that were built by the command")
    var createBuildLog = false
    @Flag(name: .customLong("debug"), help: "enables debug logging of build pipelines (set -x)") var debug = false
    @Flag(
        name: .customLong("rm"), inversion: .prefixedNo,
        help: "clean up intermediate artifacts (e.g. container images, temp dirs)")
    var remove = true
    @Flag(
        name: .customLong("cleanup"), inversion: .prefixedNo,
        help: "when enabled, the temp dir used for the guest will be cleaned up after completion")
    var cleanup = true
    @OptionGroup var global: GlobalOptions

    /// The `lamina package build` command line these flags mean.
    func laminaArguments() throws -> [String] {
        var out = [config] + repository.laminaArguments(cacheOverride: try cacheDirectory())
        out += [
            "--runner", try melangeRunner(runner), "--out-dir", outputDirectory, "--namespace", namespace,
            "--generate-index", generateIndex ? "true" : "false",
        ]
        if !signingKey.isEmpty { out += ["--signing-key", signingKey] }
        if !sourceDir.isEmpty { out += ["--source-dir", sourceDir] }
        if !workspaceDir.isEmpty { out += ["--workspace-dir", workspaceDir] }
        if !varsFile.isEmpty { out += ["--vars-file", varsFile] }
        if !buildDate.isEmpty {
            guard let seconds = ImageBuild.parseDate(buildDate) else {
                throw LaminaError(
                    .usage, "expected RFC 3339 or Unix seconds, got '\(buildDate)'", subject: "--build-date")
            }
            out += ["--source-date-epoch", String(seconds)]
        }
        for dir in ([pipelineDir] + RepositoryFlags.splitList(pipelineDirs)) where !dir.isEmpty {
            out += ["--pipeline-dir", dir]
        }
        for file in RepositoryFlags.splitList(envFiles) { out += ["--env-file", file] }
        for option in RepositoryFlags.splitList(buildOptions) { out += ["--build-option", option] }
        for package in RepositoryFlags.splitList(packages) { out += ["--package-append", package] }
        if emptyWorkspace { out.append("--empty-workspace") }
        if debug { out.append("--trace") }
        if !remove || !cleanup { out.append("--debug") }
        out += ["--log-level", global.logLevel.rawValue]
        return out
    }

    /// melange keeps sources in --cache-dir and packages in --apk-cache-dir; Lamina keeps both in one cache.
    func cacheDirectory() throws -> String? {
        let sources = repository.cacheDir
        let packages = apkCacheDir.isEmpty ? nil : apkCacheDir
        if let sources, let packages, sources != packages {
            throw LaminaError(
                .usage, "Lamina keeps packages and sources in one cache; give one folder to both",
                subject: "--apk-cache-dir")
        }
        return packages ?? sources
    }

    func run() async throws {
        let command = try PackageBuildCommand.parse(try laminaArguments())
        let results = try await command.builds()
        for (_, result) in results {
            for package in result.packages { global.logger.info("wrote \(package.path)") }
            if let index = result.indexPath { global.logger.info("updated \(index)") }
        }
        if createBuildLog {
            // melange's packages.log: ARCH|ORIGIN|NAME|VERSION-rEPOCH, one line per package, appended.
            var text = ""
            for (arch, result) in results {
                for package in result.packages {
                    let info = package.info
                    text += "\(arch.apk)|\(info.origin ?? info.name)|\(info.name)|\(info.version)\n"
                }
            }
            try FileManager.default.createDirectory(atPath: outputDirectory, withIntermediateDirectories: true)
            try appendText(text, to: (outputDirectory as NSString).appendingPathComponent("packages.log"))
        }
    }
}

/// Appends `text` to `path`, creating it (0644) when missing.
func appendText(_ text: String, to path: String) throws {
    if !FileManager.default.fileExists(atPath: path) {
        guard FileManager.default.createFile(atPath: path, contents: nil, attributes: [.posixPermissions: 0o644]) else {
            throw LaminaError(.io, "cannot create the file", subject: path)
        }
    }
    guard let handle = FileHandle(forWritingAtPath: path) else {
        throw LaminaError(.io, "cannot open for writing", subject: path)
    }
    defer { try? handle.close() }
    do {
        try handle.seekToEnd()
        try handle.write(contentsOf: Data(text.utf8))
    } catch {
        throw LaminaError(.io, "cannot write: \(error.localizedDescription)", subject: path, cause: error)
    }
}

/// `melange test <config.yaml> [package-name]`
struct MelangeTest: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "test", abstract: "Test a package with a YAML configuration file")

    @Argument(help: "The melange.yaml.") var config: String
    @Argument(help: "Only test these packages.") var packages: [String] = []
    @OptionGroup var repository: RepositoryFlags
    @Option(name: .customLong("workspace-dir"), help: "directory used for the workspace at /home/build")
    var workspaceDir = ""
    @Option(name: .customLong("pipeline-dirs"), help: "directories used to extend defined built-in pipelines")
    var pipelineDirs: [String] = []
    @Option(name: .customLong("source-dir"), help: "directory used for included sources") var sourceDir = ""
    @Option(name: .customLong("apk-cache-dir"), help: "directory used for cached apk packages") var apkCacheDir = ""
    @Option(name: .customLong("runner"), help: "which runner to use: bubblewrap (default), docker or podman")
    var runner = ""
    @Flag(name: .customLong("debug"), help: "enables debug logging of test pipelines (sets -x for steps)") var debug =
        false
    @Flag(
        name: .customLong("rm"), inversion: .prefixedNo,
        help: "clean up intermediate artifacts (e.g. container images, temp dirs)")
    var remove = true
    @OptionGroup var global: GlobalOptions

    func laminaArguments() throws -> [String] {
        if let sources = repository.cacheDir, !apkCacheDir.isEmpty, sources != apkCacheDir {
            throw LaminaError(
                .usage, "Lamina keeps packages and sources in one cache; give one folder to both",
                subject: "--apk-cache-dir")
        }
        var out =
            [config] + packages
            + repository.laminaArguments(cacheOverride: apkCacheDir.isEmpty ? repository.cacheDir : apkCacheDir)
        out += ["--runner", try melangeRunner(runner)]
        if !sourceDir.isEmpty { out += ["--source-dir", sourceDir] }
        if !workspaceDir.isEmpty {
            throw LaminaError(.usage, "not supported by Lamina: a kept workspace for tests", subject: "--workspace-dir")
        }
        for dir in RepositoryFlags.splitList(pipelineDirs) { out += ["--pipeline-dir", dir] }
        if debug { out.append("--trace") }
        if !remove { out.append("--debug") }
        out += ["--log-level", global.logLevel.rawValue]
        return out
    }

    func run() async throws {
        var command = try PackageTestCommand.parse(try laminaArguments())
        try await command.run()
    }
}

/// `melange keygen [key.rsa]`
struct MelangeKeygen: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "keygen", abstract: "Generate a key for package signing")
    @Argument(help: "Private key file to write; the public key goes to NAME.pub.") var name = "melange.rsa"
    @Option(name: .customLong("key-size"), help: "the size of the prime to calculate (in bits)") var keySize = 4096
    @OptionGroup var global: GlobalOptions

    func run() async throws {
        guard keySize >= 2048 else {
            throw LaminaError(
                .usage, "key size is less than 2048 bits, this is not considered safe", subject: "--key-size")
        }
        // melange overwrites existing key files.
        var command = try Keygen.parse([
            name, "--key-size", String(keySize), "--force", "--log-level", global.logLevel.rawValue,
        ])
        try await command.run()
    }
}

/// `melange index -o APKINDEX.tar.gz *.apk`
struct MelangeIndex: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "index", abstract: "Creates a repository index from a list of package files")
    @Argument(help: "The .apk files.") var packages: [String]
    @Option(name: [.customShort("o"), .customLong("output")], help: "Output generated index to FILE") var output =
        "APKINDEX.tar.gz"
    @Option(
        name: [.customShort("s"), .customLong("source")], help: "Source FILE to use for pre-existing index entries")
    var source = "APKINDEX.tar.gz"
    @Option(
        name: [.customShort("a"), .customLong("arch")],
        help: "Index only packages which match the expected architecture") var arch = ""
    @Option(name: .customLong("signing-key"), help: "Key to use for signing the index (optional)") var signingKey = ""
    @Flag(name: [.customShort("m"), .customLong("merge")], help: "Merge pre-existing index entries") var merge = false
    @OptionGroup var global: GlobalOptions

    func run() async throws {
        var arguments = packages + ["-o", output, "--log-level", global.logLevel.rawValue]
        if merge {
            // Lamina merges into the index it writes; melange reads --source (default the same file).
            guard source == output else {
                throw LaminaError(
                    .usage, "not supported by Lamina: merging from another index than --output", subject: "--source")
            }
            arguments.append("--merge")
        }
        if !arch.isEmpty { arguments += ["--arch", arch] }
        if !signingKey.isEmpty { arguments += ["--signing-key", signingKey] }
        var command = try PackageIndex.parse(arguments)
        try await command.run()
    }
}

/// `melange sign [--signing-key=key.rsa] package.apk...`
struct MelangeSign: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "sign", abstract: "Sign an APK package")
    @Argument(help: "The packages to sign.") var packages: [String]
    @Option(name: [.customShort("k"), .customLong("signing-key")], help: "The signing key to use.") var signingKey =
        "local-melange.rsa"
    @OptionGroup var global: GlobalOptions

    func run() async throws {
        let key = try SigningKey.load(path: signingKey)
        for package in packages {
            try PackageResigner.resign(path: package, keys: [key])
            global.logger.info("signed \(package) with key \(signingKey)")
        }
    }
}

/// `melange sign-index [--signing-key=key.rsa] <APKINDEX.tar.gz> [--force]`
struct MelangeSignIndex: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "sign-index", abstract: "Sign an APK index")
    @Argument(help: "The index to sign.") var index: String
    @Option(name: .customLong("signing-key"), help: "the signing key to use") var signingKey = "melange.rsa"
    @Flag(
        name: [.customShort("f"), .customLong("force")],
        help: "when toggled, overwrites the specified index with a new index using the provided signature")
    var force = false
    @OptionGroup var global: GlobalOptions

    func run() async throws {
        let key = try SigningKey.load(path: signingKey)
        let existing = try APKIndex.read(path: index)
        if existing.signatures.contains(where: { $0.keyName == key.keyName }) && !force {
            global.logger.info("index \(index) is already signed by \(key.keyName); use --force to sign it again")
            return
        }
        try AtomicFileSink.write(try existing.archiveBytes(signingKeys: [key]), to: index)
        global.logger.info("signed index \(index) with key \(signingKey)")
    }
}

/// `melange query config.yaml "{{ .Package.Name }}-{{ .Package.Version }}-r{{ .Package.Epoch }}"`
struct MelangeQuery: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "query", abstract: "Query a Melange YAML file for information")
    @Argument(help: "The melange.yaml.") var config: String
    @Argument(help: "A Go template over the configuration, e.g. '{{ .Package.Name }}'.") var template: String
    @OptionGroup var global: GlobalOptions

    func run() async throws {
        let loaded = try BuildConfiguration.load(path: config)
        Terminal.standardOutput.write(try Self.render(template, loaded.configuration.package) + "\n")
    }

    /// The fields of `.Package` a template may name (melange's config struct field names).
    static func render(_ template: String, _ package: Package) throws -> String {
        try renderTemplate(
            template,
            fields: [
                ".Package.Name": package.name, ".Package.Version": package.version,
                ".Package.Epoch": String(package.epoch),
                ".Package.Description": package.description, ".Package.URL": package.url,
                ".Package.Commit": package.commit,
            ], subject: "query")
    }
}

/// Fills the `{{ .Field }}` actions of a Go text/template from `fields`; any other action is refused, naming it.
func renderTemplate(_ template: String, fields: [String: String], subject: String) throws -> String {
    var out = ""
    var rest = Substring(template)
    while let open = rest.range(of: "{{") {
        out += rest[..<open.lowerBound]
        guard let close = rest.range(of: "}}", range: open.upperBound..<rest.endIndex) else {
            throw LaminaError(.usage, "unclosed '{{' in the template", subject: subject)
        }
        var expression = rest[open.upperBound..<close.lowerBound].trimmingCharacters(in: .whitespaces)
        if expression.hasPrefix("-") { expression = expression.dropFirst().trimmingCharacters(in: .whitespaces) }
        if expression.hasSuffix("-") { expression = expression.dropLast().trimmingCharacters(in: .whitespaces) }
        guard let value = fields[expression] else {
            throw LaminaError(
                .usage, "Lamina's templates know \(fields.keys.sorted().joined(separator: ", ")), not '\(expression)'",
                subject: subject)
        }
        out += value
        rest = rest[close.upperBound...]
    }
    return out + rest
}

/// `melange lint [--lint-require a,b] [--lint-warn c] foo.apk...`
struct MelangeLint: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "lint", abstract: "Lints an APK, checking for problems and errors")
    @Argument(help: "The .apk files.") var packages: [String]
    @Option(name: .customLong("lint-require"), help: "linters that must pass") var lintRequire: [String] = PackageLinter
        .defaultRequired
    @Option(name: .customLong("lint-warn"), help: "linters that will generate warnings") var lintWarn: [String] =
        PackageLinter.defaultWarn
    @Option(
        name: .customLong("out-dir"),
        help: "directory where lint results JSON files will be saved (requires --persist-lint-results)")
    var outDir = "packages"
    @OptionGroup var global: GlobalOptions

    func run() async throws {
        let required = RepositoryFlags.splitList(lintRequire)
        let warned = RepositoryFlags.splitList(lintWarn)
        if let missing = required.first(where: PackageLinter.unimplemented.contains) {
            throw LaminaError(
                .usage, "not supported by Lamina: the \(missing) linter (it needs the build, not only the package)",
                subject: "--lint-require")
        }
        let skipped = warned.filter(PackageLinter.unimplemented.contains)
        if !skipped.isEmpty {
            global.logger.warn("linters Lamina does not run on packages: \(skipped.joined(separator: ", "))")
        }
        var failures: [String] = []
        for package in packages {
            for finding in try PackageLinter.lint(path: package, linters: required + warned) {
                if required.contains(finding.linter) {
                    failures.append(
                        "linter \"\(finding.linter)\" failed on package \"\(finding.package)\": \(finding.message); suggest: \(finding.explain)"
                    )
                } else {
                    global.logger.warn("\(finding.linter): \(finding.message)")
                }
            }
        }
        if !failures.isEmpty {
            throw LaminaError(.invalidInput, failures.joined(separator: "\n"), subject: "lint")
        }
    }
}

/// `melange package-version [config.yaml]`
struct MelangePackageVersion: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "package-version", abstract: "Report the target package for a YAML configuration file")
    @Argument(help: "The melange.yaml.") var config: String
    @OptionGroup var global: GlobalOptions

    func run() async throws {
        let package = try BuildConfiguration.load(path: config).configuration.package
        Terminal.standardOutput.write("\(package.name)-\(package.version)-r\(package.epoch)\n")
    }
}

/// `melange bump <config.yaml> <1.2.3.4>`
struct MelangeBump: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bump", abstract: "Update a Melange YAML file to reflect a new package version")
    @Argument(help: "The melange.yaml.") var config: String
    @Argument(help: "The new version.") var version: String
    @Option(
        name: .customLong("expected-commit"),
        help: "optional flag to update the expected-commit value of a git-checkout pipeline")
    var expectedCommit = ""
    @OptionGroup var global: GlobalOptions

    func run() async throws {
        let text = try String(contentsOfFile: config, encoding: .utf8)
        let bumped = try MelangeBumper.bump(
            text, file: config, version: version, expectedCommit: expectedCommit.isEmpty ? nil : expectedCommit)
        // The result must still be a valid configuration before it replaces the file.
        _ = try BuildConfiguration.prepare(yaml: bumped, file: config)
        try AtomicFileSink.write(Array(bumped.utf8), to: config)
    }
}

/// Edits `package.version` (epoch back to 0) and a git-checkout's `expected-commit` in place, keeping every other
/// byte of the file (comments, order, quoting) as it was.
enum MelangeBumper {
    static func bump(_ text: String, file: String, version: String, expectedCommit: String?) throws -> String {
        var lines = text.components(separatedBy: "\n")
        guard let packageLine = lines.firstIndex(where: { $0.hasPrefix("package:") }) else {
            throw LaminaError(.invalidInput, "no top-level 'package:' section", subject: file)
        }
        var end = packageLine + 1
        while end < lines.count, lines[end].isEmpty || lines[end].hasPrefix(" ") || lines[end].hasPrefix("#") {
            end += 1
        }
        let indent =
            lines[(packageLine + 1)..<end].first {
                !$0.trimmingCharacters(in: .whitespaces).isEmpty
                    && !$0.trimmingCharacters(in: .whitespaces).hasPrefix("#")
            }
            .map { String($0.prefix { $0 == " " }) } ?? "  "
        func replace(_ key: String, _ value: String, in range: Range<Int>) -> Bool {
            for i in range where lines[i].hasPrefix(indent + key + ":") && !lines[i].hasPrefix(indent + " ") {
                let old = lines[i].dropFirst(indent.count + key.count + 1).trimmingCharacters(in: .whitespaces)
                let quote = old.first.flatMap { $0 == "\"" || $0 == "'" ? String($0) : nil } ?? ""
                lines[i] = indent + key + ": " + quote + value + quote
                return true
            }
            return false
        }
        guard replace("version", version, in: (packageLine + 1)..<end) else {
            throw LaminaError(.invalidInput, "no package.version to bump", subject: file)
        }
        if !replace("epoch", "0", in: (packageLine + 1)..<end) {
            lines.insert(
                indent + "epoch: 0",
                at: (packageLine + 1..<end).first { lines[$0].hasPrefix(indent + "version:") }.map { $0 + 1 } ?? end)
        }
        if let expectedCommit {
            guard
                let at = lines.firstIndex(where: {
                    $0.trimmingCharacters(in: .whitespaces).hasPrefix("expected-commit:")
                })
            else {
                throw LaminaError(.invalidInput, "no expected-commit to update", subject: file)
            }
            let lead = String(lines[at].prefix { $0 == " " || $0 == "-" })
            lines[at] = lead + "expected-commit: " + expectedCommit
        }
        return lines.joined(separator: "\n")
    }
}
