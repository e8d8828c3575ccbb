import Foundation
import LaminaCore
import Subprocess
import Synchronization

/// Keeps a build's container alive: `<engine> run --rm -i … /bin/sh`, attached, with a standard input only this
/// process holds. The shell idles reading it. When the build ends — or Lamina dies, however it dies — the pipe
/// closes, the shell reads end of file and exits, and `--rm` removes the container: no container outlives
/// its build.
final class ContainerKeeper: Sendable {
    struct State: Sendable {
        var exited = false
        var status: StepResult.Status?
        var errorText = ""
    }

    private let state: Mutex<State>
    private let stopRequest: AsyncStream<Void>.Continuation
    private let stopSignal: AsyncStream<Void>

    private init() {
        state = Mutex(State())
        (stopSignal, stopRequest) = AsyncStream<Void>.makeStream()
    }

    /// Starts the engine client; returns at once (see ``exited`` and ``errorText`` for how it went).
    static func start(executable: String, arguments: [String], environmentOverrides: [String: String]) -> ContainerKeeper {
        let keeper = ContainerKeeper()
        let environment = Environment.inherit(overriding: environmentOverrides)
        let configuration = Configuration(
            executable: .path(.init(executable)), arguments: Arguments(arguments), environment: environment)
        let stopSignal = keeper.stopSignal
        Task.detached { [keeper] in
            var status: StepResult.Status?
            var launchError = ""
            do {
                let result = try await Subprocess.run(configuration, input: .inputWriter, output: .discarded, error: .sequence) {
                    execution in
                    let writer = execution.standardInputWriter
                    await withTaskGroup(of: Void.self) { group in
                        // The client's complaints, until it exits.
                        group.addTask {
                            do {
                                for try await buffer in execution.standardError {
                                    let text = buffer.withUnsafeBytes { String(decoding: $0, as: UTF8.self) }
                                    keeper.state.withLock { $0.errorText = String(($0.errorText + text).suffix(16_384)) }
                                }
                            } catch {}
                        }
                        // A stop request closes the shell's input.
                        group.addTask {
                            for await _ in stopSignal { break }
                            try? await writer.finish()
                        }
                        _ = await group.next()
                        group.cancelAll()
                    }
                    try? await writer.finish()
                }
                switch result.terminationStatus {
                case .exited(let code): status = .exited(Int32(code))
                case .signaled(let signal): status = .signaled(Int32(signal))
                }
            } catch {
                launchError = "\(error)"
            }
            keeper.state.withLock {
                $0.exited = true
                $0.status = status
                if !launchError.isEmpty { $0.errorText += launchError }
            }
        }
        return keeper
    }

    /// Whether the client (and so the container) has ended.
    var exited: Bool { state.withLock { $0.exited } }
    /// What the client wrote to its standard error (the engine's reason when the container did not start).
    var errorText: String { state.withLock { $0.errorText } }

    /// Closes the shell's input and waits up to `timeout` for the client to end.
    /// - Returns: whether it ended in time.
    @discardableResult
    func stop(timeout: Duration = .seconds(20)) async -> Bool {
        stopRequest.yield()
        stopRequest.finish()
        let deadline = ContinuousClock.now + timeout
        while !exited {
            if ContinuousClock.now >= deadline { return false }
            try? await Task.sleep(for: .milliseconds(20))
        }
        return true
    }
}
