import Foundation
import LaminaCore
import Subprocess

/// Runs steps in one container of a Docker-compatible engine, as melange's docker runner does: the guest
/// root is imported as an image (`tar -C root -c . | docker import -`), one container is started from it
/// (`docker run -d -i … /bin/sh`, which idles on its open stdin) with the workspace bind-mounted at
/// `/home/build` and `--network=none` unless the configuration asks for network, and every step is one
/// `docker exec` with the step's environment. Changes a step makes to the guest root stay for the next step,
/// as with bubblewrap's writable guest root. `teardown` removes the container and the image.
///
/// The engine is found on PATH; its daemon comes from `host` when set, else from `DOCKER_HOST` (Docker) or
/// `CONTAINER_HOST` (Podman, which then runs with `--remote`), else the engine's default socket.
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

    /// Flags that lower the open-file and process limits. `prepare` retries with them when the engine's
    /// runtime may not raise its defaults (seen with rootful podman + runc in a VM without CAP_SYS_RESOURCE).
    public static let lowLimitOptions = ["--ulimit", "nofile=1024:1024", "--ulimit", "nproc=4096:4096"]
    /// The label on every container and image a runner makes, so leftovers of a killed build can be found
    /// (`docker ps -a --filter label=dev.lamina.build`).
    public static let label = "dev.lamina.build"

    public init(engine: Engine, executable: String? = nil, host: String? = nil, runOptions: [String] = []) {
        self.engine = engine
        self.executable = executable
        self.host = host
        self.runOptions = runOptions
    }

    /// A Docker runner talking to `host`, else `DOCKER_HOST` (or the default socket).
    public static func docker(host: String? = nil, runOptions: [String] = []) -> ContainerEngineRunner {
        .init(engine: .docker, host: host, runOptions: runOptions)
    }
    /// A Podman runner (local, or remote through `host`/`CONTAINER_HOST`).
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
                .invalidInput,
                "the \(engine.rawValue) runner runs steps in an image made from a guest root, and there is none"
                    + " (the host's / can only be used with bubblewrap)")
        }
        try BubblewrapRunner.validate(configuration)
        // Engines give a non-root user no effective capabilities (no ambient set): an added one would never reach
        // the steps, so it is refused rather than ignored.
        if !configuration.capabilities.add.isEmpty, configuration.user != .root {
            throw LaminaError(
                .invalidInput,
                "capabilities.add needs root steps with the \(engine.rawValue) runner (\(engine.rawValue) gives the build user "
                    + "no capabilities): add 'run-as: root' under environment.accounts, or use bubblewrap",
                subject: "capabilities.add")
        }
        guard let binary = locate() else {
            throw LaminaError(.sandbox, "\(engine.rawValue) not found on PATH")
        }
        let availability = await checkAvailable()
        guard availability.available else {
            throw LaminaError(.sandbox, "\(engine.rawValue) engine not reachable: \(availability.reason)")
        }
        let id = UUID().uuidString.lowercased()
        let image = "lamina-build:" + id
        let container = "lamina-build-" + id
        try await importImage(root: root, as: image, binary: binary)
        let keeper: ContainerKeeper
        do {
            keeper = try await startContainer(configuration: configuration, image: image, container: container, binary: binary)
        } catch {
            await ContainerSession.remove(image: image, container: container, runner: self, binary: binary)
            throw error
        }
        // An unprivileged step user needs the workspace (its HOME) to be its own.
        if configuration.user != .root {
            let handed = try await CommandOutput.run(
                binary, chownArguments(container: container, owner: user(configuration)), environment: environmentOverrides)
            guard handed.status == .exited(0) else {
                await ContainerSession.remove(image: image, container: container, runner: self, binary: binary)
                throw LaminaError(
                    .sandbox, "cannot give the workspace to the build user \(user(configuration)): \(handed.stderr)",
                    subject: configuration.workspace.path)
            }
        }
        return ContainerSession(
            runner: self, binary: binary, image: image, container: container, keeper: keeper, configuration: configuration)
    }

    /// Starts the build's container (see ``ContainerKeeper``) and waits until it runs; retries once with
    /// ``lowLimitOptions`` when the runtime may not set its default rlimits.
    /// - Throws: `.sandbox` with the engine's last line of complaint.
    func startContainer(
        configuration: SandboxConfiguration, image: String, container: String, binary: String
    ) async throws -> ContainerKeeper {
        var attempts: [[String]] = [[]]
        if !runOptions.contains("--ulimit") { attempts.append(Self.lowLimitOptions) }
        var reason = ""
        for extra in attempts {
            let keeper = ContainerKeeper.start(
                executable: binary,
                arguments: createArguments(configuration: configuration, image: image, container: container, extraOptions: extra),
                environmentOverrides: environmentOverrides)
            let deadline = ContinuousClock.now + .seconds(120)
            while !keeper.exited && ContinuousClock.now < deadline {
                let state = try await CommandOutput.run(
                    binary, globalArguments + ["inspect", "--format", "{{.State.Running}}", container],
                    environment: environmentOverrides)
                if state.status == .exited(0) && state.stdout.trimmingCharacters(in: .whitespacesAndNewlines) == "true" {
                    return keeper
                }
                try await Task.sleep(for: .milliseconds(50))
            }
            // It ended (or never came up): make sure nothing is left, then say why.
            _ = try? await CommandOutput.run(binary, removeArguments(container), environment: environmentOverrides)
            await keeper.stop(timeout: .seconds(10))
            reason = keeper.errorText.split(separator: "\n").last.map(String.init) ?? ""
            if reason.isEmpty { reason = keeper.exited ? "the container ended at once" : "the container did not start within 120 s" }
            guard reason.contains("rlimit") else { break }
        }
        throw LaminaError(.sandbox, "\(engine.rawValue) cannot start a container from the guest root: \(reason)")
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
            executable: .path(.init(binary)), arguments: Arguments(globalArguments + ["import", "--change", "LABEL \(Self.label)=1", "-", image]),
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

    /// The `run` arguments (after the engine binary) that start the build's container: removed when it ends, stdin
    /// attached (so `/bin/sh` idles until the keeper closes it), the workspace and mounts, the network and user.
    func createArguments(
        configuration: SandboxConfiguration, image: String, container: String, extraOptions: [String] = []
    ) -> [String] {
        var arguments = globalArguments + ["run", "--rm", "-i", "--name", container, "--label", Self.label + "=1"]
        arguments += runOptions + extraOptions
        if !configuration.network { arguments.append("--network=none") }
        if !configuration.guestRootWritable { arguments += ["--read-only", "--tmpfs", "/tmp"] }
        arguments += ["-v", "\(configuration.workspace.path):\(SandboxConfiguration.workspacePath)"]
        for mount in configuration.mounts {
            arguments += ["-v", "\(mount.source.path):\(mount.destination)\(mount.readOnly ? ":ro" : "")"]
        }
        arguments += configuration.capabilities.arguments
        arguments += ["--user", user(configuration), "-w", SandboxConfiguration.workspacePath]
        arguments += [image, "/bin/sh"]
        return arguments
    }

    /// The `exec` arguments (after the engine binary) for one step: its user, environment (the
    /// configuration's, the standard `PATH`, then the step's own) and the wrapped script.
    func execArguments(configuration: SandboxConfiguration, step: BuildStep, container: String) -> [String] {
        var arguments = globalArguments + ["exec", "-u", user(configuration), "-w", SandboxConfiguration.workspacePath]
        var environment = configuration.environment
        environment["PATH"] = SandboxConfiguration.standardPath
        environment.merge(step.environment) { _, new in new }
        for key in environment.keys.sorted() { arguments += ["-e", "\(key)=\(environment[key] ?? "")"] }
        arguments += [container, "/bin/sh", "-c", StepScript.wrap(step)]
        return arguments
    }

    /// `rm -f` at once: podman would first wait 10 s for the idle shell (pid 1, which ignores SIGTERM) to stop.
    func removeArguments(_ container: String) -> [String] {
        globalArguments + ["rm", "-f"] + (engine == .podman ? ["-t", "0"] : []) + [container]
    }

    /// `uid:gid` of the steps: the build user (1000:1000) unless the configuration asks for root or another user.
    func user(_ configuration: SandboxConfiguration) -> String {
        let ids = configuration.user.ids
        return "\(ids.uid):\(ids.gid)"
    }

    /// The `exec` arguments that, as root in the container, give the workspace (recursively) to `owner`
    /// (`uid:gid`): to the steps' user before they run, and back to the host's side afterwards.
    func chownArguments(container: String, owner: String) -> [String] {
        globalArguments + ["exec", "-u", "0:0", container, "chown", "-R", owner, SandboxConfiguration.workspacePath]
    }

    /// Who owns the workspace on the host's side, as the container's root sees it: the caller with a rootful
    /// engine, root (the caller) with rootless podman.
    var hostOwner: String {
        let (uid, gid) = (getuid(), getgid())
        return engine == .podman || uid == 0 ? "0:0" : "\(uid):\(gid)"
    }
}

