import LaminaCore
import Yams

/// Decodes configuration types from YAML the way apko and melange do (Go `yaml.v3` with `KnownFields`):
///
/// * any scalar decodes into a `String` as written (`version: 1.10` is `"1.10"`); `null` is `""`;
/// * integers follow Go's base-0 rules (`0o755`, `0755` and `493` are the same number), booleans accept
///   `true`/`false` and the YAML 1.1 words (`yes`, `on`, …) that yaml.v3 still takes for a `bool`;
/// * a missing key or `null` decodes as the zero value (empty string, list, map, struct, `0`, `false`), so
///   non-optional properties behave like Go struct fields;
/// * a mapping decoded into a type whose `CodingKeys` are `CaseIterable` must use only those keys
///   (unknown keys are an error naming the closest valid key).
///
/// Every error names `file:line:column` and the key path.
struct YAMLConfigDecoder {
    var file: String
    var strict: Bool = true

    /// Decodes the first document of `text`.
    /// - Throws: `LaminaError(.invalidInput)` for syntax errors, type mismatches and unknown keys.
    func decode<T: Decodable>(_ type: T.Type, from text: String) throws -> (value: T, sourceMap: SourceMap) {
        let root = try Self.parseFirstDocument(text, file: file)
        guard let root else {
            throw LaminaError(.invalidInput, "the file is empty (expected a YAML mapping)", subject: file)
        }
        let state = DecodeState(file: file, strict: strict)
        state.sourceMap = try SourceMapBuilder.build(root: root, file: file)
        let decoder = NodeDecoder(node: root, path: ConfigPath(), state: state)
        do {
            let value = try T(from: decoder)
            return (value, state.sourceMap)
        } catch let error as DecodingError {
            // Only hand-written decoding outside this module throws these; give them a position too.
            throw Self.describe(error, sourceMap: state.sourceMap)
        }
    }

    static func describe(_ error: DecodingError, sourceMap: SourceMap) -> LaminaError {
        let context: DecodingError.Context
        switch error {
        case .typeMismatch(_, let c), .valueNotFound(_, let c), .keyNotFound(_, let c), .dataCorrupted(let c):
            context = c
        @unknown default:
            return LaminaError(.invalidInput, "\(error)", subject: sourceMap.file, cause: error)
        }
        let path = ConfigPath(context.codingPath.map { key in
            key.intValue.map { ConfigPathComponent.index($0) } ?? .key(key.stringValue)
        })
        return ConfigError.make(location: sourceMap.location(of: path), path: path, context.debugDescription)
    }

    /// Composes the first YAML document within the ``ExpansionBudget``, turning Yams syntax errors into positioned
    /// `LaminaError`s.
    static func parseFirstDocument(_ text: String, file: String) throws -> Node? {
        do {
            return try ExpansionBudget.compose(text, file: file)
        } catch let error as YamlError {
            throw describe(error, file: file)
        }
    }

    static func describe(_ error: YamlError, file: String) -> LaminaError {
        func located(_ mark: Mark, _ message: String) -> LaminaError {
            LaminaError(
                .invalidInput, message,
                subject: SourceLocation(file: file, line: mark.line, column: mark.column).description, cause: error)
        }
        switch error {
        case .scanner(let context, let problem, let mark, _),
            .parser(let context, let problem, let mark, _),
            .composer(let context, let problem, let mark, _):
            var message = "YAML syntax error: \(problem)"
            if let context {
                message += " (\(context.text) at line \(context.mark.line), column \(context.mark.column))"
            }
            return located(mark, message)
        case .duplicatedKeysInMapping(let duplicates, let context):
            let keys = duplicates.map { "'\($0)'" }.joined(separator: ", ")
            return located(context.mark, "duplicate key \(keys) in a mapping")
        case .reader(let problem, let offset, _, _):
            let at = offset.map { " at byte \($0)" } ?? ""
            return LaminaError(.invalidInput, "cannot read YAML\(at): \(problem)", subject: file, cause: error)
        default:
            return LaminaError(.invalidInput, "YAML error: \(error)", subject: file, cause: error)
        }
    }
}

