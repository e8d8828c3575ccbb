import Foundation

#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#elseif canImport(Darwin)
    import Darwin
#endif

/// A private `dockerd` for end-to-end tests: its own data root, exec root, socket and pid file under one
/// directory, no bridge, no iptables, vfs storage (works anywhere, no overlay mounts). Never touches the
/// machine's own Docker. Stop it with ``stop()`` (by process id), even when a test fails.
public final class DockerDaemon: Sendable {
    /// The directory holding everything the daemon writes.
    public let root: String
    /// `unix://` socket path.
    public let socket: String
    /// The docker CLI used to talk to it.
    public let cli: String
    /// The daemon process.
    public let process: DaemonProcess
    /// `tcp://127.0.0.1:PORT` when started with a TCP listener too (plain, loopback only).
    public let tcpAddress: String?

    private init(root: String, socket: String, cli: String, process: DaemonProcess, tcpAddress: String? = nil) {
        self.root = root
        self.socket = socket
        self.cli = cli
        self.process = process
        self.tcpAddress = tcpAddress
    }

    /// `dockerd` on PATH (or in /usr/sbin).
    public static var daemonPath: String? { CommandRunner.which("dockerd") }

    /// The docker CLI: the one installed beside `dockerd` (Debian's `docker.io` puts it in /usr/bin) when present,
    /// else the first on PATH.
    public static var cliPath: String? {
        if let daemon = daemonPath {
            let sibling =
                ((daemon as NSString).deletingLastPathComponent as NSString).deletingLastPathComponent + "/bin/docker"
            if FileManager.default.isExecutableFile(atPath: sibling) { return sibling }
        }
        return CommandRunner.which("docker")
    }

    /// Whether a daemon can be started here: `dockerd` and `docker` present and running as root.
    public static var isAvailable: Bool { daemonPath != nil && cliPath != nil && getuid() == 0 }

    /// Why ``isAvailable`` is false, for skip messages.
    public static var unavailableReason: String {
        if daemonPath == nil { return "dockerd not installed (apt-get install docker.io)" }
        if cliPath == nil { return "docker CLI not installed" }
        if getuid() != 0 { return "dockerd needs root" }
        return ""
    }

    /// The test's environment with /usr/sbin and /sbin on PATH (dockerd looks up runc and containerd there).
    static var daemonEnvironment: [String: String] {
        var environment = ProcessInfo.processInfo.environment
        environment["PATH"] = (environment["PATH"] ?? "/usr/bin:/bin") + ":/usr/sbin:/sbin:/usr/bin:/bin"
        return environment
    }

    /// Starts a daemon under `root` and waits until it answers `docker version`. With `tcpPort`, it also listens
    /// on `tcp://127.0.0.1:PORT` (for `DOCKER_HOST=tcp://…` tests; loopback only, no TLS).
    /// - Throws: when it cannot start or does not answer within `timeout` (the daemon is stopped then).
    public static func start(in root: String, tcpPort: Int? = nil, timeout: Duration = .seconds(60)) throws -> DockerDaemon {
        guard let daemonPath, let cliPath else { throw DaemonError(message: unavailableReason) }
        for dir in ["data", "exec", "config"] {
            try FileManager.default.createDirectory(atPath: root + "/" + dir, withIntermediateDirectories: true)
        }
        // Our own (empty) daemon.json: the machine's /etc/docker/daemon.json must not change this daemon.
        try Data("{}\n".utf8).write(to: URL(fileURLWithPath: root + "/daemon.json"))
        let socket = root + "/docker.sock"
        let process = try DaemonProcess.spawn(
            daemonPath,
            [
                "--storage-driver=vfs", "--iptables=false", "--ip6tables=false", "--bridge=none", "--ip-forward=false",
                "--ip-masq=false", "--exec-opt", "native.cgroupdriver=cgroupfs", "--data-root", root + "/data",
                "--exec-root", root + "/exec", "-H", "unix://" + socket, "--pidfile", root + "/docker.pid",
                "--config-file", root + "/daemon.json",
            ] + (tcpPort.map { ["-H", "tcp://127.0.0.1:\($0)"] } ?? []),
            logPath: root + "/dockerd.log", environment: daemonEnvironment)
        let daemon = DockerDaemon(
            root: root, socket: socket, cli: cliPath, process: process, tcpAddress: tcpPort.map { "tcp://127.0.0.1:\($0)" })
        let deadline = ContinuousClock.now + timeout
        while true {
            if !process.isRunning {
                throw DaemonError(message: "dockerd exited during start-up:\n\(process.logTail())")
            }
            if FileManager.default.fileExists(atPath: socket), let r = try? daemon.docker(["version"]), r.status == 0 {
                return daemon
            }
            if ContinuousClock.now >= deadline {
                daemon.stop()
                throw DaemonError(message: "dockerd did not answer within \(timeout):\n\(process.logTail())")
            }
            usleep(200_000)
        }
    }

    /// Runs the docker CLI against this daemon (`-H unix://SOCKET`, its own `DOCKER_CONFIG`).
    @discardableResult
    public func docker(_ arguments: [String]) throws -> CommandResult {
        try CommandRunner.run(
            cli, ["-H", "unix://" + socket] + arguments,
            environment: ["DOCKER_CONFIG": root + "/config", "DOCKER_CLI_HINTS": "false"])
    }

    /// Stops the daemon by its pid (SIGTERM, SIGKILL after a timeout) and unmounts anything it left under
    /// its root. Safe to call more than once.
    /// - Returns: true when the daemon ended on SIGTERM (a clean shutdown).
    @discardableResult
    public func stop() -> Bool {
        let clean = process.stop(timeout: .seconds(20))
        MountCleanup.unmountAll(under: root)
        return clean
    }
}

/// A daemon failed to start.
public struct DaemonError: Error, CustomStringConvertible {
    public var message: String
    public var description: String { message }
    public init(message: String) { self.message = message }
}

/// Unmounts leftovers (network namespaces, container roots) below a directory before it is deleted.
public enum MountCleanup {
    /// Mount points under `directory`, deepest first.
    public static func mounts(under directory: String) -> [String] {
        guard let text = try? String(contentsOfFile: "/proc/self/mountinfo", encoding: .utf8) else { return [] }
        let prefix = directory.hasSuffix("/") ? directory : directory + "/"
        let points = text.split(separator: "\n").compactMap { line -> String? in
            let fields = line.split(separator: " ")
            guard fields.count > 4 else { return nil }
            // Octal escapes (\040 for a space) are left as they are: our directories have none.
            return String(fields[4])
        }
        return points.filter { $0.hasPrefix(prefix) || $0 == directory }.sorted { $0.count > $1.count }
    }

    /// Lazily unmounts every mount point under `directory`.
    public static func unmountAll(under directory: String) {
        #if canImport(Glibc)
            for point in mounts(under: directory) { _ = umount2(point, Int32(MNT_DETACH)) }
        #endif
    }
}
