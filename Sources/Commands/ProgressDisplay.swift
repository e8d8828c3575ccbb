import Foundation
import LaminaCore

/// Renders engine progress on stderr.
///
/// - On a terminal at the default level: one live line (`installing 12/40`) rewritten in place, and
///   notes (`building linux/amd64`) as lines of their own. `finish()` erases the live line, so an
///   `error: …` printed afterwards starts at the beginning of an empty line.
/// - Piped at the default level: nothing but warnings; a failing command prints only its error.
/// - At `--log-level debug`: every note and phase as its own line, prefixed with the seconds since
///   the command started (where the time goes), terminal or not.
final class ProgressDisplay: Sendable {
    let interactive: Bool
    let level: LogLevel
    private let state = LockedState()
    private let start = ContinuousClock.now

    convenience init(global: GlobalOptions) {
        self.init(interactive: Terminal.standardError.isInteractive, level: global.logLevel)
    }

    init(interactive: Bool, level: LogLevel) {
        self.interactive = interactive
        self.level = level
    }

    var handler: ProgressHandler {
        { [self] event in self.handle(event) }
    }

    /// Erases the live line, if one is showing (and at debug level, notes the total time). Call when the
    /// engine is done, before the result or the error is printed.
    func finish() {
        clearLiveLine()
        if level >= .debug { Terminal.standardError.write(timed("done")) }
    }

    private func clearLiveLine() {
        if state.takeLiveLine() { Terminal.standardError.write("\r\u{1b}[2K") }
    }

    private func handle(_ event: ProgressEvent) {
        switch event {
        case .warning(let text):
            guard level >= .warn else { return }
            clearLiveLine()
            Terminal.standardError.write("warning: \(text)\n")
            render()
        case .note(let text):
            if level >= .debug {
                Terminal.standardError.write(timed(text))
            } else if interactive && level >= .info {
                clearLiveLine()
                Terminal.standardError.write("\(text)\n")
            }
        case .phase(let name, let total):
            state.set(phase: name, total: total)
            if level >= .debug { Terminal.standardError.write(timed("\(name)…")) } else { render() }
        case .advance(let completed):
            state.set(completed: completed)
            render()
        }
    }

    /// `[  1.234s] text` and a newline.
    private func timed(_ text: String) -> String {
        let elapsed = ContinuousClock.now - start
        let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
        return String(format: "[%8.3fs] ", seconds) + text + "\n"
    }

    private func render() {
        guard interactive, level == .info else { return }
        let (phase, total, completed) = state.snapshot()
        guard !phase.isEmpty else { return }
        var line = "\r\u{1b}[2K\(phase)"
        if let total { line += " \(format(completed, phase))/\(format(total, phase))" } else if completed > 0 { line += " \(format(completed, phase))" }
        state.markLiveLine()
        Terminal.standardError.write(line)
    }

    private func format(_ n: Int64, _ phase: String) -> String {
        guard phase.contains("fetch") || phase.contains("bytes") else { return String(n) }
        if n >= 1 << 20 { return String(format: "%.1f MiB", Double(n) / 1_048_576) }
        if n >= 1 << 10 { return String(format: "%.1f KiB", Double(n) / 1024) }
        return "\(n) B"
    }
}

/// Mutable progress state behind a lock.
final class LockedState: @unchecked Sendable {
    // Safety: every access goes through `lock`.
    private let lock = NSLock()
    private var phase = ""
    private var total: Int64?
    private var completed: Int64 = 0
    private var liveLine = false

    func set(phase: String, total: Int64?) {
        lock.withLock {
            self.phase = phase
            self.total = total
            self.completed = 0
        }
    }
    func set(completed: Int64) { lock.withLock { self.completed = completed } }
    func snapshot() -> (String, Int64?, Int64) { lock.withLock { (phase, total, completed) } }
    func markLiveLine() { lock.withLock { liveLine = true } }
    /// Whether a live line is showing; it counts as erased afterwards.
    func takeLiveLine() -> Bool {
        lock.withLock {
            defer { liveLine = false }
            return liveLine
        }
    }
}
