import Foundation
import Synchronization

#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#elseif canImport(Darwin)
    import Darwin
#endif

/// A long-running child process started by a test (a daemon such as `dockerd`), with its output in a log
/// file. It is stopped by its process id only: SIGTERM, then SIGKILL to its process group after a timeout.
///
/// The child is spawned with `posix_spawn`, an empty signal mask and default signal dispositions (a child of
/// `Foundation.Process` started from async code can inherit blocked signals and then ignore SIGTERM), in a
/// process group of its own so that helpers it starts can be killed with it.
public final class DaemonProcess: Sendable {
    /// The child's process id (also its process group id).
    public let pid: pid_t
    /// Where its standard output and error go.
    public let logPath: String
    /// The program, for messages.
    public let executable: String
    private let exitStatus = Mutex<Int32?>(nil)

    private init(pid: pid_t, logPath: String, executable: String) {
        self.pid = pid
        self.logPath = logPath
        self.executable = executable
    }

    /// Starts `executable` with `arguments`; stdin is /dev/null, stdout and stderr are appended to `logPath`.
    /// - Throws: `CocoaError` when the log cannot be created; `POSIXError` when spawning fails.
    public static func spawn(
        _ executable: String, _ arguments: [String], logPath: String, environment: [String: String]? = nil
    ) throws -> DaemonProcess {
        _ = FileManager.default.createFile(atPath: logPath, contents: nil)
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 1, logPath, O_WRONLY | O_APPEND | O_CREAT, 0o644)
        posix_spawn_file_actions_adddup2(&actions, 1, 2)

        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        var noSignals = sigset_t()
        sigemptyset(&noSignals)
        posix_spawnattr_setsigmask(&attributes, &noSignals)
        var allSignals = sigset_t()
        sigfillset(&allSignals)
        posix_spawnattr_setsigdefault(&attributes, &allSignals)
        posix_spawnattr_setpgroup(&attributes, 0)
        posix_spawnattr_setflags(
            &attributes, Int16(POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETPGROUP))

        let env = (environment ?? ProcessInfo.processInfo.environment).map { "\($0.key)=\($0.value)" }
        let argv: [UnsafeMutablePointer<CChar>?] = ([executable] + arguments).map { strdup($0) } + [nil]
        let envp: [UnsafeMutablePointer<CChar>?] = env.map { strdup($0) } + [nil]
        defer {
            for pointer in argv { free(pointer) }
            for pointer in envp { free(pointer) }
        }
        var pid: pid_t = 0
        let result = posix_spawn(&pid, executable, &actions, &attributes, argv, envp)
        guard result == 0 else { throw POSIXError(POSIXErrorCode(rawValue: result) ?? .EINVAL) }
        return DaemonProcess(pid: pid, logPath: logPath, executable: executable)
    }

    /// Whether the child is still running (reaps it when it has exited).
    public var isRunning: Bool {
        exitStatus.withLock { status in
            if status != nil { return false }
            var raw: Int32 = 0
            let reaped = waitpid(pid, &raw, WNOHANG)
            if reaped == pid || (reaped == -1 && errno == ECHILD) {
                status = raw
                return false
            }
            return true
        }
    }

    /// Stops the child: SIGTERM, then after `timeout` SIGKILL to it and its process group; waits for it.
    /// Safe to call more than once.
    /// - Returns: true when it ended on SIGTERM within the timeout.
    @discardableResult
    public func stop(timeout: Duration = .seconds(20)) -> Bool {
        guard isRunning else { return true }
        kill(pid, SIGTERM)
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            if !isRunning { return true }
            usleep(50_000)
        }
        kill(-pid, SIGKILL)
        kill(pid, SIGKILL)
        exitStatus.withLock { status in
            guard status == nil else { return }
            var raw: Int32 = 0
            _ = waitpid(pid, &raw, 0)
            status = raw
        }
        return false
    }

    /// The last `lines` lines of the log, for failure messages.
    public func logTail(lines: Int = 20) -> String {
        guard let text = try? String(contentsOfFile: logPath, encoding: .utf8) else { return "(no log)" }
        return text.split(separator: "\n", omittingEmptySubsequences: false).suffix(lines).joined(separator: "\n")
    }
}
