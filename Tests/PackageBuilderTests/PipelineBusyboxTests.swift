import Config
import Foundation
import LaminaCore
import Sandbox
import TestSupport
import Testing

@testable import PackageBuilder

/// The Alpine minirootfs of the shared test data, whose busybox runs on an x86_64 host through its musl loader.
enum AlpineMinirootfs {
    static let path = Minirootfs.relativePath

    static var usable: Bool {
        #if arch(x86_64)
            return FileManager.default.fileExists(atPath: SharedTestData.path(path))
                && FileManager.default.isExecutableFile(atPath: "/usr/bin/tar")
        #else
            return false
        #endif
    }
}

/// Runs built-in pipelines with Alpine's busybox (the userland of a typical build guest) from the minirootfs in the
/// shared test data, started through its musl loader: no root, no chroot. Each applet is a wrapper on PATH, so the
/// scripts use busybox's `tar`, `find`, `mv`, `rmdir`… rather than the host's GNU tools. Paths under `/home/build` in
/// the compiled scripts are redirected to a scratch folder.
@Suite(.enabled(if: AlpineMinirootfs.usable, "needs ../shared/testdata (Alpine minirootfs) and x86_64"))
struct PipelineBusyboxTests {
    static let minirootfs = AlpineMinirootfs.path

    /// An unpacked minirootfs with one wrapper script per busybox applet.
    struct Busybox {
        let root: String
        let bin: String

        init(in directory: TemporaryDirectory) throws {
            root = directory.file("alpine")
            bin = directory.file("applets")
            try FileManager.default.createDirectory(atPath: root, withIntermediateDirectories: true)
            try FileManager.default.createDirectory(atPath: bin, withIntermediateDirectories: true)
            let unpack = try PipelineBuiltinTests.run(
                "/usr/bin/tar", ["-xzf", SharedTestData.path(PipelineBusyboxTests.minirootfs), "-C", root], in: root)
            guard unpack.status == 0 else { throw LaminaError(.internal, "unpacking failed: \(unpack.output)") }
            let list = try PipelineBuiltinTests.run(loader, [busybox, "--list"], in: root)
            for applet in list.output.split(separator: "\n") where !applet.isEmpty {
                let wrapper = "\(bin)/\(applet)"
                try "#!/bin/sh\nexec '\(loader)' '\(busybox)' \(applet) \"$@\"\n".write(
                    toFile: wrapper, atomically: true, encoding: .utf8)
                try FileManager.default.setAttributes([.posixPermissions: 0o755], ofItemAtPath: wrapper)
            }
        }

        var loader: String { "\(root)/lib/ld-musl-x86_64.so.1" }
        var busybox: String { "\(root)/bin/busybox" }

        /// Runs the `.run` steps with busybox `sh`, `/home/build` replaced by `workspace`.
        func run(_ steps: [CompiledStep], workspace: String) throws -> PipelineBuiltinTests.Result {
            var output = ""
            for step in steps {
                guard var buildStep = step.buildStep else { continue }
                buildStep.script = buildStep.script.replacingOccurrences(of: "/home/build", with: workspace)
                buildStep.workingDirectory = buildStep.workingDirectory.replacingOccurrences(
                    of: "/home/build", with: workspace)
                var environment = step.environment
                environment["HOME"] = workspace
                environment["PATH"] = bin
                let result = try PipelineBuiltinTests.run(
                    loader, [busybox, "sh", "-c", StepScript.wrap(buildStep)], in: workspace,
                    environment: environment)
                output += result.output
                if result.status != 0 { return PipelineBuiltinTests.Result(status: result.status, output: output) }
            }
            return PipelineBuiltinTests.Result(status: 0, output: output)
        }
    }

    static func plan(_ yaml: String) throws -> BuildPlan {
        let (configuration, sourceMap) = try BuildConfiguration.prepare(yaml: yaml)
        return try PipelineCompiler(
            configuration: configuration, sourceMap: sourceMap,
            context: BuildContext(architecture: try Architecture("x86_64"))
        ).compile()
    }

