import ArgumentParser
import Config
import Foundation
import ImageBuilder
import LaminaCore
import OCI

/// `apko …` (apko's `internal/cli`): the same subcommands, flags and defaults, run by Lamina's image engine.
struct ApkoFace: FaceRoot {
    static let face = Face.apko
    static let configuration = CommandConfiguration(
        commandName: "apko",
        abstract:
            "Build OCI images from APK packages directly without a Dockerfile (Lamina speaking apko's command line).",
        subcommands: [
            ApkoBuild.self, ApkoPublish.self, ApkoBuildMinirootfs.self, ApkoShowConfig.self, ApkoShowPackages.self,
            ApkoLock.self,
            FaceVersion<ApkoFace>.self, FaceCompletion<ApkoFace>.self,
        ])

    init() {}

    static let refusals: [String: [Face.Refusal]] = {
        let limits: [Face.Refusal] = [
            .init(flag: "max-apkindex-decompressed-size", reason: "configurable size limits"),
            .init(flag: "max-apk-control-size", reason: "configurable size limits"),
            .init(flag: "max-apk-data-size", reason: "configurable size limits"),
            .init(flag: "max-http-response-size", reason: "configurable size limits"),
        ]
        return [
            "build": limits,
            "publish": limits + [
                .init(flag: "local", reason: "publishing to the local docker daemon (use apko build and docker load)"),
                .init(flag: "image-refs", reason: "the published references file"),
            ],
            "build-minirootfs": [.init(flag: "sbom-path", reason: "an SBOM for a minirootfs")],
            "show-config": [
                .init(
                    flag: "keyring-append", short: "k",
                    reason: "show-config prints the configuration file as merged from its includes"),
                .init(
                    flag: "build-repository-append", short: "b",
                    reason: "show-config prints the configuration file as merged from its includes"),
                .init(
                    flag: "repository-append", short: "r",
                    reason: "show-config prints the configuration file as merged from its includes"),
            ],
        ]
    }()
}

/// The flags of apko's image commands beyond the repository group: `-b`, `-p`, `--lockfile`, `--include-paths`.
struct ApkoImageFlags: ParsableArguments {
    @OptionGroup var repository: RepositoryFlags
    @Option(
        name: [.customShort("b"), .customLong("build-repository-append")], help: "path to extra repositories to include"
    )
    var buildRepositories: [String] = []
    @Option(name: [.customShort("p"), .customLong("package-append")], help: "extra packages to include") var packages:
        [String] = []

    init() {}

    /// These flags as `lamina image …` spells them.
    func laminaArguments() -> [String] {
        var arguments = repository.laminaArguments(cacheOverride: repository.cacheDir)
        for repository in RepositoryFlags.splitList(buildRepositories) {
            arguments += ["--build-repository-append", repository]
        }
        for package in RepositoryFlags.splitList(packages) { arguments += ["--package-append", package] }
        return arguments
    }

    /// Lamina's `ImageFlags` for these flags plus `extra` (e.g. `--lockfile FILE`).
    func imageFlags(_ extra: [String] = []) throws -> ImageFlags { try ImageFlags.parse(laminaArguments() + extra) }
}

/// What `apko build` and `apko publish` both take about the image they write.
struct ApkoOutputFlags: ParsableArguments {
    @Flag(name: .customLong("vcs"), inversion: .prefixedNo, help: "detect and embed VCS URLs") var vcs = true
    @Option(
        name: .customLong("build-date"),
        help: "date used for the timestamps of the files inside the image in RFC3339 format") var buildDate = ""
    @Flag(name: .customLong("sbom"), inversion: .prefixedNo, help: "generate SBOMs") var sbom = true
    @Option(name: .customLong("sbom-path"), help: "generate SBOMs in dir (default: the working directory)")
    var sbomPath = ""
    @Option(name: .customLong("sbom-formats"), help: "SBOM formats to output") var sbomFormats: [String] = ["spdx"]
    @Option(name: .customLong("annotations"), help: "OCI annotations to add. Separate with colon (key:value)")
    var annotations: [String] = []
    @Option(name: .customLong("lockfile"), help: "a path to .lock.json file that constraints versions of packages")
    var lockfile = ""
    @Option(name: .customLong("format"), help: "layer payload format: 'tar' (default)") var format = ""

    init() {}

