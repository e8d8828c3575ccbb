import Archive
import LaminaCore
import Testing

@Suite struct FileTreeTests {
    func entries(_ tree: FileTree, users: [Int: String] = [:], groups: [Int: String] = [:]) throws -> [TarEntry] {
        let sink = MemorySink()
        try tree.writeTar(to: TarWriter(sink), modificationTime: 0, userNames: users, groupNames: groups)
        let reader = TarReader(MemorySource(sink.bytes))
        var out: [TarEntry] = []
        while let entry = try reader.next() { out.append(entry) }
        return out
    }

    /// A link name sorting before its target is written first, as the file: with the target's mode,
    /// owner, names and xattrs, not the link node's.
    @Test func hardlinkWrittenFirstCarriesTheTargetsMetadata() throws {
        var tree = FileTree()
        try tree.insert("bin/zz", FileNode(kind: .regular, mode: 0o2755, uid: 1000, gid: 50, xattrs: ["user.k": [1]], content: .bytes([9, 9])))
        try tree.insert("bin/aa", FileNode(kind: .hardLink, mode: 0o600, uid: 0, gid: 0, linkTarget: "bin/zz"))
        let out = try entries(tree, users: [0: "root", 1000: "app"], groups: [0: "root", 50: "staff"])
        #expect(out.map(\.path) == ["bin", "bin/aa", "bin/zz"])
        let first = out[1]
        #expect(first.kind == .regular && first.size == 2)
        #expect(first.mode == 0o2755 && first.uid == 1000 && first.gid == 50)
        #expect(first.userName == "app" && first.groupName == "staff")
        #expect(first.xattrs == ["user.k": [1]])
        #expect(out[2].kind == .hardLink && out[2].linkTarget == "bin/aa")
    }

    /// When the target sorts first nothing changes: it is the file, the link links to it.
    @Test func hardlinkAfterItsTargetLinks() throws {
        var tree = FileTree()
        try tree.insert("bin/aa", FileNode(kind: .regular, mode: 0o755, uid: 3, content: .bytes([1])))
        try tree.insert("bin/zz", FileNode(kind: .hardLink, mode: 0o644, linkTarget: "bin/aa"))
        let out = try entries(tree)
        #expect(out[1].path == "bin/aa" && out[1].kind == .regular && out[1].mode == 0o755 && out[1].uid == 3)
        #expect(out[2].path == "bin/zz" && out[2].kind == .hardLink && out[2].linkTarget == "bin/aa")
    }
}
