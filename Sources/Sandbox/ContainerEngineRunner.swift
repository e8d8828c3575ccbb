import Foundation
import LaminaCore
import Subprocess

/// Runs steps in containers of a Docker-compatible engine: the guest root is imported as an image
/// (`tar -C root -c . | docker import -`), each step is one `docker run --rm` with the workspace
/// bind-mounted at `/home/build` and `--network=none` unless the configuration asks for network.
///
/// The engine is found on PATH; its daemon comes from `DOCKER_HOST` (Docker) or `CONTAINER_HOST`
/// (Podman, which then runs with `--remote`), or `host` when set.
public struct ContainerEngineRunner: BuildRunner {
    public enum Engine: String, Sendable, Hashable {
        case docker
        case podman
    }

    public var engine: Engine
    /// The engine binary; nil looks up `docker` or `podman` on PATH.
    public var executable: String?
    /// A daemon address (`unix:///run/docker.sock`, `tcp://127.0.0.1:2375`); nil keeps the environment's.
    public var host: String?
    /// Extra `run` flags, e.g. `--ulimit nofile=1024:1024` where the host denies raising rlimits
    /// (rootful podman in a VM without CAP_SYS_RESOURCE).
    public var runOptions: [String]

    public var name: String { engine.rawValue }

    public init(engine: Engine, executable: String? = nil, host: String? = nil, runOptions: [String] = []) {
        self.engine = engine
        self.executable = executable
        self.host = host
        self.runOptions = runOptions
    }

    /// A Docker runner talking to `DOCKER_HOST` (or the default socket).
    public static func docker(host: String? = nil, runOptions: [String] = []) -> ContainerEngineRunner {
        .init(engine: .docker, host: host, runOptions: runOptions)
    }
    /// A Podman runner (local, or remote through `CONTAINER_HOST`/`host`).
    public static func podman(host: String? = nil, runOptions: [String] = []) -> ContainerEngineRunner {
        .init(engine: .podman, host: host, runOptions: runOptions)
    }

    func locate() -> String? {
        if let executable { return executable }
        let path = ProcessInfo.processInfo.environment["PATH"] ?? ""
        for directory in path.split(separator: ":").map(String.init) + ["/usr/bin", "/usr/local/bin"] {
            let candidate = directory + "/" + engine.rawValue
            if FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
        }
        return nil
    }

    var environmentOverrides: [String: String] {
        guard let host else { return [:] }
        return engine == .docker ? ["DOCKER_HOST": host] : ["CONTAINER_HOST": host]
    }

    var globalArguments: [String] {
        let remote = host != nil || ProcessInfo.processInfo.environment["CONTAINER_HOST"] != nil
        return engine == .podman && remote ? ["--remote"] : []
    }

    /// Whether the engine answers (`docker version` reaches a server), with the reason when not.
    public func checkAvailable() async -> (available: Bool, reason: String) {
        guard let binary = locate() else { return (false, "\(engine.rawValue) not found on PATH") }
        do {
            let result = try await CommandOutput.run(
                binary, globalArguments + ["version", "--format", "{{.Server.Version}}"], environment: environmentOverrides)
            if result.status == .exited(0) && !result.stdout.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty {
                return (true, "server \(result.stdout.trimmingCharacters(in: .whitespacesAndNewlines))")
            }
            let reason = (result.stderr + result.stdout).split(separator: "\n").last.map(String.init) ?? "\(result.status)"
            return (false, reason)
        } catch {
            return (false, "\(error)")
        }
    }

    public func prepare(_ configuration: SandboxConfiguration) async throws -> any BuildSession {
        guard let root = configuration.guestRoot else {
            throw LaminaError(
                .invalidInput, "the \(engine.rawValue) runner needs a guest root; the host's / can only be used with bubblewrap")
        }
        try BubblewrapRunner.validate(configuration)
        guard let binary = locate() else {
            throw LaminaError(.sandbox, "\(engine.rawValue) not found on PATH")
        }
        let availability = await checkAvailable()
        guard availability.available else {
            throw LaminaError(.sandbox, "\(engine.rawValue) engine not reachable: \(availability.reason)")
        }
        let image = "lamina-build:" + UUID().uuidString.lowercased()
        try await importImage(root: root, as: image, binary: binary)
        return ContainerSession(runner: self, binary: binary, image: image, configuration: configuration)
    }

