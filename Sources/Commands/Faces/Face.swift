import ArgumentParser
import Foundation
import LaminaCore

/// The command lines Lamina speaks besides its own: invoked as `melange` or `apko` (a symlink or hard link to the
/// binary), or as `lamina melange …` / `lamina apko …`, it takes that tool's subcommands, flags, defaults and
/// positional arguments, writes its outputs where and as it writes them, and exits as it does (0, or 1 on any
/// error, as cobra's `Execute` does in both tools).
public enum Face: String, CaseIterable, Sendable {
    case melange, apko

    /// The face a program name selects (`/usr/local/bin/melange` → `.melange`), nil for Lamina's own.
    public static func named(_ argumentZero: String) -> Face? {
        Face(rawValue: (argumentZero as NSString).lastPathComponent)
    }

    /// How a face treats a flag of the original that Lamina does not have.
    struct Refusal: Sendable {
        /// `--cpu` (long form, with dashes); a short alias is given separately.
        var flag: String
        var short: Character?
        var reason: String
    }

    /// One subcommand's flags that the original has and Lamina refuses, each with its reason.
    var refusals: [String: [Refusal]] {
        switch self {
        case .melange: MelangeFace.refusals
        case .apko: ApkoFace.refusals
        }
    }

    /// Boolean flags whose default is true: cobra's `--rm=false` becomes ArgumentParser's `--no-rm`.
    var trueByDefault: Set<String> {
        switch self {
        case .melange: ["rm", "generate-index", "cleanup"]
        case .apko: ["sbom", "vcs"]
        }
    }

    /// Boolean flags whose default is false (`--debug=false` is dropped, `--debug=true` is `--debug`).
    var falseByDefault: Set<String> {
        switch self {
        case .melange:
            [
                "empty-workspace", "create-build-log", "debug", "ignore-signatures", "merge", "force",
                "strip-origin-name",
                "persist-lint-results", "debug-runner", "interactive", "generate-provenance", "json",
            ]
        case .apko: ["offline", "ignore-signatures", "local", "json"]
        }
    }

    /// Runs the face with `arguments` (without the program name) and exits.
    public func main(_ arguments: [String]) async -> Never {
        do {
            let rewritten = try prepare(arguments)
            switch self {
            case .melange: try await Self.run(MelangeFace.self, rewritten)
            case .apko: try await Self.run(ApkoFace.self, rewritten)
            }
            Foundation.exit(0)
        } catch {
            Foundation.exit(report(error))
        }
    }

    static func run<Root: ParsableCommand>(_ root: Root.Type, _ arguments: [String]) async throws {
        var command = try Root.parseAsRoot(arguments)
        if var asyncCommand = command as? AsyncParsableCommand {
            try await asyncCommand.run()
        } else {
            try command.run()
        }
    }

    /// Prints `error` as the original would (help on stdout, errors as `Error: …` on stderr); returns the exit status.
    func report(_ error: Error) -> Int32 {
        if let error = error as? LaminaError {
            Terminal.standardError.write("Error: \(error.description)\n")
            return 1
        }
        if let code = error as? ExitCode { return code.rawValue == 0 ? 0 : 1 }
        let root: any FaceRoot.Type = self == .melange ? MelangeFace.self : ApkoFace.self
        let code = root.exitCode(for: error)
        let message = root.fullMessage(for: error)
        if code == .success {
            Terminal.standardOutput.write(message + "\n")
            return 0
        }
        Terminal.standardError.write((message.hasPrefix("Error:") ? message : "Error: " + message) + "\n")
        return 1
    }

