import Foundation
import LaminaCore
import TestSupport
import Testing

@testable import Sandbox

#if canImport(Glibc)
    import Glibc
#endif

@Suite("bubblewrap on the host's read-only root", .serialized, .enabled(if: SandboxFixtures.bwrapAvailable, "needs bwrap (apt-get install bubblewrap)"))
struct BubblewrapHostRootTests {
    @Test("echo: lines arrive with the step name, exit status 0")
    func echo() async throws {
        try await SandboxFixtures.withHostSession { session, _ in
            let recorder = LineRecorder()
            let result = try await session.run(BuildStep(name: "greet", script: "echo hello; echo world"), output: recorder.handler)
            #expect(result.succeeded)
            #expect(result.status == .exited(0))
            #expect(recorder.texts(.stdout) == ["hello", "world"])
            #expect(recorder.lines.allSatisfy { $0.step == "greet" })
            #expect(result.tail == ["hello", "world"])
        }
    }

    @Test("the environment is exactly the configured one plus the step's")
    func environment() async throws {
        try await SandboxFixtures.withHostSession { session, _ in
            let recorder = LineRecorder()
            let step = BuildStep(name: "env", script: "env | sort", environment: ["CFLAGS": "-O2 -g", "HOME": "/home/build"])
            try await session.runChecked(step, output: recorder.handler)
            var variables: [String: String] = [:]
            for line in recorder.texts(.stdout) {
                let parts = line.split(separator: "=", maxSplits: 1).map(String.init)
                if parts.count == 2 { variables[parts[0]] = parts[1] }
            }
            #expect(variables["HOME"] == "/home/build")
            #expect(variables["PATH"] == SandboxConfiguration.standardPath)
            #expect(variables["SOURCE_DATE_EPOCH"] == "1700000000")
            #expect(variables["CFLAGS"] == "-O2 -g")
            // Nothing leaks in from the test process (only what the shell sets itself).
            let allowed: Set<String> = ["HOME", "PATH", "SOURCE_DATE_EPOCH", "CFLAGS", "PWD", "OLDPWD", "SHLVL", "_"]
            #expect(Set(variables.keys).subtracting(allowed).isEmpty, "\(variables.keys.sorted())")
        }
    }

    @Test("relative working directories are created under /home/build and visible on the host")
    func workingDirectory() async throws {
        try await SandboxFixtures.withHostSession { session, workspace in
            let recorder = LineRecorder()
            let step = BuildStep(
                name: "wd", script: "pwd; echo built > artifact.txt", workingDirectory: "src/it's here")
            try await session.runChecked(step, output: recorder.handler)
            #expect(recorder.texts(.stdout) == ["/home/build/src/it's here"])
            let artifact = workspace.url.appendingPathComponent("src/it's here/artifact.txt")
            #expect(try String(contentsOf: artifact, encoding: .utf8) == "built\n")
        }
    }

    @Test("a failing step reports its status and the last 20 lines")
    func failureTail() async throws {
        try await SandboxFixtures.withHostSession { session, _ in
            let step = BuildStep(name: "compile", script: "for i in $(seq 1 30); do echo line $i; done; sleep 0.3; echo oops >&2; exit 3")
            let result = try await session.run(step, output: nil)
            #expect(result.status == .exited(3))
            #expect(!result.succeeded)
            #expect(result.tail.count == StepResult.tailLength)
            #expect(result.tail.last == "oops")
            #expect(result.tail.first == "line 12")
            do {
                try await session.runChecked(step)
                Issue.record("runChecked did not throw")
            } catch let error as LaminaError {
                #expect(error.code == .sandbox)
                #expect(error.description.contains("compile"))
                #expect(error.description.contains("exit status 3"))
                let failure = try #require(error.cause as? StepFailure)
                #expect(failure.result.tail.contains("line 30"))
                #expect(failure.description.contains("oops"))
            }
        }
    }

    @Test("set -e stops at the first failing command")
    func errexit() async throws {
        try await SandboxFixtures.withHostSession { session, _ in
            let recorder = LineRecorder()
            let result = try await session.run(BuildStep(name: "e", script: "echo before; false; echo after"), output: recorder.handler)
            #expect(result.status == .exited(1))
            #expect(recorder.texts(.stdout) == ["before"])
        }
    }

