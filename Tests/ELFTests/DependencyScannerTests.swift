import Foundation
import LaminaCore
import TestSupport
import Testing

@testable import ELF

/// A package from melange's SCA test data, unpacked with GNU tar into a scratch directory.
struct UnpackedPackage {
    var tree: PackageTree
    var version: String
    /// `depend =` and `provides =` lines of its `.PKGINFO`, as melange wrote them.
    var pkginfoDepends: [String]
    var pkginfoProvides: [String]

    static func unpack(_ relative: String, into dir: TemporaryDirectory) throws -> UnpackedPackage {
        let root = dir.url.appendingPathComponent("pkg", isDirectory: true)
        try FileManager.default.createDirectory(at: root, withIntermediateDirectories: true)
        let result = try CommandRunner.run(
            "/bin/tar", ["--warning=no-unknown-keyword", "-xzf", SharedTestData.path(relative), "-C", root.path])
        guard result.status == 0 else { throw LaminaError(.io, "tar failed: \(result.stderr)", subject: relative) }
        let info = try String(contentsOf: root.appendingPathComponent(".PKGINFO"), encoding: .utf8)
        var fields: [(String, String)] = []
        for line in info.split(separator: "\n") where !line.hasPrefix("#") {
            let parts = line.split(separator: "=", maxSplits: 1).map { $0.trimmingCharacters(in: .whitespaces) }
            if parts.count == 2 { fields.append((parts[0], parts[1])) }
        }
        // Control files are not part of the package contents.
        for name in try FileManager.default.contentsOfDirectory(atPath: root.path) where name.hasPrefix(".") {
            try FileManager.default.removeItem(at: root.appendingPathComponent(name))
        }
        let name = fields.first { $0.0 == "pkgname" }?.1 ?? ""
        return UnpackedPackage(
            tree: PackageTree(name: name, root: root),
            version: fields.first { $0.0 == "pkgver" }?.1 ?? "",
            pkginfoDepends: fields.filter { $0.0 == "depend" }.map(\.1),
            pkginfoProvides: fields.filter { $0.0 == "provides" }.map(\.1))
    }
}

/// One case of melange's own `pkg/sca/sca_test.go`: the package and what `sca.Analyze` must produce.
struct MelangeSCACase: CustomTestStringConvertible, Sendable {
    var apk: String
    var options = DependencyScanner.Options()
    var runtime: [String] = []
    var provides: [String] = []
    var vendored: [String] = []
    var testDescription: String { apk }
}

let scaTestData = "chainguard-dev+melange/pkg/sca/testdata/"

let melangeSCACases: [MelangeSCACase] = [
    // TestExecableSharedObjects: aarch64 libraries that also carry PT_INTERP.
    MelangeSCACase(
        apk: "libcap-2.69-r0.apk",
        runtime: ["so:ld-linux-aarch64.so.1", "so:libc.so.6", "so:libcap.so.2", "so:libpsx.so.2"],
        provides: [
            "so-ver:libcap.so.2=2.69-r0", "so-ver:libpsx.so.2=2.69-r0", "so:libcap.so.2=2", "so:libpsx.so.2=2",
        ]),
    // TestVendoredPkgConfig: libexec is not a library directory.
    MelangeSCACase(
        apk: "neon-4604-r0.apk",
        runtime: ["so:ld-linux-aarch64.so.1", "so:libc.so.6", "so:libecpg.so.6", "so:libpgtypes.so.3", "so:libpq.so.5"],
        vendored: [
            "pc:libecpg=4604-r0", "pc:libecpg_compat=4604-r0", "pc:libpgtypes=4604-r0", "pc:libpq=4604-r0",
            "so-ver:libecpg_compat.so.3=4604-r0", "so:libecpg_compat.so.3=3",
        ]),
    // TestPerlSca, TestRubySca, TestDocSca.
    MelangeSCACase(apk: "perl-json-4.11-r0.apk", runtime: ["perl~5"]),
    MelangeSCACase(apk: "ruby3.2-base64-0.2.0-r2.apk", runtime: ["ruby-3.2"]),
    MelangeSCACase(apk: "bash-doc-5.2.37-r2.apk", runtime: ["man-db", "texinfo"]),
    // TestUnstableSonames: a non-numeric soname version becomes 0.
    MelangeSCACase(
        apk: "aws-c-s3-0.4.9-r0.apk",
        runtime: [
            "so:ld-linux-aarch64.so.1", "so:libaws-c-auth.so.1.0.0", "so:libaws-c-cal.so.1.0.0",
            "so:libaws-c-common.so.1", "so:libaws-c-http.so.1.0.0", "so:libaws-c-io.so.1.0.0",
            "so:libaws-c-s3.so.0unstable", "so:libaws-checksums.so.1.0.0", "so:libc.so.6",
        ],
        provides: ["so-ver:libaws-c-s3.so.0unstable=0.4.9-r0", "so:libaws-c-s3.so.0unstable=0"]),
    // TestShbangDeps (its melange.yaml sets no-provides).
    MelangeSCACase(
        apk: "generated/x86_64/shbang-test-1-r1.apk", options: .init(noProvides: true),
        runtime: ["cmd:bash", "cmd:envDashSCmd", "cmd:python3.12", "so:ld-linux-x86-64.so.2", "so:libc.so.6"]),
    MelangeSCACase(apk: "xset-doc-1.2.5-r1.apk", runtime: ["man-db"]),
]

