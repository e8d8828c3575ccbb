import LaminaCore
import Yams

extension ExpansionBudget {
    /// Composes the first document of `text` (every document must parse when `single`, as `Yams.compose` does)
    /// within the expansion budget: the one way Lamina turns outside YAML into a `Node` tree.
    ///
    /// First ``refuseCollectionAliasKeys(in:file:)`` (before Yams sees the text), then Yams, then
    /// ``check(_:file:limit:)`` on the tree.
    /// - Throws: `LaminaError(.limitExceeded)` naming `file:line:column` for an alias bomb; Yams's `YamlError`
    ///   (for the caller to describe) for syntax errors.
    public static func compose(_ text: String, file: String, single: Bool = false) throws -> Node? {
        try refuseCollectionAliasKeys(in: text, file: file)
        let parser = try Parser(yaml: text)
        let root = single ? try parser.singleRoot() : try parser.nextRoot()
        if let root { try check(root, file: file) }
        return root
    }

    /// Refuses, in one linear pass over the text, a document that uses an alias of a collection as a mapping key
    /// or inside one (`*big : 1`, `? *big`, `[*big]: 1`).
    ///
    /// Yams checks every mapping for duplicate keys by hashing the key nodes while it composes, and hashing an
    /// aliased collection walks its whole expansion: nine levels of ten aliases hang it for hours, before any
    /// tree exists for ``check(_:file:limit:)`` to count. No configuration or feed has collection keys, so
    /// this is refused outright; aliases of scalars stay allowed as keys.
    ///
    /// The pass knows just enough YAML to find aliases where a token starts: it skips comments, quoted scalars
    /// and block scalars (`|`, `>`), and follows flow collections and explicit (`?`) keys.
    /// - Throws: `LaminaError(.limitExceeded)` naming `file:line:column` of the alias.
    static func refuseCollectionAliasKeys(in text: String, file: String) throws {
        var scan = AliasKeyScan(bytes: Array(text.utf8))
        if let found = scan.firstCollectionAliasKey() {
            throw ConfigError.make(
                .limitExceeded, location: SourceLocation(file: file, line: found.line, column: found.column),
                path: ConfigPath(),
                "the alias *\(found.name) of a collection is used in a mapping key; refusing (YAML alias bomb?)")
        }
    }
}

/// The state of ``ExpansionBudget/refuseCollectionAliasKeys(in:file:)``'s pass.
struct AliasKeyScan {
    struct Found {
        var name: String
        var line: Int
        var column: Int
    }

    let bytes: [UInt8]
    var index = 0
    var line = 1
    var lineStart = 0
    /// Anchors seen on a scalar, and anchors seen on anything else (a collection, or a node on a later line).
    var scalarAnchors: Set<String> = []
    var otherAnchors: Set<String> = []
    /// Per open flow collection: whether it holds an alias of a collection (it must then not be a key).
    var flows: [Bool] = []
    /// Per open flow collection: whether an explicit `?` key is open in it.
    var flowExplicitKey: [Bool] = []
    /// The column of an open block-context `?` key: lines indented deeper belong to the key.
    var blockExplicitKeyColumn: Int?

    init(bytes: [UInt8]) { self.bytes = bytes }

    static func isBlank(_ byte: UInt8?) -> Bool {
        byte == nil || byte == 0x20 || byte == 0x09 || byte == 0x0A || byte == 0x0D
    }

    static func isNameByte(_ byte: UInt8) -> Bool {
        (byte >= 0x30 && byte <= 0x39) || (byte >= 0x41 && byte <= 0x5A) || (byte >= 0x61 && byte <= 0x7A)
            || byte == UInt8(ascii: "-") || byte == UInt8(ascii: "_")
    }

    func byte(at offset: Int) -> UInt8? { offset < bytes.count ? bytes[offset] : nil }

    var column: Int { index - lineStart + 1 }

    /// Whether a token may start at `index`: at the start of a line, after a blank, or after a flow indicator.
    var atTokenStart: Bool {
        guard index > 0 else { return true }
        let previous = bytes[index - 1]
        return Self.isBlank(previous) || previous == UInt8(ascii: "[") || previous == UInt8(ascii: "{")
            || (!flows.isEmpty && previous == UInt8(ascii: ","))
    }

    mutating func newline() {
        index += 1
        line += 1
        lineStart = index
    }

    mutating func readName() -> String {
        let start = index
        while let next = byte(at: index), Self.isNameByte(next) { index += 1 }
        return String(decoding: bytes[start..<index], as: UTF8.self)
    }

    /// The offset of the next byte on this line that is no space or tab.
    func skippingSpaces(from offset: Int) -> Int {
        var offset = offset
        while let next = byte(at: offset), next == 0x20 || next == 0x09 { offset += 1 }
        return offset
    }

    /// The indentation of the line starting at `start`, or nil for a blank or comment-only line.
    func indentation(ofLineAt start: Int) -> Int? {
        let first = skippingSpaces(from: start)
        guard let next = byte(at: first), next != 0x0A, next != 0x0D, next != UInt8(ascii: "#") else { return nil }
        return first - start
    }