    @Test("trace adds set -x output on stderr")
    func trace() async throws {
        try await SandboxFixtures.withHostSession { session, _ in
            let recorder = LineRecorder()
            try await session.runChecked(BuildStep(name: "x", script: "echo traced", trace: true), output: recorder.handler)
            #expect(recorder.texts(.stderr).contains("+ echo traced"))
        }
    }

    @Test("stdout and stderr are streamed separately and as they come")
    func streaming() async throws {
        try await SandboxFixtures.withHostSession { session, workspace in
            let recorder = LineRecorder()
            // A handshake instead of a timing: the step waits until the test has *received* "first" (the
            // handler then creates /home/build/go). Output held back until the step ends would make it
            // time out and print "late".
            let go = workspace.file("go")
            let step = BuildStep(
                name: "stream",
                script: """
                    echo first; echo problem >&2
                    i=0; while [ ! -e /home/build/go ]; do i=$((i+1)); [ $i -lt 300 ] || { echo late; exit 1; }; sleep 0.1; done
                    echo second
                    """)
            try await session.runChecked(step) { line in
                recorder.handler(line)
                if line.text == "first" { _ = FileManager.default.createFile(atPath: go, contents: Data()) }
            }
            #expect(recorder.texts(.stdout) == ["first", "second"])
            #expect(recorder.texts(.stderr) == ["problem"])
        }
    }

    @Test("no network: a host listener on 127.0.0.1 is unreachable and only lo exists", .enabled(if: FileManager.default.fileExists(atPath: "/bin/bash")))
    func noNetwork() async throws {
        let listener = try LoopbackListener()
        try await SandboxFixtures.withHostSession { session, _ in
            let recorder = LineRecorder()
            let script = """
                cat /proc/net/dev | tail -n +3 | cut -d: -f1 | tr -d ' '
                if bash -c 'exec 3<>/dev/tcp/127.0.0.1/\(listener.port)' 2>/dev/null; then echo connected; else echo refused; fi
                """
            try await session.runChecked(BuildStep(name: "net", script: script), output: recorder.handler)
            #expect(recorder.texts(.stdout) == ["lo", "refused"])
        }
    }

    @Test("network on: the same listener is reachable", .enabled(if: FileManager.default.fileExists(atPath: "/bin/bash")))
    func withNetwork() async throws {
        let listener = try LoopbackListener()
        try await SandboxFixtures.withHostSession(network: true) { session, _ in
            let recorder = LineRecorder()
            let script = "if bash -c 'exec 3<>/dev/tcp/127.0.0.1/\(listener.port)'; then echo connected; else echo refused; fi"
            try await session.runChecked(BuildStep(name: "net", script: script), output: recorder.handler)
            #expect(recorder.texts(.stdout) == ["connected"])
        }
    }

    @Test("the host root is read-only; /tmp is a private tmpfs")
    func readOnlyRoot() async throws {
        try await SandboxFixtures.withHostSession { session, _ in
            let marker = "lamina-sandbox-\(UUID().uuidString)"
            let recorder = LineRecorder()
            let script = """
                if touch /etc/\(marker) 2>/dev/null; then echo etc-writable; else echo etc-readonly; fi
                if touch /usr/\(marker) 2>/dev/null; then echo usr-writable; else echo usr-readonly; fi
                touch /tmp/\(marker) && echo tmp-writable
                """
            try await session.runChecked(BuildStep(name: "ro", script: script), output: recorder.handler)
            #expect(recorder.texts(.stdout) == ["etc-readonly", "usr-readonly", "tmp-writable"])
            #expect(!FileManager.default.fileExists(atPath: "/etc/\(marker)"))
            #expect(!FileManager.default.fileExists(atPath: "/tmp/\(marker)"))
        }
    }