@Suite("Dependency scanner", .enabled(if: SharedTestData.isAvailable, "needs ../shared/testdata"))
struct DependencyScannerTests {
    @Test("reproduces melange's sca_test.go expectations", arguments: melangeSCACases)
    func melangeCases(_ testCase: MelangeSCACase) throws {
        try TemporaryDirectory.withSync { dir in
            let package = try UnpackedPackage.unpack(scaTestData + testCase.apk, into: dir)
            let result = try DependencyScanner(options: testCase.options).scan(package.tree, version: package.version)
            #expect(result.runtime == testCase.runtime)
            #expect(result.provides == testCase.provides)
            #expect(result.vendored == testCase.vendored)
        }
    }

    @Test("the merged lists equal the .PKGINFO that current melange wrote for shbang-test")
    func shbangPKGINFO() throws {
        try TemporaryDirectory.withSync { dir in
            let package = try UnpackedPackage.unpack(scaTestData + "generated/x86_64/shbang-test-1-r1.apk", into: dir)
            let scanned = try DependencyScanner(options: .init(noProvides: true)).scan(package.tree, version: package.version)
            let merged = scanned.merged()
            #expect(merged.runtime == package.pkginfoDepends)
            #expect(merged.provides == package.pkginfoProvides)
            #expect(package.pkginfoDepends.count == 5)
        }
    }

    @Test("Wolfi's libcap .PKGINFO (older melange, no so: provides) lists exactly our generated depends")
    func libcapPKGINFO() throws {
        try TemporaryDirectory.withSync { dir in
            let package = try UnpackedPackage.unpack(scaTestData + "libcap-2.69-r0.apk", into: dir)
            let library = try ELFFile.parse(path: package.tree.root.appendingPathComponent("usr/lib/libcap.so.2").path)
            #expect(library.apkArchitecture == "aarch64")
            #expect(library.interpreter == "/lib/ld-linux-aarch64.so.1")
            #expect(library.soname == "libcap.so.2")
            #expect(library.kind == .sharedObject)  // an interpreter, but also a SONAME
            let scanned = try DependencyScanner().scan(package.tree, version: package.version)
            #expect(scanned.runtime == package.pkginfoDepends)
            // Today's melange also provides the sonames, which removes the self-dependencies.
            let merged = scanned.merged()
            #expect(merged.runtime == ["so:ld-linux-aarch64.so.1", "so:libc.so.6"])
            #expect(merged.provides.contains("so:libcap.so.2=2"))
        }
    }

    @Test("aws-c-s3: declared runtime deps merge with the generated ones as in its .PKGINFO")
    func awsPKGINFO() throws {
        try TemporaryDirectory.withSync { dir in
            let package = try UnpackedPackage.unpack(scaTestData + "aws-c-s3-0.4.9-r0.apk", into: dir)
            let declared = ["aws-c-auth", "aws-c-cal", "aws-c-common", "aws-c-http", "aws-c-io", "aws-checksums"]
            let merged = try DependencyScanner().scan(package.tree, version: package.version).merged(declaredRuntime: declared)
            // The package's own soname is dropped as self-provided, exactly as in the shipped .PKGINFO.
            #expect(merged.runtime == package.pkginfoDepends)
            // Only the provided version differs: melange since then maps "0unstable" to 0.
            #expect(package.pkginfoProvides == ["so:libaws-c-s3.so.0unstable=0unstable"])
            #expect(merged.provides == ["so-ver:libaws-c-s3.so.0unstable=0.4.9-r0", "so:libaws-c-s3.so.0unstable=0"])
        }
    }

