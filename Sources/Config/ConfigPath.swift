import LaminaCore

/// One step of a key path into a configuration document: a mapping key or a list index.
public enum ConfigPathComponent: Hashable, Sendable {
    case key(String)
    case index(Int)
}

/// A key path into a configuration document, printed as users write it: `contents.packages[2]`,
/// `pipeline[0].with.uri`, `subpackages[1].dependencies.runtime[0]`.
public struct ConfigPath: Hashable, Sendable, CustomStringConvertible, ExpressibleByStringLiteral {
    public var components: [ConfigPathComponent]

    public init(_ components: [ConfigPathComponent] = []) { self.components = components }

    /// Parses the printed form (`a.b[2].c`). Keys containing `.` or `[` cannot be written this way;
    /// build those paths from components.
    public init(parsing text: String) {
        var components: [ConfigPathComponent] = []
        var current = ""
        var index: String?
        for character in text {
            if index != nil {
                if character == "]" {
                    if let value = index.flatMap({ Int($0) }) { components.append(.index(value)) }
                    index = nil
                } else {
                    index?.append(character)
                }
                continue
            }
            switch character {
            case ".":
                if !current.isEmpty { components.append(.key(current)) }
                current = ""
            case "[":
                if !current.isEmpty { components.append(.key(current)) }
                current = ""
                index = ""
            default:
                current.append(character)
            }
        }
        if !current.isEmpty { components.append(.key(current)) }
        self.components = components
    }

    public init(stringLiteral value: String) { self.init(parsing: value) }

    public var isEmpty: Bool { components.isEmpty }

    /// This path with a key appended.
    public func appending(_ key: String) -> ConfigPath { ConfigPath(components + [.key(key)]) }
    /// This path with a list index appended.
    public func appending(_ index: Int) -> ConfigPath { ConfigPath(components + [.index(index)]) }

    /// The path without its last component (the root stays the root).
    public var parent: ConfigPath { ConfigPath(Array(components.dropLast())) }

    public var description: String {
        var text = ""
        for component in components {
            switch component {
            case .key(let key):
                if !text.isEmpty { text += "." }
                text += key
            case .index(let index):
                text += "[\(index)]"
            }
        }
        return text
    }
}

/// A position in a configuration file: `apko.yaml:12:5`.
public struct SourceLocation: Hashable, Sendable, CustomStringConvertible {
    /// The file as the user named it (or as the include chain resolved it).
    public var file: String
    /// 1-based line.
    public var line: Int
    /// 1-based column, when known.
    public var column: Int?

    public init(file: String, line: Int, column: Int? = nil) {
        self.file = file
        self.line = line
        self.column = column
    }

    /// `file:line:column` (or `file:line`).
    public var description: String {
        if let column { return "\(file):\(line):\(column)" }
        return "\(file):\(line)"
    }
}

/// Where each key path of a decoded document sits in its file, so that errors found after decoding
/// (validation, substitution) can still name `file:line:column`.
public struct SourceMap: Sendable {
    /// The file name used in locations.
    public let file: String
    private var values: [ConfigPath: Position]
    private var keys: [ConfigPath: Position]
    private var aliases: [ConfigPath: ConfigPath]

    struct Position: Hashable, Sendable {
        var line: Int
        var column: Int
    }

    init(file: String) {
        self.file = file
        values = [:]
        keys = [:]
        aliases = [:]
    }

    mutating func record(value path: ConfigPath, line: Int, column: Int) {
        if values[path] == nil { values[path] = Position(line: line, column: column) }
    }

    mutating func record(key path: ConfigPath, line: Int, column: Int) {
        if keys[path] == nil { keys[path] = Position(line: line, column: column) }
    }

    /// Declares that `path` (a prefix such as `subpackages[4]`) now stands for what was written at `source`
    /// (`subpackages[1]`), e.g. after `range:` expanded one subpackage into several.
    mutating func alias(_ path: ConfigPath, to source: ConfigPath) {
        aliases[path] = source
    }

    private func resolveAlias(_ path: ConfigPath) -> ConfigPath {
        var prefixLength = path.components.count
        while prefixLength > 0 {
            let prefix = ConfigPath(Array(path.components.prefix(prefixLength)))
            if let source = aliases[prefix] {
                return ConfigPath(source.components + path.components.dropFirst(prefixLength))
            }
            prefixLength -= 1
        }
        return path
    }

    /// The location of the value at `path`, or of the nearest enclosing value that was written
    /// (a missing key reports the mapping that should hold it). The document root is line 1.
    public func location(of path: ConfigPath) -> SourceLocation {
        var current = resolveAlias(path)
        while true {
            if let position = values[current] {
                return SourceLocation(file: file, line: position.line, column: position.column)
            }
            if current.isEmpty { return SourceLocation(file: file, line: 1, column: 1) }
            current = current.parent
        }
    }

    /// The location of the key that introduces `path` (`contents:` for `contents`), falling back to
    /// `location(of:)`.
    public func keyLocation(of path: ConfigPath) -> SourceLocation {
        let resolved = resolveAlias(path)
        if let position = keys[resolved] {
            return SourceLocation(file: file, line: position.line, column: position.column)
        }
        return location(of: path)
    }

    /// The positions under `prefix`, re-keyed relative to it: the map of an embedded document such as a
    /// melange build's `environment` (an apko configuration), so its errors still name the right lines.
    public func scoped(to prefix: ConfigPath) -> SourceMap {
        var result = SourceMap(file: file)
        let count = prefix.components.count
        func strip(_ path: ConfigPath) -> ConfigPath? {
            guard path.components.count >= count, Array(path.components.prefix(count)) == prefix.components else { return nil }
            return ConfigPath(Array(path.components.dropFirst(count)))
        }
        for (path, position) in values { if let inner = strip(path) { result.values[inner] = position } }
        for (path, position) in keys { if let inner = strip(path) { result.keys[inner] = position } }
        for (path, source) in aliases {
            if let inner = strip(path), let innerSource = strip(source) { result.aliases[inner] = innerSource }
        }
        return result
    }

    /// Whether the document wrote a value at `path`.
    public func contains(_ path: ConfigPath) -> Bool { values[resolveAlias(path)] != nil }

    /// A `LaminaError` about `path`: subject `file:line:col`, message `path: message`.
    public func error(
        _ code: LaminaError.Code = .invalidInput, at path: ConfigPath, _ message: String, atKey: Bool = false
    ) -> LaminaError {
        let location = atKey ? keyLocation(of: path) : location(of: path)
        return ConfigError.make(code, location: location, path: path, message)
    }
}

enum ConfigError {
    /// Builds the one-line error every config failure uses: `file:line:col: path: message`.
    static func make(
        _ code: LaminaError.Code = .invalidInput, location: SourceLocation, path: ConfigPath, _ message: String
    ) -> LaminaError {
        let text = path.isEmpty ? message : "\(path): \(message)"
        return LaminaError(code, text, subject: location.description)
    }
}