    /// Streams `tar -C root -c .` into `<engine> import - image`.
    func importImage(root: URL, as image: String, binary: String) async throws {
        var importEnvironment = Environment.inherit
        if !environmentOverrides.isEmpty {
            var updates: [Environment.Key: String?] = [:]
            for (key, value) in environmentOverrides { updates[Environment.Key(stringLiteral: key)] = value }
            importEnvironment = importEnvironment.updating(updates)
        }
        let importer = Configuration(
            executable: .path(.init(binary)), arguments: Arguments(globalArguments + ["import", "-", image]),
            environment: importEnvironment)
        let tar = Configuration(
            executable: .name("tar"), arguments: ["--numeric-owner", "-C", root.path, "-c", "."])
        let outcome = try await Subprocess.run(
            importer, input: .inputWriter, output: .string(limit: 1 << 20), error: .string(limit: 1 << 20)
        ) { execution in
            let writer = execution.standardInputWriter
            let tarResult = try await Subprocess.run(tar, input: .none, output: .sequence, error: .string(limit: 1 << 20)) {
                tarExecution in
                for try await buffer in tarExecution.standardOutput {
                    _ = try await writer.write(buffer.withUnsafeBytes { Array($0) })
                }
            }
            try await writer.finish()
            return tarResult.terminationStatus.isSuccess ? nil : "tar: \(tarResult.standardError) (\(tarResult.terminationStatus))"
        }
        if let tarFailure = outcome.closureResult {
            throw LaminaError(.sandbox, "cannot archive the guest root: \(tarFailure)", subject: root.path)
        }
        guard outcome.terminationStatus.isSuccess else {
            throw LaminaError(
                .sandbox, "\(engine.rawValue) import failed: \(outcome.standardError) (\(outcome.terminationStatus))",
                subject: root.path)
        }
    }

    /// The `run` arguments for one step (after the engine binary).
    func runArguments(
        configuration: SandboxConfiguration, step: BuildStep, image: String, container: String
    ) -> [String] {
        var arguments = globalArguments + ["run", "--rm", "--name", container] + runOptions
        if !configuration.network { arguments.append("--network=none") }
        if !configuration.guestRootWritable { arguments += ["--read-only", "--tmpfs", "/tmp"] }
        arguments += ["-v", "\(configuration.workspace.path):\(SandboxConfiguration.workspacePath)"]
        for mount in configuration.mounts {
            arguments += ["-v", "\(mount.source.path):\(mount.destination)\(mount.readOnly ? ":ro" : "")"]
        }
        switch configuration.user {
        case .automatic, .root: arguments += ["--user", "0:0"]
        case .mapped(let uid, let gid): arguments += ["--user", "\(uid):\(gid)"]
        }
        arguments += ["-w", SandboxConfiguration.workspacePath]
        var environment = configuration.environment
        environment["PATH"] = SandboxConfiguration.standardPath
        environment.merge(step.environment) { _, new in new }
        for key in environment.keys.sorted() { arguments += ["-e", "\(key)=\(environment[key] ?? "")"] }
        arguments += [image, "/bin/sh", "-c", StepScript.wrap(step)]
        return arguments
    }
}

/// Steps of one imported image.
struct ContainerSession: BuildSession {
    let runner: ContainerEngineRunner
    let binary: String
    let image: String
    let configuration: SandboxConfiguration

    func run(_ step: BuildStep, output: StepOutputHandler?) async throws -> StepResult {
        let container = "lamina-step-" + UUID().uuidString.lowercased()
        let process = StreamingProcess(
            executable: binary,
            arguments: runner.runArguments(configuration: configuration, step: step, image: image, container: container),
            environmentOverrides: runner.environmentOverrides, stepName: step.name, timeout: step.timeout)
        do {
            return try await process.run(output: output)
        } catch {
            // Killing the client leaves the container running: remove it, whatever happened.
            await removeContainer(container)
            throw error
        }
    }

    func removeContainer(_ container: String) async {
        // Run detached from the (possibly cancelled) caller so the cleanup itself is not cancelled.
        let task = Task.detached { [binary, runner] in
            _ = try? await CommandOutput.run(
                binary, runner.globalArguments + ["rm", "-f", container], environment: runner.environmentOverrides)
        }
        await task.value
    }

    func teardown() async throws {
        let result = try await CommandOutput.run(
            binary, runner.globalArguments + ["rmi", "-f", image], environment: runner.environmentOverrides)
        guard result.status == .exited(0) else {
            throw LaminaError(.sandbox, "cannot remove image \(image): \(result.stderr)")
        }
    }
}

/// Runs a short host command and collects its output.
enum CommandOutput {
    struct Result: Sendable {
        var status: StepResult.Status
        var stdout: String
        var stderr: String
    }

    static func run(_ executable: String, _ arguments: [String], environment: [String: String] = [:]) async throws -> Result {
        var env = Environment.inherit
        if !environment.isEmpty {
            var updates: [Environment.Key: String?] = [:]
            for (key, value) in environment { updates[Environment.Key(stringLiteral: key)] = value }
            env = env.updating(updates)
        }
        let result = try await Subprocess.run(
            .path(.init(executable)), arguments: Arguments(arguments), environment: env,
            output: .string(limit: 4 << 20), error: .string(limit: 4 << 20))
        let status: StepResult.Status
        switch result.terminationStatus {
        case .exited(let code): status = .exited(Int32(code))
        case .signaled(let signal): status = .signaled(Int32(signal))
        }
        return Result(status: status, stdout: result.standardOutput, stderr: result.standardError)
    }
}
