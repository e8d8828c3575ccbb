import Config
import Foundation
import LaminaCore

/// A pipeline definition found for a `uses:` name.
public struct PipelineDefinition: Sendable {
    /// Where a definition came from.
    public enum Origin: Sendable, Hashable {
        /// A file in a `--pipeline-dir` directory.
        case file(path: String)
        /// One of `BuiltinPipelines`.
        case builtin
    }

    /// The `uses:` name (`autoconf/make`).
    public var name: String
    public var origin: Origin
    /// The decoded file: `name`, `needs`, `inputs`, `pipeline` (and possibly `runs`, `environment`, …).
    public var pipeline: Pipeline

    /// `fetch.yaml` of a pipeline directory, or `builtin autoconf/make`: for messages.
    public var displayName: String {
        switch origin {
        case .file(let path): return path
        case .builtin: return "builtin \(name)"
        }
    }
}

/// Finds and decodes `uses:` pipelines: `DIR/NAME.yaml` in each pipeline directory in order, then the built-ins.
///
/// All file access goes through `readFile`, so tests (and callers with their own storage) can supply files
/// from memory.
public struct PipelineLoader: Sendable {
    /// Returns the text of the file at `path`, or nil when there is no such file.
    /// - Throws: when the file exists but cannot be read.
    public typealias FileReader = @Sendable (_ path: String) throws -> String?

    public var readFile: FileReader
    /// `uses:` name → YAML text; by default `BuiltinPipelines.definitions`.
    public var builtins: [String: String]

    public init(
        readFile: @escaping FileReader = PipelineLoader.readFromDisk,
        builtins: [String: String] = BuiltinPipelines.definitions
    ) {
        self.readFile = readFile
        self.builtins = builtins
    }

    /// A loader reading files from a dictionary (path → text) instead of the disk.
    public static func inMemory(_ files: [String: String], builtins: [String: String] = BuiltinPipelines.definitions)
        -> PipelineLoader
    {
        PipelineLoader(readFile: { files[$0] }, builtins: builtins)
    }

    /// Reads a regular file; nil when nothing exists at `path`.
    /// - Throws: `LaminaError(.invalidInput)` for a directory, `.io` when it cannot be read.
    @Sendable public static func readFromDisk(_ path: String) throws -> String? {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else { return nil }
        if isDirectory.boolValue {
            throw LaminaError(.invalidInput, "is a directory, not a pipeline file", subject: path)
        }
        guard let data = FileManager.default.contents(atPath: path) else {
            throw LaminaError(.io, "cannot read the pipeline file", subject: path)
        }
        return String(decoding: data, as: UTF8.self)
    }

    /// Checks a `uses:` name: not empty, not absolute, no `..` component (melange refuses the same).
    /// - Returns: an explanation when the name is unacceptable.
    public static func problem(withName name: String) -> String? {
        if name.isEmpty { return "empty pipeline name" }
        if name.hasPrefix("/") { return "pipeline name '\(name)' must not be an absolute path" }
        if name.contains("..") { return "pipeline name '\(name)' must not contain '..'" }
        return nil
    }

    /// The definition for `uses: name`.
    /// - Parameter directories: `--pipeline-dir` directories, searched first, in order.
    /// - Throws: `LaminaError(.notFound)` listing where it looked, `.invalidInput` for a bad name or a
    ///   definition that does not decode (with its file:line).
    public func load(_ name: String, directories: [String]) throws -> PipelineDefinition {
        if let problem = Self.problem(withName: name) { throw LaminaError(.invalidInput, problem) }
        for directory in directories {
            let path = directory.hasSuffix("/") ? directory + name + ".yaml" : directory + "/" + name + ".yaml"
            guard let text = try readFile(path) else { continue }
            let pipeline = try Pipeline.decodeDefinition(yaml: text, file: path)
            return PipelineDefinition(name: name, origin: .file(path: path), pipeline: pipeline)
        }
        guard let text = builtins[name] else {
            let searched =
                directories.isEmpty ? "" : " (searched \(directories.joined(separator: ", ")) and the built-ins)"
            throw LaminaError(
                .notFound,
                "no pipeline named '\(name)'\(searched); built-in pipelines: "
                    + builtins.keys.sorted().joined(separator: ", "))
        }
        // The shipped definitions are decoded once per process (compiling thousands of configurations would
        // otherwise parse the same YAML for every `uses:`).
        if let decoded = BuiltinPipelines.decoded[name], text == BuiltinPipelines.definitions[name] {
            return PipelineDefinition(name: name, origin: .builtin, pipeline: decoded)
        }
        let pipeline = try Pipeline.decodeDefinition(yaml: text, file: "builtin:\(name).yaml")
        return PipelineDefinition(name: name, origin: .builtin, pipeline: pipeline)
    }
}
