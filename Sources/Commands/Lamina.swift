import ArgumentParser
import Foundation
import LaminaCore

/// The `lamina` command tree.
public struct Lamina: AsyncParsableCommand {
    public static let configuration = CommandConfiguration(
        commandName: "lamina",
        abstract: "Build signed APK packages and minimal single-layer container images.",
        discussion: """
            Invoked as `melange` or `apko` (a symlink or hard link to this binary), or as `lamina melange …` and
            `lamina apko …`, Lamina speaks that tool's command line instead: its subcommands, flags, defaults,
            outputs and exit codes.
            """,
        version: "0.1.0",
        subcommands: [Keygen.self, PackageCommand.self, ImageCommand.self, CacheCommand.self]
    )

    public init() {}

    /// Parses the process arguments, runs the command, and exits with Lamina's exit codes.
    public static func run() async {
        let arguments = CommandLine.arguments
        if let first = arguments.first, let face = Face.named(first) {
            await face.main(Array(arguments.dropFirst()))
        }
        if arguments.count > 1, let face = Face(rawValue: arguments[1]) {
            await face.main(Array(arguments.dropFirst(2)))
        }
        // cosign's command line: as `cosign` (argv[0]) or `lamina cosign …`.
        if let first = arguments.first, (first as NSString).lastPathComponent == "cosign" {
            await Cosign.run(arguments: Array(arguments.dropFirst()))
            return
        }
        if arguments.count > 1, arguments[1] == "cosign" {
            await Cosign.run(arguments: Array(arguments.dropFirst(2)))
            return
        }
        await runTree(Lamina.self, arguments: nil)
    }

    /// Parses `arguments` (nil: the process's) for the command tree `root`, runs the command, and exits with
    /// Lamina's exit codes: one `error:` line on stderr for a `LaminaError`.
    static func runTree(_ root: any ParsableCommand.Type, arguments: [String]?) async {
        do {
            var command = try root.parseAsRoot(arguments)
            if var asyncCommand = command as? AsyncParsableCommand {
                try await asyncCommand.run()
            } else {
                try command.run()
            }
        } catch let error as LaminaError {
            Terminal.standardError.write("error: \(error.description)\n")
            Foundation.exit(error.code.category.exitCode)
        } catch let error as ExitCode {
            Foundation.exit(error.rawValue)
        } catch {
            root.exit(withError: error)
        }
    }
}

/// `lamina package …`
public struct PackageCommand: AsyncParsableCommand {
    public static let configuration = CommandConfiguration(
        commandName: "package",
        abstract: "Build, create, inspect, verify and index .apk packages.",
        subcommands: [PackageBuildCommand.self, PackageTestCommand.self, PackageCompile.self, PackageCreate.self, PackageVerify.self, PackageInfoCommand.self, PackageIndex.self]
    )
    public init() {}
}