    static func write(_ text: String, to path: String) throws {
        try FileManager.default.createDirectory(
            atPath: (path as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
        try text.write(toFile: path, atomically: true, encoding: .utf8)
    }

    static func exists(_ path: String) -> Bool {
        (try? FileManager.default.attributesOfItem(atPath: path)) != nil
    }

    @Test func scriptsParseUnderBusyboxAsh() throws {
        try TemporaryDirectory.withSync { directory in
            let busybox = try Busybox(in: directory)
            for name in BuiltinPipelines.names {
                let plan = try PipelineBuiltinTests.compile(name)
                for step in plan.main.steps + plan.subpackages.flatMap(\.steps) {
                    guard let buildStep = step.buildStep else { continue }
                    let result = try PipelineBuiltinTests.run(
                        busybox.loader, [busybox.busybox, "sh", "-n", "-c", StepScript.wrap(buildStep)],
                        in: directory.path)
                    #expect(result.status == 0, "\(name): \(result.output)")
                }
            }
        }
    }

    @Test func splitPipelinesMoveTheRightFiles() throws {
        try TemporaryDirectory.withSync { directory in
            let busybox = try Busybox(in: directory)
            let workspace = directory.file("workspace")
            let main = workspace + "/melange-out/thing"
            for file in [
                "usr/include/thing.h", "usr/lib/libthing.a", "usr/lib/libthing.so.1", "usr/lib/pkgconfig/thing.pc",
                "usr/bin/thing-config", "usr/bin/thing", "usr/share/man/man1/thing.1",
                "usr/share/locale/de/LC_MESSAGES/thing.mo", "usr/share/thing/data",
            ] {
                try Self.write("x\n", to: "\(main)/\(file)")
            }
            try FileManager.default.createSymbolicLink(
                atPath: "\(main)/usr/lib/libthing.so", withDestinationPath: "libthing.so.1")

            let plan = try Self.plan(
                """
                package:
                  name: thing
                  version: 1.0
                subpackages:
                  - name: thing-static
                    pipeline:
                      - uses: split/static
                  - name: thing-dev
                    pipeline:
                      - uses: split/dev
                  - name: thing-doc
                    pipeline:
                      - uses: split/manpages
                  - name: thing-lang
                    pipeline:
                      - uses: split/locales
                  - name: thing-libs
                    pipeline:
                      - uses: split/lib
                  - name: thing-bin
                    pipeline:
                      - uses: split/bin
                """)
            let result = try busybox.run(plan.subpackages.flatMap(\.steps), workspace: workspace)
            #expect(result.status == 0, "\(result.output)")
            let out = workspace + "/melange-out"
            let expected = [
                "thing-static/usr/lib/libthing.a", "thing-dev/usr/include/thing.h",
                "thing-dev/usr/lib/pkgconfig/thing.pc", "thing-dev/usr/bin/thing-config",
                "thing-dev/usr/lib/libthing.so",
                "thing-doc/usr/share/man/man1/thing.1", "thing-lang/usr/share/locale/de/LC_MESSAGES/thing.mo",
                "thing-libs/usr/lib/libthing.so.1", "thing-bin/usr/bin/thing", "thing/usr/share/thing/data",
            ]
            for file in expected { #expect(Self.exists("\(out)/\(file)"), "missing \(file)") }
            #expect(
                (try? FileManager.default.destinationOfSymbolicLink(atPath: "\(out)/thing-dev/usr/lib/libthing.so"))
                    == "libthing.so.1")
            for gone in ["usr/include", "usr/lib/pkgconfig", "usr/share/man", "usr/share/locale", "usr/bin", "usr/lib"]
            {
                #expect(!Self.exists("\(main)/\(gone)"), "\(gone) still in the main package")
            }
        }
    }

    /// `split/infodir` and `split/alldocs` (melange's documentation splits) and `perl/cleanup`, with busybox.
    @Test func documentationSplitsAndPerlCleanup() throws {
        try TemporaryDirectory.withSync { directory in
            let busybox = try Busybox(in: directory)
            let workspace = directory.file("workspace")
            let main = workspace + "/melange-out/thing"
            for file in [
                "usr/share/info/thing.info", "usr/share/info/dir", "usr/share/man/man1/thing.1",
                "usr/local/share/man/man3/thing.3", "usr/share/doc/thing/README", "usr/bin/thing",
                "usr/lib/perl5/vendor_perl/Thing.pm", "usr/lib/perl5/vendor_perl/auto/Thing/.packlist",
                "usr/lib/perl5/core_perl/perllocal.pod",
            ] {
                try Self.write("x\n", to: "\(main)/\(file)")
            }
            let plan = try Self.plan(
                """
                package:
                  name: thing
                  version: 1.0
                pipeline:
                  - uses: perl/cleanup
                subpackages:
                  - name: thing-info
                    pipeline:
                      - uses: split/infodir
                  - name: thing-doc
                    pipeline:
                      - uses: split/alldocs
                """)
            let result = try busybox.run(plan.main.steps + plan.subpackages.flatMap(\.steps), workspace: workspace)
            #expect(result.status == 0, "\(result.output)")
            let out = workspace + "/melange-out"
            for file in [
                "thing-info/usr/share/info/thing.info", "thing-doc/usr/share/man/man1/thing.1",
                "thing-doc/usr/share/man/man3/thing.3", "thing-doc/usr/share/doc/thing/README", "thing/usr/bin/thing",
                "thing/usr/lib/perl5/vendor_perl/Thing.pm",
            ] {
                #expect(Self.exists("\(out)/\(file)"), "missing \(file)")
            }
            for gone in [
                "thing-info/usr/share/info/dir", "thing/usr/share/info", "thing/usr/share/man", "thing/usr/local",
                "thing/usr/share/doc", "thing/usr/lib/perl5/vendor_perl/auto/Thing/.packlist",
                "thing/usr/lib/perl5/core_perl/perllocal.pod",
            ] {
                #expect(!Self.exists("\(out)/\(gone)"), "\(gone) should be gone")
            }

            // A package cannot split files out of itself.
            let itself = try Self.plan(
                """
                package:
                  name: thing
                  version: 1.0
                pipeline:
                  - uses: split/alldocs
                """)
            let refused = try busybox.run(itself.main.steps, workspace: workspace)
            #expect(refused.status != 0)
            #expect(refused.output.contains("cannot split files out of itself"))
        }
    }

    @Test func fetchUnpacksWithBusyboxTar() throws {
        try TemporaryDirectory.withSync { directory in
            let busybox = try Busybox(in: directory)
            let workspace = directory.file("workspace")
            try Self.write("x\n", to: workspace + "/thing-1.0/src/a")
            let pack = try PipelineBuiltinTests.run(
                "/usr/bin/tar", ["-czf", "thing-1.0.tar.gz", "thing-1.0"], in: workspace)
            #expect(pack.status == 0)
            try FileManager.default.removeItem(atPath: workspace + "/thing-1.0")
            let plan = try Self.plan(
                """
                package:
                  name: thing
                  version: 1.0
                pipeline:
                  - uses: fetch
                    with:
                      uri: https://example.com/thing-${{package.version}}.tar.gz
                      expected-sha512: \(String(repeating: "e", count: 128))
                      strip-components: 2
                      delete: true
                """)
            let result = try busybox.run(plan.main.steps, workspace: workspace)
            #expect(result.status == 0, "\(result.output)")
            #expect(try String(contentsOfFile: workspace + "/a", encoding: .utf8) == "x\n")
            #expect(!Self.exists(workspace + "/thing-1.0.tar.gz"))
        }
    }
}
