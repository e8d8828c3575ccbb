import Foundation
import LaminaCore
import Sandbox
import TestSupport

#if canImport(Glibc)
    import Glibc
#endif

/// Collects streamed lines (with arrival times) from several tasks.
/// `@unchecked Sendable` is safe: `entries` is only touched while `lock` is held.
final class LineRecorder: @unchecked Sendable {
    struct Entry {
        var line: StepOutputLine
        var at: ContinuousClock.Instant
    }

    private let lock = NSLock()
    private var entries: [Entry] = []

    var handler: StepOutputHandler {
        { line in
            let now = ContinuousClock.now
            self.lock.withLock { self.entries.append(Entry(line: line, at: now)) }
        }
    }

    var all: [Entry] { lock.withLock { entries } }
    var lines: [StepOutputLine] { all.map(\.line) }
    func texts(_ stream: StepOutputLine.Stream) -> [String] { lines.filter { $0.stream == stream }.map(\.text) }
}

enum SandboxFixtures {
    static var bwrapAvailable: Bool { BubblewrapRunner.locate() != nil }

    static let alpineTarball = Minirootfs.relativePath

    static var alpineAvailable: Bool {
        bwrapAvailable && SharedTestData.isAvailable && FileManager.default.fileExists(atPath: SharedTestData.path(alpineTarball))
            && Architecture.host.apk == "x86_64"
    }

    /// A workspace and a session on the host's read-only root.
    static func withHostSession<T>(
        network: Bool = false, _ body: (any BuildSession, TemporaryDirectory) async throws -> T
    ) async throws -> T {
        try await TemporaryDirectory.with { workspace in
            let configuration = SandboxConfiguration(
                guestRoot: nil, workspace: workspace.url,
                environment: SandboxConfiguration.defaultEnvironment(sourceDateEpoch: 1_700_000_000), network: network)
            let session = try await BubblewrapRunner().prepare(configuration)
            do {
                let result = try await body(session, workspace)
                try? await session.teardown()
                return result
            } catch {
                try? await session.teardown()
                throw error
            }
        }
    }

    /// Extracts the Alpine minirootfs with tar into `dir/root`.
    static func alpineRoot(in dir: TemporaryDirectory) throws -> URL {
        let root = dir.url.appendingPathComponent("root", isDirectory: true)
        try FileManager.default.createDirectory(at: root, withIntermediateDirectories: true)
        let result = try CommandRunner.run("/bin/tar", ["-xzf", SharedTestData.path(alpineTarball), "-C", root.path])
        guard result.status == 0 else { throw LaminaError(.io, "tar: \(result.stderr)") }
        return root
    }

    /// Processes whose command line contains `marker` (used to prove a process tree was killed).
    static func processes(containing marker: String) -> [String] {
        guard let pids = try? FileManager.default.contentsOfDirectory(atPath: "/proc") else { return [] }
        var found: [String] = []
        for pid in pids where pid.allSatisfy(\.isNumber) {
            guard let data = FileManager.default.contents(atPath: "/proc/\(pid)/cmdline") else { continue }
            let commandLine = String(decoding: data.map { $0 == 0 ? 0x20 : $0 }, as: UTF8.self)
            if commandLine.contains(marker) { found.append("\(pid): \(commandLine)") }
        }
        return found
    }

    /// Waits up to `seconds` for no process to mention `marker`.
    static func waitUntilGone(_ marker: String, seconds: Double = 5) async -> [String] {
        let deadline = ContinuousClock.now + .milliseconds(Int(seconds * 1000))
        while ContinuousClock.now < deadline {
            if processes(containing: marker).isEmpty { return [] }
            try? await Task.sleep(for: .milliseconds(100))
        }
        return processes(containing: marker)
    }
}

/// A TCP listener on 127.0.0.1 in the test process (never accepts; connecting is the whole test).
final class LoopbackListener {
    let descriptor: Int32
    let port: UInt16

    init() throws {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw LaminaError(.io, "socket() failed") }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = 0
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, length) }
        }
        guard bound == 0, listen(fd, 16) == 0 else {
            close(fd)
            throw LaminaError(.io, "bind/listen on 127.0.0.1 failed")
        }
        _ = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
        }
        descriptor = fd
        port = UInt16(bigEndian: address.sin_port)
    }

    deinit { close(descriptor) }
}