/// The container of one build, and the image it was made from.
struct ContainerSession: BuildSession {
    let runner: ContainerEngineRunner
    let binary: String
    let image: String
    let container: String
    let keeper: ContainerKeeper
    let configuration: SandboxConfiguration

    func run(_ step: BuildStep, output: StepOutputHandler?) async throws -> StepResult {
        guard !keeper.exited else {
            throw LaminaError(
                .sandbox, "the build's container is gone: \(keeper.errorText.split(separator: "\n").last ?? "it ended")",
                subject: "step '\(step.name)'")
        }
        let process = StreamingProcess(
            executable: binary, arguments: runner.execArguments(configuration: configuration, step: step, container: container),
            environmentOverrides: runner.environmentOverrides, stepName: step.name, timeout: step.timeout)
        do {
            return try await process.run(output: output)
        } catch {
            // Killing the `exec` client leaves the step's processes running in the container: remove it (the build
            // stops here anyway).
            await Self.detached { _ = try? await CommandOutput.run(binary, runner.removeArguments(container), environment: runner.environmentOverrides) }
            throw error
        }
    }

    /// Runs `body` detached from the (possibly cancelled) caller, so cleanup itself is not cancelled.
    static func detached(_ body: @escaping @Sendable () async -> Void) async {
        await Task.detached { await body() }.value
    }