/// Shared state of one decode: the file name, strictness and positions of every node.
final class DecodeState {
    let file: String
    let strict: Bool
    var sourceMap: SourceMap

    init(file: String, strict: Bool) {
        self.file = file
        self.strict = strict
        self.sourceMap = SourceMap(file: file)
    }

    func error(_ node: Node?, _ path: ConfigPath, _ message: String) -> LaminaError {
        let location: SourceLocation
        if let mark = node?.mark {
            location = SourceLocation(file: file, line: mark.line, column: mark.column)
        } else {
            location = sourceMap.location(of: path)
        }
        return ConfigError.make(location: location, path: path, message)
    }
}

/// A mapping entry after merge keys (`<<`) are applied.
struct MappingEntry {
    var key: String
    var keyNode: Node
    var value: Node
}

enum YAMLNodes {
    static func isNull(_ node: Node?) -> Bool {
        guard let node else { return true }
        if case .scalar(let scalar) = node, case .null = YAMLScalar.resolve(scalar) { return true }
        return false
    }

    /// A short description of a node's kind, for error messages.
    static func describe(_ node: Node?) -> String {
        guard let node else { return "nothing" }
        switch node {
        case .mapping: return "a mapping"
        case .sequence: return "a list"
        case .alias: return "an alias"
        case .scalar(let scalar):
            switch YAMLScalar.resolve(scalar) {
            case .null: return "null"
            case .bool: return "a boolean '\(scalar.string)'"
            case .int, .uint: return "an integer '\(scalar.string)'"
            case .float: return "a number '\(scalar.string)'"
            case .string(let text):
                let shown = text.count > 40 ? String(text.prefix(40)) + "…" : text
                return "a string '\(shown)'"
            }
        }
    }

    /// The entries of a mapping node, with YAML merge keys flattened (explicit keys win).
    ///
    /// Unbudgeted: call it only on trees ``ExpansionBudget/check(_:file:limit:)`` accepted.
    static func entries(of mapping: Node.Mapping) -> [MappingEntry] {
        var unlimited = Int.max
        return (try? entries(of: mapping, budget: &unlimited)) ?? []
    }

    /// The entries of a mapping node, spending one unit of `budget` per key/value pair looked at (merged
    /// mappings included, which aliases can make exponentially many).
    static func entries(of mapping: Node.Mapping, budget: inout Int) throws(ExpansionBudget.Exhausted) -> [MappingEntry] {
        var explicit: [MappingEntry] = []
        var merged: [MappingEntry] = []
        for (keyNode, value) in mapping {
            budget -= 1
            if budget < 0 { throw ExpansionBudget.Exhausted(node: keyNode) }
            if case .scalar(let keyScalar) = keyNode, keyScalar.string == "<<", YAMLScalar.isPlain(keyScalar) {
                switch value {
                case .mapping(let inner):
                    merged += try entries(of: inner, budget: &budget)
                case .sequence(let items):
                    for case .mapping(let inner) in items { merged += try entries(of: inner, budget: &budget) }
                default:
                    break
                }
                continue
            }
            explicit.append(MappingEntry(key: keyNode.scalar?.string ?? "\(keyNode)", keyNode: keyNode, value: value))
        }
        guard !merged.isEmpty else { return explicit }
        var seen = Set(explicit.map(\.key))
        var result = explicit
        for entry in merged where !seen.contains(entry.key) {
            seen.insert(entry.key)
            result.append(entry)
        }
        return result
    }
}

