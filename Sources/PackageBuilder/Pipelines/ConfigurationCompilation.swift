import Config
import Foundation
import LaminaCore

/// `melange compile` and its benchmark: load a `melange.yaml`, compile it for one architecture, print it.
public enum ConfigurationCompilation {
    /// What to compile with.
    public struct Options: Sendable {
        public var architecture: Architecture
        /// `--build-option` names.
        public var buildOptions: [String]
        /// `--pipeline-dir` folders, searched before the built-ins.
        public var pipelineDirectories: [String]
        /// `--vars-file` / `--env-file` values.
        public var load: BuildLoadOptions

        public init(
            architecture: Architecture, buildOptions: [String] = [], pipelineDirectories: [String] = [],
            load: BuildLoadOptions = BuildLoadOptions()
        ) {
            self.architecture = architecture
            self.buildOptions = buildOptions
            self.pipelineDirectories = pipelineDirectories
            self.load = load
        }

        var context: BuildContext {
            BuildContext(
                architecture: architecture, buildOptions: buildOptions, pipelineDirectories: pipelineDirectories)
        }
    }

    /// The compiled configuration of the file at `path` (see `PipelineCompiler.compiledConfiguration`), with its
    /// build and test pipelines both checked.
    /// - Throws: `LaminaError` naming `file:line:column` for anything wrong in the file or in a pipeline it uses.
    public static func compile(path: String, options: Options) throws -> BuildConfiguration {
        let loaded = try BuildConfiguration.load(path: path, options: options.load)
        return try PipelineCompiler(loaded: loaded, context: options.context).compiledConfiguration()
    }

    /// `compile` as melange prints it: compact JSON (Go `encoding/json` rules), one line.
    /// - Throws: as `compile`.
    public static func json(path: String, options: Options) throws -> String {
        try ConfigRenderer.json(try compile(path: path, options: options))
    }

    // MARK: - Benchmark

    /// The result of compiling many configurations.
    public struct BenchmarkReport: Sendable {
        /// Files compiled.
        public var configurations: Int
        /// How many compiled.
        public var succeeded: Int
        /// Wall time for loading and compiling all of them.
        public var elapsed: Duration
        /// Reason → the files that failed for it, most frequent reason first.
        public var failures: [(reason: String, files: [String])]

        /// Configurations per second.
        public var rate: Double {
            let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
            return seconds > 0 ? Double(configurations) / seconds : 0
        }

        /// The lines `scripts/bench-compile` prints.
        public var summary: [String] {
            var lines = [
                "compiled \(configurations) configurations in \(elapsed.wholeMilliseconds) ms: "
                    + String(format: "%.1f", rate) + " configs/s, \(succeeded) ok, \(configurations - succeeded) failed"
            ]
            for failure in failures {
                lines.append("  \(failure.files.count)× \(failure.reason)")
                for file in failure.files.prefix(3) { lines.append("      e.g. \(file)") }
            }
            return lines
        }
    }

    /// Compiles every configuration in `files` (build and test pipelines) in this process, one after the other.
    public static func benchmark(files: [String], options: Options) -> BenchmarkReport {
        let clock = ContinuousClock()
        let start = clock.now
        var failures: [String: [String]] = [:]
        var succeeded = 0
        for file in files {
            do {
                let loaded = try BuildConfiguration.load(path: file, options: options.load)
                let compiler = PipelineCompiler(loaded: loaded, context: options.context)
                _ = try compiler.compiledConfiguration()
                succeeded += 1
            } catch {
                failures[reason(for: error), default: []].append(file)
            }
        }
        let elapsed = clock.now - start
        let grouped = failures.map { (reason: $0.key, files: $0.value) }.sorted {
            ($0.files.count, $1.reason) > ($1.files.count, $0.reason)
        }
        return BenchmarkReport(configurations: files.count, succeeded: succeeded, elapsed: elapsed, failures: grouped)
    }

    /// An error message with its particulars (quoted names and values, digits) masked, so that failures group by
    /// kind; a missing `uses:` pipeline keeps its name (`missing pipeline 'test/tw/ldd-check'`).
    public static func reason(for error: any Error) -> String {
        guard let error = error as? LaminaError else { return "\(error)" }
        if error.code == .notFound, let range = error.message.range(of: "no pipeline named '") {
            return "missing pipeline '" + error.message[range.upperBound...].prefix { $0 != "'" } + "'"
        }
        var message = Substring(error.message)
        // Drop the key path the message starts with (`subpackages[2].pipeline[0].with: …`): where is not why.
        if let colon = message.range(of: ": "), !message[..<colon.lowerBound].contains(" ") {
            message = message[colon.upperBound...]
        }
        var masked = ""
        var quote: Character?
        for character in message {
            if let open = quote {
                if character == open {
                    masked.append(character)
                    quote = nil
                }
                continue
            }
            if character == "'" || character == "\"" {
                quote = character
                masked += "\(character)*"
                continue
            }
            masked.append(character.isNumber ? "#" : character)
        }
        return masked.count > 160 ? String(masked.prefix(157)) + "..." : masked
    }
}
