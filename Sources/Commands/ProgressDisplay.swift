import Foundation
import LaminaCore

/// Renders engine progress on stderr: a live line on a terminal, nothing when piped (warnings always).
final class ProgressDisplay: Sendable {
    let interactive: Bool
    let level: LogLevel
    private let state = LockedState()

    init(global: GlobalOptions) {
        interactive = Terminal.standardError.isInteractive
        level = global.logLevel
    }

    var handler: ProgressHandler {
        { [self] event in self.handle(event) }
    }

    private func handle(_ event: ProgressEvent) {
        switch event {
        case .warning(let text):
            if level >= .warn { clearLine(); Terminal.standardError.write("warning: \(text)\n") }
        case .note(let text):
            if level >= .info { clearLine(); Terminal.standardError.write("\(text)\n") }
        case .phase(let name, let total):
            state.set(phase: name, total: total)
            if level >= .debug && !interactive { Terminal.standardError.write("\(name)…\n") }
            render()
        case .advance(let completed):
            state.set(completed: completed)
            render()
        }
    }

    private func render() {
        guard interactive, level >= .info else { return }
        let (phase, total, completed) = state.snapshot()
        var line = "\r\u{1b}[2K\(phase)"
        if let total { line += " \(format(completed, phase))/\(format(total, phase))" } else if completed > 0 { line += " \(format(completed, phase))" }
        Terminal.standardError.write(line)
        if let total, completed >= total { Terminal.standardError.write("\n") }
    }

    private func clearLine() {
        if interactive { Terminal.standardError.write("\r\u{1b}[2K") }
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

    func set(phase: String, total: Int64?) {
        lock.withLock {
            self.phase = phase
            self.total = total
            self.completed = 0
        }
    }
    func set(completed: Int64) { lock.withLock { self.completed = completed } }
    func snapshot() -> (String, Int64?, Int64) { lock.withLock { (phase, total, completed) } }
}