    @Test("a timeout kills the whole process tree")
    func timeout() async throws {
        let marker = "4242.\(Int.random(in: 100 ... 999))"
        try await SandboxFixtures.withHostSession { session, _ in
            let step = BuildStep(
                name: "hang", script: "echo started; sleep \(marker) & sh -c 'sleep \(marker)'", timeout: .seconds(1))
            let recorder = LineRecorder()
            let start = ContinuousClock.now
            do {
                _ = try await session.run(step, output: recorder.handler)
                Issue.record("the step did not time out")
            } catch let error as LaminaError {
                #expect(error.code == .sandbox)
                #expect(error.description.contains("timed out"))
                let failure = try #require(error.cause as? StepFailure)
                #expect(failure.result.tail == ["started"])
            }
            #expect(ContinuousClock.now - start < .seconds(8))
            #expect(await SandboxFixtures.waitUntilGone(marker) == [])
        }
    }

    @Test("cancelling the task kills the whole process tree")
    func cancellation() async throws {
        let marker = "4343.\(Int.random(in: 100 ... 999))"
        try await SandboxFixtures.withHostSession { session, _ in
            let recorder = LineRecorder()
            let task = Task {
                try await session.run(
                    BuildStep(name: "cancel", script: "echo running; sleep \(marker) & sleep \(marker)"),
                    output: recorder.handler)
            }
            // Wait until the step is really running.
            let deadline = ContinuousClock.now + .seconds(10)
            while recorder.lines.isEmpty && ContinuousClock.now < deadline { try await Task.sleep(for: .milliseconds(50)) }
            #expect(!SandboxFixtures.processes(containing: marker).isEmpty)
            task.cancel()
            let outcome = await task.result
            #expect(throws: CancellationError.self) { try outcome.get() }
            #expect(await SandboxFixtures.waitUntilGone(marker) == [])
        }
    }

    @Test("a missing workspace is refused before anything runs")
    func missingWorkspace() async throws {
        let configuration = SandboxConfiguration(guestRoot: nil, workspace: URL(fileURLWithPath: "/nonexistent/\(UUID())"))
        await #expect(throws: LaminaError.self) { try await BubblewrapRunner().prepare(configuration) }
        await #expect(throws: LaminaError.self) {
            try await BubblewrapRunner(executable: "/nonexistent/bwrap").prepare(
                SandboxConfiguration(guestRoot: nil, workspace: URL(fileURLWithPath: "/tmp")))
        }
    }
}

@Suite("bubblewrap with the Alpine minirootfs as guest root", .serialized, .enabled(if: SandboxFixtures.alpineAvailable, "needs bwrap, x86_64 and ../shared/testdata"))
struct BubblewrapAlpineTests {
    @Test("busybox reads /etc/alpine-release; pipefail is on; the root is writable")
    func alpine() async throws {
        try await TemporaryDirectory.with { dir in
            let root = try SandboxFixtures.alpineRoot(in: dir)
            let workspace = dir.url.appendingPathComponent("ws")
            try FileManager.default.createDirectory(at: workspace, withIntermediateDirectories: true)
            let configuration = SandboxConfiguration(
                guestRoot: root, workspace: workspace, environment: SandboxConfiguration.defaultEnvironment(sourceDateEpoch: 0))
            let session = try await BubblewrapRunner().prepare(configuration)
            let recorder = LineRecorder()
            try await session.runChecked(
                BuildStep(name: "release", script: "cat /etc/alpine-release; readlink /bin/sh; echo guest > /etc/lamina-test"),
                output: recorder.handler)
            #expect(recorder.texts(.stdout) == ["3.20.3", "/bin/busybox"])
            #expect(FileManager.default.fileExists(atPath: root.appendingPathComponent("etc/lamina-test").path))

            // busybox ash has pipefail, so a failing producer fails the step.
            let piped = try await session.run(BuildStep(name: "pipe", script: "false | cat"), output: nil)
            #expect(piped.status == .exited(1))
            try await session.teardown()
        }
    }

