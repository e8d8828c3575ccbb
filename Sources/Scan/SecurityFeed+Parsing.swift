import APK
import Config
import Foundation
import LaminaCore
import Yams

extension SecurityFeed {
    /// Parses one feed document, JSON or YAML (JSON when it starts with `{` or `[`, so a file served without a
    /// telling name still works; JSON is parsed strictly (no trailing commas), never as YAML).
    ///
    /// Tolerated, because real feeds have them: a `"0"` version key (kept, marked ``SecurityFix/isNotAffected``);
    /// `packages:` null, or an empty object `{}`; a version whose ids are null or `{}`; ids with extra text
    /// (normalised by ``SecurityFix/normalizeIdentifiers(_:)``); fix versions that are no apk version (listed in
    /// ``skipped`` and not used).
    /// - Parameter source: the path or URL, named in errors.
    /// - Throws: `LaminaError(.malformed)` naming `source`, the line when known, and the key path, for syntax errors
    ///   and for documents that are no secdb feed.
    public static func parse(_ bytes: [UInt8], source: String) throws -> SecurityFeed {
        let root = try FeedNode.parse(bytes, source: source)
        return try FeedInterpreter(source: source).feed(root)
    }

    /// Reads and parses the feed file at `path`.
    /// - Throws: `LaminaError(.io)` when the file cannot be read; otherwise as ``parse(_:source:)``.
    public static func load(path: String, maxSize: Int = 256 << 20) throws -> SecurityFeed {
        let data: Data
        do {
            data = try Data(contentsOf: URL(fileURLWithPath: path))
        } catch {
            let missing = !FileManager.default.fileExists(atPath: path)
            throw LaminaError(missing ? .notFound : .io, missing ? "no such file" : "cannot read: \(error.localizedDescription)", subject: path)
        }
        guard data.count <= maxSize else {
            throw LaminaError(.limitExceeded, "feed of \(data.count) bytes exceeds the limit of \(maxSize)", subject: path)
        }
        return try parse(Array(data), source: path)
    }
}

/// A parsed JSON or YAML document reduced to what feeds use: null, scalars (as text), lists and mappings, with
/// the line each node starts on when known (YAML).
struct FeedNode {
    enum Value {
        case null
        case scalar(String)
        case list([FeedNode])
        case map([(key: String, value: FeedNode)])
    }

    var value: Value
    var line: Int?

    var kindName: String {
        switch value {
        case .null: return "null"
        case .scalar(let text): return "the scalar '\(text.prefix(40))'"
        case .list(let items): return "a list of \(items.count)"
        case .map(let fields): return "a mapping of \(fields.count) keys"
        }
    }

    func field(_ key: String) -> FeedNode? {
        if case .map(let fields) = value { return fields.first { $0.key == key }?.value }
        return nil
    }

    static func parse(_ bytes: [UInt8], source: String) throws -> FeedNode {
        var start = 0
        if bytes.starts(with: [0xEF, 0xBB, 0xBF]) { start = 3 }
        while start < bytes.count, [0x20, 0x09, 0x0A, 0x0D].contains(bytes[start]) { start += 1 }
        guard start < bytes.count else { throw LaminaError(.malformed, "empty document: not a secdb feed", subject: source) }
        if bytes[start] == UInt8(ascii: "{") || bytes[start] == UInt8(ascii: "[") {
            return try parseJSON(bytes, source: source)
        }
        return try parseYAML(bytes, source: source)
    }

    static func parseJSON(_ bytes: [UInt8], source: String) throws -> FeedNode {
        try StrictJSON.parse(bytes, source: source)
    }

    static func parseYAML(_ bytes: [UInt8], source: String) throws -> FeedNode {
        let text = String(decoding: bytes, as: UTF8.self)
        let node: Node?
        do {
            node = try ExpansionBudget.compose(text, file: source, single: true)
        } catch let error as YamlError {
            throw LaminaError(.malformed, "invalid YAML: \(describe(error))", subject: source, cause: error)
        } catch let error as LaminaError {
            throw error  // an alias bomb, named at its line
        } catch {
            throw LaminaError(.malformed, "invalid YAML: \(error)", subject: source, cause: error)
        }
        guard let node else { throw LaminaError(.malformed, "empty document: not a secdb feed", subject: source) }
        return try fromYAML(node, source: source)
    }

    static func describe(_ error: YamlError) -> String {
        switch error {
        case .scanner(_, let problem, let mark, _), .parser(_, let problem, let mark, _), .composer(_, let problem, let mark, _):
            return "line \(mark.line) column \(mark.column): \(problem)"
        case .duplicatedKeysInMapping(let duplicates, let context):
            return "line \(context.mark.line): duplicated keys \(duplicates.joined(separator: ", "))"
        default:
            return "\(error)".split(separator: "\n").first.map(String.init) ?? "\(error)"
        }
    }