/// Bounds how many nodes a walk of a composed YAML tree may visit.
///
/// Yams resolves an alias to the anchored node itself, so every walk of the tree (the source map, the
/// decoder, merge-key flattening) follows every alias again: nine levels of ten aliases ("billion laughs")
/// are 10^9 visits from 200 bytes. ``check(_:file:limit:)`` counts the visits a walk would make, stopping
/// at `limit`, before anything walks the tree for real; past it the document is refused.
public enum ExpansionBudget {
    /// Far above any real configuration (the largest melange configs have a few thousand nodes).
    static let defaultLimit = 1_000_000

    /// The budget ran out at a node written at `line`, `column` (when known).
    struct Exhausted: Error {
        var line: Int?
        var column: Int?
        init(node: Node) {
            line = node.mark?.line
            column = node.mark?.column
        }
    }

    /// Counts the nodes of `root` as a walk sees them (through aliases and merge keys).
    /// - Throws: `LaminaError(.limitExceeded)` naming `file:line:column` of the top-level entry (or the
    ///   node) whose expansion exceeds `limit` nodes.
    static func check(_ root: Node, file: String, limit: Int = defaultLimit) throws {
        var budget = limit
        do {
            guard case .mapping(let mapping) = root else { return try count(root, &budget) }
            budget -= 1
            for entry in try YAMLNodes.entries(of: mapping, budget: &budget) {
                do {
                    try count(entry.value, &budget)
                } catch {
                    let mark = entry.keyNode.mark
                    throw failure(
                        line: mark?.line, column: mark?.column, path: ConfigPath().appending(entry.key), file: file, limit: limit)
                }
            }
        } catch let exhausted as Exhausted {
            throw failure(line: exhausted.line, column: exhausted.column, path: ConfigPath(), file: file, limit: limit)
        }
    }

    private static func failure(line: Int?, column: Int?, path: ConfigPath, file: String, limit: Int) -> LaminaError {
        ConfigError.make(
            .limitExceeded, location: SourceLocation(file: file, line: line ?? 1, column: line == nil ? 1 : column),
            path: path,
            "the document expands to more than \(limit) nodes through aliases or merge keys; refusing (YAML alias bomb?)")
    }

    private static func count(_ node: Node, _ budget: inout Int) throws(Exhausted) {
        budget -= 1
        if budget < 0 { throw Exhausted(node: node) }
        switch node {
        case .mapping(let mapping):
            for entry in try YAMLNodes.entries(of: mapping, budget: &budget) { try count(entry.value, &budget) }
        case .sequence(let sequence):
            for item in sequence { try count(item, &budget) }
        default:
            break
        }
    }
}

enum SourceMapBuilder {
    /// Records where every node of `root` was written; `root` comes from ``ExpansionBudget/compose(_:file:single:)``,
    /// which checked it does not expand past ``ExpansionBudget/defaultLimit`` nodes.
    static func build(root: Node, file: String) throws -> SourceMap {
        var map = SourceMap(file: file)
        walk(root, ConfigPath(), &map)
        return map
    }

    private static func walk(_ node: Node, _ path: ConfigPath, _ map: inout SourceMap) {
        if let mark = node.mark { map.record(value: path, line: mark.line, column: mark.column) }
        switch node {
        case .mapping(let mapping):
            for entry in YAMLNodes.entries(of: mapping) {
                let child = path.appending(entry.key)
                if let mark = entry.keyNode.mark { map.record(key: child, line: mark.line, column: mark.column) }
                walk(entry.value, child, &map)
            }
        case .sequence(let sequence):
            for (index, item) in sequence.enumerated() { walk(item, path.appending(index), &map) }
        default:
            break
        }
    }
}

/// A coding key for dictionary entries and list indices.
struct AnyCodingKey: CodingKey {
    var stringValue: String
    var intValue: Int?
    init(stringValue: String) { self.stringValue = stringValue }
    init(intValue: Int) {
        self.stringValue = String(intValue)
        self.intValue = intValue
    }
}

struct NodeDecoder: Decoder {
    let node: Node?
    let path: ConfigPath
    let state: DecodeState

