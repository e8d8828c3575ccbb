import APK
import APKRepository
import ArgumentParser
import Archive
import Config
import Foundation
import ImageBuilder
import LaminaCore

/// `lamina image show-config apko.yaml`
struct ImageShowConfig: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "show-config", abstract: "Print the merged configuration (includes resolved).")
    @Argument(help: "The apko.yaml.") var config: String
    @Option(name: .customLong("include-paths"), help: "Where to look for `include:` files.") var includePaths: [String] = []
    @Flag(help: "Print JSON instead of YAML.") var json = false
    @OptionGroup var global: GlobalOptions

    func run() async throws {
        let loaded = try ImageConfiguration.load(path: config, includePaths: includePaths)
        let value = loaded.configuration.redactingCredentials()
        Terminal.standardOutput.write(json ? try ConfigRenderer.json(value) + "\n" : try ConfigRenderer.yaml(value))
    }
}

/// `lamina image show-packages apko.yaml [--format …]`
struct ImageShowPackages: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "show-packages", abstract: "Resolve the packages an image would contain and print them.",
        discussion: "Formats: name-version (default), name=version, name-(version), each with an optional -source suffix "
            + "(e.g. name-version-source adds the origin), or json.")
    @Argument(help: "The apko.yaml.") var config: String
    @Option(help: "Output format.") var format: String = "name-version"
    @OptionGroup var flags: ImageFlags
    @OptionGroup var global: GlobalOptions

    func run() async throws {
        try await withImageEngine(flags, configPath: config, global: global) { engine, _ in
            let (keyring, _) = try await engine.keyring()
            var rows: [[String: String]] = []
            for arch in try engine.architectures() {
                let resolved = try await engine.resolve(architecture: arch, keyring: keyring)
                for package in resolved.packages {
                    let info = package.info
                    rows.append(["arch": arch.apk, "name": info.name, "version": info.version, "origin": info.origin ?? info.name,
                                 "repository": package.repository.redacted, "checksum": info.checksum?.apkIdentity ?? ""])
                }
            }
            if format == "json" {
                try printJSON(rows)
                return
            }
            let withSource = format.hasSuffix("-source")
            let base = withSource ? String(format.dropLast("-source".count)) : format
            for row in rows {
                let name = row["name"]!, version = row["version"]!
                var line: String
                switch base {
                case "name-version": line = "\(name)-\(version)"
                case "name=version": line = "\(name)=\(version)"
                case "name-(version)": line = "\(name)-(\(version))"
                case "name": line = name
                default: throw LaminaError(.usage, "unknown format '\(format)' (name-version, name=version, name-(version), optionally -source; or json)", subject: "--format")
                }
                if withSource { line += " \(row["origin"]!)" }
                global.logger.result(line)
            }
        }
    }
}

/// `lamina image lock apko.yaml [-o apko.lock.json]`
struct ImageLockCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "lock", abstract: "Resolve the packages per architecture and write apko's lock file.")
    @Argument(help: "The apko.yaml.") var config: String
    @Option(name: [.customShort("o"), .customLong("output")], help: "Lock file to write (default: <config>.lock.json).") var output: String?
    @OptionGroup var flags: ImageFlags
    @OptionGroup var global: GlobalOptions

    func run() async throws {
        guard flags.lockfile == nil else { throw LaminaError(.usage, "--lockfile makes no sense when writing a lock") }
        let out = output ?? Self.defaultPath(for: config)
        try await withImageEngine(flags, configPath: config, global: global) { engine, _ in
            let (keyring, pems) = try await engine.keyring()
            var packages: [ImageLock.Package] = []
            var repositories: [ImageLock.Repository] = []
            let archs = try engine.architectures()
            for arch in archs {
                let resolved = try await engine.resolve(architecture: arch, keyring: keyring)
                packages += try await ContentsInstaller(client: try engine.client(keyring: keyring)).lockPackages(resolved)
                for index in resolved.indexes {
                    repositories.append(ImageLock.Repository(
                        name: "\(index.repository.location)/\(arch.apk)", url: index.repository.indexLocation(architecture: arch.apk), architecture: arch.apk))
                }
            }
            let keyringEntries = engine.configuration.contents.keyring.map { entry in
                ImageLock.Keyring(name: entry, url: entry, content: pems[(entry as NSString).lastPathComponent])
            }
            let lock = ImageLock(
                config: .init(name: (config as NSString).lastPathComponent, checksum: engine.configChecksum()),
                contents: .init(
                    keyring: keyringEntries, buildRepositories: engine.configuration.contents.buildRepositories.map { .init(name: $0, url: $0, architecture: "") },
                    runtimeRepositories: engine.configuration.contents.runtimeRepositories.map { .init(name: $0, url: $0, architecture: "") },
                    repositories: repositories, packages: packages))
            try AtomicFileSink.write(try lock.encoded(), to: out)
            global.logger.result("wrote \(out) (\(packages.count) packages, \(archs.map(\.apk).joined(separator: ", ")))")
        }
    }

    static func defaultPath(for config: String) -> String {
        let ns = config as NSString
        return ns.deletingPathExtension + ".lock.json"
    }
}

/// `lamina image build-minirootfs apko.yaml OUT.tar.gz`
struct ImageBuildMinirootfs: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "build-minirootfs", abstract: "Install the image's packages and write the root filesystem as one tar.gz.")
    @Argument(help: "The apko.yaml.") var config: String
    @Argument(help: "The .tar.gz to write.") var output: String
    @OptionGroup var flags: ImageFlags
    @OptionGroup var global: GlobalOptions

    func run() async throws {
        try await withImageEngine(flags, configPath: config, global: global) { engine, _ in
            let archs = try flags.architectures() ?? [.host]
            guard archs.count == 1 else { throw LaminaError(.usage, "build-minirootfs builds one architecture; give one --arch") }
            let clock = try BuildClock.fromEnvironment(ProcessInfo.processInfo.environment)
            let (keyring, pems) = try await engine.keyring()
            let (builder, resolved) = try await engine.installRoot(architecture: archs[0], keyring: keyring, keys: pems, clock: clock)
            let layer = try LayerWriter.write(builder.tree, to: output, modificationTime: clock.epoch, level: engine.options.compressionLevel)
            global.logger.result("wrote \(output) (\(resolved.packages.count) packages, \(layer.size) bytes, diff_id \(layer.diffID))")
        }
    }
}

/// `lamina image …`
struct ImageCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "image", abstract: "Assemble container images from apko.yaml.",
        subcommands: [ImageBuild.self, ImageShowConfig.self, ImageShowPackages.self, ImageLockCommand.self, ImageBuildMinirootfs.self, ImageScan.self, ImagePublish.self, ImagePush.self, ImageKeygen.self, ImageImportKeyPair.self, ImageSign.self, ImageAttest.self, ImageVerify.self, ImageVerifyAttestation.self, ImageSignBlob.self, ImageVerifyBlob.self])
}
