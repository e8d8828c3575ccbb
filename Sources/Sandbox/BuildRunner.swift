import Foundation
import LaminaCore

/// Runs build steps inside an isolated guest: bubblewrap on Linux, or a Docker/Podman engine.
///
/// A runner is stateless; `prepare` sets up one sandbox (an imported image, checked tools) and returns
/// a session that runs the steps of one build and is torn down at the end.
public protocol BuildRunner: Sendable {
    /// `bubblewrap`, `docker`, `podman`.
    var name: String { get }

    /// Whether steps can run on the host's own `/` (a configuration without `guestRoot`); only bubblewrap can.
    var supportsHostRoot: Bool { get }

    /// Checks the runner can work here and prepares the guest described by `configuration`.
    /// - Throws: `LaminaError(.sandbox)` when the tool is missing or cannot create a sandbox,
    ///   `LaminaError(.invalidInput)` for a configuration the runner cannot honour.
    func prepare(_ configuration: SandboxConfiguration) async throws -> any BuildSession
}

extension BuildRunner {
    public var supportsHostRoot: Bool { false }
}

/// One prepared guest: steps run one after another in it, then `teardown` releases what `prepare` made.
public protocol BuildSession: Sendable {
    /// The configuration the session was prepared with.
    var configuration: SandboxConfiguration { get }

    /// Runs `step` and reports its output line by line as it comes.
    ///
    /// A non-zero exit is a normal result (see `StepResult.succeeded`); use `runChecked` to throw instead.
    /// Cancelling the calling task, or the step's timeout, kills the step's whole process tree.
    /// - Throws: `LaminaError(.sandbox)` when the step could not be started or timed out,
    ///   `CancellationError` when the calling task was cancelled.
    func run(_ step: BuildStep, output: StepOutputHandler?) async throws -> StepResult

    /// Releases what `prepare` created (images, temporary files). Safe to call more than once.
    func teardown() async throws
}

extension BuildSession {
    /// Runs `step` and throws when it does not exit with status 0.
    /// - Throws: `LaminaError(.sandbox)` naming the step and its exit status, whose `cause` is a
    ///   `StepFailure` carrying the last lines of output; and the errors of `run`.
    @discardableResult
    public func runChecked(_ step: BuildStep, output: StepOutputHandler? = nil) async throws -> StepResult {
        let result = try await run(step, output: output)
        guard result.succeeded else {
            let tail = result.tail.isEmpty ? "" : "; last output: " + (result.tail.last ?? "")
            throw LaminaError(
                .sandbox, "step failed with \(result.status)\(tail)", subject: "step '\(step.name)'",
                cause: StepFailure(step: step.name, result: result))
        }
        return result
    }
}

/// The guest a session runs in.
public struct SandboxConfiguration: Sendable, Hashable {
    /// A directory bind-mounted into the guest.
    public struct Mount: Sendable, Hashable {
        public var source: URL
        public var destination: String
        public var readOnly: Bool

        public init(source: URL, destination: String, readOnly: Bool = false) {
            self.source = source
            self.destination = destination
            self.readOnly = readOnly
        }
    }

    /// Who the steps run as.
    public enum User: Sendable, Hashable {
        /// melange's `build` user, uid/gid 1000, in every runner (the default): bubblewrap maps it onto the
        /// caller in a user namespace, so files written to the workspace belong to the caller; container engines
        /// run the steps with `--user 1000:1000` after handing the workspace to it.
        case buildUser
        /// Root inside the guest (melange's `run-as: root`). Without host root, bubblewrap makes this a user
        /// namespace mapping root onto the caller.
        case root
        /// The given ids (another `run-as` user); bubblewrap maps them onto the caller in a user namespace.
        case mapped(uid: UInt32, gid: UInt32)

        /// melange's build user and group id.
        public static let buildUserID: UInt32 = 1000

        /// The uid and gid the steps see.
        public var ids: (uid: UInt32, gid: UInt32) {
            switch self {
            case .buildUser: return (Self.buildUserID, Self.buildUserID)
            case .root: return (0, 0)
            case .mapped(let uid, let gid): return (uid, gid)
            }
        }
    }

    /// Where the workspace appears in the guest.
    public static let workspacePath = "/home/build"
    /// The PATH melange forces for every step.
    public static let standardPath = "/usr/local/sbin:/usr/local/bin:/usr/bin:/usr/sbin:/sbin:/bin"