    var codingPath: [any CodingKey] {
        path.components.map { component in
            switch component {
            case .key(let key): return AnyCodingKey(stringValue: key)
            case .index(let index): return AnyCodingKey(intValue: index)
            }
        }
    }
    var userInfo: [CodingUserInfoKey: Any] { [:] }

    func container<Key: CodingKey>(keyedBy type: Key.Type) throws -> KeyedDecodingContainer<Key> {
        var entries: [MappingEntry] = []
        if !YAMLNodes.isNull(node) {
            guard case .mapping(let mapping) = node else {
                throw state.error(node, path, "expected a mapping, got \(YAMLNodes.describe(node))")
            }
            entries = YAMLNodes.entries(of: mapping)
        }
        if state.strict, let known = KnownKeys.names(of: Key.self) {
            for entry in entries where !known.contains(entry.key) {
                throw unknownKey(entry, known: known)
            }
        }
        return KeyedDecodingContainer(NodeKeyedContainer<Key>(entries: entries, path: path, state: state))
    }

    private func unknownKey(_ entry: MappingEntry, known: [String]) -> LaminaError {
        let location: SourceLocation
        if let mark = entry.keyNode.mark {
            location = SourceLocation(file: state.file, line: mark.line, column: mark.column)
        } else {
            location = state.sourceMap.location(of: path)
        }
        var message = "unknown key '\(entry.key)'"
        if !path.isEmpty { message += " in '\(path)'" }
        if let suggestion = Suggestion.closest(to: entry.key, in: known) {
            message += " (did you mean '\(suggestion)'?)"
        } else {
            message += " (valid keys: \(known.joined(separator: ", ")))"
        }
        return LaminaError(.invalidInput, message, subject: location.description)
    }

    func unkeyedContainer() throws -> any UnkeyedDecodingContainer {
        var items: [Node] = []
        if !YAMLNodes.isNull(node) {
            guard case .sequence(let sequence) = node else {
                throw state.error(node, path, "expected a list, got \(YAMLNodes.describe(node))")
            }
            items = Array(sequence)
        }
        return NodeUnkeyedContainer(items: items, path: path, state: state)
    }

    func singleValueContainer() throws -> any SingleValueDecodingContainer {
        NodeSingleValueContainer(node: node, path: path, state: state)
    }
}

/// Key sets of `CaseIterable` coding keys, for strict decoding.
enum KnownKeys {
    static func names<Key: CodingKey>(of type: Key.Type) -> [String]? {
        guard let iterable = type as? any CaseIterable.Type else { return nil }
        return allNames(iterable)
    }

    private static func allNames<T: CaseIterable>(_ type: T.Type) -> [String] {
        T.allCases.compactMap { ($0 as? any CodingKey)?.stringValue }
    }
}

struct NodeKeyedContainer<Key: CodingKey>: KeyedDecodingContainerProtocol {
    let entries: [MappingEntry]
    let path: ConfigPath
    let state: DecodeState
    private let index: [String: Int]

    init(entries: [MappingEntry], path: ConfigPath, state: DecodeState) {
        self.entries = entries
        self.path = path
        self.state = state
        var index: [String: Int] = [:]
        for (position, entry) in entries.enumerated() where index[entry.key] == nil { index[entry.key] = position }
        self.index = index
    }

    var codingPath: [any CodingKey] { NodeDecoder(node: nil, path: path, state: state).codingPath }
    var allKeys: [Key] { entries.compactMap { Key(stringValue: $0.key) } }

    func contains(_ key: Key) -> Bool { index[key.stringValue] != nil }

    private func child(_ key: Key) -> NodeDecoder {
        let node = index[key.stringValue].map { entries[$0].value }
        return NodeDecoder(node: node, path: path.appending(key.stringValue), state: state)
    }

    func decodeNil(forKey key: Key) throws -> Bool { YAMLNodes.isNull(child(key).node) }

