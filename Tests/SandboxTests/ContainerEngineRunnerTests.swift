import Foundation
import LaminaCore
import TestSupport
import Testing

@testable import Sandbox

enum EngineProbe {
    /// Whether `engine`'s client reaches a server; prints why not, so a skipped suite says so in the log.
    static func answers(_ engine: String) -> Bool {
        guard let binary = CommandRunner.which(engine) else {
            print("\(engine) tests skipped: \(engine) not on PATH")
            return false
        }
        let result = try? CommandRunner.run(binary, ["version", "--format", "{{.Server.Version}}"])
        guard let result, result.status == 0, !result.stdout.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty else {
            let reason = result.map { $0.stderr.split(separator: "\n").last.map(String.init) ?? "status \($0.status)" } ?? "did not run"
            print("\(engine) tests skipped: engine not reachable (\(reason))")
            return false
        }
        return true
    }

    /// Flags that let rootful engines start containers in a VM that withholds CAP_SYS_RESOURCE.
    static let lowLimits = ["--ulimit", "nofile=1024:1024", "--ulimit", "nproc=4096:4096"]

    /// The `run` options with which `engine` can actually start a container here (plain first, then
    /// with lowered rlimits), or nil: imports the Alpine minirootfs and runs `true` in it.
    /// Seen here: rootful podman with runc fails to *raise* RLIMIT_NOFILE/NPROC (no CAP_SYS_RESOURCE in
    /// the VM), and works with `lowLimits`.
    static func runOptions(_ engine: String, answers: Bool) -> [String]? {
        guard answers, SandboxFixtures.alpineAvailable, let binary = CommandRunner.which(engine) else { return nil }
        var lastReason = ""
        for options in [[], lowLimits] {
            let image = "lamina-probe:\(UUID().uuidString.lowercased())"
            let tarball = SharedTestData.path(SandboxFixtures.alpineTarball)
            let flags = options.joined(separator: " ")
            let script = "gzip -dc \(StepScript.shellQuote(tarball)) | \(binary) import - \(image) >/dev/null && \(binary) run --rm --network=none \(flags) \(image) /bin/true; status=$?; \(binary) rmi -f \(image) >/dev/null 2>&1; exit $status"
            guard let result = try? CommandRunner.run("/bin/sh", ["-c", script]) else { continue }
            if result.status == 0 { return options }
            lastReason = result.stderr.split(separator: "\n").last.map(String.init) ?? "status \(result.status)"
        }
        print("\(engine) container tests skipped: cannot run a container here (\(lastReason))")
        return nil
    }

    static let dockerAnswers = answers("docker")
    static let podmanAnswers = answers("podman")
    static let dockerRunOptions = runOptions("docker", answers: dockerAnswers)
    static let podmanRunOptions = runOptions("podman", answers: podmanAnswers)
}

@Suite("container engine arguments")
struct ContainerEngineArgumentTests {
    @Test("docker run --rm -i: label, --network=none, workspace volume, user, image, idle shell; exec: env and wrapped script")
    func dockerArguments() {
        let runner = ContainerEngineRunner.docker()
        var configuration = SandboxConfiguration(
            guestRoot: URL(fileURLWithPath: "/guest"), workspace: URL(fileURLWithPath: "/work/ws"),
            environment: ["HOME": "/home/build"],
            mounts: [.init(source: URL(fileURLWithPath: "/cache"), destination: "/var/cache/melange", readOnly: true)])
        let create = runner.createArguments(configuration: configuration, image: "img:1", container: "c1")
        #expect(Array(create.prefix(5)) == ["run", "--rm", "-i", "--name", "c1"])
        #expect(create.contains("dev.lamina.build=1"))
        #expect(create.contains("--network=none"))
        #expect(create.contains("/work/ws:/home/build"))
        #expect(create.contains("/cache:/var/cache/melange:ro"))
        #expect(Array(create.suffix(2)) == ["img:1", "/bin/sh"])
        #expect(create.contains("1000:1000"), "melange's build user by default")

        let step = BuildStep(name: "s", script: "make", environment: ["CC": "gcc", "HOME": "/root"])
        let exec = runner.execArguments(configuration: configuration, step: step, container: "c1")
        #expect(Array(exec.prefix(5)) == ["exec", "-u", "1000:1000", "-w", "/home/build"])
        #expect(exec.contains("CC=gcc"))
        #expect(exec.contains("HOME=/root"), "the step's variables win")
        #expect(!exec.contains("HOME=/home/build"))
        #expect(exec.contains("PATH=\(SandboxConfiguration.standardPath)"))
        #expect(Array(exec.suffix(4)) == ["c1", "/bin/sh", "-c", StepScript.wrap(step)])

        configuration.network = true
        configuration.guestRootWritable = false
        configuration.user = .root
        let networked = runner.createArguments(
            configuration: configuration, image: "img:1", container: "c1", extraOptions: ContainerEngineRunner.lowLimitOptions)
        #expect(!networked.contains("--network=none"))
        #expect(networked.contains("--read-only"))
        #expect(networked.contains("0:0") && !networked.contains("1000:1000"))
        #expect(networked.contains("nofile=1024:1024"))
        #expect(runner.execArguments(configuration: configuration, step: step, container: "c1").contains("0:0"))
        #expect(runner.chownArguments(container: "c1", owner: "1000:1000") == ["exec", "-u", "0:0", "c1", "chown", "-R", "1000:1000", "/home/build"])
        #expect(runner.removeArguments("c1") == ["rm", "-f", "c1"])
        #expect(ContainerEngineRunner.podman().removeArguments("c1") == ["rm", "-f", "-t", "0", "c1"], "no 10 s stop wait")
    }