    /// Turns the original's spelling into ArgumentParser's: `--flag=true|false` for booleans, `-C DIR` (apko's
    /// working directory, applied here), and refuses flags Lamina does not have, naming them.
    func prepare(_ arguments: [String]) throws -> [String] {
        var out: [String] = []
        var index = 0
        let subcommand = arguments.first { !$0.hasPrefix("-") } ?? ""
        let refused = refusals[subcommand] ?? []
        while index < arguments.count {
            let argument = arguments[index]
            index += 1
            if argument == "--" {
                out += arguments[(index - 1)...]
                break
            }
            let (name, value) = Self.split(argument)
            if let refusal = refused.first(where: { "--" + $0.flag == name || $0.short.map { "-\($0)" } == name }) {
                throw LaminaError(
                    .usage, "not supported by Lamina: \(refusal.reason)",
                    subject: refusal.flag.hasPrefix("-") ? refusal.flag : "--" + refusal.flag)
            }
            if self == .apko, name == "-C" || name == "--workdir" {
                let directory: String
                if let value {
                    directory = value
                } else {
                    guard index < arguments.count else { throw LaminaError(.usage, "needs a directory", subject: name) }
                    directory = arguments[index]
                    index += 1
                }
                guard FileManager.default.changeCurrentDirectoryPath(directory) else {
                    throw LaminaError(.notFound, "failed to change dir to \(directory)", subject: name)
                }
                continue
            }
            if name.hasPrefix("--"), let value, value == "true" || value == "false" {
                let flag = String(name.dropFirst(2))
                if trueByDefault.contains(flag) {
                    out.append(value == "true" ? name : "--no-" + flag)
                    continue
                }
                if falseByDefault.contains(flag) {
                    if value == "true" { out.append(name) }
                    continue
                }
            }
            out.append(argument)
        }
        return out
    }

    /// `--name=value` → (`--name`, `value`); anything else → (argument, nil).
    static func split(_ argument: String) -> (String, String?) {
        guard argument.hasPrefix("-"), let equals = argument.firstIndex(of: "=") else { return (argument, nil) }
        return (String(argument[..<equals]), String(argument[argument.index(after: equals)...]))
    }

    /// `melange version` / `apko version`: the release-utils fields that mean something here.
    func versionText(json: Bool) -> String {
        let version = Lamina.configuration.version
        #if arch(x86_64)
            let machine = "amd64"
        #elseif arch(arm64)
            let machine = "arm64"
        #else
            let machine = "unknown"
        #endif
        if json {
            let fields = [
                "gitVersion": version, "gitTreeState": "", "compiler": "swiftc", "platform": "linux/\(machine)", "name": rawValue,
                "description": "Lamina speaking \(rawValue)",
            ]
            let data = (try? JSONSerialization.data(withJSONObject: fields, options: [.sortedKeys, .withoutEscapingSlashes])) ?? Data()
            return String(decoding: data, as: UTF8.self)
        }
        return """
            \(rawValue) (Lamina)
            GitVersion:    \(version)
            Compiler:      swiftc
            Platform:      linux/\(machine)
            """
    }
}

/// The root command of a face.
protocol FaceRoot: AsyncParsableCommand {
    static var face: Face { get }
}

/// `melange version` / `apko version`
struct FaceVersion<Root: FaceRoot>: ParsableCommand {
    static var configuration: CommandConfiguration {
        CommandConfiguration(commandName: "version", abstract: "Prints the version")
    }
    @Flag(name: .customLong("json"), help: "print JSON instead of text") var json = false
    @OptionGroup var global: GlobalOptions

    init() {}

    func run() throws {
        Terminal.standardOutput.write(Root.face.versionText(json: json) + "\n")
    }
}

/// `melange completion SHELL` / `apko completion SHELL`
struct FaceCompletion<Root: FaceRoot>: ParsableCommand {
    static var configuration: CommandConfiguration {
        CommandConfiguration(
            commandName: "completion",
            abstract: "Generate the autocompletion script for the specified shell (bash, zsh or fish)")
    }
    @Argument(help: "bash, zsh or fish.") var shell: String

    init() {}

    func run() throws {
        guard let kind = CompletionShell(rawValue: shell) else {
            throw LaminaError(.usage, "unsupported shell '\(shell)' (bash, zsh, fish)", subject: "completion")
        }
        Terminal.standardOutput.write(Root.completionScript(for: kind))
    }
}