    static func fromYAML(_ node: Node, source: String) throws -> FeedNode {
        let line = node.mark?.line
        switch node {
        case .scalar(let scalar):
            if scalar.style == .plain, ["", "~", "null", "Null", "NULL"].contains(scalar.string) {
                return FeedNode(value: .null, line: line)
            }
            return FeedNode(value: .scalar(scalar.string), line: line)
        case .sequence(let sequence):
            return FeedNode(value: .list(try sequence.map { try fromYAML($0, source: source) }), line: line)
        case .mapping(let mapping):
            var fields: [(key: String, value: FeedNode)] = []
            for (key, value) in mapping {
                guard case .scalar(let keyScalar) = key else {
                    throw LaminaError(.malformed, "line \(key.mark?.line ?? 0): a mapping key must be a scalar", subject: source)
                }
                fields.append((key: keyScalar.string, value: try fromYAML(value, source: source)))
            }
            return FeedNode(value: .map(fields), line: line)
        case .alias:
            throw LaminaError(.malformed, "line \(line ?? 0): YAML aliases are not supported in feeds", subject: source)
        }
    }
}

/// Turns a ``FeedNode`` document into a ``SecurityFeed``, naming the key path of anything unexpected.
struct FeedInterpreter {
    let source: String

    func fail(_ node: FeedNode?, _ path: String, _ message: String) -> LaminaError {
        let place = node?.line.map { "line \($0): " } ?? ""
        return LaminaError(.malformed, "\(place)\(path): \(message)", subject: source)
    }

    func scalar(_ node: FeedNode?, _ path: String) throws -> String? {
        guard let node else { return nil }
        switch node.value {
        case .null: return nil
        case .scalar(let text): return text
        default: throw fail(node, path, "expected a string, found \(node.kindName)")
        }
    }

    func feed(_ root: FeedNode) throws -> SecurityFeed {
        guard case .map = root.value else {
            throw fail(root, "document", "expected a mapping with 'packages' (secdb) or 'name' and 'secfixes' (per-package file), found \(root.kindName)")
        }
        var feed = SecurityFeed(source: source)
        feed.distroVersion = try scalar(root.field("distroversion"), "distroversion")
        feed.repositoryName = try scalar(root.field("reponame"), "reponame")
        feed.urlPrefix = try scalar(root.field("urlprefix"), "urlprefix")
        if let packages = root.field("packages") {
            feed.shape = .repository
            switch packages.value {
            case .null: break
            case .map(let fields) where fields.isEmpty: break
            case .list(let items):
                for (index, item) in items.enumerated() {
                    let path = "packages[\(index)]"
                    guard case .map = item.value else { throw fail(item, path, "expected a mapping with 'pkg', found \(item.kindName)") }
                    guard let pkg = item.field("pkg") else { throw fail(item, path, "missing 'pkg'") }
                    try feed.packages.append(package(pkg, path + ".pkg", skipped: &feed.skipped))
                }
            default:
                throw fail(packages, "packages", "expected a list of packages, found \(packages.kindName)")
            }
        } else if root.field("secfixes") != nil || root.field("name") != nil {
            feed.shape = .package
            try feed.packages.append(package(root, "document", skipped: &feed.skipped))
        } else {
            throw fail(root, "document", "not a secdb feed: expected 'packages' (secdb) or 'name' and 'secfixes' (per-package file)")
        }
        return feed
    }

    func package(_ node: FeedNode, _ path: String, skipped: inout [SkippedEntry]) throws -> SecurityPackage {
        guard case .map = node.value else { throw fail(node, path, "expected a mapping with 'name' and 'secfixes', found \(node.kindName)") }
        guard let name = try scalar(node.field("name"), path + ".name"), !name.isEmpty else {
            throw fail(node, path, "missing package 'name'")
        }
        var fixes: [SecurityFix] = []
        let secfixesPath = "\(path).secfixes (\(name))"
        if let secfixes = node.field("secfixes") {
            switch secfixes.value {
            case .null: break
            case .list(let items) where items.isEmpty: break
            case .map(let fields):
                for (version, value) in fields {
                    let entryPath = "\(secfixesPath).\"\(version)\""
                    let ids = try identifiers(value, entryPath)
                    if version != "0", version.isEmpty || !APKVersion.isValid(version) {
                        skipped.append(SkippedEntry(package: name, version: version, reason: "'\(version)' is not an apk version; \(ids.count) ids not used"))
                        continue
                    }
                    fixes.append(SecurityFix(version: version, ids: ids))
                }
            default:
                throw fail(secfixes, secfixesPath, "expected a mapping from fix version to ids, found \(secfixes.kindName)")
            }
        }
        return SecurityPackage(name: name, fixes: fixes)
    }

    func identifiers(_ node: FeedNode, _ path: String) throws -> [String] {
        switch node.value {
        case .null: return []
        case .map(let fields) where fields.isEmpty: return []
        case .list(let items):
            var ids: [String] = []
            for (index, item) in items.enumerated() {
                guard let text = try scalar(item, "\(path)[\(index)]") else { continue }
                for id in SecurityFix.normalizeIdentifiers(text) where !ids.contains(id) { ids.append(id) }
            }
            return ids
        default:
            throw fail(node, path, "expected a list of ids, found \(node.kindName)")
        }
    }
}