    @Test("the daemon address goes to DOCKER_HOST, or CONTAINER_HOST with podman --remote")
    func hosts() {
        #expect(ContainerEngineRunner.docker(host: "tcp://127.0.0.1:2375").environmentOverrides == ["DOCKER_HOST": "tcp://127.0.0.1:2375"])
        let podman = ContainerEngineRunner.podman(host: "unix:///run/podman.sock")
        #expect(podman.environmentOverrides == ["CONTAINER_HOST": "unix:///run/podman.sock"])
        #expect(podman.globalArguments == ["--remote"])
    }

    @Test("without a guest root the container runners refuse; only bubblewrap supports the host's root")
    func needsRoot() async {
        let configuration = SandboxConfiguration(guestRoot: nil, workspace: URL(fileURLWithPath: "/tmp"))
        let error = await #expect(throws: LaminaError.self) { try await ContainerEngineRunner.docker().prepare(configuration) }
        #expect(error?.code == .invalidInput)
        #expect(error?.message.contains("bubblewrap") == true)
        #expect(!ContainerEngineRunner.docker().supportsHostRoot)
        #expect(!ContainerEngineRunner.podman().supportsHostRoot)
        #expect(BubblewrapRunner().supportsHostRoot)
    }

    @Test("an unreachable daemon is a sandbox error naming the engine")
    func unreachable() async throws {
        guard CommandRunner.which("docker") != nil else {
            print("skipped: docker client not on PATH")
            return
        }
        try await TemporaryDirectory.with { dir in
            // Port 9 on loopback: nothing listens, the client fails at once.
            let runner = ContainerEngineRunner.docker(host: "tcp://127.0.0.1:9")
            let configuration = SandboxConfiguration(guestRoot: dir.url, workspace: dir.url)
            do {
                _ = try await runner.prepare(configuration)
                Issue.record("prepare succeeded against a closed port")
            } catch let error as LaminaError {
                #expect(error.code == .sandbox)
                #expect(error.message.contains("docker engine not reachable"))
            }
        }
    }
}

@Suite(
    "container engines with the Alpine minirootfs", .serialized,
    .enabled(
        if: EngineProbe.dockerRunOptions != nil || EngineProbe.podmanRunOptions != nil,
        "needs docker or podman able to run containers"))
struct ContainerEngineRunnerTests {
    static var runners: [ContainerEngineRunner] {
        (EngineProbe.dockerRunOptions.map { [.docker(runOptions: $0)] } ?? [])
            + (EngineProbe.podmanRunOptions.map { [.podman(runOptions: $0)] } ?? [])
    }

    @Test("import, run, no network, workspace writes, failure status, teardown")
    func alpine() async throws {
        for runner in Self.runners {
            try await TemporaryDirectory.with { dir in
                let root = try SandboxFixtures.alpineRoot(in: dir)
                let workspace = dir.url.appendingPathComponent("ws")
                try FileManager.default.createDirectory(at: workspace, withIntermediateDirectories: true)
                // Root, so that steps may write to the guest root (`ids` checks the build user).
                let configuration = SandboxConfiguration(
                    guestRoot: root, workspace: workspace, environment: SandboxConfiguration.defaultEnvironment(sourceDateEpoch: 0),
                    user: .root)
                let session = try await runner.prepare(configuration)
                let recorder = LineRecorder()
                try await session.runChecked(
                    BuildStep(
                        name: "release",
                        script: "cat /etc/alpine-release; ls /sys/class/net | sort | tr '\\n' ' '; echo; echo hi > out",
                        workingDirectory: "sub"),
                    output: recorder.handler)
                #expect(recorder.texts(.stdout) == ["3.20.3", "lo "], "\(runner.name)")
                #expect(FileManager.default.fileExists(atPath: workspace.appendingPathComponent("sub/out").path))
                let failed = try await session.run(BuildStep(name: "fail", script: "exit 7"), output: nil)
                #expect(failed.status == .exited(7))

                // One container for the whole build: the guest root keeps what earlier steps wrote, and each
                // step gets the configuration's environment plus its own.
                try await session.runChecked(BuildStep(name: "write", script: "echo kept > /etc/lamina-step"), output: nil)
                let later = LineRecorder()
                try await session.runChecked(
                    BuildStep(name: "read", script: "cat /etc/lamina-step; echo \"$FOO $HOME\"", environment: ["FOO": "bar"]),
                    output: later.handler)
                #expect(later.texts(.stdout) == ["kept", "bar /home/build"], "\(runner.name)")

                // A timeout kills the client and removes the container.
                await #expect(throws: LaminaError.self) {
                    try await session.run(BuildStep(name: "hang", script: "sleep 300", timeout: .seconds(3)), output: nil)
                }
                // Only this session's container and image are checked: other tests may run builds meanwhile.
                let own = try #require(session as? ContainerSession)
                let binary = try #require(CommandRunner.which(runner.engine.rawValue))
                let containers = try CommandRunner.run(binary, ["ps", "-a", "--format", "{{.Names}}"])
                #expect(!containers.stdout.split(separator: "\n").contains { $0 == own.container }, "\(containers.stdout)")
                try await session.teardown()
                try await session.teardown()  // a second teardown is harmless
                let images = try CommandRunner.run(binary, ["image", "inspect", own.image])
                #expect(images.status != 0, "the build's image \(own.image) is still there")
            }
        }
    }
}

