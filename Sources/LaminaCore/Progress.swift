/// What long-running engines report while they work; the CLI renders it (or stays quiet when piped).
public enum ProgressEvent: Sendable, Equatable {
    /// A phase starts (`resolving`, `fetching`, `writing layer`), with the total units if known.
    case phase(String, total: Int64?)
    /// `completed` units of the current phase are done.
    case advance(completed: Int64)
    /// A human-readable note (e.g. which runner a build uses).
    case note(String)
    /// Something the user should know but that does not stop the work.
    case warning(String)
}

/// Receives progress from engines. Must be cheap and thread-safe.
public typealias ProgressHandler = @Sendable (ProgressEvent) -> Void

extension Duration {
    /// Whole milliseconds (truncated), for logs and JSON reports.
    public var wholeMilliseconds: Int64 {
        let (seconds, attoseconds) = components
        return seconds * 1000 + attoseconds / 1_000_000_000_000_000
    }
}