    func decode(_ type: Bool.Type, forKey key: Key) throws -> Bool { try child(key).scalar().decode(type) }
    func decode(_ type: String.Type, forKey key: Key) throws -> String { try child(key).scalar().decode(type) }
    func decode(_ type: Double.Type, forKey key: Key) throws -> Double { try child(key).scalar().decode(type) }
    func decode(_ type: Float.Type, forKey key: Key) throws -> Float { try child(key).scalar().decode(type) }
    func decode(_ type: Int.Type, forKey key: Key) throws -> Int { try child(key).scalar().decode(type) }
    func decode(_ type: Int8.Type, forKey key: Key) throws -> Int8 { try child(key).scalar().decode(type) }
    func decode(_ type: Int16.Type, forKey key: Key) throws -> Int16 { try child(key).scalar().decode(type) }
    func decode(_ type: Int32.Type, forKey key: Key) throws -> Int32 { try child(key).scalar().decode(type) }
    func decode(_ type: Int64.Type, forKey key: Key) throws -> Int64 { try child(key).scalar().decode(type) }
    func decode(_ type: UInt.Type, forKey key: Key) throws -> UInt { try child(key).scalar().decode(type) }
    func decode(_ type: UInt8.Type, forKey key: Key) throws -> UInt8 { try child(key).scalar().decode(type) }
    func decode(_ type: UInt16.Type, forKey key: Key) throws -> UInt16 { try child(key).scalar().decode(type) }
    func decode(_ type: UInt32.Type, forKey key: Key) throws -> UInt32 { try child(key).scalar().decode(type) }
    func decode(_ type: UInt64.Type, forKey key: Key) throws -> UInt64 { try child(key).scalar().decode(type) }
    func decode<T: Decodable>(_ type: T.Type, forKey key: Key) throws -> T { try T(from: child(key)) }

    func nestedContainer<NestedKey: CodingKey>(
        keyedBy type: NestedKey.Type, forKey key: Key
    ) throws -> KeyedDecodingContainer<NestedKey> {
        try child(key).container(keyedBy: type)
    }

    func nestedUnkeyedContainer(forKey key: Key) throws -> any UnkeyedDecodingContainer {
        try child(key).unkeyedContainer()
    }

    func superDecoder() throws -> any Decoder { NodeDecoder(node: nil, path: path, state: state) }
    func superDecoder(forKey key: Key) throws -> any Decoder { child(key) }
}

extension NodeDecoder {
    func scalar() -> NodeSingleValueContainer { NodeSingleValueContainer(node: node, path: path, state: state) }
}

struct NodeUnkeyedContainer: UnkeyedDecodingContainer {
    let items: [Node]
    let path: ConfigPath
    let state: DecodeState
    var currentIndex = 0

    init(items: [Node], path: ConfigPath, state: DecodeState) {
        self.items = items
        self.path = path
        self.state = state
    }

    var codingPath: [any CodingKey] { NodeDecoder(node: nil, path: path, state: state).codingPath }
    var count: Int? { items.count }
    var isAtEnd: Bool { currentIndex >= items.count }

    private mutating func next() throws -> NodeDecoder {
        guard !isAtEnd else {
            throw state.error(nil, path, "internal: read past the end of a list")
        }
        let decoder = NodeDecoder(node: items[currentIndex], path: path.appending(currentIndex), state: state)
        currentIndex += 1
        return decoder
    }

    mutating func decodeNil() throws -> Bool {
        guard !isAtEnd else { return false }
        if YAMLNodes.isNull(items[currentIndex]) {
            currentIndex += 1
            return true
        }
        return false
    }