extension ContainerEngineRunnerTests {
    @Test("steps run as the build user (1000:1000) unless asked for root; the workspace is theirs, then the caller's again")
    func ids() async throws {
        for runner in Self.runners {
            for (user, expected) in [(SandboxConfiguration.User.buildUser, "1000:1000"), (.root, "0:0")] {
                try await TemporaryDirectory.with { dir in
                    let root = try SandboxFixtures.alpineRoot(in: dir)
                    let workspace = dir.url.appendingPathComponent("ws")
                    try FileManager.default.createDirectory(at: workspace.appendingPathComponent("src"), withIntermediateDirectories: true)
                    let configuration = SandboxConfiguration(
                        guestRoot: root, workspace: workspace, environment: SandboxConfiguration.defaultEnvironment(sourceDateEpoch: 0),
                        user: user)
                    let session = try await runner.prepare(configuration)
                    let recorder = LineRecorder()
                    try await session.runChecked(
                        BuildStep(name: "id", script: "echo \"$(id -u):$(id -g)\"; echo data > \"$HOME/src/written\" && echo home-ok"),
                        output: recorder.handler)
                    #expect(recorder.texts(.stdout) == [expected, "home-ok"], "\(runner.name) \(user)")
                    try await session.teardown()
                    let written = workspace.appendingPathComponent("src/written").path
                    let owner = (try FileManager.default.attributesOfItem(atPath: written)[.ownerAccountID] as? NSNumber)?.uint32Value
                    #expect(owner == getuid(), "\(runner.name) \(user): the caller owns the workspace after the build")
                }
            }
        }
    }
}

@Suite(
    "container engine image import", .serialized,
    .enabled(if: SandboxFixtures.alpineAvailable && (EngineProbe.dockerAnswers || EngineProbe.podmanAnswers), "needs a docker or podman server"))
struct ContainerEngineImportTests {
    @Test("prepare imports the guest root as an image; teardown removes it")
    func importAndRemove() async throws {
        let runners: [ContainerEngineRunner] =
            (EngineProbe.dockerAnswers ? [.docker()] : []) + (EngineProbe.podmanAnswers ? [.podman()] : [])
        for runner in runners {
            try await TemporaryDirectory.with { dir in
                let root = try SandboxFixtures.alpineRoot(in: dir)
                let configuration = SandboxConfiguration(guestRoot: root, workspace: dir.url)
                let session = try #require(try await runner.prepare(configuration) as? ContainerSession)
                let binary = try #require(CommandRunner.which(runner.engine.rawValue))
                let inspect = try CommandRunner.run(binary, ["image", "inspect", "--format", "{{.Size}}", session.image])
                #expect(inspect.status == 0, "\(inspect.stderr)")
                // The minirootfs is about 7.5 MB unpacked.
                #expect((Int(inspect.stdout.trimmingCharacters(in: .whitespacesAndNewlines)) ?? 0) > 5_000_000)
                try await session.teardown()
                #expect(try CommandRunner.run(binary, ["image", "inspect", session.image]).status != 0)
            }
        }
    }
}

@Suite("runner names")
struct BuildRunnerNameTests {
    @Test("melange's runner names", arguments: [("bubblewrap", "bubblewrap"), ("bwrap", "bubblewrap"), ("docker", "docker"), ("Podman", "podman")])
    func names(name: String, expected: String) throws {
        #expect(try BuildRunners.named(name).name == expected)
    }

    @Test("an unknown runner is a usage error listing the valid ones")
    func unknown() {
        #expect {
            try BuildRunners.named("qemu")
        } throws: { error in
            guard let error = error as? LaminaError else { return false }
            return error.code == .usage && error.message.contains("bubblewrap, docker, podman")
        }
    }
}
