import Config
import Foundation
import LaminaCore
import Sandbox
import TestSupport
import Testing

@testable import PackageBuilder

/// The built-in pipelines: present, embedded byte for byte, declared well, free of unknown variables and shell
/// syntax errors; `git-checkout`, `patch` and the `fetch` unpacking run for real with the host's /bin/sh.
struct PipelineBuiltinTests {
    static let folder = SharedTestData.packageRoot.appendingPathComponent("Sources/PackageBuilder/Pipelines/Builtin")

    /// The names issue 5 asks for.
    static let required = [
        "fetch", "git-checkout", "patch", "autoconf/configure", "autoconf/make", "autoconf/make-install", "make",
        "strip", "split/dev", "split/static", "split/manpages", "split/locales", "python/build", "python/install",
        "go/build", "cmake/configure", "cmake/build", "cmake/install",
    ]

    @Test func everyRequiredPipelineIsBuiltIn() {
        for name in Self.required { #expect(BuiltinPipelines.definitions[name] != nil, "missing \(name)") }
    }

    @Test func embeddedTextMatchesTheFilesAndPackageManifest() throws {
        let files = try FileManager.default.contentsOfDirectory(atPath: Self.folder.path).filter {
            $0.hasSuffix(".yaml")
        }
        #expect(Set(files) == Set(BuiltinPipelines.names.map(BuiltinPipelines.fileName(of:))))
        let manifest = try String(
            contentsOf: SharedTestData.packageRoot.appendingPathComponent("Package.swift"), encoding: .utf8)
        for file in files {
            #expect(manifest.contains(".embedInCode(\"Pipelines/Builtin/\(file)\")"), "\(file) not in Package.swift")
        }
        for name in BuiltinPipelines.names {
            let text = try String(
                contentsOf: Self.folder.appendingPathComponent(BuiltinPipelines.fileName(of: name)), encoding: .utf8)
            #expect(BuiltinPipelines.definitions[name] == text, "\(name) differs from its file")
        }
    }

    @Test(arguments: BuiltinPipelines.names)
    func definitionIsWellFormed(name: String) throws {
        let definition = try PipelineLoader().load(name, directories: [])
        #expect(definition.origin == .builtin)
        #expect(!definition.pipeline.name.isEmpty)
        #expect(!definition.pipeline.pipeline.isEmpty)
        for (input, declaration) in definition.pipeline.inputs {
            #expect(!declaration.description.isEmpty, "\(name): input \(input) has no description")
            #expect(
                !(declaration.required && !declaration.defaultValue.isEmpty), "\(name): \(input) required with default")
        }
    }

    /// Values for the required inputs of `name`.
    static func with(for name: String) throws -> [String: String] {
        let inputs = try PipelineLoader().load(name, directories: []).pipeline.inputs
        var values: [String: String] = [:]
        for (input, declaration) in inputs where declaration.required {
            values[input] = input == "uri" ? "https://example.com/src/thing-1.0.tar.gz" : "value-of-\(input)"
        }
        if name == "fetch" { values["expected-sha256"] = String(repeating: "a", count: 64) }
        return values
    }

    /// A configuration using `name` in the main pipeline and in a subpackage.
    static func configuration(using name: String) throws -> BuildConfiguration {
        let step = Pipeline(uses: name, with: try with(for: name))
        return BuildConfiguration(
            package: Package(name: "thing", version: "1.0"), pipeline: [step],
            subpackages: [Subpackage(name: "thing-extra", pipeline: [step])])
    }

    static func compile(_ name: String, architecture: String = "x86_64") throws -> BuildPlan {
        try PipelineCompiler(
            configuration: try configuration(using: name),
            context: BuildContext(architecture: try Architecture(architecture))
        ).compile()
    }

