import LaminaCore
import NIOCore
import NIOPosix

/// A `CONNECT` request the test proxy received.
public struct RecordedTunnel: Sendable {
    /// The `host:port` the client asked for (never connected to: every tunnel ends at the proxy's upstream).
    public var target: String
    /// The `Proxy-Authorization` header, if sent.
    public var proxyAuthorization: String?
}

/// A minimal HTTP `CONNECT` proxy on 127.0.0.1 for tests. Whatever host a client asks for, the tunnel leads to one
/// fixed upstream on 127.0.0.1 (normally a ``TestHTTPServer``), so clients can use made-up host names and no
/// traffic leaves the machine. Records each `CONNECT`.
public final class TestHTTPProxy: Sendable {
    private let state: ProxyState
    private let service: LoopbackService

    public var port: Int { service.port }

    /// `http://127.0.0.1:PORT`, for `HTTP_PROXY`.
    public var url: String { "http://127.0.0.1:\(port)" }

    /// Starts a proxy whose tunnels all lead to `127.0.0.1:upstreamPort`.
    public static func start(upstreamPort: Int) async throws -> TestHTTPProxy {
        let state = ProxyState()
        let service = try await LoopbackService.start(what: "test proxy") { child in
            try NIOAsyncChannel<ByteBuffer, ByteBuffer>(wrappingChannelSynchronously: child)
        } acceptLoop: { channel, group in
            _ = try? await withThrowingDiscardingTaskGroup { tasks in
                try await channel.executeThenClose { inbound in
                    for try await client in inbound {
                        tasks.addTask {
                            try? await tunnel(client, upstreamPort: upstreamPort, group: group, state: state)
                        }
                    }
                }
            }
        }
        return TestHTTPProxy(state: state, service: service)
    }

    private init(state: ProxyState, service: LoopbackService) {
        self.state = state
        self.service = service
    }

    /// Stops the proxy and closes every tunnel.
    public func shutdown() async throws { try await service.shutdown() }

    /// Every `CONNECT` received so far.
    public func tunnels() async -> [RecordedTunnel] { await state.tunnels }

    private static func tunnel(
        _ client: NIOAsyncChannel<ByteBuffer, ByteBuffer>, upstreamPort: Int, group: MultiThreadedEventLoopGroup,
        state: ProxyState
    ) async throws {
        try await client.executeThenClose { clientIn, clientOut in
            var iterator = clientIn.makeAsyncIterator()
            var received = ByteBuffer()
            var headerEnd: Int?
            while headerEnd == nil {
                guard var chunk = try await iterator.next() else { return }
                received.writeBuffer(&chunk)
                headerEnd = Self.endOfHeader(received)
            }
            guard let headerEnd, let header = received.readString(length: headerEnd) else { return }
            let lines = header.split(separator: "\r\n").map(String.init)
            let requestLine = (lines.first ?? "").split(separator: " ").map(String.init)
            guard requestLine.count == 3, requestLine[0] == "CONNECT" else {
                try await clientOut.write(
                    ByteBuffer(string: "HTTP/1.1 405 Method Not Allowed\r\nContent-Length: 0\r\n\r\n"))
                return
            }
            let authorization = lines.dropFirst().first { $0.lowercased().hasPrefix("proxy-authorization:") }
                .map { String($0.dropFirst("proxy-authorization:".count)).trimmingSpaces }
            await state.record(RecordedTunnel(target: requestLine[1], proxyAuthorization: authorization))

            let upstream = try await ClientBootstrap(group: group).connect(host: "127.0.0.1", port: upstreamPort) {
                channel in
                channel.eventLoop.makeCompletedFuture {
                    try NIOAsyncChannel<ByteBuffer, ByteBuffer>(wrappingChannelSynchronously: channel)
                }
            }
            try await clientOut.write(ByteBuffer(string: "HTTP/1.1 200 Connection established\r\n\r\n"))
            try await upstream.executeThenClose { upstreamIn, upstreamOut in
                if received.readableBytes > 0 { try await upstreamOut.write(received) }
                try await withThrowingTaskGroup(of: Void.self) { tasks in
                    tasks.addTask {
                        for try await chunk in upstreamIn { try await clientOut.write(chunk) }
                    }
                    while let chunk = try await iterator.next() { try await upstreamOut.write(chunk) }
                    tasks.cancelAll()
                }
            }
        }
    }

    /// Length of the request header including its blank line, once `buffer` holds all of it.
    private static func endOfHeader(_ buffer: ByteBuffer) -> Int? {
        let bytes = Array(buffer.readableBytesView)
        guard bytes.count >= 4 else { return nil }
        for index in 0...(bytes.count - 4)
        where bytes[index] == 13 && bytes[index + 1] == 10 && bytes[index + 2] == 13 && bytes[index + 3] == 10 {
            return index + 4
        }
        return nil
    }
}

/// Runs `body` with a proxy in front of `server`, and shuts the proxy down afterwards, also when `body` throws.
public func withTestHTTPProxy<T>(upstream server: TestHTTPServer, _ body: (TestHTTPProxy) async throws -> T)
    async throws -> T
{
    let proxy = try await TestHTTPProxy.start(upstreamPort: server.port)
    return try await withShutdown({ try await body(proxy) }, shutdown: { try await proxy.shutdown() })
}

actor ProxyState {
    var tunnels: [RecordedTunnel] = []
    func record(_ tunnel: RecordedTunnel) { tunnels.append(tunnel) }
}
