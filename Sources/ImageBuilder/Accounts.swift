import Archive
import Config
import LaminaCore

/// `/etc/passwd`, `/etc/group` and `/etc/shadow` from `accounts:` merged with what packages ship.
enum AccountsWriter {
    struct PasswdEntry { var name, password: String; var uid, gid: Int; var gecos, home, shell: String }
    struct GroupEntry { var name, password: String; var gid: Int; var members: [String] }

    static func apply(_ accounts: ImageAccounts, to tree: inout FileTree) throws -> (users: [Int: String], groups: [Int: String]) {
        var passwd = parsePasswd(read("etc/passwd", tree))
        var groups = parseGroup(read("etc/group", tree))
        var shadow = read("etc/shadow", tree).map { String($0).split(separator: "\n").map(String.init) } ?? []

        for group in accounts.groups {
            if let i = groups.firstIndex(where: { $0.name == group.groupname }) {
                groups[i].gid = Int(group.gid)
                groups[i].members = Array(Set(groups[i].members + group.members)).sorted()
            } else {
                groups.append(GroupEntry(name: group.groupname, password: "x", gid: Int(group.gid), members: group.members))
            }
        }
        for user in accounts.users {
            let home = user.homedir.isEmpty ? "/home/\(user.username)" : user.homedir
            let shell = user.shell.isEmpty ? "/bin/sh" : user.shell
            let entry = PasswdEntry(
                name: user.username, password: "x", uid: Int(user.uid), gid: Int(user.gid ?? user.uid), gecos: "Account created by lamina",
                home: home, shell: shell)
            if let i = passwd.firstIndex(where: { $0.name == user.username }) { passwd[i] = entry } else { passwd.append(entry) }
            if !shadow.contains(where: { $0.hasPrefix(user.username + ":") }) { shadow.append("\(user.username):!::0:::::") }
            // Home directory, owned by the user, 0700 (parents 0755 root).
            var parent = ""
            for part in home.split(separator: "/").dropLast() {
                parent += (parent.isEmpty ? "" : "/") + part
                if tree[parent] == nil { try tree.insert(parent, .directory()) }
            }
            try tree.insert(String(home.drop { $0 == "/" }), .directory(mode: 0o700, uid: entry.uid, gid: entry.gid))
        }
        if !accounts.users.isEmpty || !accounts.groups.isEmpty {
            try tree.insert("etc/passwd", .file(Array(passwd.map { "\($0.name):\($0.password):\($0.uid):\($0.gid):\($0.gecos):\($0.home):\($0.shell)\n" }.joined().utf8)))
            try tree.insert("etc/group", .file(Array(groups.map { "\($0.name):\($0.password):\($0.gid):\($0.members.joined(separator: ","))\n" }.joined().utf8)))
            try tree.insert("etc/shadow", .file(Array(shadow.map { $0 + "\n" }.joined().utf8), mode: 0o640, gid: groups.first { $0.name == "shadow" }?.gid ?? 0))
        }
        return (Dictionary(passwd.map { ($0.uid, $0.name) }, uniquingKeysWith: { a, _ in a }),
                Dictionary(groups.map { ($0.gid, $0.name) }, uniquingKeysWith: { a, _ in a }))
    }

    /// The numeric uid for `run-as` (a known user name is rewritten to its uid, as apko does).
    static func runAs(_ accounts: ImageAccounts, names: [Int: String]) -> String? {
        let value = accounts.runAs
        if value.isEmpty { return nil }
        if let user = accounts.users.first(where: { $0.username == value }) { return String(user.uid) }
        if let uid = names.first(where: { $0.value == value })?.key { return String(uid) }
        return value
    }

    static func read(_ path: String, _ tree: FileTree) -> String? {
        guard let node = tree[path], let content = node.content, let source = try? content.open(),
            let bytes = try? source.readAll(limit: 16 << 20)
        else { return nil }
        return String(decoding: bytes, as: UTF8.self)
    }

    static func parsePasswd(_ text: String?) -> [PasswdEntry] {
        (text ?? "").split(separator: "\n").compactMap { line in
            let f = line.split(separator: ":", omittingEmptySubsequences: false).map(String.init)
            guard f.count >= 7, let uid = Int(f[2]), let gid = Int(f[3]) else { return nil }
            return PasswdEntry(name: f[0], password: f[1], uid: uid, gid: gid, gecos: f[4], home: f[5], shell: f[6])
        }
    }

