import Dispatch
import Foundation
import LaminaCore
import Synchronization

/// A fixed set of threads that run queued jobs and keep each outcome until its caller takes it: the one
/// worker pool behind both deflaters (``ParallelGzipWriter`` and the image builder's precompressor).
///
/// Jobs are named by a key. Each thread makes its own worker (a compressor with its zlib state) once and
/// runs it on one job at a time, outside the lock. The callers are synchronous (a `ByteSink`), so a
/// caller waiting for an outcome blocks on a semaphore of its own; all shared state is in one `Mutex`.
public final class WorkerPool<Key: Hashable & Sendable, Job: Sendable, Output: Sendable>: Sendable {
    private enum Status {
        case queued
        case running
        case done(Result<Output, LaminaError>)
    }

    private struct State {
        var queue: [(key: Key, job: Job)] = []
        var queueHead = 0
        var status: [Key: Status] = [:]
        /// The semaphore a caller blocked in ``outcome(for:wait:cancelIfQueued:)`` waits on, by key.
        var waiters: [Key: DispatchSemaphore] = [:]
        var closing = false
    }

    private let state = Mutex(State())
    /// Signalled once per queued job (and once per thread at shutdown).
    private let jobsReady = DispatchSemaphore(value: 0)
    private let exited = DispatchGroup()
    /// Number of threads.
    public let threadCount: Int

    /// Starts `threads` threads named `name`; each calls `makeWorker` once and runs jobs with what it returns.
    /// When `makeWorker` throws, that thread fails every job it takes with the error. The threads hold the
    /// pool until ``shutdown()``, which its owner must call.
    public init(threads: Int, name: String, makeWorker: @escaping @Sendable () throws -> (Job) throws -> Output) {
        threadCount = max(1, threads)
        for _ in 0..<threadCount {
            exited.enter()
            let thread = Thread { [self] in
                defer { exited.leave() }
                let worker: (Job) throws -> Output
                do {
                    worker = try makeWorker()
                } catch {
                    worker = { _ in throw error }
                }
                while let (key, job) = nextJob() {
                    let outcome: Result<Output, LaminaError>
                    do {
                        outcome = .success(try worker(job))
                    } catch {
                        outcome = .failure((error as? LaminaError) ?? LaminaError(.internal, "\(error)", cause: error))
                    }
                    finish(key, outcome)
                }
            }
            thread.name = name
            thread.start()
        }
    }

    /// Whether ``shutdown()`` has begun: a long job may check it to stop early.
    public var isShuttingDown: Bool { state.withLock { $0.closing } }

    /// Queues `job` under `key`. Returns false (and queues nothing) when the key is already queued,
    /// running or done and not yet taken, or the pool is shutting down.
    @discardableResult
    public func submit(_ key: Key, _ job: Job) -> Bool {
        let queued = state.withLock { state in
            guard !state.closing, state.status[key] == nil else { return false }
            state.status[key] = .queued
            state.queue.append((key, job))
            return true
        }
        if queued { jobsReady.signal() }
        return queued
    }

    /// Takes the outcome of `key` (after which the pool forgets the key).
    /// - Parameters:
    ///   - wait: wait for a queued or running job to finish; else return nil at once when it has not.
    ///   - cancelIfQueued: a job no thread has started yet is taken off the queue and nil returned,
    ///     whatever `wait` says (the caller does the work itself).
    /// - Returns: nil for an unknown key, a job not finished (without `wait`), a cancelled job, or a
    ///   job dropped by ``shutdown()``.
    public func outcome(for key: Key, wait: Bool, cancelIfQueued: Bool = false) -> Result<Output, LaminaError>? {
        while true {
            let semaphore = DispatchSemaphore(value: 0)
            let taken: Result<Output, LaminaError>?? = state.withLock { state in
                switch state.status[key] {
                case .done(let outcome)?:
                    state.status[key] = nil
                    return .some(outcome)
                case .queued? where cancelIfQueued || state.closing:
                    state.status[key] = nil
                    return .some(nil)
                case nil:
                    return .some(nil)
                case .queued?, .running?:
                    guard wait else { return .some(nil) }
                    state.waiters[key] = semaphore
                    return nil
                }
            }
            if let taken { return taken }
            semaphore.wait()
        }
    }

    /// Stops the threads, dropping queued jobs (running ones finish), and waits for them. Idempotent;
    /// callers blocked in ``outcome(for:wait:cancelIfQueued:)`` on a dropped job get nil.
    public func shutdown() {
        let waiters = state.withLock { state in
            state.closing = true
            state.queue.removeAll()
            state.queueHead = 0
            defer { state.waiters.removeAll() }
            return Array(state.waiters.values)
        }
        for _ in 0..<threadCount { jobsReady.signal() }
        for waiter in waiters { waiter.signal() }
        exited.wait()
    }

    /// The next job still wanted, marked running; nil once the pool is shutting down.
    private func nextJob() -> (Key, Job)? {
        while true {
            jobsReady.wait()
            let next: (Key, Job)?? = state.withLock { state in
                if state.closing { return .some(nil) }
                while state.queueHead < state.queue.count {
                    let (key, job) = state.queue[state.queueHead]
                    state.queueHead += 1
                    if state.queueHead == state.queue.count {
                        state.queue.removeAll(keepingCapacity: true)
                        state.queueHead = 0
                    }
                    if case .queued? = state.status[key] {
                        state.status[key] = .running
                        return .some((key, job))
                    }
                }
                return nil  // the job signalled was cancelled: wait for the next one
            }
            if let next { return next }
        }
    }

    private func finish(_ key: Key, _ outcome: Result<Output, LaminaError>) {
        let waiter = state.withLock { state in
            state.status[key] = .done(outcome)
            return state.waiters.removeValue(forKey: key)
        }
        waiter?.signal()
    }
}