    @Test("no-commands removes cmd: entries, no-depends and no-provides empty their lists")
    func options() throws {
        try TemporaryDirectory.withSync { dir in
            let package = try UnpackedPackage.unpack(scaTestData + "generated/x86_64/shbang-test-1-r1.apk", into: dir)
            let all = try DependencyScanner().scan(package.tree, version: package.version)
            #expect(all.provides.contains("cmd:hello=1-r1"))
            #expect(all.provides.contains("cmd:bash-via-env=1-r1"))
            let noCommands = try DependencyScanner(options: .init(noCommands: true)).scan(package.tree, version: package.version)
            #expect(noCommands.runtime == ["so:ld-linux-x86-64.so.2", "so:libc.so.6"])
            #expect(noCommands.provides.isEmpty)
            let noDepends = try DependencyScanner(options: .init(noDepends: true)).scan(package.tree, version: package.version)
            #expect(noDepends.runtime.isEmpty)
            #expect(noDepends.provides == all.provides)
        }
    }
}

/// A destdir assembled from the host's own binaries, checked against readelf.
@Suite(
    "Dependency scanner on host binaries",
    .enabled(
        if: FileManager.default.fileExists(atPath: "/bin/ls")
            && FileManager.default.fileExists(atPath: "/usr/lib/x86_64-linux-gnu/libz.so.1") && ReadelfFacts.isAvailable,
        "needs Debian's /bin/ls, libz and readelf"))
struct HostTreeScannerTests {
    static func install(_ source: String, at relative: String, in root: URL, mode: Int = 0o755) throws {
        let destination = root.appendingPathComponent(relative)
        try FileManager.default.createDirectory(
            at: destination.deletingLastPathComponent(), withIntermediateDirectories: true)
        try FileManager.default.copyItem(atPath: URL(fileURLWithPath: source).resolvingSymlinksInPath().path, toPath: destination.path)
        try FileManager.default.setAttributes([.posixPermissions: mode], ofItemAtPath: destination.path)
    }

    static func write(_ text: String, at relative: String, in root: URL, mode: Int = 0o644) throws {
        let destination = root.appendingPathComponent(relative)
        try FileManager.default.createDirectory(
            at: destination.deletingLastPathComponent(), withIntermediateDirectories: true)
        try Data(text.utf8).write(to: destination)
        try FileManager.default.setAttributes([.posixPermissions: mode], ofItemAtPath: destination.path)
    }

    static func link(_ relative: String, to target: String, in root: URL) throws {
        let destination = root.appendingPathComponent(relative)
        try FileManager.default.createDirectory(
            at: destination.deletingLastPathComponent(), withIntermediateDirectories: true)
        try FileManager.default.createSymbolicLink(atPath: destination.path, withDestinationPath: target)
    }

