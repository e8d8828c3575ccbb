import APK
import Archive
import LaminaCore

/// Applies packages to an in-memory `FileTree`, as `apk add --root` would, without root privileges
/// and without running any package script: contents, modes, owners, symlinks, hardlinks, file
/// conflict rules, and the apk database (`installed`, `scripts.tar`, `triggers`, world,
/// repositories, keys, arch).
public struct RootFSBuilder: Sendable {
    public private(set) var tree = FileTree()
    /// Installed packages in install order.
    public private(set) var installed: [InstalledPackage] = []
    /// Script bodies by `scripts.tar` member name.
    private var scripts: [(name: String, mode: UInt32, mtime: Int64, bytes: [UInt8])] = []
    /// File path → index in `installed` of its owner.
    private var owners: [String: Int] = [:]
    private let spill: SpillStore
    public var limits: SizeLimits
    /// Where the apk database lives (`lib/apk/db`; apko uses `usr/lib/apk/db`).
    public var databaseDirectory = "lib/apk/db"

    /// - Parameter spillDirectory: where file contents are kept while the tree exists.
    public init(spillDirectory: String, limits: SizeLimits = .default) throws {
        spill = try SpillStore(directory: spillDirectory)
        self.limits = limits
    }

    /// Starts from an existing tree (e.g. directories created beforehand).
    public mutating func setTree(_ tree: FileTree) { self.tree = tree }

    /// Records packages already installed beneath this tree (a base image's, whose files live in its layers): they
    /// come first in the database, and apk's overwrite rules hold for their files as for any installed package.
    public mutating func adoptInstalled(_ packages: [InstalledPackage]) {
        for package in packages {
            let index = installed.count
            installed.append(package)
            for path in package.filePaths { owners[path] = index }
        }
    }

    /// Installs the package at `path`.
    /// - Parameters:
    ///   - expected: the index record the package was chosen from; its identity must match.
    ///   - repositoryTag: recorded as `s:` in the database.
    /// - Throws: `.checksumMismatch` when the package is not the one the index vouched for or a
    ///   file's content differs from its recorded SHA-1; `.conflict` when a file belongs to another
    ///   package that this one does not replace; `.unsafePath` for escaping entries.
    public mutating func install(packageAt path: String, expected: PackageInfo? = nil, repositoryTag: String? = nil) throws {
        let index = installed.count
        var record = InstalledPackage(info: PackageInfo(name: "", version: ""), repositoryTag: repositoryTag)
        var dirIndex: [String: Int] = [:]
        var pending: [(path: String, node: FileNode, sha1: Digest?)] = []
        let spill = self.spill

        func directoryRecord(_ dir: String) -> Int {
            if let i = dirIndex[dir] { return i }
            record.directories.append(InstalledDirectory(path: dir))
            dirIndex[dir] = record.directories.count - 1
            return record.directories.count - 1
        }

        let archive = try PackageReader(limits: limits).read(path: path) { entry, reader in
            var node = FileNode(
                kind: entry.kind, mode: entry.mode, uid: entry.uid, gid: entry.gid, modificationTime: entry.modificationTime,
                linkTarget: entry.linkTarget, deviceMajor: entry.deviceMajor, deviceMinor: entry.deviceMinor, xattrs: entry.xattrs)
            var sha1: Digest?
            switch entry.kind {
            case .regular:
                var hasher = Hasher(.sha1)
                let observed = ObservedSource(reader.content) { hasher.update($0) }
                node.content = try spill.append(observed)
                sha1 = hasher.finalize()
                if let stored = entry.paxRecords[TarEntry.apkChecksumSHA1Key], stored.lowercased() != sha1!.hex {
                    throw LaminaError(.checksumMismatch, "'\(entry.path)' does not match its recorded SHA-1 (\(stored))", subject: path)
                }
            case .symbolicLink:
                sha1 = Hasher.digest(.sha1, Array(entry.linkTarget.utf8))
            default:
                break
            }
            pending.append((entry.path, node, sha1))
        }
        if let expected, let want = expected.checksum, want != archive.identity {
            throw LaminaError(
                .checksumMismatch, "package identity \(archive.identity.apkIdentity) does not match the index (\(want.apkIdentity))", subject: path)
        }
        record.info = archive.info
        let info = archive.info

        // Apply to the tree, honouring apk's overwrite rules.
        var hardlinkSums: [String: Digest] = [:]
        for (entryPath, node, sha1) in pending {
            var node = node
            node.owner = info.name
            if node.kind == .hardLink { node.linkTarget = try tree.resolveParents(node.linkTarget) }
            if node.kind != .directory { try takeOver(entryPath, sha1: sha1, for: info, at: index, path: path) }
            let (real, _) = try tree.insert(entryPath, node)
            let slash = real.lastIndex(of: "/")
            let dir = slash.map { String(real[..<$0]) } ?? ""
            let name = slash.map { String(real[real.index(after: $0)...]) } ?? real
            if node.kind == .directory {
                let d = directoryRecord(real)
                record.directories[d].uid = node.uid
                record.directories[d].gid = node.gid
                record.directories[d].mode = node.mode
                continue
            }
            var checksum = sha1
            if node.kind == .hardLink { checksum = hardlinkSums[node.linkTarget] }
            if let sha1 { hardlinkSums[real] = sha1 }
            let d = directoryRecord(dir)
            record.directories[d].files.append(InstalledFile(name: name, uid: node.uid, gid: node.gid, mode: node.mode, checksum: checksum))
            owners[real] = index
        }

        for (entry, bytes) in archive.controlFiles {
            let action = String(entry.path.dropFirst())
            guard PackageWriter.scriptActions.contains(action) else { continue }
            scripts.append(("\(info.nameVersion).\(archive.identity.apkIdentity).\(action)", 0o755, info.buildDate ?? 0, bytes))
        }
        installed.append(record)
    }

