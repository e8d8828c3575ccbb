import Yams

/// Coding keys whose fields are written even when empty (Go fields without `omitempty`).
protocol AlwaysEncodedKeys: CodingKey {
    static var alwaysEncoded: Set<String> { get }
    /// The same for JSON, when the Go `json` tags differ from the `yaml` tags (default: `alwaysEncoded`).
    static var alwaysEncodedInJSON: Set<String> { get }
}

extension AlwaysEncodedKeys {
    static var alwaysEncodedInJSON: Set<String> { alwaysEncoded }
}

/// The encoded form of a configuration value: an ordered tree that both the YAML and the JSON writer read.
indirect enum EncodedValue {
    case null
    case bool(Bool)
    case int(Int64)
    case uint(UInt64)
    case double(Double)
    case string(String)
    case sequence([EncodedValue])
    /// A struct: fields in declaration order, each with its omission rule.
    case object([EncodedField])
    /// A dictionary: written with sorted keys, never omitted because of its contents' order.
    case dictionary([String: EncodedValue])

    /// Go's notion of an empty value for `omitempty` (structs are never empty for JSON).
    var isEmptyScalarOrCollection: Bool {
        switch self {
        case .null: return true
        case .bool(let value): return !value
        case .int(let value): return value == 0
        case .uint(let value): return value == 0
        case .double(let value): return value == 0
        case .string(let value): return value.isEmpty
        case .sequence(let items): return items.isEmpty
        case .dictionary(let entries): return entries.isEmpty
        case .object: return false
        }
    }

    /// yaml.v3's `isZero`: also true for a struct whose every field is zero.
    var isZero: Bool {
        if case .object(let fields) = self {
            return fields.allSatisfy { !$0.explicit && $0.value.isZero }
        }
        return isEmptyScalarOrCollection
    }
}

struct EncodedField {
    var key: String
    var value: EncodedValue
    /// Encoded through `encodeIfPresent` with a value: a set optional is written even when zero.
    var explicit: Bool
    /// The key is in the type's `alwaysEncoded` set.
    var always: Bool
    /// The key is in the type's `alwaysEncodedInJSON` set.
    var alwaysInJSON: Bool
}

/// Encodes any `Encodable` into an `EncodedValue` tree.
enum TreeEncoder {
    static func encode<T: Encodable>(_ value: T) throws -> EncodedValue {
        let root = EncoderBox()
        try value.encode(to: TreeEncoderImpl(box: root, codingPath: []))
        return root.value
    }
}

/// A mutable slot that containers write into; nested containers hold references to child slots.
final class EncoderBox {
    enum Content {
        case empty
        case value(EncodedValue)
        case object([(String, EncoderBox, Bool, Bool, Bool)])
        case dictionary([(String, EncoderBox)])
        case sequence([EncoderBox])
    }
    var content: Content = .empty

    var value: EncodedValue {
        switch content {
        case .empty: return .null
        case .value(let value): return value
        case .object(let fields):
            return .object(
                fields.map {
                    EncodedField(key: $0.0, value: $0.1.value, explicit: $0.2, always: $0.3, alwaysInJSON: $0.4)
                })
        case .dictionary(let entries):
            var result: [String: EncodedValue] = [:]
            for (key, box) in entries { result[key] = box.value }
            return .dictionary(result)
        case .sequence(let items): return .sequence(items.map(\.value))
        }
    }
}

struct TreeEncoderImpl: Encoder {
    let box: EncoderBox
    let codingPath: [any CodingKey]
    var userInfo: [CodingUserInfoKey: Any] { [:] }

    func container<Key: CodingKey>(keyedBy type: Key.Type) -> KeyedEncodingContainer<Key> {
        let isStruct = type is any CaseIterable.Type
        switch box.content {
        case .object, .dictionary: break
        default: box.content = isStruct ? .object([]) : .dictionary([])
        }
        return KeyedEncodingContainer(TreeKeyedContainer<Key>(box: box, codingPath: codingPath))
    }

    func unkeyedContainer() -> any UnkeyedEncodingContainer {
        if case .sequence = box.content {} else { box.content = .sequence([]) }
        return TreeUnkeyedContainer(box: box, codingPath: codingPath)
    }

    func singleValueContainer() -> any SingleValueEncodingContainer {
        TreeSingleValueContainer(box: box, codingPath: codingPath)
    }
}

struct TreeKeyedContainer<Key: CodingKey>: KeyedEncodingContainerProtocol {
    let box: EncoderBox
    let codingPath: [any CodingKey]

    private func slot(_ key: Key, explicit: Bool) -> EncoderBox {
        let child = EncoderBox()
        switch box.content {
        case .object(var fields):
            let keys = Key.self as? any AlwaysEncodedKeys.Type
            let always = keys?.alwaysEncoded.contains(key.stringValue) ?? false
            let alwaysInJSON = keys?.alwaysEncodedInJSON.contains(key.stringValue) ?? false
            fields.append((key.stringValue, child, explicit, always, alwaysInJSON))
            box.content = .object(fields)
        case .dictionary(var entries):
            entries.append((key.stringValue, child))
            box.content = .dictionary(entries)
        default:
            box.content = .dictionary([(key.stringValue, child)])
        }
        return child
    }

    private func put<T: Encodable>(_ value: T, _ key: Key, explicit: Bool) throws {
        let child = slot(key, explicit: explicit)
        try value.encode(to: TreeEncoderImpl(box: child, codingPath: codingPath + [key]))
    }

