import Foundation
import LaminaCore
import Subprocess

/// Starts a host program (bwrap, docker) for one step, streams its output as lines, enforces the
/// timeout and kills the whole process tree on timeout or cancellation.
///
/// The program runs in its own session so the teardown signals reach everything it started
/// outside any namespace; bwrap's `--die-with-parent` and PID namespace take care of the rest.
struct StreamingProcess: Sendable {
    var executable: String
    var arguments: [String]
    /// Variables added to (or replacing) the inherited environment of the host program.
    var environmentOverrides: [String: String] = [:]
    var stepName: String
    var timeout: Duration?
    /// How long a SIGTERM'd program may take before SIGKILL.
    var gracePeriod: Duration = .seconds(2)

    func run(output: StepOutputHandler?) async throws -> StepResult {
        let collector = OutputCollector(step: stepName, handler: output)
        var platform = PlatformOptions()
        platform.createSession = true
        platform.teardownSequence = [
            .send(signal: .terminate, toProcessGroup: true, allowedDurationToNextStep: gracePeriod),
            .send(signal: .kill, toProcessGroup: true, allowedDurationToNextStep: .seconds(1)),
        ]
        let environment = Environment.inherit(overriding: environmentOverrides)
        let configuration = Configuration(
            executable: .path(.init(executable)), arguments: Arguments(arguments), environment: environment,
            platformOptions: platform)

        let clock = ContinuousClock()
        let start = clock.now
        let work: @Sendable () async throws -> StepResult.Status = {
            let result = try await Subprocess.run(configuration, input: .none, output: .sequence, error: .sequence) {
                execution in
                try await withThrowingTaskGroup(of: Void.self) { group in
                    group.addTask { try await collector.consume(execution.standardOutput, stream: .stdout) }
                    group.addTask { try await collector.consume(execution.standardError, stream: .stderr) }
                    try await group.waitForAll()
                }
            }
            switch result.terminationStatus {
            case .exited(let code): return .exited(Int32(code))
            case .signaled(let signal): return .signaled(Int32(signal))
            }
        }

        let status: StepResult.Status
        do {
            if let timeout {
                status = try await Self.withTimeout(timeout, work)
            } else {
                status = try await work()
            }
        } catch let error as TimedOut {
            collector.flush()
            throw LaminaError(
                .sandbox, "timed out after \(Self.seconds(error.limit)) and was killed", subject: "step '\(stepName)'",
                cause: StepFailure(
                    step: stepName, result: StepResult(status: .signaled(9), tail: collector.tail, duration: clock.now - start)))
        } catch is CancellationError {
            throw CancellationError()
        } catch let error as LaminaError {
            throw error
        } catch {
            if Task.isCancelled { throw CancellationError() }
            throw LaminaError(
                .sandbox, "could not run \(executable): \(error)", subject: "step '\(stepName)'", cause: error)
        }
        collector.flush()
        // Subprocess tears the process down on cancellation and then returns its (signal) status.
        if Task.isCancelled { throw CancellationError() }
        return StepResult(status: status, tail: collector.tail, duration: clock.now - start)
    }

    struct TimedOut: Error { var limit: Duration }

    /// Runs `work`, cancelling it (which tears the process down) when `limit` passes first.
    static func withTimeout<T: Sendable>(
        _ limit: Duration, _ work: @escaping @Sendable () async throws -> T
    ) async throws -> T {
        try await withThrowingTaskGroup(of: T?.self) { group in
            group.addTask { try await work() }
            group.addTask {
                try await Task.sleep(for: limit)
                return nil
            }
            defer { group.cancelAll() }
            while let next = try await group.next() {
                if let value = next { return value }
                // The timer won: cancel the work and wait until its teardown is done.
                group.cancelAll()
                while true {
                    do {
                        guard try await group.next() != nil else { break }
                    } catch {}
                }
                throw TimedOut(limit: limit)
            }
            throw CancellationError()
        }
    }

    static func seconds(_ duration: Duration) -> String {
        let (seconds, attoseconds) = duration.components
        let fraction = Double(attoseconds) / 1e18
        return fraction == 0 ? "\(seconds)s" : String(format: "%.1fs", Double(seconds) + fraction)
    }
}

/// Splits both output streams into lines, forwards them, and keeps the last `StepResult.tailLength`.
/// `@unchecked Sendable` is safe: all mutable state is only touched while `lock` is held.
final class OutputCollector: @unchecked Sendable {
    static let maximumLineBytes = 64 * 1024

    private let lock = NSLock()
    private let step: String
    private let handler: StepOutputHandler?
    private var pending: [StepOutputLine.Stream: [UInt8]] = [:]
    private var lastLines: [String] = []

    init(step: String, handler: StepOutputHandler?) {
        self.step = step
        self.handler = handler
    }

    var tail: [String] { lock.withLock { lastLines } }

    func consume(_ sequence: SubprocessOutputSequence, stream: StepOutputLine.Stream) async throws {
        for try await buffer in sequence {
            let bytes = buffer.withUnsafeBytes { Array($0) }
            append(bytes, stream: stream)
        }
        finish(stream)
    }

    func append(_ bytes: [UInt8], stream: StepOutputLine.Stream) {
        var lines: [String] = []
        lock.withLock {
            var buffer = pending[stream, default: []]
            buffer += bytes
            var start = 0
            while let newline = buffer[start...].firstIndex(of: UInt8(ascii: "\n")) {
                lines.append(Self.text(buffer[start ..< newline]))
                start = newline + 1
            }
            buffer.removeFirst(start)
            while buffer.count >= Self.maximumLineBytes {
                lines.append(Self.text(buffer.prefix(Self.maximumLineBytes)))
                buffer.removeFirst(Self.maximumLineBytes)
            }
            pending[stream] = buffer
            remember(lines)
        }
        deliver(lines, stream: stream)
    }

    /// Emits what remains of a stream that ended without a newline.
    func finish(_ stream: StepOutputLine.Stream) {
        let line: String? = lock.withLock {
            guard let rest = pending[stream], !rest.isEmpty else { return nil }
            pending[stream] = []
            let text = Self.text(rest[...])
            remember([text])
            return text
        }
        if let line { deliver([line], stream: stream) }
    }

    func flush() {
        finish(.stdout)
        finish(.stderr)
    }

    private func remember(_ lines: [String]) {
        lastLines += lines
        if lastLines.count > StepResult.tailLength { lastLines.removeFirst(lastLines.count - StepResult.tailLength) }
    }

    private func deliver(_ lines: [String], stream: StepOutputLine.Stream) {
        guard let handler else { return }
        for line in lines { handler(StepOutputLine(step: step, stream: stream, text: line)) }
    }

    private static func text(_ bytes: ArraySlice<UInt8>) -> String {
        var slice = bytes
        if slice.last == UInt8(ascii: "\r") { slice = slice.dropLast() }
        return String(decoding: slice, as: UTF8.self)
    }
}

extension Environment {
    /// This process's environment with `overrides` set on top.
    static func inherit(overriding overrides: [String: String]) -> Environment {
        guard !overrides.isEmpty else { return .inherit }
        var updates: [Environment.Key: String?] = [:]
        for (key, value) in overrides { updates[Environment.Key(stringLiteral: key)] = value }
        return Environment.inherit.updating(updates)
    }
}
