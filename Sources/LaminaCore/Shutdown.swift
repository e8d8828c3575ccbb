/// Runs `body`, then `shutdown`, on success and on error alike: the one way a resource that must be closed (an
/// engine, an HTTP transport, a test server) is scoped to a block.
///
/// After a failing `body`, an error from `shutdown` is dropped so the caller sees why `body` failed.
/// - Throws: what `body` throws; otherwise what `shutdown` throws.
public func withShutdown<T>(_ body: () async throws -> T, shutdown: () async throws -> Void) async throws -> T {
    let result: T
    do {
        result = try await body()
    } catch {
        try? await shutdown()
        throw error
    }
    try await shutdown()
    return result
}