    @Test("a read-only guest root still gets /home/build and /tmp")
    func readOnlyGuest() async throws {
        try await TemporaryDirectory.with { dir in
            let root = try SandboxFixtures.alpineRoot(in: dir)
            let workspace = dir.url.appendingPathComponent("ws")
            try FileManager.default.createDirectory(at: workspace, withIntermediateDirectories: true)
            let configuration = SandboxConfiguration(guestRoot: root, guestRootWritable: false, workspace: workspace)
            let session = try await BubblewrapRunner().prepare(configuration)
            let recorder = LineRecorder()
            let script = """
                if touch /etc/x 2>/dev/null; then echo root-writable; else echo root-readonly; fi
                echo data > /home/build/out && echo ws-ok
                touch /tmp/y && echo tmp-ok
                """
            try await session.runChecked(BuildStep(name: "ro", script: script), output: recorder.handler)
            #expect(recorder.texts(.stdout) == ["root-readonly", "ws-ok", "tmp-ok"])
            #expect(FileManager.default.fileExists(atPath: workspace.appendingPathComponent("out").path))
            #expect(!FileManager.default.fileExists(atPath: root.appendingPathComponent("home/build").path))
        }
    }
}

@Suite("bubblewrap arguments")
struct BubblewrapArgumentTests {
    let workspace = URL(fileURLWithPath: "/work/ws")

    @Test("by default, even started by root: melange's build user, uid/gid 1000, in a user namespace")
    func buildUserArguments() {
        let configuration = SandboxConfiguration(guestRoot: URL(fileURLWithPath: "/guest"), workspace: workspace)
        #expect(configuration.user == .buildUser)
        for isRoot in [true, false] {
            let arguments = BubblewrapRunner.arguments(for: configuration, step: BuildStep(name: "s", script: ":"), isRoot: isRoot)
            #expect(containsSequence(arguments, ["--unshare-user", "--uid", "1000", "--gid", "1000"]), "isRoot \(isRoot)")
            #expect(arguments.contains("--unshare-all"))
        }
    }

    @Test("run-as root, as root: no user namespace, separate net unless asked")
    func rootArguments() {
        let configuration = SandboxConfiguration(guestRoot: URL(fileURLWithPath: "/guest"), workspace: workspace, user: .root)
        let arguments = BubblewrapRunner.arguments(for: configuration, step: BuildStep(name: "s", script: ":"), isRoot: true)
        #expect(Array(arguments.prefix(3)) == ["--bind", "/guest", "/"])
        #expect(arguments.contains("--unshare-net"))
        #expect(arguments.contains("--unshare-pid"))
        #expect(!arguments.contains("--unshare-all"))
        #expect(!arguments.contains("--unshare-user"))
        #expect(arguments.contains("--die-with-parent"))
        #expect(arguments.contains("--new-session"))
        #expect(arguments.contains("--clearenv"))
        #expect(containsSequence(arguments, ["--bind", "/work/ws", "/home/build"]))
        #expect(containsSequence(arguments, ["--setenv", "PATH", SandboxConfiguration.standardPath]))

        var networked = configuration
        networked.network = true
        let withNet = BubblewrapRunner.arguments(for: networked, step: BuildStep(name: "s", script: ":"), isRoot: true)
        #expect(!withNet.contains("--unshare-net"))
    }

    /// What a step sees: `id` 1000:1000 by default (its workspace files the caller's on the host), 0:0 when asked.
    @Test(.enabled(if: SandboxFixtures.bwrapAvailable, "needs bwrap (apt-get install bubblewrap)"))
    func stepIdentity() async throws {
        for (user, expected) in [(SandboxConfiguration.User.buildUser, "1000:1000"), (.root, "0:0"), (.mapped(uid: 1234, gid: 99), "1234:99")] {
            try await TemporaryDirectory.with { dir in
                let configuration = SandboxConfiguration(
                    guestRoot: nil, workspace: dir.url, environment: SandboxConfiguration.defaultEnvironment(sourceDateEpoch: 0), user: user)
                let session = try await BubblewrapRunner().prepare(configuration)
                let recorder = LineRecorder()
                try await session.runChecked(
                    BuildStep(name: "id", script: "echo \"$(id -u):$(id -g)\"; echo data > \"$HOME/written\" && echo home-ok"),
                    output: recorder.handler)
                #expect(recorder.texts(.stdout) == [expected, "home-ok"], "\(user)")
                let attributes = try FileManager.default.attributesOfItem(atPath: dir.url.appendingPathComponent("written").path)
                #expect((attributes[.ownerAccountID] as? NSNumber)?.uint32Value == getuid(), "the caller owns what \(user) wrote")
                try await session.teardown()
            }
        }
    }