    /// The guest's root directory. Nil means the host's `/`, read-only (bubblewrap only).
    public var guestRoot: URL?
    /// Whether steps may write to the guest root (melange binds it read-write).
    public var guestRootWritable: Bool
    /// The host directory mounted at `/home/build`, always writable.
    public var workspace: URL
    /// Variables every step sees (steps add their own on top).
    public var environment: [String: String]
    /// Whether steps may use the network; off by default.
    public var network: Bool
    public var mounts: [Mount]
    public var user: User
    /// Capabilities added to and dropped from every step (melange's `capabilities:`).
    public var capabilities: CapabilityChanges

    public init(
        guestRoot: URL?, guestRootWritable: Bool = true, workspace: URL, environment: [String: String] = [:],
        network: Bool = false, mounts: [Mount] = [], user: User = .buildUser, capabilities: CapabilityChanges = .init()
    ) {
        self.capabilities = capabilities
        self.guestRoot = guestRoot
        self.guestRootWritable = guestRootWritable
        self.workspace = workspace
        self.environment = environment
        self.network = network
        self.mounts = mounts
        self.user = user
    }

    /// melange's base environment: `HOME=/home/build`, the standard `PATH`, and `SOURCE_DATE_EPOCH`.
    public static func defaultEnvironment(sourceDateEpoch: Int64) -> [String: String] {
        ["HOME": workspacePath, "PATH": standardPath, "SOURCE_DATE_EPOCH": String(sourceDateEpoch)]
    }
}

/// One `runs:` step of a pipeline.
public struct BuildStep: Sendable, Hashable {
    /// Shown with every output line and in errors (`fetch`, `autoconf/make`, `step 3`).
    public var name: String
    /// The shell fragment, run by `/bin/sh -c` inside the melange wrapper (see `StepScript`).
    public var script: String
    /// Relative paths are under `/home/build`; created when missing.
    public var workingDirectory: String
    /// Added to (and overriding) the session's environment; `PATH` is the standard list unless set here.
    public var environment: [String: String]
    /// Adds `set -x`.
    public var trace: Bool
    /// Kill the step after this long.
    public var timeout: Duration?

    public init(
        name: String, script: String, workingDirectory: String = SandboxConfiguration.workspacePath,
        environment: [String: String] = [:], trace: Bool = false, timeout: Duration? = nil
    ) {
        self.name = name
        self.script = script
        self.workingDirectory = workingDirectory
        self.environment = environment
        self.trace = trace
        self.timeout = timeout
    }

    /// The working directory as an absolute guest path.
    public var absoluteWorkingDirectory: String {
        if workingDirectory.hasPrefix("/") { return workingDirectory }
        if workingDirectory.isEmpty || workingDirectory == "." { return SandboxConfiguration.workspacePath }
        return SandboxConfiguration.workspacePath + "/" + workingDirectory
    }
}

/// A line a step printed.
public struct StepOutputLine: Sendable, Hashable {
    public enum Stream: Sendable, Hashable { case stdout, stderr }
    /// The step's name.
    public var step: String
    public var stream: Stream
    /// The line without its newline (very long lines arrive in pieces).
    public var text: String
}

/// Receives output lines as they arrive, from several tasks at once.
public typealias StepOutputHandler = @Sendable (StepOutputLine) -> Void

/// How a step ended.
public struct StepResult: Sendable, Hashable {
    public enum Status: Sendable, Hashable, CustomStringConvertible {
        case exited(Int32)
        case signaled(Int32)

        public var description: String {
            switch self {
            case .exited(let code): return "exit status \(code)"
            case .signaled(let signal): return "signal \(signal)"
            }
        }
    }

    public var status: Status
    /// The last lines of stdout and stderr together, in arrival order (at most `StepResult.tailLength`).
    public var tail: [String]
    public var duration: Duration

    public static let tailLength = 20

    public var succeeded: Bool { status == .exited(0) }
}

/// Attached as `cause` to the error `runChecked` throws.
public struct StepFailure: Error, Sendable, CustomStringConvertible {
    public var step: String
    public var result: StepResult

    public var description: String {
        (["step '\(step)' failed with \(result.status); last \(result.tail.count) lines:"] + result.tail)
            .joined(separator: "\n")
    }
}