    /// apk's overwrite rules: a file another installed package owns may be replaced by the same package name
    /// or origin, a package that `replaces` it, or identical content; the other package then loses it.
    /// - Throws: `.conflict` naming both packages otherwise.
    private mutating func takeOver(_ entryPath: String, sha1: Digest?, for info: PackageInfo, at index: Int, path: String) throws {
        guard let real = try? tree.resolveParents(entryPath), let ownerIndex = owners[real], ownerIndex != index else { return }
        let previous = installed[ownerIndex].info
        let allowed = previous.name == info.name || (previous.origin != nil && previous.origin == info.origin)
            || info.replaces.contains { $0.name == previous.name }
            // Identical content may be overwritten: judged by the owner's recorded SHA-1, for a file in the tree or
            // one of a base image (adopted, so not in the tree).
            || ((tree.nodes[real]?.content != nil || tree.nodes[real] == nil) && sameContent(tree.nodes[real], sha1, installed[ownerIndex], real))
        if !allowed {
            throw LaminaError(
                .conflict, "\(info.nameVersion) wants to overwrite '\(real)' owned by \(previous.nameVersion) (add it to replaces, or remove one)",
                subject: path)
        }
        removeFile(real, from: ownerIndex)
    }

    private func sameContent(_ node: FileNode?, _ sha1: Digest?, _ owner: InstalledPackage, _ real: String) -> Bool {
        guard let sha1 else { return false }
        let slash = real.lastIndex(of: "/")
        let dir = slash.map { String(real[..<$0]) } ?? ""
        let name = slash.map { String(real[real.index(after: $0)...]) } ?? real
        return owner.directories.first { $0.path == dir }?.files.first { $0.name == name }?.checksum == sha1
    }

    private mutating func removeFile(_ real: String, from ownerIndex: Int) {
        let slash = real.lastIndex(of: "/")
        let dir = slash.map { String(real[..<$0]) } ?? ""
        let name = slash.map { String(real[real.index(after: $0)...]) } ?? real
        for d in installed[ownerIndex].directories.indices where installed[ownerIndex].directories[d].path == dir {
            installed[ownerIndex].directories[d].files.removeAll { $0.name == name }
        }
        owners[real] = nil
    }

    /// What the apk database files should say besides the installed packages.
    public struct DatabaseSettings: Sendable {
        public var world: [String]
        public var repositories: [String]
        /// Public keys to place in `etc/apk/keys/` (file name → PEM).
        public var keys: [String: String]
        public var architecture: String
        /// mtime for the generated files and `scripts.tar` members (SOURCE_DATE_EPOCH).
        public var modificationTime: Int64

        public init(world: [String], repositories: [String], keys: [String: String], architecture: String, modificationTime: Int64 = 0) {
            self.world = world
            self.repositories = repositories
            self.keys = keys
            self.architecture = architecture
            self.modificationTime = modificationTime
        }
    }

    /// Writes the apk database and configuration files into the tree.
    public mutating func writeDatabase(_ settings: DatabaseSettings) throws {
        let db = databaseDirectory
        let text = InstalledDatabase(packages: installed).render()
        try tree.insert("\(db)/installed", .file(Array(text.utf8)))
        try tree.insert("\(db)/scripts.tar", .file(try scriptsTar()))
        var triggers = ""
        for pkg in installed where !pkg.info.triggers.isEmpty {
            triggers += "\(pkg.info.checksum?.apkIdentity ?? "") \(pkg.info.triggers.joined(separator: " "))\n"
        }
        try tree.insert("\(db)/triggers", .file(Array(triggers.utf8)))
        try tree.insert("\(db)/lock", .file([], mode: 0o600))
        let world = settings.world.sorted()
        try tree.insert("etc/apk/world", .file(Array(world.map { $0 + "\n" }.joined().utf8)))
        try tree.insert("etc/apk/repositories", .file(Array(settings.repositories.map { $0 + "\n" }.joined().utf8)))
        try tree.insert("etc/apk/arch", .file(Array((settings.architecture + "\n").utf8)))
        try tree.insert("etc/apk/keys", .directory())
        for (name, pem) in settings.keys.sorted(by: { $0.key < $1.key }) {
            try tree.insert("etc/apk/keys/\(name)", .file(Array((pem.hasSuffix("\n") ? pem : pem + "\n").utf8)))
        }
    }

    /// `scripts.tar`: each package script as `<name>-<ver>.<Q1 identity>.<action>`, mode 0755.
    private func scriptsTar() throws -> [UInt8] {
        let sink = MemorySink()
        let tar = TarWriter(sink)
        for script in scripts {
            try tar.append(
                TarEntry(path: script.name, kind: .regular, mode: script.mode, userName: "root", groupName: "root", modificationTime: script.mtime),
                bytes: script.bytes)
        }
        try tar.finish(terminate: true)
        return sink.bytes
    }
}