    mutating func encodeNil(forKey key: Key) throws { _ = slot(key, explicit: false) }
    mutating func encode<T: Encodable>(_ value: T, forKey key: Key) throws { try put(value, key, explicit: false) }
    mutating func encode(_ value: Bool, forKey key: Key) throws { try put(value, key, explicit: false) }
    mutating func encode(_ value: String, forKey key: Key) throws { try put(value, key, explicit: false) }
    mutating func encode(_ value: Int, forKey key: Key) throws { try put(value, key, explicit: false) }
    mutating func encode(_ value: UInt32, forKey key: Key) throws { try put(value, key, explicit: false) }
    mutating func encode(_ value: UInt64, forKey key: Key) throws { try put(value, key, explicit: false) }

    mutating func encodeIfPresent<T: Encodable>(_ value: T?, forKey key: Key) throws {
        if let value { try put(value, key, explicit: true) }
    }
    mutating func encodeIfPresent(_ value: Bool?, forKey key: Key) throws {
        if let value { try put(value, key, explicit: true) }
    }
    mutating func encodeIfPresent(_ value: String?, forKey key: Key) throws {
        if let value { try put(value, key, explicit: true) }
    }
    mutating func encodeIfPresent(_ value: Int?, forKey key: Key) throws {
        if let value { try put(value, key, explicit: true) }
    }
    mutating func encodeIfPresent(_ value: UInt32?, forKey key: Key) throws {
        if let value { try put(value, key, explicit: true) }
    }
    mutating func encodeIfPresent(_ value: UInt64?, forKey key: Key) throws {
        if let value { try put(value, key, explicit: true) }
    }

    mutating func nestedContainer<NestedKey: CodingKey>(
        keyedBy keyType: NestedKey.Type, forKey key: Key
    ) -> KeyedEncodingContainer<NestedKey> {
        TreeEncoderImpl(box: slot(key, explicit: false), codingPath: codingPath + [key]).container(keyedBy: keyType)
    }

    mutating func nestedUnkeyedContainer(forKey key: Key) -> any UnkeyedEncodingContainer {
        TreeEncoderImpl(box: slot(key, explicit: false), codingPath: codingPath + [key]).unkeyedContainer()
    }

    mutating func superEncoder() -> any Encoder { TreeEncoderImpl(box: box, codingPath: codingPath) }
    mutating func superEncoder(forKey key: Key) -> any Encoder {
        TreeEncoderImpl(box: slot(key, explicit: false), codingPath: codingPath + [key])
    }
}

struct TreeUnkeyedContainer: UnkeyedEncodingContainer {
    let box: EncoderBox
    let codingPath: [any CodingKey]

    var count: Int {
        if case .sequence(let items) = box.content { return items.count }
        return 0
    }

    private func slot() -> EncoderBox {
        let child = EncoderBox()
        if case .sequence(var items) = box.content {
            items.append(child)
            box.content = .sequence(items)
        } else {
            box.content = .sequence([child])
        }
        return child
    }

    mutating func encodeNil() throws { _ = slot() }
    mutating func encode<T: Encodable>(_ value: T) throws {
        let child = slot()
        try value.encode(to: TreeEncoderImpl(box: child, codingPath: codingPath + [AnyCodingKey(intValue: count)]))
    }

    mutating func nestedContainer<NestedKey: CodingKey>(keyedBy keyType: NestedKey.Type) -> KeyedEncodingContainer<
        NestedKey
    > {
        TreeEncoderImpl(box: slot(), codingPath: codingPath).container(keyedBy: keyType)
    }

    mutating func nestedUnkeyedContainer() -> any UnkeyedEncodingContainer {
        TreeEncoderImpl(box: slot(), codingPath: codingPath).unkeyedContainer()
    }

    mutating func superEncoder() -> any Encoder { TreeEncoderImpl(box: slot(), codingPath: codingPath) }
}

struct TreeSingleValueContainer: SingleValueEncodingContainer {
    let box: EncoderBox
    let codingPath: [any CodingKey]

    mutating func encodeNil() throws { box.content = .value(.null) }
    mutating func encode(_ value: Bool) throws { box.content = .value(.bool(value)) }
    mutating func encode(_ value: String) throws { box.content = .value(.string(value)) }
    mutating func encode(_ value: Double) throws { box.content = .value(.double(value)) }
    mutating func encode(_ value: Float) throws { box.content = .value(.double(Double(value))) }
    mutating func encode(_ value: Int) throws { box.content = .value(.int(Int64(value))) }
    mutating func encode(_ value: Int8) throws { box.content = .value(.int(Int64(value))) }
    mutating func encode(_ value: Int16) throws { box.content = .value(.int(Int64(value))) }
    mutating func encode(_ value: Int32) throws { box.content = .value(.int(Int64(value))) }
    mutating func encode(_ value: Int64) throws { box.content = .value(.int(value)) }
    mutating func encode(_ value: UInt) throws { box.content = .value(.uint(UInt64(value))) }
    mutating func encode(_ value: UInt8) throws { box.content = .value(.uint(UInt64(value))) }
    mutating func encode(_ value: UInt16) throws { box.content = .value(.uint(UInt64(value))) }
    mutating func encode(_ value: UInt32) throws { box.content = .value(.uint(UInt64(value))) }
    mutating func encode(_ value: UInt64) throws { box.content = .value(.uint(value)) }
    mutating func encode<T: Encodable>(_ value: T) throws {
        try value.encode(to: TreeEncoderImpl(box: box, codingPath: codingPath))
    }
}