    @Test(arguments: BuiltinPipelines.names)
    func compilesWithoutUnknownVariables(name: String) throws {
        for architecture in ["x86_64", "aarch64", "riscv64"] {
            let plan = try Self.compile(name, architecture: architecture)
            for step in plan.main.steps + plan.subpackages.flatMap(\.steps) {
                if case .run(let script) = step.action { #expect(!script.contains("${{"), "\(name): \(script)") }
            }
            #expect(!plan.neededPackages.contains { $0.contains("${{") })
        }
    }

    static let shells = ["/bin/sh", "/usr/bin/dash", "/bin/bash", "/bin/busybox"].filter {
        FileManager.default.isExecutableFile(atPath: $0)
    }

    /// `sh -n` over every script as the sandbox would run it (wrapped by `StepScript`).
    @Test(.enabled(if: !shells.isEmpty, "needs a POSIX shell"), arguments: BuiltinPipelines.names)
    func scriptsParse(name: String) throws {
        let plan = try Self.compile(name)
        for step in plan.main.steps + plan.subpackages.flatMap(\.steps) {
            guard let buildStep = step.buildStep else { continue }
            for shell in Self.shells {
                let arguments = shell.hasSuffix("busybox") ? ["sh", "-n", "-c"] : ["-n", "-c"]
                let result = try Self.run(shell, arguments + [StepScript.wrap(buildStep)], in: "/")
                #expect(result.status == 0, "\(name) under \(shell): \(result.output)")
            }
        }
    }

    // MARK: - Running scripts on the host

    struct Result {
        var status: Int32
        var output: String
    }

    static func run(
        _ executable: String, _ arguments: [String], in directory: String, environment: [String: String]? = nil
    )
        throws -> Result
    {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        process.currentDirectoryURL = URL(fileURLWithPath: directory)
        if let environment { process.environment = environment }
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = pipe
        try process.run()
        let data = pipe.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return Result(status: process.terminationStatus, output: String(decoding: data, as: UTF8.self))
    }

    /// Runs the `.run` steps of `steps` with /bin/sh in `workspace` (instead of /home/build), as `StepScript` wraps
    /// them. Stops at the first failure.
    /// - Parameters:
    ///   - pathPrefix: folders put before the host's on PATH (test doubles of guest tools).
    ///   - rewritingScripts: `/home/build` in the scripts themselves is replaced by `workspace` too.
    static func runSteps(
        _ steps: [CompiledStep], workspace: String, pathPrefix: String? = nil, rewritingScripts: Bool = false
    ) throws -> Result {
        var output = ""
        for step in steps {
            guard var buildStep = step.buildStep else { continue }
            buildStep.workingDirectory = workspace + String(step.workingDirectory.dropFirst("/home/build".count))
            if rewritingScripts {
                buildStep.script = buildStep.script.replacingOccurrences(of: "/home/build", with: workspace)
            }
            var environment = step.environment
            environment["HOME"] = workspace
            environment["PATH"] = (pathPrefix.map { $0 + ":" } ?? "") + "/usr/local/bin:/usr/bin:/bin"
            environment["GIT_CONFIG_NOSYSTEM"] = "1"
            let result = try run(
                "/bin/sh", ["-c", StepScript.wrap(buildStep)], in: workspace, environment: environment)
            output += result.output
            if result.status != 0 { return Result(status: result.status, output: output) }
        }
        return Result(status: 0, output: output)
    }

    static func steps(_ yamlSteps: String, version: String = "1.0") throws -> [CompiledStep] {
        let (configuration, sourceMap) = try BuildConfiguration.prepare(
            yaml: """
                package:
                  name: thing
                  version: "\(version)"
                pipeline:
                \(yamlSteps)
                """)
        return try PipelineCompiler(
            configuration: configuration, sourceMap: sourceMap,
            context: BuildContext(architecture: try Architecture("x86_64"), sourceDateEpoch: 1_700_000_000)
        ).compile().main.steps
    }

    static let hasGit = FileManager.default.isExecutableFile(atPath: "/usr/bin/git")

    /// git run by the tests themselves: no system configuration, a fixed identity.
    static func gitEnvironment(home: String) -> [String: String] {
        [
            "HOME": home, "PATH": "/usr/bin:/bin", "GIT_CONFIG_NOSYSTEM": "1", "GIT_AUTHOR_NAME": "t",
            "GIT_AUTHOR_EMAIL": "t@example.com", "GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@example.com",
        ]
    }

    /// A repository with two commits on `main`, tag `1.0` (lightweight) on the first, `2.0` (annotated) on the
    /// second. Returns the commit hashes and the annotated tag object.
    static func makeRepository(at path: String) throws -> (first: String, second: String, tagObject: String) {
        var environment = gitEnvironment(home: path)
        environment["GIT_AUTHOR_DATE"] = "@1700000000 +0000"
        environment["GIT_COMMITTER_DATE"] = "@1700000000 +0000"
        let script = """
            set -e
            git init -q -b main repo
            cd repo
            echo one > file
            git add file
            git commit -q -m one
            git tag 1.0
            echo two > file
            git commit -q -am two
            git tag -a -m release 2.0
            git rev-parse HEAD~1 HEAD refs/tags/2.0
            """
        let result = try run("/bin/sh", ["-c", script], in: path, environment: environment)
        let lines = result.output.split(separator: "\n").map(String.init)
        guard result.status == 0, lines.count == 3 else {
            throw LaminaError(.internal, "git setup failed: \(result.output)")
        }
        return (lines[0], lines[1], lines[2])
    }

    @Test(.enabled(if: hasGit, "needs git"))
    func gitCheckoutFromFileRepository() throws {
        try TemporaryDirectory.withSync { directory in
            let commits = try Self.makeRepository(at: directory.path)
            let workspace = directory.file("workspace")
            try FileManager.default.createDirectory(atPath: workspace, withIntermediateDirectories: true)
            try "keep".write(toFile: workspace + "/existing", atomically: true, encoding: .utf8)
            let url = "file://\(directory.path)/repo"

            // A tag into the working directory, keeping what is there.
            var result = try Self.runSteps(
                try Self.steps(
                    """
                      - uses: git-checkout
                        with:
                          repository: \(url)
                          tag: "1.0"
                          expected-commit: \(commits.first)
                    """), workspace: workspace)
            #expect(result.status == 0, "\(result.output)")
            #expect(try String(contentsOfFile: workspace + "/file", encoding: .utf8) == "one\n")
            #expect(FileManager.default.fileExists(atPath: workspace + "/existing"))

            // An annotated tag named by its tag object: accepted with a warning; into a destination folder.
            result = try Self.runSteps(
                try Self.steps(
                    """
                      - uses: git-checkout
                        working-directory: sub
                        with:
                          repository: \(url)
                          tag: "2.0"
                          expected-commit: \(commits.tagObject)
                          destination: dest
                    """), workspace: workspace)
            #expect(result.status == 0, "\(result.output)")
            #expect(result.output.contains("annotated tag object"))
            #expect(try String(contentsOfFile: workspace + "/sub/dest/file", encoding: .utf8) == "two\n")

            // A branch pinned to an older commit: full history, reset to it.
            result = try Self.runSteps(
                try Self.steps(
                    """
                      - uses: git-checkout
                        with:
                          repository: \(url)
                          branch: main
                          expected-commit: \(commits.first)
                          destination: pinned
                    """), workspace: workspace)
            #expect(result.status == 0, "\(result.output)")
            #expect(try String(contentsOfFile: workspace + "/pinned/file", encoding: .utf8) == "one\n")

            // The wrong commit for a tag fails.
            result = try Self.runSteps(
                try Self.steps(
                    """
                      - uses: git-checkout
                        with:
                          repository: \(url)
                          tag: "2.0"
                          expected-commit: \(commits.first)
                          destination: wrong
                    """), workspace: workspace)
            #expect(result.status != 0)
            #expect(result.output.contains("tag 2.0 is commit \(commits.second), expected \(commits.first)"))

            // Branch tip required but not matching.
            result = try Self.runSteps(
                try Self.steps(
                    """
                      - uses: git-checkout
                        with:
                          repository: \(url)
                          branch: main
                          expected-commit: \(commits.first)
                          expected-commit-is-branch-tip: true
                          destination: tip
                    """), workspace: workspace)
            #expect(result.status != 0)
            #expect(result.output.contains("not the expected commit"))
        }
    }

    /// `sparse-paths` checks out only the folders named; a clone that keeps failing is retried `max-retries` times.
    @Test(.enabled(if: hasGit, "needs git"))
    func gitCheckoutSparsePathsAndRetries() throws {
        try TemporaryDirectory.withSync { directory in
            let environment = Self.gitEnvironment(home: directory.path)
            let setup = try Self.run(
                "/bin/sh",
                [
                    "-c",
                    "set -e; git init -q -b main mono; cd mono; mkdir -p a b/c; echo a > a/file; echo b > b/c/file; "
                        + "echo top > README; git add .; git commit -q -m one; git tag 1.0",
                ],
                in: directory.path, environment: environment)
            #expect(setup.status == 0, "\(setup.output)")
            let workspace = directory.file("workspace")
            try FileManager.default.createDirectory(atPath: workspace, withIntermediateDirectories: true)
            var result = try Self.runSteps(
                try Self.steps(
                    """
                      - uses: git-checkout
                        with:
                          repository: file://\(directory.path)/mono
                          tag: "1.0"
                          sparse-paths: b/c
                    """), workspace: workspace)
            #expect(result.status == 0, "\(result.output)")
            #expect(FileManager.default.fileExists(atPath: workspace + "/b/c/file"))
            #expect(FileManager.default.fileExists(atPath: workspace + "/README"))
            #expect(!FileManager.default.fileExists(atPath: workspace + "/a/file"))

            result = try Self.runSteps(
                try Self.steps(
                    """
                      - uses: git-checkout
                        with:
                          repository: file://\(directory.path)/nowhere
                          destination: missing
                          max-retries: 2
                          initial-backoff: 0
                    """), workspace: workspace)
            #expect(result.status != 0)
            #expect(result.output.contains("retry 2 of 2"))
            #expect(result.output.contains("failed (2 retries)"))
        }
    }

    static let canSplitDebug = ["/usr/bin/cc", "/usr/bin/objcopy", "/usr/bin/readelf"].allSatisfy {
        FileManager.default.isExecutableFile(atPath: $0)
    }

    /// `split/debug` on a real shared object: the debugging information moves to /usr/lib/debug/….debug in the
    /// subpackage, the library keeps its mode and gets a .gnu_debuglink. Without pax-utils' scanelf on the host, a
    /// stand-in built on readelf answers the one query the pipeline makes (ET_DYN files under a folder).
    @Test(.enabled(if: canSplitDebug, "needs cc, objcopy and readelf"))
    func splitDebugMovesDebuggingInformation() throws {
        try TemporaryDirectory.withSync { directory in
            let workspace = directory.file("workspace")
            let lib = workspace + "/melange-out/thing/usr/lib"
            try FileManager.default.createDirectory(atPath: lib, withIntermediateDirectories: true)
            try "int thing(void) { return 42; }\n".write(
                toFile: directory.file("thing.c"), atomically: true, encoding: .utf8)
            let compiled = try Self.run(
                "/usr/bin/cc", ["-g", "-shared", "-fPIC", "-o", lib + "/libthing.so.1", directory.file("thing.c")],
                in: directory.path)
            #expect(compiled.status == 0, "\(compiled.output)")
            try FileManager.default.setAttributes([.posixPermissions: 0o755], ofItemAtPath: lib + "/libthing.so.1")

            var pathPrefix: String?
            if CommandRunner.which("scanelf") == nil {
                let tools = directory.file("tools")
                try FileManager.default.createDirectory(atPath: tools, withIntermediateDirectories: true)
                let standIn = """
                    #!/bin/sh
                    # scanelf --recursive --nobanner --etype ET_DYN --format '%F' DIR: the ET_DYN files under DIR.
                    for dir; do :; done
                    find "$dir" -type f | while IFS= read -r file; do
                      readelf -h "$file" 2>/dev/null | grep -q 'Type: *DYN' && echo "$file"
                    done
                    exit 0
                    """
                try standIn.write(toFile: tools + "/scanelf", atomically: true, encoding: .utf8)
                try FileManager.default.setAttributes([.posixPermissions: 0o755], ofItemAtPath: tools + "/scanelf")
                pathPrefix = tools
            }
            let plan = try PipelineCompiler(
                configuration: try BuildConfiguration.prepare(
                    yaml: """
                        package:
                          name: thing
                          version: "1.0"
                        subpackages:
                          - name: thing-dbg
                            pipeline:
                              - uses: split/debug
                        """
                ).configuration,
                context: BuildContext(architecture: try Architecture("x86_64"))
            ).compile()
            let result = try Self.runSteps(
                plan.subpackages.flatMap(\.steps), workspace: workspace, pathPrefix: pathPrefix, rewritingScripts: true)
            #expect(result.status == 0, "\(result.output)")
            let debug = workspace + "/melange-out/thing-dbg/usr/lib/debug/usr/lib/libthing.so.1.debug"
            #expect(FileManager.default.fileExists(atPath: debug))
            let sections = try Self.run("/usr/bin/readelf", ["-S", lib + "/libthing.so.1"], in: directory.path)
            #expect(sections.output.contains(".gnu_debuglink"))
            #expect(!sections.output.contains(".debug_info"))
            let debugSections = try Self.run("/usr/bin/readelf", ["-S", debug], in: directory.path)
            #expect(debugSections.output.contains(".debug_info"))
            let mode = try FileManager.default.attributesOfItem(atPath: lib + "/libthing.so.1")[.posixPermissions]
            #expect((mode as? Int) == 0o755)
            #expect(!FileManager.default.fileExists(atPath: workspace + "/melange-out/thing/.lamina-debug-inodes"))
        }
    }

    /// `git-am` applies mail-formatted patches as commits, in order.
    @Test(.enabled(if: hasGit, "needs git"))
    func gitAmAppliesPatchesAsCommits() throws {
        try TemporaryDirectory.withSync { directory in
            let environment = Self.gitEnvironment(home: directory.path)
            // Two patches made in a scratch clone, then applied to the original (the workspace).
            let setup = try Self.run(
                "/bin/sh",
                [
                    "-c",
                    """
                    set -e
                    git init -q -b main workspace; cd workspace; echo one > file; git add file; git commit -q -m one
                    cd ..; git clone -q workspace scratch; cd scratch
                    echo two >> file; git commit -q -am two; echo three >> file; git commit -q -am three
                    git format-patch -q -2 -o ../workspace/patches
                    """,
                ],
                in: directory.path, environment: environment)
            #expect(setup.status == 0, "\(setup.output)")
            let workspace = directory.file("workspace")
            let result = try Self.runSteps(
                try Self.steps(
                    """
                      - uses: git-am
                        with:
                          patches: patches/0001-two.patch patches/0002-three.patch
                    """), workspace: workspace)
            #expect(result.status == 0, "\(result.output)")
            #expect(try String(contentsOfFile: workspace + "/file", encoding: .utf8) == "one\ntwo\nthree\n")
            let log = try Self.run("/usr/bin/git", ["log", "--format=%s"], in: workspace, environment: environment)
            #expect(log.output == "three\ntwo\none\n")
        }
    }

    @Test(.enabled(if: FileManager.default.isExecutableFile(atPath: "/usr/bin/patch"), "needs GNU patch"))
    func patchAppliesListAndSeries() throws {
        try TemporaryDirectory.withSync { directory in
            let workspace = directory.path
            try "hello\n".write(toFile: workspace + "/greeting", atomically: true, encoding: .utf8)
            let first = "--- a/greeting\n+++ b/greeting\n@@ -1 +1 @@\n-hello\n+hello world\n"
            let second = "--- a/greeting\n+++ b/greeting\n@@ -1 +1,2 @@\n hello world\n+bye\n"
            try first.write(toFile: workspace + "/one.patch", atomically: true, encoding: .utf8)
            try second.write(toFile: workspace + "/two.patch", atomically: true, encoding: .utf8)
            var result = try Self.runSteps(
                try Self.steps(
                    """
                      - uses: patch
                        with:
                          patches: one.patch two.patch
                    """), workspace: workspace)
            #expect(result.status == 0, "\(result.output)")
            #expect(try String(contentsOfFile: workspace + "/greeting", encoding: .utf8) == "hello world\nbye\n")

            // Reverted via a series file with a comment line; a missing series file fails.
            try "hello\n".write(toFile: workspace + "/greeting", atomically: true, encoding: .utf8)
            try "# the series\none.patch -p1\ntwo.patch\n".write(
                toFile: workspace + "/series", atomically: true, encoding: .utf8)
            result = try Self.runSteps(
                try Self.steps(
                    """
                      - uses: patch
                        with:
                          series: series
                    """), workspace: workspace)
            #expect(result.status == 0, "\(result.output)")
            #expect(try String(contentsOfFile: workspace + "/greeting", encoding: .utf8) == "hello world\nbye\n")
            result = try Self.runSteps(
                try Self.steps(
                    """
                      - uses: patch
                        with:
                          series: nowhere
                    """), workspace: workspace)
            #expect(result.status != 0)
        }
    }

    @Test(.enabled(if: FileManager.default.isExecutableFile(atPath: "/usr/bin/tar"), "needs tar"))
    func fetchUnpacksWithStripComponents() throws {
        try TemporaryDirectory.withSync { directory in
            let workspace = directory.path
            let setup = try Self.run(
                "/bin/sh",
                [
                    "-c",
                    "mkdir -p thing-1.0/src && echo x > thing-1.0/src/a && "
                        + "tar -czf thing-1.0.tar.gz thing-1.0 && rm -r thing-1.0",
                ],
                in: workspace)
            #expect(setup.status == 0)
            let steps = try Self.steps(
                """
                  - uses: fetch
                    with:
                      uri: https://example.com/dl/thing-${{package.version}}.tar.gz
                      expected-sha256: \(String(repeating: "f", count: 64))
                      directory: out
                      delete: true
                """)
            guard case .fetch(let action) = steps.first?.action else {
                Issue.record("expected a fetch action first")
                return
            }
            #expect(action.destination == "thing-1.0.tar.gz")
            let result = try Self.runSteps(steps, workspace: workspace)
            #expect(result.status == 0, "\(result.output)")
            #expect(try String(contentsOfFile: workspace + "/out/src/a", encoding: .utf8) == "x\n")
            #expect(!FileManager.default.fileExists(atPath: workspace + "/thing-1.0.tar.gz"))
        }
    }
}
