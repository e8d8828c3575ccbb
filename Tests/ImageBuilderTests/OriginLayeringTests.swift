import APK
import Archive
import Config
import Foundation
import LaminaCore
import Testing

@testable import ImageBuilder

struct OriginLayeringTests {
    typealias Member = OriginLayering.Member

    static let packages = [
        Member(name: "gcc", version: "15-r1", origin: "gcc", installedSize: 500),
        Member(name: "libstdc++", version: "15-r1", origin: "gcc", installedSize: 100),
        Member(name: "go", version: "1.24-r0", origin: "go", installedSize: 400),
        Member(name: "busybox", version: "1.37-r0", origin: "busybox", installedSize: 50),
        Member(name: "zlib", version: "1.3-r0", origin: "zlib", installedSize: 10),
        Member(name: "musl", version: "1.2-r0", origin: "musl", installedSize: 40),
    ]

    @Test func groupsByOriginLargestFirstWithinBudget() throws {
        let all = try OriginLayering.groups(Self.packages, layering: Layering(strategy: "origin", budget: 10))
        #expect(all == [["gcc", "libstdc++"], ["go"], ["busybox"], ["musl"], ["zlib"]])
        // Budget 3: the two largest keep their own layer, the rest share one (sorted by name).
        let three = try OriginLayering.groups(Self.packages, layering: Layering(strategy: "origin", budget: 3))
        #expect(three == [["gcc", "libstdc++"], ["go"], ["busybox", "musl", "zlib"]])
        // Budget 0 or 1: everything in one group.
        for budget in [0, 1] {
            let one = try OriginLayering.groups(Self.packages, layering: Layering(strategy: "origin", budget: budget))
            #expect(one == [["busybox", "gcc", "go", "libstdc++", "musl", "zlib"]])
        }
    }

    @Test func equalSizesAreOrderedByTheGreatestName() throws {
        let packages = [
            Member(name: "b", version: "1-r0", origin: "b", installedSize: 5),
            Member(name: "a", version: "1-r0", origin: "a", installedSize: 5),
            Member(name: "c", version: "1-r0", origin: "c", installedSize: 5),
        ]
        #expect(try OriginLayering.groups(packages, layering: Layering(strategy: "origin", budget: 5)) == [["a"], ["b"], ["c"]])
    }

    @Test func replacesJoinsGroupsWhenTheVersionMatches() throws {
        var packages = Self.packages
        packages.append(
            Member(
                name: "libxcrypt", version: "4.4-r0", origin: "libxcrypt", installedSize: 5,
                replaces: [try Dependency(parsing: "zlib<2")]))
        packages.append(
            Member(
                name: "other", version: "1-r0", origin: "other", installedSize: 1,
                replaces: [try Dependency(parsing: "musl>5")]))
        let groups = try OriginLayering.groups(packages, layering: Layering(strategy: "origin", budget: 10))
        #expect(groups.contains(["libxcrypt", "zlib"]))
        #expect(groups.contains(["other"]), "musl 1.2 does not satisfy >5: no merge")
    }

    @Test func unknownStrategyIsRefused() {
        #expect(throws: LaminaError.self) {
            _ = try OriginLayering.groups(Self.packages, layering: Layering(strategy: "", budget: 2))
        }
    }

    /// Files go to their package's layer with their parent directories; directories and unowned files to the
    /// top; a hard link follows its target; each group layer gets its own packages' database entries.
    @Test func splitPartitionsTheTree() throws {
        var tree = FileTree()
        try tree.insert("usr", .directory())
        try tree.insert("usr/bin", .directory(mode: 0o750))
        var gccFile = FileNode.file([1], mode: 0o755)
        gccFile.owner = "gcc"
        try tree.insert("usr/bin/gcc", gccFile)
        var goFile = FileNode.file([2])
        goFile.owner = "go"
        try tree.insert("usr/bin/go", goFile)
        try tree.insert(
            "usr/bin/cc", FileNode(kind: .hardLink, mode: 0o755, uid: 0, gid: 0, linkTarget: "usr/bin/gcc"))
        try tree.insert("etc/os-release", .file([3]))
        try tree.insert("lib/apk/db/installed", .file([4]))
        let installed = [
            InstalledPackage(info: PackageInfo(name: "gcc", version: "15-r1")),
            InstalledPackage(info: PackageInfo(name: "go", version: "1.24-r0")),
        ]
        let trees = try OriginLayering.split(
            tree, groups: [["gcc"], ["go"]], installed: installed, databasePath: "lib/apk/db/installed")
        #expect(trees.count == 3)
        #expect(trees[0].sortedPaths == ["lib", "lib/apk", "lib/apk/db", "lib/apk/db/installed", "usr", "usr/bin", "usr/bin/cc", "usr/bin/gcc"])
        #expect(trees[0]["usr/bin"]?.mode == 0o750, "parent directories keep their metadata")
        #expect(trees[1].sortedPaths == ["lib", "lib/apk", "lib/apk/db", "lib/apk/db/installed", "usr", "usr/bin", "usr/bin/go"])
        #expect(trees[2].sortedPaths == ["etc", "etc/os-release", "lib", "lib/apk", "lib/apk/db", "lib/apk/db/installed", "usr", "usr/bin"])
        let partial = String(decoding: try #require(trees[0]["lib/apk/db/installed"]?.content).open().readAll(limit: 1 << 20), as: UTF8.self)
        #expect(partial.contains("P:gcc") && !partial.contains("P:go"))
        #expect(trees[2]["lib/apk/db/installed"]?.content == .bytes([4]), "the top layer keeps the full database")
    }
}
