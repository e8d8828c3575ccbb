import LaminaCore

/// Where a regular file's bytes live while a tree is assembled: small ones in memory, the rest in a
/// file on disk (a cache entry or a spilled temp file), so memory stays bounded.
public enum FileContent: Sendable, Hashable {
    case bytes([UInt8])
    /// `size` bytes of the file at `path`, starting at `offset`.
    case file(path: String, offset: Int64, size: Int64)

    public var size: Int64 {
        switch self {
        case .bytes(let b): return Int64(b.count)
        case .file(_, _, let size): return size
        }
    }

    /// A fresh source over the content.
    public func open() throws -> ByteSource {
        switch self {
        case .bytes(let b): return MemorySource(b)
        case .file(let path, let offset, let size):
            let source = try FileSource(path: path)
            if offset > 0 { try source.seek(to: offset) }
            return BoundedSource(source, limit: size)
        }
    }
}

/// One node of a `FileTree`.
public struct FileNode: Sendable, Hashable {
    public var kind: TarEntry.Kind
    public var mode: UInt32
    public var uid: Int
    public var gid: Int
    public var modificationTime: Int64
    /// Symlink target, or the tree path a hardlink points to.
    public var linkTarget: String
    public var deviceMajor: UInt32
    public var deviceMinor: UInt32
    public var xattrs: [String: [UInt8]]
    public var content: FileContent?
    /// Free-form owner tag (RootFS records the package that installed the node).
    public var owner: String?

    public init(
        kind: TarEntry.Kind, mode: UInt32, uid: Int = 0, gid: Int = 0, modificationTime: Int64 = 0, linkTarget: String = "",
        deviceMajor: UInt32 = 0, deviceMinor: UInt32 = 0, xattrs: [String: [UInt8]] = [:], content: FileContent? = nil, owner: String? = nil
    ) {
        self.kind = kind
        self.mode = mode & 0o7777
        self.uid = uid
        self.gid = gid
        self.modificationTime = modificationTime
        self.linkTarget = linkTarget
        self.deviceMajor = deviceMajor
        self.deviceMinor = deviceMinor
        self.xattrs = xattrs
        self.content = content
        self.owner = owner
    }

    public static func directory(mode: UInt32 = 0o755, uid: Int = 0, gid: Int = 0) -> FileNode {
        FileNode(kind: .directory, mode: mode, uid: uid, gid: gid)
    }
    public static func file(_ bytes: [UInt8], mode: UInt32 = 0o644, uid: Int = 0, gid: Int = 0) -> FileNode {
        FileNode(kind: .regular, mode: mode, uid: uid, gid: gid, content: .bytes(bytes))
    }
    public static func symlink(to target: String) -> FileNode {
        FileNode(kind: .symbolicLink, mode: 0o777, linkTarget: target)
    }
}

/// An in-memory root filesystem: paths (relative, normalised) to nodes, with parent directories
/// always present. Symlinks inside the tree are followed for *parent* components when inserting,
/// exactly as extracting onto a real filesystem would (so `lib/x` lands in `usr/lib/x` when `lib`
/// links to `usr/lib`), but never out of the root.
///
/// Writing it out (`writeTar`) is deterministic: each directory before its children, children in
/// byte order, one mtime for all entries when asked.
public struct FileTree: Sendable {
    public private(set) var nodes: [String: FileNode] = [:]
    private var children: [String: Set<String>] = ["": []]

    public init() {}

    /// The node at `path` (not following a final symlink).
    public subscript(path: String) -> FileNode? {
        guard let normalized = try? SafePath.normalize(path) else { return nil }
        guard let resolved = try? resolveParents(normalized) else { return nil }
        return nodes[resolved]
    }

    /// All paths, sorted as `writeTar` emits them.
    public var sortedPaths: [String] {
        var out: [String] = []
        func walk(_ dir: String) {
            for name in (children[dir] ?? []).sorted(by: { Array($0.utf8).lexicographicallyPrecedes(Array($1.utf8)) }) {
                let path = dir.isEmpty ? name : dir + "/" + name
                out.append(path)
                if nodes[path]?.kind == .directory { walk(path) }
            }
        }
        walk("")
        return out
    }

    public var count: Int { nodes.count }

    /// How links inside a tree resolve: absolute targets from the tree's root, never above it; a
    /// tree being filled may name parents that do not exist yet.
    static let resolver = RootPath(.init(absoluteTarget: .fromRoot, parentOfRoot: .escapes, followFinal: false, mustExist: false))

    /// Resolves symlinks among the parent components of `path`; returns the real tree path.
    /// - Throws: `.unsafePath` when a link leads out of the root, or there are too many links.
    public func resolveParents(_ path: String) throws -> String {
        try Self.resolver.resolve(path) { candidate in
            switch nodes[candidate] {
            case nil: .missing
            case let node? where node.kind == .symbolicLink: .symlink(target: node.linkTarget)
            case let node? where node.kind == .directory: .directory
            case _?: .other
            }
        }
    }

    /// Creates missing parent directories (mode 0755, root) of `path`.
    private mutating func ensureParents(of path: String) throws {
        var parent = ""
        let parts = path.split(separator: "/")
        for part in parts.dropLast() {
            let next = parent.isEmpty ? String(part) : parent + "/" + part
            if let node = nodes[next] {
                guard node.kind == .directory else {
                    throw LaminaError(.conflict, "cannot create '\(path)': '\(next)' is not a directory")
                }
            } else {
                nodes[next] = .directory()
                children[parent, default: []].insert(String(part))
                children[next] = []
            }
            parent = next
        }
    }