    mutating func decode(_ type: Bool.Type) throws -> Bool { try next().scalar().decode(type) }
    mutating func decode(_ type: String.Type) throws -> String { try next().scalar().decode(type) }
    mutating func decode(_ type: Double.Type) throws -> Double { try next().scalar().decode(type) }
    mutating func decode(_ type: Float.Type) throws -> Float { try next().scalar().decode(type) }
    mutating func decode(_ type: Int.Type) throws -> Int { try next().scalar().decode(type) }
    mutating func decode(_ type: Int8.Type) throws -> Int8 { try next().scalar().decode(type) }
    mutating func decode(_ type: Int16.Type) throws -> Int16 { try next().scalar().decode(type) }
    mutating func decode(_ type: Int32.Type) throws -> Int32 { try next().scalar().decode(type) }
    mutating func decode(_ type: Int64.Type) throws -> Int64 { try next().scalar().decode(type) }
    mutating func decode(_ type: UInt.Type) throws -> UInt { try next().scalar().decode(type) }
    mutating func decode(_ type: UInt8.Type) throws -> UInt8 { try next().scalar().decode(type) }
    mutating func decode(_ type: UInt16.Type) throws -> UInt16 { try next().scalar().decode(type) }
    mutating func decode(_ type: UInt32.Type) throws -> UInt32 { try next().scalar().decode(type) }
    mutating func decode(_ type: UInt64.Type) throws -> UInt64 { try next().scalar().decode(type) }
    mutating func decode<T: Decodable>(_ type: T.Type) throws -> T { try T(from: next()) }

    mutating func nestedContainer<NestedKey: CodingKey>(
        keyedBy type: NestedKey.Type
    ) throws -> KeyedDecodingContainer<NestedKey> {
        try next().container(keyedBy: type)
    }

    mutating func nestedUnkeyedContainer() throws -> any UnkeyedDecodingContainer { try next().unkeyedContainer() }
    mutating func superDecoder() throws -> any Decoder { try next() }
}

struct NodeSingleValueContainer: SingleValueDecodingContainer {
    let node: Node?
    let path: ConfigPath
    let state: DecodeState

    var codingPath: [any CodingKey] { NodeDecoder(node: nil, path: path, state: state).codingPath }

    func decodeNil() -> Bool { YAMLNodes.isNull(node) }

    private func scalarNode(_ expected: String) throws -> Node.Scalar? {
        guard let node, !YAMLNodes.isNull(node) else { return nil }
        guard case .scalar(let scalar) = node else {
            throw state.error(node, path, "expected \(expected), got \(YAMLNodes.describe(node))")
        }
        return scalar
    }

    func decode(_ type: String.Type) throws -> String {
        guard let scalar = try scalarNode("a string") else { return "" }
        return scalar.string
    }

    func decode(_ type: Bool.Type) throws -> Bool {
        guard let scalar = try scalarNode("a boolean") else { return false }
        if case .bool(let value) = YAMLScalar.resolve(scalar) { return value }
        if YAMLScalar.legacyTrue.contains(scalar.string) { return true }
        if YAMLScalar.legacyFalse.contains(scalar.string) { return false }
        throw state.error(node, path, "expected a boolean (true or false), got \(YAMLNodes.describe(node))")
    }

    /// Decodes an integer with Go's range rules for the target type.
    func decodeInteger<T: FixedWidthInteger>(_ type: T.Type) throws -> T {
        guard let scalar = try scalarNode("an integer") else { return 0 }
        let range = "\(T.min) to \(T.max)"
        let value: T?
        switch YAMLScalar.resolve(scalar) {
        case .int(let number): value = T(exactly: number)
        case .uint(let number): value = T(exactly: number)
        case .float(let number):
            value = number.isFinite && number.rounded(.towardZero) == number ? T(exactly: number) : nil
        default:
            throw state.error(node, path, "expected an integer, got \(YAMLNodes.describe(node))")
        }
        guard let value else {
            throw state.error(node, path, "integer '\(scalar.string)' is out of range (\(range))")
        }
        return value
    }

