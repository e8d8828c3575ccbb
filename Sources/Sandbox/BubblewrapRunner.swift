import Foundation
import LaminaCore

#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#elseif canImport(Darwin)
    import Darwin
#endif

/// Runs steps with bubblewrap (`bwrap`): the guest root bound at `/`, the workspace at `/home/build`,
/// fresh `/proc`, `/dev` and `/tmp`, new PID/IPC/UTS/cgroup (and, unless asked otherwise, network)
/// namespaces, a cleared environment, its own session, and death with its parent.
///
/// Identity: by default (`SandboxConfiguration.User.buildUser`) steps run as melange's build user, uid/gid 1000,
/// in a user namespace that maps it onto the caller, so what they write to the workspace belongs to the caller
/// (as Lamina's own files do) and they hold no capability. `.root` as root runs without a user namespace,
/// because `--unshare-all` as root creates one that maps only uid 0, where `chown` to any other id fails
/// (EINVAL); as another user it maps root onto the caller. Without root this needs unprivileged user namespaces.
public struct BubblewrapRunner: BuildRunner {
    public var name: String { "bubblewrap" }
    public var supportsHostRoot: Bool { true }
    /// The `bwrap` to use; nil looks it up on PATH.
    public var executable: String?

    public init(executable: String? = nil) { self.executable = executable }

    /// `bwrap` on PATH (or /usr/bin), if installed.
    public static func locate() -> String? {
        let path = ProcessInfo.processInfo.environment["PATH"] ?? ""
        for directory in path.split(separator: ":").map(String.init) + ["/usr/bin", "/bin", "/usr/local/bin"] {
            let candidate = directory + "/bwrap"
            if FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
        }
        return nil
    }

    public func prepare(_ configuration: SandboxConfiguration) async throws -> any BuildSession {
        guard let bwrap = executable ?? Self.locate() else {
            throw LaminaError(.sandbox, "bwrap not found on PATH; install bubblewrap (Debian/Ubuntu: apt-get install bubblewrap)")
        }
        try Self.validate(configuration)
        let session = BubblewrapSession(bwrap: bwrap, configuration: configuration)
        // Fail early, with bwrap's own words, when namespaces or mounts are refused here.
        let probe = try await session.run(
            BuildStep(name: "sandbox check", script: "true", workingDirectory: SandboxConfiguration.workspacePath),
            output: nil)
        guard probe.succeeded else {
            throw LaminaError(
                .sandbox,
                "bwrap cannot start a sandbox here (\(probe.status)): \(probe.tail.joined(separator: " | "))"
                    + " — unprivileged user namespaces may be disabled (kernel.unprivileged_userns_clone,"
                    + " apparmor_restrict_unprivileged_userns) or the guest root lacks /bin/sh",
                subject: bwrap)
        }
        return session
    }

    static func validate(_ configuration: SandboxConfiguration) throws {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: configuration.workspace.path, isDirectory: &isDirectory),
            isDirectory.boolValue
        else {
            throw LaminaError(.invalidInput, "workspace is not a directory", subject: configuration.workspace.path)
        }
        if let root = configuration.guestRoot {
            guard FileManager.default.fileExists(atPath: root.path, isDirectory: &isDirectory), isDirectory.boolValue else {
                throw LaminaError(.invalidInput, "guest root is not a directory", subject: root.path)
            }
        }
        for mount in configuration.mounts where !mount.destination.hasPrefix("/") {
            throw LaminaError(.invalidInput, "mount destination must be absolute", subject: mount.destination)
        }
    }

    /// The `bwrap` arguments (everything before the command) for `configuration` and `step`;
    /// public so callers can log or reproduce a sandbox by hand.
    public static func arguments(
        for configuration: SandboxConfiguration, step: BuildStep, isRoot: Bool = geteuid() == 0
    ) -> [String] {
        var arguments: [String] = []
        let rootPath = configuration.guestRoot?.path
        let readOnlyRoot = rootPath == nil || !configuration.guestRootWritable
        arguments += [readOnlyRoot ? "--ro-bind" : "--bind", rootPath ?? "/", "/"]
        arguments += ["--dev", "/dev", "--proc", "/proc", "--tmpfs", "/tmp"]
        if let rootPath {
            // Host /sys read-only, as melange gives its guests.
            arguments += ["--ro-bind", "/sys", "/sys"]
            if configuration.network, FileManager.default.fileExists(atPath: "/etc/resolv.conf"),
                !readOnlyRoot || FileManager.default.fileExists(atPath: rootPath + "/etc/resolv.conf")
            {
                arguments += ["--ro-bind", "/etc/resolv.conf", "/etc/resolv.conf"]
            }
        }
        // bwrap cannot create the mount point on a read-only root: put a tmpfs over /home instead.
        let guestPrefix = rootPath ?? ""
        if readOnlyRoot && !FileManager.default.fileExists(atPath: guestPrefix + SandboxConfiguration.workspacePath) {
            arguments += ["--tmpfs", "/home"]
        }
        arguments += ["--bind", configuration.workspace.path, SandboxConfiguration.workspacePath]
        for mount in configuration.mounts {
            arguments += [mount.readOnly ? "--ro-bind" : "--bind", mount.source.path, mount.destination]
        }

        switch identity(configuration.user, isRoot: isRoot) {
        case .hostRoot:
            arguments += ["--unshare-ipc", "--unshare-pid", "--unshare-uts", "--unshare-cgroup-try"]
            if !configuration.network { arguments.append("--unshare-net") }
        case .namespaced(let uid, let gid):
            arguments.append("--unshare-all")
            if configuration.network { arguments.append("--share-net") }
            arguments += ["--unshare-user", "--uid", String(uid), "--gid", String(gid)]
        }
        arguments += configuration.capabilities.arguments
        arguments += ["--die-with-parent", "--new-session", "--clearenv"]
        var environment = configuration.environment
        environment["PATH"] = SandboxConfiguration.standardPath
        environment.merge(step.environment) { _, new in new }
        for key in environment.keys.sorted() { arguments += ["--setenv", key, environment[key] ?? ""] }
        arguments += ["--chdir", SandboxConfiguration.workspacePath]
        return arguments
    }

    enum Identity: Equatable {
        case hostRoot
        case namespaced(uid: UInt32, gid: UInt32)
    }

    static func identity(_ user: SandboxConfiguration.User, isRoot: Bool) -> Identity {
        switch user {
        case .root: return isRoot ? .hostRoot : .namespaced(uid: 0, gid: 0)
        case .buildUser, .mapped: return .namespaced(uid: user.ids.uid, gid: user.ids.gid)
        }
    }
}

/// A bubblewrap guest: nothing is created up front, each step is one `bwrap` process.
struct BubblewrapSession: BuildSession {
    let bwrap: String
    let configuration: SandboxConfiguration

    func run(_ step: BuildStep, output: StepOutputHandler?) async throws -> StepResult {
        let arguments =
            BubblewrapRunner.arguments(for: configuration, step: step) + ["/bin/sh", "-c", StepScript.wrap(step)]
        return try await StreamingProcess(executable: bwrap, arguments: arguments, stepName: step.name, timeout: step.timeout)
            .run(output: output)
    }

    func teardown() async throws {}
}