    /// Refuses what Lamina cannot do: SBOM formats other than SPDX, erofs layers.
    func check() throws {
        for format in RepositoryFlags.splitList(sbomFormats) where format != "spdx" {
            throw LaminaError(
                .usage, "not supported by Lamina: SBOM format '\(format)' (spdx)", subject: "--sbom-formats")
        }
        guard format.isEmpty || format == "tar" else {
            throw LaminaError(.usage, "not supported by Lamina: layer format '\(format)' (tar)", subject: "--format")
        }
    }

    /// `--lockfile` and `--vcs` as `lamina image …` spells them.
    var imageArguments: [String] { (lockfile.isEmpty ? [] : ["--lockfile", lockfile]) + (vcs ? ["--vcs"] : []) }
}

/// `apko build <config.yaml> <tag> <output.tar|oci-layout-dir/>`
struct ApkoBuild: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "build", abstract: "Build an image from a YAML configuration file",
        discussion:
            "The generated image is in a format which can be used with the \"docker load\" command, tagged TAG-<arch> per architecture."
    )

    @Argument(help: "The apko.yaml.") var config: String
    @Argument(help: "The image tag.") var tag: String
    @Argument(help: "The tarball, or an existing directory for an OCI layout.") var output: String
    @OptionGroup var flags: ApkoImageFlags
    @OptionGroup var options: ApkoOutputFlags
    @Option(name: .customLong("include-paths"), help: "Additional include paths where to look for input files")
    var includePaths: [String] = []
    @OptionGroup var global: GlobalOptions

    func run() async throws {
        try options.check()
        var extra = options.imageArguments
        for path in RepositoryFlags.splitList(includePaths) { extra += ["--include-paths", path] }
        let imageFlags = try flags.imageFlags(extra)
        var isDirectory: ObjCBool = false
        let layout = FileManager.default.fileExists(atPath: output, isDirectory: &isDirectory) && isDirectory.boolValue
        var request = ImageBuildRequest(
            tag: tag, output: output, format: layout ? .ociLayout : .tarball,
            clock: try ImageBuild.clock(buildDate: options.buildDate))
        request.naming = .architectureOnly
        request.sbom = options.sbom
        // apko moves the SBOMs to --sbom-path, which defaults to the working directory.
        request.sbomPath = options.sbomPath.isEmpty ? "." : options.sbomPath
        request.annotations = try ImageBuild.annotations(options.annotations)
        let result = try await withImageEngine(imageFlags, configPath: config, global: global) { engine, _ in
            try await ImageBuilder(engine: engine).build(request)
        }
        for image in result.images {
            global.logger.info(
                "\(image.architecture.ociPlatform): \(image.packages.count) packages, manifest \(image.manifest.descriptor.digest)"
            )
        }
        global.logger.info("wrote \(output) (\(result.tags.joined(separator: ", ")))")
    }
}

/// `apko publish <config.yaml> <tag...>`
struct ApkoPublish: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "publish", abstract: "Build and publish an image")

    @Argument(help: "The apko.yaml.") var config: String
    @Argument(help: "One or more tags to publish to.") var tags: [String]
    @OptionGroup var flags: ApkoImageFlags
    @OptionGroup var output: ApkoOutputFlags
    @OptionGroup var global: GlobalOptions

    func run() async throws {
        try output.check()
        guard !tags.isEmpty else {
            throw LaminaError(.usage, "requires at least 2 arg(s): a config file and a tag", subject: "publish")
        }
        var arguments = flags.laminaArguments() + output.imageArguments
        if !output.buildDate.isEmpty { arguments += ["--build-date", output.buildDate] }
        if output.sbom && !output.sbomPath.isEmpty { arguments += ["--sbom-path", output.sbomPath] }
        // apko attaches the SBOMs it generates to what it published (sha256-<hex>.sbom).
        if output.sbom { arguments.append("--attach-sbom") }
        for annotation in RepositoryFlags.splitList(output.annotations) { arguments += ["--annotations", annotation] }
        arguments += ["--log-level", global.logLevel.rawValue]
        // Each tag is published from the same build: the layer cache makes the second and later builds reuse it.
        for tag in tags {
            var command = try ImagePublish.parse([config, tag] + arguments)
            try await command.run()
        }
    }
}