    static func parseGroup(_ text: String?) -> [GroupEntry] {
        (text ?? "").split(separator: "\n").compactMap { line in
            let f = line.split(separator: ":", omittingEmptySubsequences: false).map(String.init)
            guard f.count >= 4, let gid = Int(f[2]) else { return nil }
            return GroupEntry(name: f[0], password: f[1], gid: gid, members: f[3].split(separator: ",").map(String.init))
        }
    }
}

/// `paths:` mutations.
enum PathsWriter {
    static func apply(_ paths: [PathMutation], to tree: inout FileTree) throws {
        for (i, mutation) in paths.enumerated() {
            let subject = "paths[\(i)] (\(mutation.path))"
            let path = String(mutation.path.drop { $0 == "/" })
            guard let kind = mutation.type else { throw LaminaError(.invalidInput, "missing type", subject: subject) }
            let owner: (Int, Int)? = (mutation.uid == nil && mutation.gid == nil) ? nil : (Int(mutation.uid ?? 0), Int(mutation.gid ?? 0))
            let mode = mutation.permissions
            do {
                switch kind {
                case .directory:
                    try tree.insert(path, .directory(mode: mode == 0 ? 0o755 : mode, uid: owner?.0 ?? 0, gid: owner?.1 ?? 0))
                    if mutation.recursive { try chmodRecursive(path, mode: mode, owner: owner, tree: &tree) }
                case .emptyFile:
                    try tree.insert(path, .file([], mode: mode == 0 ? 0o644 : mode, uid: owner?.0 ?? 0, gid: owner?.1 ?? 0))
                case .hardlink:
                    let target = String(mutation.source.drop { $0 == "/" })
                    guard let source = tree[target], source.kind == .regular else {
                        throw LaminaError(.invalidInput, "hardlink source '\(mutation.source)' is not a regular file in the image")
                    }
                    // A hard link is another name for the same inode: it has its target's mode and owner, and the
                    // permissions or owner asked for apply to every name (as chmod/chown of a link do).
                    let link = FileNode(
                        kind: .hardLink, mode: mode == 0 ? source.mode : mode, uid: owner?.0 ?? source.uid, gid: owner?.1 ?? source.gid,
                        linkTarget: try tree.resolveParents(target))
                    try tree.insert(path, link)
                    try unifyHardlinkGroup(of: path, tree: &tree)
                case .symlink:
                    try tree.insert(path, .symlink(to: mutation.source))
                case .permissions:
                    guard tree[path] != nil else { throw LaminaError(.notFound, "no such path in the image") }
                    if mutation.recursive {
                        try chmodRecursive(path, mode: mode, owner: owner, tree: &tree)
                    } else {
                        try tree.update(path) { node in
                            node.mode = mode
                            if let owner { node.uid = owner.0; node.gid = owner.1 }
                        }
                        try unifyHardlinkGroup(of: path, tree: &tree)
                    }
                }
            } catch let error as LaminaError {
                throw error.about(subject)
            }
        }
    }

    /// Gives every name of the hard-link group that `path` belongs to the mode and owner `path` now has: a tar
    /// stores them on whichever name comes first, so they must agree.
    static func unifyHardlinkGroup(of path: String, tree: inout FileTree) throws {
        let real = try tree.resolveParents(try SafePath.normalize(path))
        for members in hardlinkGroups(tree).values where members.contains(real) {
            try unify(members, from: real, tree: &tree)
        }
    }

    /// Hard-link groups: target path → the target and every link to it.
    static func hardlinkGroups(_ tree: FileTree) -> [String: [String]] {
        var groups: [String: [String]] = [:]
        for path in tree.sortedPaths {
            if let node = tree[path], node.kind == .hardLink { groups[node.linkTarget, default: [node.linkTarget]].append(path) }
        }
        return groups
    }

    static func unify(_ members: [String], from source: String, tree: inout FileTree) throws {
        guard let node = tree[source] else { return }
        for member in members where member != source {
            try tree.update(member) { other in
                other.mode = node.mode
                other.uid = node.uid
                other.gid = node.gid
            }
        }
    }

    static func chmodRecursive(_ path: String, mode: UInt32, owner: (Int, Int)?, tree: inout FileTree) throws {
        let touched = [path] + tree.paths(under: path)
        for p in touched {
            try tree.update(p) { node in
                if node.kind != .symbolicLink, mode != 0 { node.mode = mode }
                if let owner { node.uid = owner.0; node.gid = owner.1 }
            }
        }
        let touchedSet = Set(touched)
        for members in hardlinkGroups(tree).values {
            if let changed = members.first(where: touchedSet.contains) { try unify(members, from: changed, tree: &tree) }
        }
    }
}