    @Test("as a user: --unshare-all with uid/gid 1000, --share-net only when asked")
    func userArguments() {
        var configuration = SandboxConfiguration(guestRoot: nil, workspace: workspace)
        let arguments = BubblewrapRunner.arguments(for: configuration, step: BuildStep(name: "s", script: ":"), isRoot: false)
        #expect(Array(arguments.prefix(3)) == ["--ro-bind", "/", "/"])
        #expect(containsSequence(arguments, ["--unshare-all"]))
        #expect(containsSequence(arguments, ["--unshare-user", "--uid", "1000", "--gid", "1000"]))
        #expect(!arguments.contains("--share-net"))
        configuration.network = true
        configuration.user = .mapped(uid: 0, gid: 0)
        let networked = BubblewrapRunner.arguments(for: configuration, step: BuildStep(name: "s", script: ":"), isRoot: false)
        #expect(networked.contains("--share-net"))
        #expect(containsSequence(networked, ["--uid", "0", "--gid", "0"]))
    }

    @Test(
        "the non-root argument set works here for an unprivileged user",
        .enabled(if: geteuid() == 0 && FileManager.default.isExecutableFile(atPath: "/usr/bin/setpriv") && SandboxFixtures.bwrapAvailable))
    func unprivileged() throws {
        try TemporaryDirectory.withSync { dir in
            try FileManager.default.setAttributes([.posixPermissions: 0o777], ofItemAtPath: dir.path)
            let configuration = SandboxConfiguration(guestRoot: nil, workspace: dir.url)
            let step = BuildStep(name: "id", script: "id -u; id -g; echo hi > /home/build/by-user")
            let arguments = BubblewrapRunner.arguments(for: configuration, step: step, isRoot: false)
            let result = try CommandRunner.run(
                "/usr/bin/setpriv",
                ["--reuid=65534", "--regid=65534", "--clear-groups", BubblewrapRunner.locate() ?? "bwrap"] + arguments
                    + ["/bin/sh", "-c", StepScript.wrap(step)])
            #expect(result.status == 0, "\(result.stderr)")
            #expect(result.stdout == "1000\n1000\n")
            // Files written inside belong to the calling user outside.
            let attributes = try FileManager.default.attributesOfItem(atPath: dir.file("by-user"))
            #expect((attributes[.ownerAccountID] as? NSNumber)?.intValue == 65534)
        }
    }

    func containsSequence(_ haystack: [String], _ needle: [String]) -> Bool {
        guard needle.count <= haystack.count else { return false }
        return (0 ... haystack.count - needle.count).contains { Array(haystack[$0 ..< $0 + needle.count]) == needle }
    }
}

@Suite("step scripts")
struct StepScriptTests {
    @Test("melange's wrapper: set -e, pipefail when available, mkdir + cd, script, exit 0")
    func wrapper() {
        let script = StepScript.wrap(BuildStep(name: "s", script: "make install", workingDirectory: "src"))
        #expect(
            script == """
                set -e
                if (set -o pipefail) 2>/dev/null; then set -o pipefail; fi
                [ -d '/home/build/src' ] || mkdir -p '/home/build/src'
                cd '/home/build/src'
                make install
                exit 0
                """)
        let traced = StepScript.wrap(BuildStep(name: "s", script: ":", workingDirectory: "/opt/x", trace: true))
        #expect(traced.contains("\nset -x\n[ -d '/opt/x' ]"))
    }

    @Test("quoting survives quotes and shell syntax", arguments: ["plain", "it's", "$(rm -rf /)", "a b\tc", "'\"'"])
    func quoting(value: String) throws {
        let result = try CommandRunner.run("/bin/sh", ["-c", "printf %s " + StepScript.shellQuote(value)])
        #expect(result.stdout == value)
    }
}