    /// Removes the container and the image, ignoring errors (cleanup after a failed start).
    static func remove(image: String, container: String, runner: ContainerEngineRunner, binary: String) async {
        await detached {
            _ = try? await CommandOutput.run(binary, runner.removeArguments(container), environment: runner.environmentOverrides)
            _ = try? await CommandOutput.run(
                binary, runner.globalArguments + ["rmi", "-f", image], environment: runner.environmentOverrides)
        }
    }

    /// Closes the container's shell (it exits and `--rm` removes it), makes sure it is gone, removes the image.
    func teardown() async throws {
        let (container, image, runner, binary, keeper) = (container, image, runner, binary, keeper)
        let handBack = configuration.user != .root && !keeper.exited
        let failure: String? = await withCheckedContinuation { continuation in
            Task.detached {
                let environment = runner.environmentOverrides
                var problems: [String] = []
                // The workspace goes back to the host's side before the container ends.
                if handBack, let back = try? await CommandOutput.run(
                    binary, runner.chownArguments(container: container, owner: runner.hostOwner), environment: environment),
                    back.status != .exited(0)
                {
                    problems.append("cannot give the workspace back: \(back.stderr)")
                }
                await keeper.stop()
                if let removed = try? await CommandOutput.run(binary, runner.removeArguments(container), environment: environment),
                    removed.status != .exited(0)
                {
                    let text = removed.stderr.lowercased()
                    if !["no such container", "already in progress", "is being removed"].contains(where: text.contains) {
                        problems.append("cannot remove container \(container): \(removed.stderr)")
                    }
                }
                let removedImage = try? await CommandOutput.run(binary, runner.globalArguments + ["rmi", "-f", image], environment: environment)
                if let removedImage, removedImage.status != .exited(0),
                    !["no such image", "image not known"].contains(where: removedImage.stderr.lowercased().contains)
                {
                    problems.append("cannot remove image \(image): \(removedImage.stderr)")
                }
                continuation.resume(returning: problems.isEmpty ? nil : problems.joined(separator: "; "))
            }
        }
        if let failure { throw LaminaError(.sandbox, failure) }
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
