import Foundation
import LaminaCore
import TestSupport
import Testing

@testable import Sandbox

enum EngineProbe {
    /// Whether `engine` answers here; prints why not, so a skipped suite says so in the log.
    static func reachable(_ engine: String) -> Bool {
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

    static let docker = reachable("docker")
    static let podman = reachable("podman")
}

@Suite("container engine arguments")
struct ContainerEngineArgumentTests {
    @Test("docker run: --rm, --network=none, workspace volume, user, env, image, wrapped script")
    func dockerArguments() {
        let runner = ContainerEngineRunner.docker()
        var configuration = SandboxConfiguration(
            guestRoot: URL(fileURLWithPath: "/guest"), workspace: URL(fileURLWithPath: "/work/ws"),
            environment: ["HOME": "/home/build"],
            mounts: [.init(source: URL(fileURLWithPath: "/cache"), destination: "/var/cache/melange", readOnly: true)])
        let step = BuildStep(name: "s", script: "make", environment: ["CC": "gcc"])
        let arguments = runner.runArguments(configuration: configuration, step: step, image: "img:1", container: "c1")
        #expect(Array(arguments.prefix(4)) == ["run", "--rm", "--name", "c1"])
        #expect(arguments.contains("--network=none"))
        #expect(arguments.contains("/work/ws:/home/build"))
        #expect(arguments.contains("/cache:/var/cache/melange:ro"))
        #expect(arguments.contains("CC=gcc"))
        #expect(arguments.contains("PATH=\(SandboxConfiguration.standardPath)"))
        #expect(Array(arguments.suffix(4)) == ["img:1", "/bin/sh", "-c", StepScript.wrap(step)])

        configuration.network = true
        configuration.guestRootWritable = false
        configuration.user = .mapped(uid: 1000, gid: 1000)
        let networked = runner.runArguments(configuration: configuration, step: step, image: "img:1", container: "c1")
        #expect(!networked.contains("--network=none"))
        #expect(networked.contains("--read-only"))
        #expect(networked.contains("1000:1000"))
    }

    @Test("the daemon address goes to DOCKER_HOST, or CONTAINER_HOST with podman --remote")
    func hosts() {
        #expect(ContainerEngineRunner.docker(host: "tcp://127.0.0.1:2375").environmentOverrides == ["DOCKER_HOST": "tcp://127.0.0.1:2375"])
        let podman = ContainerEngineRunner.podman(host: "unix:///run/podman.sock")
        #expect(podman.environmentOverrides == ["CONTAINER_HOST": "unix:///run/podman.sock"])
        #expect(podman.globalArguments == ["--remote"])
    }

    @Test("without a guest root the container runners refuse")
    func needsRoot() async {
        let configuration = SandboxConfiguration(guestRoot: nil, workspace: URL(fileURLWithPath: "/tmp"))
        await #expect(throws: LaminaError.self) { try await ContainerEngineRunner.docker().prepare(configuration) }
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
    .enabled(if: SandboxFixtures.alpineAvailable && (EngineProbe.docker || EngineProbe.podman), "needs a reachable docker or podman"))
struct ContainerEngineRunnerTests {
    static var runners: [ContainerEngineRunner] {
        (EngineProbe.docker ? [.docker()] : []) + (EngineProbe.podman ? [.podman()] : [])
    }

    @Test("import, run, no network, workspace writes, failure status, teardown")
    func alpine() async throws {
        for runner in Self.runners {
            try await TemporaryDirectory.with { dir in
                let root = try SandboxFixtures.alpineRoot(in: dir)
                let workspace = dir.url.appendingPathComponent("ws")
                try FileManager.default.createDirectory(at: workspace, withIntermediateDirectories: true)
                let configuration = SandboxConfiguration(guestRoot: root, workspace: workspace)
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
                try await session.teardown()
            }
        }
    }
}