    mutating func firstCollectionAliasKey() -> Found? {
        while let current = byte(at: index) {
            if current == 0x0A {
                newline()
                if let column = blockExplicitKeyColumn, flows.isEmpty, let indent = indentation(ofLineAt: index), indent < column {
                    blockExplicitKeyColumn = nil
                }
                continue
            }
            // Flow indicators end plain scalars wherever they stand.
            if !flows.isEmpty, let found = flowIndicator(current) {
                if let alias = found { return alias }
                continue
            }
            guard atTokenStart else {
                index += 1
                continue
            }
            switch current {
            case UInt8(ascii: "#"):
                while let next = byte(at: index), next != 0x0A { index += 1 }
            case UInt8(ascii: "'"), UInt8(ascii: "\""):
                skipQuoted(current)
            case UInt8(ascii: "|"), UInt8(ascii: ">"):
                if flows.isEmpty { skipBlockScalar() } else { index += 1 }
            case UInt8(ascii: "["), UInt8(ascii: "{"):
                flows.append(false)
                flowExplicitKey.append(false)
                index += 1
            case UInt8(ascii: "?"):
                if Self.isBlank(byte(at: index + 1)) {
                    if flows.isEmpty { blockExplicitKeyColumn = column } else { flowExplicitKey[flowExplicitKey.count - 1] = true }
                }
                index += 1
            case UInt8(ascii: "&"):
                index += 1
                let name = readName()
                let next = byte(at: skippingSpaces(from: index))
                let isCollection = next == nil || next == 0x0A || next == 0x0D || next == UInt8(ascii: "#")
                    || next == UInt8(ascii: "[") || next == UInt8(ascii: "{") || next == UInt8(ascii: "!")
                if isCollection { otherAnchors.insert(name) } else { scalarAnchors.insert(name) }
            case UInt8(ascii: "*"):
                let alias = Found(name: "", line: line, column: column)
                index += 1
                let name = readName()
                // Only aliases that may stand for a collection matter.
                guard !name.isEmpty, !scalarAnchors.contains(name) || otherAnchors.contains(name) else { continue }
                let found = Found(name: name, line: alias.line, column: alias.column)
                let inKey = blockExplicitKeyColumn != nil || flowExplicitKey.last == true
                    || byte(at: skippingSpaces(from: index)) == UInt8(ascii: ":")
                if inKey { return found }
                if !flows.isEmpty {
                    flows[flows.count - 1] = true
                    lastFlowAlias = found
                }
            default:
                index += 1
            }
        }
        return nil
    }

    /// Handles a flow indicator at `index` inside a flow collection: nil when `current` is none, `.some(alias)`
    /// when a collection holding `alias` closes as a mapping key.
    mutating func flowIndicator(_ current: UInt8) -> Found?? {
        switch current {
        case UInt8(ascii: ","), UInt8(ascii: ":"):
            flowExplicitKey[flowExplicitKey.count - 1] = false
            index += 1
            return .some(nil)
        case UInt8(ascii: "]"), UInt8(ascii: "}"):
            index += 1
            let holdsAlias = flows.removeLast()
            flowExplicitKey.removeLast()
            guard holdsAlias else { return .some(nil) }
            if !flows.isEmpty { flows[flows.count - 1] = true }
            let isKey = byte(at: skippingSpaces(from: index)) == UInt8(ascii: ":")
            return .some(isKey ? lastFlowAlias : nil)
        default:
            return nil
        }
    }

    /// The last alias of a collection seen in a flow collection, named when that collection turns out to be a key.
    var lastFlowAlias: Found?

    /// Skips a quoted scalar starting at `index` (`''` escapes a single quote, `\` escapes in double quotes).
    mutating func skipQuoted(_ quote: UInt8) {
        index += 1
        while let next = byte(at: index) {
            if next == 0x0A {
                newline()
                continue
            }
            index += 1
            if quote == UInt8(ascii: "\""), next == UInt8(ascii: "\\") {
                if byte(at: index) == 0x0A { newline() } else { index += 1 }
            } else if next == quote {
                guard quote == UInt8(ascii: "'"), byte(at: index) == quote else { return }
                index += 1
            }
        }
    }

    /// Skips a block scalar's header line and every following line that is blank or indented deeper than the
    /// line holding the indicator.
    mutating func skipBlockScalar() {
        let parentIndent = skippingSpaces(from: lineStart) - lineStart
        while let next = byte(at: index), next != 0x0A { index += 1 }
        while byte(at: index) == 0x0A {
            let start = index + 1
            let first = skippingSpaces(from: start)
            let blank = byte(at: first) == nil || byte(at: first) == 0x0A || byte(at: first) == 0x0D
            guard blank || first - start > parentIndent else { return }
            newline()
            while let next = byte(at: index), next != 0x0A { index += 1 }
        }
    }
}