    @Test("commands, libraries, pkg-config, scripts, python modules and ld.so.conf.d")
    func hostTree() throws {
        try TemporaryDirectory.withSync { dir in
            let root = dir.url.appendingPathComponent("demo")
            try Self.install("/bin/ls", at: "usr/bin/ls", in: root)
            try Self.install("/bin/ls", at: "usr/libexec/demo/helper", in: root)  // not a command directory
            try Self.install("/usr/lib/x86_64-linux-gnu/libz.so.1", at: "usr/lib/libz.so.1.2.99", in: root)
            try Self.link("usr/lib/libz.so.1", to: "libz.so.1.2.99", in: root)
            try Self.install("/usr/lib/x86_64-linux-gnu/libz.so.1", at: "opt/demo/lib/libz.so.1.2.99", in: root)
            try Self.write("/opt/demo/lib\n# comment\n", at: "etc/ld.so.conf.d/demo.conf", in: root)
            try Self.install("/usr/lib/x86_64-linux-gnu/libz.so.1", at: "usr/share/demo/libz.so.1", in: root)
            try Self.write(
                "prefix=/usr\nlibdir=${prefix}/lib\nName: demo\nVersion: 1\nRequires: zlib >= 1.2, libfoo\nRequires.private: bar\nLibs: -L${libdir} -ldemo\n",
                at: "usr/lib/pkgconfig/demo.pc", in: root)
            try Self.write("Name: vendored\n", at: "usr/share/demo/pkgconfig/inner.pc", in: root)
            try Self.write("#!/usr/bin/env perl\nprint 1;\n", at: "usr/bin/tool.pl", in: root, mode: 0o755)
            try Self.write("#!/bin/sh\necho\n", at: "usr/bin/tool.sh", in: root, mode: 0o755)
            try Self.write("not executable", at: "usr/bin/readme", in: root, mode: 0o644)
            try FileManager.default.createDirectory(
                at: root.appendingPathComponent("usr/lib/python3.12/site-packages/demo"), withIntermediateDirectories: true)

            let ls = try ReadelfFacts(path: "/bin/ls")
            let expectedRuntime =
                [DependencyScanner.interpreterDependency(try #require(ls.interpreter))]
                + ls.needed.filter { $0.contains(".so.") }.map { "so:" + $0 }
                + ["cmd:perl", "pc:bar", "pc:libfoo", "pc:zlib", "python-3.12-base", "so:libz.so.1"]
            let result = try DependencyScanner().scan(PackageTree(name: "demo", root: root), version: "1.0-r2")
            #expect(result.runtime == sortedUnique(expectedRuntime))
            #expect(
                result.provides == [
                    "cmd:ls=1.0-r2", "cmd:tool.pl=1.0-r2", "cmd:tool.sh=1.0-r2", "pc:demo=1.0-r2",
                    "so-ver:libz.so.1=1.0-r2", "so:libz.so.1=1",
                ])
            #expect(result.vendored == ["pc:inner=1.0-r2", "so-ver:libz.so.1=1.0-r2", "so:libz.so.1=1"])

            let merged = result.merged(declaredRuntime: ["busybox"])
            #expect(merged.runtime.contains("busybox"))
            #expect(!merged.runtime.contains("so:libz.so.1"))  // provided by the package itself
            #expect(merged.runtime.contains("so:libc.so.6"))
        }
    }

    @Test("a -dev package's symlink depends on the soname of the library in its origin package")
    func crossPackageSymlink() throws {
        try TemporaryDirectory.withSync { dir in
            let origin = dir.url.appendingPathComponent("zlib")
            let dev = dir.url.appendingPathComponent("zlib-dev")
            try Self.install("/usr/lib/x86_64-linux-gnu/libz.so.1", at: "usr/lib/libz.so.1.2.99", in: origin)
            try Self.link("usr/lib/libz.so", to: "/usr/lib/libz.so.1.2.99", in: dev)  // absolute, as -dev links often are
            try Self.write("Name: zlib\n", at: "usr/lib/pkgconfig/zlib.pc", in: dev)
            let relatives = [PackageTree(name: "zlib", root: origin), PackageTree(name: "zlib-dev", root: dev)]
            let result = try DependencyScanner().scan(relatives[1], version: "1.2.99-r0", relatives: relatives)
            #expect(result.runtime == ["so:libz.so.1"])
            #expect(result.provides == ["pc:zlib=1.2.99-r0"])
            #expect(result.vendored.isEmpty)
        }
    }

    @Test("symlinks leaving the package are not followed")
    func escapingSymlink() throws {
        try TemporaryDirectory.withSync { dir in
            let root = dir.url.appendingPathComponent("escape")
            try Self.link("usr/lib/libq.so.1", to: "/usr/lib/x86_64-linux-gnu/libz.so.1", in: root)
            try Self.link("usr/lib/libr.so.1", to: "../../../../../../../../usr/lib/x86_64-linux-gnu/libz.so.1", in: root)
            try Self.link("usr/bin/loop", to: "loop", in: root)
            let result = try DependencyScanner().scan(PackageTree(name: "escape", root: root), version: "1-r0")
            #expect(result == AutoDependencies())
        }
    }

    @Test("a statically linked command provides cmd: and needs nothing", .enabled(if: CommandRunner.which("cc") != nil))
    func staticCommand() throws {
        try TemporaryDirectory.withSync { dir in
            let root = dir.url.appendingPathComponent("static")
            try FileManager.default.createDirectory(at: root.appendingPathComponent("usr/bin"), withIntermediateDirectories: true)
            guard let binary = try CompiledELFTests.compile(["-static"], output: "tool", in: dir) else {
                print("skipped: cc -static failed (no static libc installed)")
                return
            }
            try FileManager.default.moveItem(atPath: binary, toPath: root.appendingPathComponent("usr/bin/tool").path)
            let result = try DependencyScanner().scan(PackageTree(name: "static", root: root), version: "3-r1")
            #expect(result.runtime.isEmpty)
            #expect(result.provides == ["cmd:tool=3-r1"])
        }
    }

    @Test("a truncated ELF is skipped with a warning, not an error")
    func malformedELF() throws {
        try TemporaryDirectory.withSync { dir in
            let root = dir.url.appendingPathComponent("broken")
            let bytes = try #require(FileManager.default.contents(atPath: "/usr/lib/x86_64-linux-gnu/libz.so.1"))
            try Self.write("", at: "usr/lib/libbroken.so.1", in: root)
            try bytes.prefix(200).write(to: root.appendingPathComponent("usr/lib/libbroken.so.1"))
            let warnings = WarningLog()
            let result = try DependencyScanner().scan(
                PackageTree(name: "broken", root: root), version: "1-r0", progress: { event in
                    if case .warning(let text) = event { warnings.append(text) }
                })
            #expect(result == AutoDependencies())
            #expect(warnings.lines.count == 1)
            #expect(warnings.lines.first?.contains("libbroken.so.1") == true)
        }
    }
}

/// Collects warnings from the progress handler. `@unchecked Sendable` is safe: `storage` is only
/// touched while `lock` is held.
final class WarningLog: @unchecked Sendable {
    private let lock = NSLock()
    private var storage: [String] = []
    func append(_ line: String) { lock.withLock { storage.append(line) } }
    var lines: [String] { lock.withLock { storage } }
}

@Suite("Dependency scanner rules")
struct ScannerRuleTests {
    @Test(
        "soname library versions (melange sonameLibver)",
        arguments: [
            ("libc.so.6", "6"), ("libz.so.1.2.13", "1.2.13"), ("libaws-c-s3.so.0unstable", "0"), ("libfoo.so", "0"),
            ("ld-linux-x86-64.so.2", "2"), ("libweird.so.1.so.2", "1"),
        ])
    func libraryVersion(soname: String, expected: String) {
        #expect(DependencyScanner.libraryVersion(ofSoname: soname) == expected)
    }

