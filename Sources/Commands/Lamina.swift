import ArgumentParser
import Foundation
import LaminaCore

/// The `lamina` command tree.
public struct Lamina: AsyncParsableCommand {
    public static let configuration = CommandConfiguration(
        commandName: "lamina",
        abstract: "Build signed APK packages and minimal single-layer container images.",
        version: "0.1.0",
        subcommands: [Keygen.self, PackageCommand.self, ImageCommand.self, CacheCommand.self]
    )

    public init() {}

    /// Parses the process arguments, runs the command, and exits with Lamina's exit codes.
    public static func run() async {
        do {
            var command = try parseAsRoot()
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
            exit(withError: error)
        }
    }
}

/// `lamina package …`
public struct PackageCommand: AsyncParsableCommand {
    public static let configuration = CommandConfiguration(
        commandName: "package",
        abstract: "Build, create, inspect, verify and index .apk packages.",
        subcommands: [PackageBuildCommand.self, PackageTestCommand.self, PackageCreate.self, PackageVerify.self, PackageInfoCommand.self, PackageIndex.self]
    )
    public init() {}
}
