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