/// `apko build-minirootfs <config.yaml> <output.tar.gz>`
struct ApkoBuildMinirootfs: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "build-minirootfs", abstract: "Build a minirootfs image")
    @Argument(help: "The apko.yaml.") var config: String
    @Argument(help: "The .tar.gz to write.") var output: String
    @OptionGroup var flags: ApkoImageFlags
    @Option(name: .customLong("build-arch"), help: "architecture to build for -- default is the host's") var buildArch =
        ""
    @Option(name: .customLong("build-date"), help: "date used for the timestamps of the files inside the image")
    var buildDate = ""
    @OptionGroup var global: GlobalOptions

    func run() async throws {
        if !flags.repository.archs.isEmpty {
            throw LaminaError(.usage, "apko build-minirootfs takes --build-arch", subject: "--arch")
        }
        var arguments = [config, output] + flags.laminaArguments()
        arguments += ["--arch", buildArch.isEmpty ? "host" : buildArch, "--log-level", global.logLevel.rawValue]
        if !buildDate.isEmpty {
            // The minirootfs command reads its date from SOURCE_DATE_EPOCH, as the build does.
            setenv("SOURCE_DATE_EPOCH", String(try ImageBuild.clock(buildDate: buildDate).epoch), 1)
        }
        var command = try ImageBuildMinirootfs.parse(arguments)
        try await command.run()
    }
}

/// `apko show-config <config.yaml>`
struct ApkoShowConfig: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "show-config", abstract: "Show the configuration derived from loading a YAML file")
    @Argument(help: "The apko.yaml.") var config: String
    @Option(name: .customLong("cache-dir"), help: "directory to use for caching apk packages and indexes")
    var cacheDir = ""
    @Flag(name: .customLong("offline"), help: "do not use network to fetch packages") var offline = false
    @OptionGroup var global: GlobalOptions

    func run() async throws {
        var command = try ImageShowConfig.parse([config, "--log-level", global.logLevel.rawValue])
        try await command.run()
    }
}

/// `apko show-packages <config.yaml>`
struct ApkoShowPackages: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "show-packages",
        abstract: "Show the packages and versions that would be installed by a configuration")
    @Argument(help: "The apko.yaml.") var config: String
    @OptionGroup var flags: ApkoImageFlags
    @Option(
        name: .customLong("format"),
        help:
            "name-version (default), name-version-source, name=version, name=version-source, name-(version), name-(version)-source, packagelock, packagelock-source, or a template over .Name .Version .Source"
    )
    var format = "name-version"
    @OptionGroup var global: GlobalOptions

    static let formats: [String: String] = [
        "name-version": "{{ .Name }} {{ .Version }}", "name-version-source": "{{ .Name }} {{ .Version }} {{ .Source }}",
        "name=version": "{{ .Name }}={{ .Version }}", "name=version-source": "{{ .Name }}={{ .Version }} {{ .Source }}",
        "name-(version)": "{{ .Name }} ({{ .Version }})",
        "name-(version)-source": "{{ .Name }} ({{ .Version }}) {{ .Source }}",
        "packagelock": "- {{ .Name }}={{ .Version }}",
        "packagelock-source": "- {{ .Name }}={{ .Version }} # {{ .Source }}",
    ]

    func run() async throws {
        let template = Self.formats[format] ?? format
        try await withImageEngine(try flags.imageFlags(), configPath: config, global: global) { engine, _ in
            let (keyring, _) = try await engine.keyring()
            for arch in try engine.architectures() {
                let resolved = try await engine.resolve(architecture: arch, keyring: keyring)
                global.logger.info("\(arch.apk):")
                for package in resolved.packages {
                    let info = package.info
                    let line = try renderTemplate(
                        template,
                        fields: [".Name": info.name, ".Version": info.version, ".Source": info.origin ?? info.name],
                        subject: "--format")
                    global.logger.result(line)
                }
            }
        }
    }
}

/// `apko lock <config.yaml>`
struct ApkoLock: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "lock", abstract: "Generates a lock file for a YAML configuration file")
    @Argument(help: "The apko.yaml.") var config: String
    @OptionGroup var flags: ApkoImageFlags
    @Option(name: .customLong("output"), help: "path to file where lock file will be written") var output = ""
    @Option(name: .customLong("include-paths"), help: "Additional include paths where to look for input files")
    var includePaths: [String] = []
    @OptionGroup var global: GlobalOptions

    func run() async throws {
        var arguments = [config, "--log-level", global.logLevel.rawValue] + flags.laminaArguments()
        for path in RepositoryFlags.splitList(includePaths) { arguments += ["--include-paths", path] }
        // apko's default: the config's path with its extension replaced by .lock.json.
        arguments += ["--output", output.isEmpty ? ImageLockCommand.defaultPath(for: config) : output]
        var command = try ImageLockCommand.parse(arguments)
        try await command.run()
    }
}