    /// Inserts or replaces the node at `path` (parents are created; parent symlinks are followed).
    /// Returns the real path used and the node it replaced, if any.
    /// - Throws: `.unsafePath` for paths escaping the root, `.conflict` when a directory would be
    ///   replaced by a non-directory (or a parent is a file).
    @discardableResult
    public mutating func insert(_ path: String, _ node: FileNode) throws -> (path: String, replaced: FileNode?) {
        let normalized = try SafePath.normalize(path)
        guard !normalized.isEmpty else { return ("", nil) }
        let real = try resolveParents(normalized)
        try ensureParents(of: real)
        let previous = nodes[real]
        if let previous {
            if previous.kind == .directory && node.kind == .directory {
                // A directory seen again: the new metadata wins, children stay.
                nodes[real] = node
                return (real, previous)
            }
            if previous.kind == .directory {
                throw LaminaError(.conflict, "'\(real)' is a directory and cannot be replaced by a \(node.kind)")
            }
        }
        nodes[real] = node
        let slash = real.lastIndex(of: "/")
        let parent = slash.map { String(real[..<$0]) } ?? ""
        let name = slash.map { String(real[real.index(after: $0)...]) } ?? real
        children[parent, default: []].insert(name)
        if node.kind == .directory && children[real] == nil { children[real] = [] }
        return (real, previous)
    }

    /// Removes `path` (and, for directories, everything below it).
    public mutating func remove(_ path: String) {
        guard let normalized = try? SafePath.normalize(path), let real = try? resolveParents(normalized), nodes[real] != nil else { return }
        if let kids = children[real] {
            for kid in kids { remove(real + "/" + kid) }
            children[real] = nil
        }
        nodes[real] = nil
        let slash = real.lastIndex(of: "/")
        let parent = slash.map { String(real[..<$0]) } ?? ""
        let name = slash.map { String(real[real.index(after: $0)...]) } ?? real
        children[parent]?.remove(name)
    }

    /// Changes a node in place.
    public mutating func update(_ path: String, _ body: (inout FileNode) throws -> Void) throws {
        let real = try resolveParents(try SafePath.normalize(path))
        guard var node = nodes[real] else { throw LaminaError(.notFound, "no such path in the tree: '\(path)'") }
        try body(&node)
        nodes[real] = node
    }

    /// Paths below `directory` (recursively), sorted.
    public func paths(under directory: String) -> [String] {
        let prefix = directory.isEmpty ? "" : directory + "/"
        return sortedPaths.filter { $0.hasPrefix(prefix) }
    }

    /// Writes the tree as a tar stream (terminated).
    ///
    /// Hardlinks are written so that the first path of each group in output order carries the
    /// content and the later ones link to it, whatever the order they were installed in. That first
    /// entry always has the target file's mode, owner and xattrs (an inode has one set), even when
    /// it is a link name that sorts before the target.
    /// - Parameters:
    ///   - modificationTime: when set, every entry gets this mtime (reproducible layers).
    ///   - userNames/groupNames: uid → user name and gid → group name for `uname`/`gname`.
    ///   - openContent: opens a regular file's content for archiving (default `FileContent.open()`); lets a
    ///     caller see where each content starts (e.g. to align compression blocks on it).
    public func writeTar(
        to writer: TarWriter, modificationTime: Int64? = nil, userNames: [Int: String] = [:], groupNames: [Int: String] = [:],
        openContent: ((FileContent) throws -> ByteSource)? = nil
    ) throws {
        var writtenAs: [String: String] = [:]  // hardlink group target → first path written
        let linkTargets = hardlinkTargets
        for path in sortedPaths {
            guard let node = nodes[path] else { continue }
            var entry = TarEntry(
                path: path, kind: node.kind, mode: node.mode, uid: node.uid, gid: node.gid, userName: userNames[node.uid] ?? "",
                groupName: groupNames[node.gid] ?? "", size: 0, modificationTime: modificationTime ?? node.modificationTime,
                linkTarget: node.linkTarget, deviceMajor: node.deviceMajor, deviceMinor: node.deviceMinor, xattrs: node.xattrs)
            var content = node.content
            if node.kind == .hardLink || (node.kind == .regular && linkTargets.contains(path)) {
                let group = node.kind == .hardLink ? node.linkTarget : path
                if let first = writtenAs[group] {
                    entry.kind = .hardLink
                    entry.linkTarget = first
                    entry.size = 0
                    try writer.append(entry)
                    continue
                }
                guard let target = nodes[group], target.kind == .regular else {
                    throw LaminaError(.notFound, "hardlink '\(path)' points to '\(group)', which is not a regular file in the tree")
                }
                writtenAs[group] = path
                entry.kind = .regular
                entry.linkTarget = ""
                content = target.content
                if node.kind == .hardLink {
                    // The link is written first (it sorts before its target): it stands for the inode, so it
                    // carries the target's metadata, not whatever the link node recorded.
                    entry.mode = target.mode
                    entry.uid = target.uid
                    entry.gid = target.gid
                    entry.userName = userNames[target.uid] ?? ""
                    entry.groupName = groupNames[target.gid] ?? ""
                    entry.xattrs = target.xattrs
                }
            }
            if entry.kind == .regular {
                entry.size = content?.size ?? 0
                let source = try content.map { try openContent?($0) ?? $0.open() }
                try writer.append(entry, content: source)
            } else {
                try writer.append(entry)
            }
        }
        try writer.finish(terminate: true)
    }

    /// Paths that some hardlink in the tree points to.
    private var hardlinkTargets: Set<String> {
        Set(nodes.values.lazy.filter { $0.kind == .hardLink }.map(\.linkTarget))
    }
}