    @Test(
        "interpreter dependencies",
        arguments: [
            ("/lib/ld-musl-x86_64.so.1", "so:libc.musl-x86_64.so.1"), ("/lib64/ld-linux-x86-64.so.2", "so:ld-linux-x86-64.so.2"),
            ("/lib/ld-linux-aarch64.so.1", "so:ld-linux-aarch64.so.1"), ("/lib/ld-musl-aarch64.so.1", "so:libc.musl-aarch64.so.1"),
        ])
    func interpreter(path: String, expected: String) {
        #expect(DependencyScanner.interpreterDependency(path) == expected)
    }

    /// melange's TestGetShbang table.
    @Test(
        "shebang lines",
        arguments: [
            ("#!/usr/bin/env bash\n", "bash"), ("#!/usr/bin/env python3.12\nwith open...\n", "python3.12"),
            ("#!/bin/sh\necho hi world\n", nil), ("#!/bin/dash\necho hi world\n", "/bin/dash"),
            ("#!/usr/bin/env -S bash -x\necho hi world\n", "bash"), ("cs101 assignment", nil),
            ("#!/usr/bin/perl", "/usr/bin/perl"), ("#!   \n", nil), ("#!\t\n", nil), ("#!\n", nil),
            ("#!/usr/bin/python3\n", nil), ("#! /usr/bin/luajit -b\n", nil), ("#!/bin/bash\r\n", "/bin/bash"),
        ] as [(String, String?)])
    func shebang(text: String, expected: String?) throws {
        #expect(try Shebang.interpreter(in: Array(text.utf8)) == expected)
    }

    @Test("shebangs that hide the command are errors", arguments: ["#!/usr/bin/env bash -x\necho\n", "#!/usr/bin/env\n"])
    func badShebang(text: String) {
        #expect(throws: LaminaError.self) { try Shebang.interpreter(in: Array(text.utf8)) }
    }

    @Test("pkg-config Requires lists")
    func pkgConfig() {
        let file = PkgConfigFile(
            parsing: """
                # comment
                prefix=/usr
                gtk=gtk+-3.0
                Name: demo
                Version: 2.1
                Requires: glib-2.0 >= 2.50, gobject-2.0,gio-2.0>=2.0 ${gtk}
                Requires.private: zlib
                requires.internal: m = 1
                Cflags: -I${prefix}/include -DX=1
                """)
        #expect(file.name == "demo")
        #expect(file.version == "2.1")
        #expect(file.variables["gtk"] == "gtk+-3.0")
        #expect(file.requires.map(\.name) == ["glib-2.0", "gobject-2.0", "gio-2.0", "gtk+-3.0"])
        #expect(file.requires.map(\.constraint) == [">= 2.50", nil, ">= 2.0", nil])
        #expect(file.requiresPrivate.map(\.name) == ["zlib"])
        #expect(file.requiresInternal == [.init(name: "m", constraint: "= 1")])
    }

    @Test("self-provided dependencies are removed by name")
    func selfProvided() {
        let kept = AutoDependencies.removingSelfProvided(
            ["so:libc.so.6", "so:libz.so.1", "so-ver:libz.so.1>=1.2", "cmd:foo", "pc:x"],
            providedBy: ["so:libz.so.1=1", "so-ver:libz.so.1=1.2-r0", "cmd:foo=1-r0"])
        #expect(kept == ["so:libc.so.6", "pc:x"])
    }
}
