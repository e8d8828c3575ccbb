import APK
import Archive
import Config
import Foundation
import LaminaCore

/// apko's `layering: {strategy: origin, budget: N}` (`pkg/build/layers.go`, `docs/layering.md`): the root is
/// assembled as for one layer, then split.
///
/// **Groups.** Packages are grouped by `origin`; a package that `replaces` another present in the image (its
/// version satisfying the constraint) pulls the two groups together. Groups are ordered by the sum of their
/// packages' installed sizes, largest first (ties: the greatest package name in the group, ascending). With more
/// groups than the budget, the first `budget - 1` (at least 0) stay and the rest become one group. Packages in
/// a group are sorted by name.
///
/// **Layers.** One layer per group, bottom to top in that order, then a top layer. A file (not a directory)
/// installed by a package goes to its group's layer, together with copies of its parent directories; every
/// directory and every file no package owns (apk database, accounts, `paths:`, services, os-release) goes to
/// the top layer. Each group layer also gets an apk `installed` database holding only its packages' entries, for
/// scanners that read layers one by one (the top layer's full one wins in the image). A hard link whose target
/// lives in another layer moves to its target's layer, so no layer links outside itself. Every entry has the
/// build epoch as mtime, so a group layer depends only on its packages.
public enum OriginLayering {
    /// A package's name, version, origin, installed size and replaces.
    public struct Member: Sendable, Equatable {
        public var name: String
        public var version: String
        public var origin: String
        public var installedSize: Int64
        public var replaces: [Dependency]

        public init(_ info: PackageInfo) {
            name = info.name
            version = info.version
            origin = info.origin ?? info.name
            installedSize = info.installedSize ?? 0
            replaces = info.replaces
        }

        public init(name: String, version: String, origin: String, installedSize: Int64, replaces: [Dependency] = []) {
            self.name = name
            self.version = version
            self.origin = origin
            self.installedSize = installedSize
            self.replaces = replaces
        }
    }

    /// The groups of package names, bottom layer first.
    /// - Throws: `.invalidInput` for a strategy other than `origin` or a negative budget.
    public static func groups(_ packages: [Member], layering: Layering) throws -> [[String]] {
        guard layering.strategy == "origin" else {
            throw LaminaError(.invalidInput, "unknown layering strategy '\(layering.strategy)' (known: origin)", subject: "layering.strategy")
        }
        guard layering.budget >= 0 else {
            throw LaminaError(.invalidInput, "layering budget must not be negative", subject: "layering.budget")
        }
        // Union-find over origins.
        var originOf: [String: String] = [:]
        var parent: [String: String] = [:]
        for package in packages {
            originOf[package.name] = package.origin
            parent[package.origin] = package.origin
        }
        func root(_ origin: String) -> String {
            var current = origin
            while let up = parent[current], up != current { current = up }
            return current
        }
        let byName = Dictionary(packages.map { ($0.name, $0) }, uniquingKeysWith: { first, _ in first })
        for package in packages {
            for replaced in package.replaces {
                guard let target = byName[replaced.name] else { continue }
                if let constraint = replaced.constraint, !constraint.isSatisfied(by: target.version) { continue }
                let a = root(package.origin), b = root(target.origin)
                if a != b { parent[max(a, b)] = min(a, b) }
            }
        }
        var members: [String: [Member]] = [:]
        for package in packages { members[root(package.origin), default: []].append(package) }
        struct Group {
            var packages: [Member]
            var size: Int64
            var tiebreaker: String
        }
        var groups = members.values.map { list in
            Group(packages: list, size: list.reduce(0) { $0 + $1.installedSize }, tiebreaker: list.map(\.name).max() ?? "")
        }
        groups.sort { ($0.size, $1.tiebreaker) > ($1.size, $0.tiebreaker) }
        if groups.count > layering.budget {
            let cutoff = max(layering.budget - 1, 0)
            let rest = groups[cutoff...]
            groups = Array(groups[..<cutoff])
            groups.append(Group(packages: rest.flatMap(\.packages), size: 0, tiebreaker: ""))
        }
        return groups.map { $0.packages.map(\.name).sorted { Array($0.utf8).lexicographicallyPrecedes(Array($1.utf8)) } }
    }

    /// Splits `tree` into one tree per group plus the top tree (last).
    /// - Parameters:
    ///   - installed: the installed packages (for the per-layer databases).
    ///   - databasePath: where the apk `installed` database is in the tree.
    public static func split(
        _ tree: FileTree, groups: [[String]], installed: [InstalledPackage], databasePath: String
    ) throws -> [FileTree] {
        var layerOfPackage: [String: Int] = [:]
        for (index, group) in groups.enumerated() { for name in group { layerOfPackage[name] = index } }
        let top = groups.count
        var trees = [FileTree](repeating: FileTree(), count: groups.count + 1)

        func layer(of path: String) -> Int {
            guard let node = tree.nodes[path], node.kind != .directory else { return top }
            if node.kind == .hardLink { return layer(of: node.linkTarget) }
            return node.owner.flatMap { layerOfPackage[$0] } ?? top
        }
        func insert(_ path: String, _ node: FileNode, into index: Int) throws {
            // Parent directories first, as they are in the full tree.
            var parentPath = ""
            for component in path.split(separator: "/").dropLast() {
                parentPath = parentPath.isEmpty ? String(component) : parentPath + "/" + component
                if trees[index].nodes[parentPath] == nil, let parentNode = tree.nodes[parentPath] {
                    try trees[index].insert(parentPath, parentNode)
                }
            }
            try trees[index].insert(path, node)
        }

        for path in tree.sortedPaths {
            guard let node = tree.nodes[path] else { continue }
            try insert(path, node, into: layer(of: path))
            if path == databasePath {
                for (index, group) in groups.enumerated() {
                    let names = Set(group)
                    let text = InstalledDatabase(packages: installed.filter { names.contains($0.info.name) }).render()
                    var partial = node
                    partial.content = .bytes(Array(text.utf8))
                    try insert(path, partial, into: index)
                }
            }
        }
        return trees
    }
}
