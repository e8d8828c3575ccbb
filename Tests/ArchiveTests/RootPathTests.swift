import Archive
import Foundation
import LaminaCore
import TestSupport
import Testing

/// Every way a path can try to leave its root, once, against each policy Lamina uses.
@Suite struct RootPathTests {
    /// The links of one small root: `usr/lib` is a real directory, the rest are links.
    static let links: [String: String] = [
        "lib": "usr/lib",  // relative link
        "abs": "/usr/lib",  // absolute link
        "up": "../../../etc",  // `..` chain above the root
        "usr/lib/back": "../../lib",  // `..` inside the root, through another link
        "chain": "abs",  // link to a link
        "loop1": "loop2", "loop2": "loop1",  // a loop
    ]
    static let directories: Set<String> = ["usr", "usr/lib", "etc"]
    static let files: Set<String> = ["usr/lib/libc.so", "etc/passwd"]

    /// `count` links in a row (`hop0` → `hop1` → … → `hop<count-1>` → `usr/lib`); from `hop1` on, one fewer.
    static func hops(_ count: Int) -> [String: String] {
        var out: [String: String] = [:]
        for index in 0..<(count - 1) { out["hop\(index)"] = "hop\(index + 1)" }
        out["hop\(count - 1)"] = "usr/lib"
        return out
    }

    static func lookup(_ extra: [String: String] = [:]) -> (String) -> RootPath.Node {
        let all = links.merging(extra) { $1 }
        return { path in
            if let target = all[path] { return .symlink(target: target) }
            if directories.contains(path) { return .directory }
            return files.contains(path) ? .other : .missing
        }
    }

    /// Inside an image (scan, FileTree): absolute targets start at the root and `..` stops there.
    static let image = RootPath(.init(absoluteTarget: .fromRoot, parentOfRoot: .staysAtRoot, followFinal: true, mustExist: true))
    /// Inside one package (ELF scanner): an absolute target or `..` above the root leaves it.
    static let package = RootPath(.init(absoluteTarget: .escapes, parentOfRoot: .escapes, followFinal: true, mustExist: true))

    struct Case: Sendable, CustomStringConvertible {
        var path: String
        /// The result under ``image``, or nil when it throws.
        var image: String?
        /// The result under ``package``, or nil when it throws.
        var package: String?
        var description: String { path }
    }

    static let cases: [Case] = [
        Case(path: "lib/libc.so", image: "usr/lib/libc.so", package: "usr/lib/libc.so"),
        Case(path: "abs/libc.so", image: "usr/lib/libc.so", package: nil),
        Case(path: "up/passwd", image: "etc/passwd", package: nil),
        Case(path: "../../etc/passwd", image: "etc/passwd", package: nil),
        Case(path: "usr/lib/back/libc.so", image: "usr/lib/libc.so", package: "usr/lib/libc.so"),
        Case(path: "chain/libc.so", image: "usr/lib/libc.so", package: nil),
        Case(path: "/./usr//lib/../lib/libc.so", image: "usr/lib/libc.so", package: "usr/lib/libc.so"),
        Case(path: "loop1/x", image: nil, package: nil),
        Case(path: "missing/x", image: nil, package: nil),
        Case(path: "etc/passwd/x", image: nil, package: nil),
        Case(path: "hop0/libc.so", image: nil, package: nil),
        Case(path: "hop1/libc.so", image: "usr/lib/libc.so", package: "usr/lib/libc.so"),
    ]

    @Test(arguments: cases)
    func escapeForms(_ test: Case) {
        let lookup = Self.lookup(Self.hops(41))
        #expect((try? Self.image.resolve(test.path, lookup: lookup)) == test.image)
        #expect((try? Self.package.resolve(test.path, lookup: lookup)) == test.package)
    }

    /// The errors say why: too many links, leaving the root, a missing component.
    @Test func errorCodes() {
        let lookup = Self.lookup(Self.hops(41))
        for (path, code) in [("loop1", LaminaError.Code.unsafePath), ("hop0", .unsafePath), ("up", .unsafePath), ("nope/x", .notFound)] {
            #expect(throws: LaminaError.self) {
                do { _ = try Self.package.resolve(path, lookup: lookup) } catch let error as LaminaError {
                    #expect(error.code == code, "\(path)")
                    throw error
                }
            }
        }
    }

    /// A tree still being filled: missing names are plain, the final link is kept.
    @Test func parentsOnlyWithoutExistence() throws {
        let tree = RootPath(.init(absoluteTarget: .fromRoot, parentOfRoot: .escapes, followFinal: false, mustExist: false))
        let lookup = Self.lookup()
        #expect(try tree.resolve("abs/new/file", lookup: lookup) == "usr/lib/new/file")
        #expect(try tree.resolve("chain", lookup: lookup) == "chain")
        #expect(throws: LaminaError.self) { try tree.resolve("up/x", lookup: lookup) }
    }

    /// The same table on disk, through `lstat`/`readlink`.
    @Test func onDisk() throws {
        try TemporaryDirectory.withSync { dir in
            let root = dir.file("root")
            let manager = FileManager.default
            for directory in Self.directories { try manager.createDirectory(atPath: root + "/" + directory, withIntermediateDirectories: true) }
            for file in Self.files { try Data("x".utf8).write(to: URL(fileURLWithPath: root + "/" + file)) }
            for (link, target) in Self.links.merging(Self.hops(41), uniquingKeysWith: { $1 }) {
                try manager.createSymbolicLink(atPath: root + "/" + link, withDestinationPath: target)
            }
            // Something outside the root that an escaping link would reach.
            try manager.createDirectory(atPath: dir.file("etc"), withIntermediateDirectories: true)
            for test in Self.cases {
                #expect((try? Self.image.resolve(test.path, inFolder: root)) == test.image, "\(test.path)")
                #expect((try? Self.package.resolve(test.path, inFolder: root)) == test.package, "\(test.path)")
            }
        }
    }
}
