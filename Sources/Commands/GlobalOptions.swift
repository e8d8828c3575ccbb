import ArgumentParser
import Foundation
import LaminaCore

/// How much Lamina says on stderr.
public enum LogLevel: String, ExpressibleByArgument, CaseIterable, Comparable, Sendable {
    case error, warn, info, debug
    var rank: Int { Self.allCases.firstIndex(of: self)! }
    public static func < (a: LogLevel, b: LogLevel) -> Bool { a.rank < b.rank }
}

/// Options every command takes.
public struct GlobalOptions: ParsableArguments {
    @Option(name: .customLong("log-level"), help: "error, warn, info or debug.") public var logLevel: LogLevel = .info

    public init() {}

    var logger: Logger { Logger(level: logLevel) }
}

/// Writes messages to stderr (results to stdout), filtered by level.
struct Logger: Sendable {
    let level: LogLevel

    func debug(_ message: @autoclosure () -> String) { emit(.debug, message()) }
    func info(_ message: @autoclosure () -> String) { emit(.info, message()) }
    func warn(_ message: @autoclosure () -> String) { emit(.warn, "warning: " + message()) }
    func error(_ message: @autoclosure () -> String) { emit(.error, "error: " + message()) }
    /// The outcome of a command, on stdout.
    func result(_ message: String) { Terminal.standardOutput.write(message + "\n") }

    private func emit(_ at: LogLevel, _ message: String) {
        if at <= level { Terminal.standardError.write(message + "\n") }
    }
}

/// Encodes `value` as pretty, key-sorted JSON on stdout.
func printJSON<T: Encodable>(_ value: T) throws {
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
    Terminal.standardOutput.write(String(decoding: try encoder.encode(value), as: UTF8.self) + "\n")
}