    func decode(_ type: Double.Type) throws -> Double {
        guard let scalar = try scalarNode("a number") else { return 0 }
        switch YAMLScalar.resolve(scalar) {
        case .int(let number): return Double(number)
        case .uint(let number): return Double(number)
        case .float(let number): return number
        default: throw state.error(node, path, "expected a number, got \(YAMLNodes.describe(node))")
        }
    }

    func decode(_ type: Float.Type) throws -> Float { Float(try decode(Double.self)) }
    func decode(_ type: Int.Type) throws -> Int { try decodeInteger(type) }
    func decode(_ type: Int8.Type) throws -> Int8 { try decodeInteger(type) }
    func decode(_ type: Int16.Type) throws -> Int16 { try decodeInteger(type) }
    func decode(_ type: Int32.Type) throws -> Int32 { try decodeInteger(type) }
    func decode(_ type: Int64.Type) throws -> Int64 { try decodeInteger(type) }
    func decode(_ type: UInt.Type) throws -> UInt { try decodeInteger(type) }
    func decode(_ type: UInt8.Type) throws -> UInt8 { try decodeInteger(type) }
    func decode(_ type: UInt16.Type) throws -> UInt16 { try decodeInteger(type) }
    func decode(_ type: UInt32.Type) throws -> UInt32 { try decodeInteger(type) }
    func decode(_ type: UInt64.Type) throws -> UInt64 { try decodeInteger(type) }

    func decode<T: Decodable>(_ type: T.Type) throws -> T {
        try T(from: NodeDecoder(node: node, path: path, state: state))
    }
}

/// Picks the known name closest to a misspelt one (Levenshtein distance, at most a third of its length).
enum Suggestion {
    static func closest(to word: String, in candidates: [String]) -> String? {
        let limit = max(2, word.count / 3)
        var best: String?
        var bestDistance = Int.max
        for candidate in candidates {
            let distance = levenshtein(word.lowercased(), candidate.lowercased())
            if distance <= limit, distance < bestDistance {
                best = candidate
                bestDistance = distance
            }
        }
        return best
    }

    static func levenshtein(_ a: String, _ b: String) -> Int {
        let a = Array(a), b = Array(b)
        if a.isEmpty { return b.count }
        if b.isEmpty { return a.count }
        var previous = Array(0...b.count)
        var current = [Int](repeating: 0, count: b.count + 1)
        for i in 1...a.count {
            current[0] = i
            for j in 1...b.count {
                let cost = a[i - 1] == b[j - 1] ? 0 : 1
                current[j] = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + cost)
            }
            swap(&previous, &current)
        }
        return previous[b.count]
    }
}

/// Helpers for hand-written `init(from:)` that want positioned errors.
enum ConfigDecoding {
    /// An error at the decoder's current node: positioned when decoding YAML with `YAMLConfigDecoder`,
    /// a plain `DecodingError` otherwise (e.g. under `JSONDecoder`).
    static func error(_ decoder: any Decoder, _ message: String) -> any Error {
        if let decoder = decoder as? NodeDecoder {
            return decoder.state.error(decoder.node, decoder.path, message)
        }
        return DecodingError.dataCorrupted(DecodingError.Context(codingPath: decoder.codingPath, debugDescription: message))
    }

    /// The text of a scalar as written, for error messages.
    static func describe(_ decoder: any Decoder) -> String? {
        (decoder as? NodeDecoder).map { YAMLNodes.describe($0.node) }
    }
}

/// A string enumeration of a configuration schema, decoded with a positioned error that lists the valid values.
public protocol ConfigEnum: RawRepresentable, CaseIterable, Codable where RawValue == String {}

extension ConfigEnum {
    public init(from decoder: any Decoder) throws {
        let text = try decoder.singleValueContainer().decode(String.self)
        guard let value = Self(rawValue: text) else {
            let valid = Self.allCases.map { "'\($0.rawValue)'" }.joined(separator: ", ")
            throw ConfigDecoding.error(decoder, "expected one of \(valid), got '\(text)'")
        }
        self = value
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(rawValue)
    }
}
