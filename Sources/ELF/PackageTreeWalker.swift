import Archive
import Foundation
import LaminaCore

/// One package's files on disk (`melange-out/<name>`), the unit the dependency scanner reads.
public struct PackageTree: Sendable, Hashable {
    /// The package name (`libcap`, `libcap-dev`).
    public var name: String
    /// The directory holding the package's files as they will be installed (its destdir).
    public var root: URL

    public init(name: String, root: URL) {
        self.name = name
        self.root = root
    }
}

/// A file system entry below a package root, described without following symlinks.
struct TreeEntry: Sendable, Hashable {
    enum Kind: Sendable, Hashable { case regular, directory, symlink, other }
    /// Slash-separated path relative to the root, no leading slash (`usr/lib/libz.so.1`).
    var path: String
    var kind: Kind
    /// Permission bits (`0o755`).
    var permissions: Int
}

/// Reads a package tree the way Go's `fs.WalkDir` over an `os.Root` does: lexical order, symlinks
/// reported as links, and links followed only when they stay inside the root.
struct PackageTreeWalker {
    let root: URL
    private let fileManager = FileManager.default

    init(root: URL) { self.root = root.standardizedFileURL }

    func absolute(_ relative: String) -> String {
        relative.isEmpty ? root.path : root.appendingPathComponent(relative).path
    }

    /// All entries below the root (not the root itself), parents before children, bytewise-sorted siblings.
    func entries() throws -> [TreeEntry] {
        var result: [TreeEntry] = []
        try walk("", into: &result)
        return result
    }

    private func walk(_ directory: String, into result: inout [TreeEntry]) throws {
        let names: [String]
        do {
            names = try fileManager.contentsOfDirectory(atPath: absolute(directory))
        } catch {
            throw LaminaError(.io, "cannot list directory: \(error.localizedDescription)", subject: absolute(directory))
        }
        for name in names.sorted(by: bytewiseLess) {
            let path = directory.isEmpty ? name : directory + "/" + name
            guard let entry = lstat(path) else { continue }
            result.append(entry)
            if entry.kind == .directory { try walk(path, into: &result) }
        }
    }

    /// The entry at `path` without following a final symlink, or nil when it does not exist.
    func lstat(_ path: String) -> TreeEntry? {
        guard let attributes = try? fileManager.attributesOfItem(atPath: absolute(path)) else { return nil }
        let kind: TreeEntry.Kind
        switch attributes[.type] as? FileAttributeType {
        case .typeRegular?: kind = .regular
        case .typeDirectory?: kind = .directory
        case .typeSymbolicLink?: kind = .symlink
        default: kind = .other
        }
        let permissions = (attributes[.posixPermissions] as? NSNumber)?.intValue ?? 0
        return TreeEntry(path: path, kind: kind, permissions: permissions)
    }

    /// The raw target of the symlink at `path`.
    func readLink(_ path: String) -> String? {
        try? fileManager.destinationOfSymbolicLink(atPath: absolute(path))
    }

    /// How links resolve inside a package: a package is installed among others, so an absolute target
    /// or `..` above the package root points at something this package does not hold.
    static let resolver = RootPath(.init(absoluteTarget: .escapes, parentOfRoot: .escapes, followFinal: true, mustExist: true))

    /// Follows symlinks in every component of `path` without leaving the root; absolute link targets
    /// and `..` above the root count as leaving it. Returns the resolved relative path and its entry.
    func resolve(_ path: String) -> TreeEntry? {
        guard let real = try? Self.resolver.resolve(path, inFolder: root.path), !real.isEmpty else { return nil }
        return lstat(real)
    }

    /// Reads at most `limit` bytes from the start of the regular file at relative `path`.
    func readPrefix(_ path: String, limit: Int) -> [UInt8]? {
        guard let handle = FileHandle(forReadingAtPath: absolute(path)) else { return nil }
        defer { try? handle.close() }
        var bytes: [UInt8] = []
        while bytes.count < limit {
            guard let data = try? handle.read(upToCount: limit - bytes.count), !data.isEmpty else { break }
            bytes += data
        }
        return bytes
    }
}

/// Go's string order (bytewise over UTF-8), which melange's sorted output uses.
func bytewiseLess(_ lhs: String, _ rhs: String) -> Bool {
    lhs.utf8.lexicographicallyPrecedes(rhs.utf8)
}

/// Sorted (bytewise) and deduplicated.
func sortedUnique(_ values: [String]) -> [String] {
    var seen = Set<String>()
    return values.filter { seen.insert($0).inserted }.sorted(by: bytewiseLess)
}

/// melange's `isInDir`: the path's parent directory is one of `dirs` (a trailing `/` is ignored;
/// a `/...` suffix matches the directory and everything below it).
func isInDirectory(_ path: String, _ dirs: [String]) -> Bool {
    let parent = parentDirectory(path)
    for dir in dirs {
        if dir.hasSuffix("/...") {
            let prefix = String(dir.dropLast(4))
            if parent == prefix || parent.hasPrefix(prefix + "/") { return true }
        } else if parent == dir || parent + "/" == dir {
            return true
        }
    }
    return false
}

/// `filepath.Dir` for relative slash paths: `usr/bin/ls` → `usr/bin`, `ls` → `.`.
func parentDirectory(_ path: String) -> String {
    guard let slash = path.lastIndex(of: "/") else { return "." }
    return String(path[..<slash])
}

/// The last path component.
func baseName(_ path: String) -> String {
    guard let slash = path.lastIndex(of: "/") else { return path }
    return String(path[path.index(after: slash)...])
}
