import LaminaCore
import NIOCore
import NIOPosix

/// Binds a listening socket on 127.0.0.1 (port chosen by the system) for the test servers, each accepted
/// connection wrapped by `wrap`. On failure the event loop group is shut down before the error is thrown.
/// - Returns: the server channel and its port.
func bindLoopback<Inbound: Sendable, Outbound: Sendable>(
    group: MultiThreadedEventLoopGroup, what: String,
    wrap: @escaping @Sendable (any Channel) throws -> NIOAsyncChannel<Inbound, Outbound>
) async throws -> (channel: NIOAsyncChannel<NIOAsyncChannel<Inbound, Outbound>, Never>, port: Int) {
    let channel: NIOAsyncChannel<NIOAsyncChannel<Inbound, Outbound>, Never>
    do {
        channel = try await ServerBootstrap(group: group)
            .serverChannelOption(ChannelOptions.socketOption(.so_reuseaddr), value: 1)
            .bind(host: "127.0.0.1", port: 0) { child in
                child.eventLoop.makeCompletedFuture { try wrap(child) }
            }
    } catch {
        try? await group.shutdownGracefully()
        throw error
    }
    guard let port = channel.channel.localAddress?.port else {
        try? await channel.channel.close()
        try? await group.shutdownGracefully()
        throw LaminaError(.internal, "\(what) has no local port")
    }
    return (channel, port)
}

/// A test service listening on 127.0.0.1: its port, its event loop group and the task accepting connections.
struct LoopbackService: Sendable {
    let port: Int
    private let group: MultiThreadedEventLoopGroup
    private let task: Task<Void, Never>

    /// Binds a port (see ``bindLoopback(group:what:wrap:)``) and runs `acceptLoop` on the listening channel, with
    /// the event loop group for outbound connections, until ``shutdown()``.
    static func start<Inbound: Sendable, Outbound: Sendable>(
        what: String, wrap: @escaping @Sendable (any Channel) throws -> NIOAsyncChannel<Inbound, Outbound>,
        acceptLoop: @escaping @Sendable (
            NIOAsyncChannel<NIOAsyncChannel<Inbound, Outbound>, Never>, MultiThreadedEventLoopGroup
        ) async -> Void
    ) async throws -> LoopbackService {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let (channel, port) = try await bindLoopback(group: group, what: what, wrap: wrap)
        return LoopbackService(port: port, group: group, task: Task { await acceptLoop(channel, group) })
    }

    /// Stops accepting, closes every connection and frees the event loop.
    func shutdown() async throws {
        task.cancel()
        await task.value
        try await group.shutdownGracefully()
    }
}
