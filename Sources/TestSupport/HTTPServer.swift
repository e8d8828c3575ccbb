import Foundation
import LaminaCore
import NIOCore
import NIOHTTP1
import NIOPosix

/// A request the test server received.
public struct RecordedRequest: Sendable {
    public var method: String
    /// The request target as sent: path and query.
    public var uri: String
    /// `uri` without the query string.
    public var path: String
    public var headers: [(name: String, value: String)]
    public var body: [UInt8]
    /// Which connection it arrived on (numbered from 1 in accept order).
    public var connection: Int

    /// The first value of header `name` (case-insensitive).
    public func header(_ name: String) -> String? {
        headers.first { $0.name.lowercased() == name.lowercased() }?.value
    }
}

/// A response an in-memory handler returns.
public struct TestHTTPResponse: Sendable {
    public var status: Int
    public var headers: [(name: String, value: String)]
    public var body: [UInt8]

    public init(status: Int = 200, headers: [(String, String)] = [], body: [UInt8] = []) {
        self.status = status
        self.headers = headers.map { (name: $0.0, value: $0.1) }
        self.body = body
    }

    public init(status: Int = 200, headers: [(String, String)] = [], text: String) {
        self.init(status: status, headers: headers, body: Array(text.utf8))
    }
}

/// Answers one method + path on the test server.
public typealias TestHTTPHandler = @Sendable (RecordedRequest) async -> TestHTTPResponse

/// Misbehaviour injected for one path (or `"*"` for every path).
public enum TestHTTPFault: Sendable {
    /// Answer with `status` (and a short body) for the next `times` requests.
    case status(Int, times: Int)
    /// Send the headers (with the full `Content-Length`) and `afterBytes` body bytes, then close the connection,
    /// for the next `times` requests.
    case dropConnection(afterBytes: Int, times: Int)
    /// Serve these bytes instead of the file's.
    case tamper([UInt8])
    /// Answer 401 unless the request carries these basic credentials.
    case requireBasicAuth(user: String, password: String)
    /// Wait this long before answering each request.
    case delay(Duration)
    /// Ignore `Range` headers: always send the whole file with 200.
    case ignoreRange
    /// Answer `status` with a `Retry-After: value` header for the next `times` requests.
    case retryAfter(status: Int, value: String, times: Int)
    /// Answer `302 Found` with `Location: location` (another path, for loops).
    case redirect(to: String)
    /// Send the headers and `afterBytes` body bytes, then send nothing more for `stall` (a slow-loris
    /// server) and close, for the next `times` requests.
    case stall(afterBytes: Int, for: Duration, times: Int)
}

/// An HTTP/1.1 server on 127.0.0.1 (port chosen by the system) for tests: serves files from a folder and from
/// memory (GET/HEAD with `Content-Length`, `ETag`, `If-None-Match` → 304, `Range` → 206, `If-Range`), answers
/// registered handlers, injects faults, and records every request.
///
/// Start it with ``withTestHTTPServer(root:_:)``, which always shuts it down.
public final class TestHTTPServer: Sendable {
    private let state: ServerState
    private let service: LoopbackService

    /// The port it listens on.
    public var port: Int { service.port }

    /// `http://127.0.0.1:PORT` (no trailing slash).
    public var baseURL: String { "http://127.0.0.1:\(port)" }

    /// `baseURL` + `path` (which should start with `/`).
    public func url(_ path: String) -> String { baseURL + path }

    /// Starts a server; `root` is a folder whose files are served under `/`.
    public static func start(root: String? = nil) async throws -> TestHTTPServer {
        let state = ServerState(root: root)
        let service = try await LoopbackService.start(what: "test HTTP server") { child in
            try child.pipeline.syncOperations.configureHTTPServerPipeline()
            return try NIOAsyncChannel<HTTPServerRequestPart, HTTPServerResponsePart>(wrappingChannelSynchronously: child)
        } acceptLoop: { channel, _ in
            await Self.acceptLoop(channel, state: state)
        }
        return TestHTTPServer(state: state, service: service)
    }

    private init(state: ServerState, service: LoopbackService) {
        self.state = state
        self.service = service
    }

    /// Stops accepting, closes every connection and frees the event loop.
    public func shutdown() async throws { try await service.shutdown() }

    // MARK: Configuration

    /// Serves `bytes` at `path` (overrides a file of the same path under `root`).
    public func setFile(_ path: String, _ bytes: [UInt8]) async { await state.setFile(path, bytes) }

    /// Adds a fault for `path` (exact, without query) or `"*"` (every path). Faults apply in the order added.
    public func addFault(_ fault: TestHTTPFault, for path: String) async { await state.addFault(fault, for: path) }

    /// Removes the faults of `path`.
    public func clearFaults(for path: String) async { await state.clearFaults(for: path) }

    /// Answers `method` on `path` (exact, without query) with `handler`, before files are looked at.
    public func setHandler(method: String, path: String, _ handler: @escaping TestHTTPHandler) async {
        await state.setHandler(method: method, path: path, handler)
    }

    // MARK: Observations

    /// Every request received so far, in arrival order.
    public func requests() async -> [RecordedRequest] { await state.requests }

    /// The requests received for `path` (without query).
    public func requests(path: String) async -> [RecordedRequest] { await state.requests.filter { $0.path == path } }

    /// The most requests that were being answered at the same moment.
    public func maxConcurrentRequests() async -> Int { await state.maxInFlight }

    /// How many connections were accepted.
    public func connectionCount() async -> Int { await state.connections }

    // MARK: Serving

    private static func acceptLoop(
        _ server: NIOAsyncChannel<NIOAsyncChannel<HTTPServerRequestPart, HTTPServerResponsePart>, Never>,
        state: ServerState
    ) async {
        try? await withThrowingDiscardingTaskGroup { group in
            try await server.executeThenClose { inbound in
                for try await connection in inbound {
                    let number = await state.connectionAccepted()
                    group.addTask {
                        try? await serve(connection, number: number, state: state)
                    }
                }
            }
        }
    }

    private static func serve(
        _ connection: NIOAsyncChannel<HTTPServerRequestPart, HTTPServerResponsePart>, number: Int,
        state: ServerState
    ) async throws {
        try await connection.executeThenClose { inbound, outbound in
            var head: HTTPRequestHead?
            var body: [UInt8] = []
            for try await part in inbound {
                switch part {
                case .head(let received):
                    head = received
                    body = []
                case .body(let buffer):
                    body += buffer.readableBytesView
                case .end:
                    guard let request = head else { continue }
                    head = nil
                    let recorded = RecordedRequest(
                        method: request.method.rawValue, uri: request.uri,
                        path: String(request.uri.split(separator: "?", maxSplits: 1).first ?? ""),
                        headers: request.headers.map { (name: $0.name, value: $0.value) }, body: body,
                        connection: number)
                    let plan = await state.begin(recorded)
                    let keepOpen: Bool
                    do {
                        keepOpen = try await answer(
                            request, plan: plan, outbound: outbound, channel: connection.channel)
                    } catch {
                        await state.end()
                        throw error
                    }
                    await state.end()
                    if !keepOpen { return }
                }
            }
        }
    }
    /// Writes the planned response; returns whether the connection stays open.
    private static func answer(
        _ request: HTTPRequestHead, plan: ResponsePlan, outbound: NIOAsyncChannelOutboundWriter<HTTPServerResponsePart>,
        channel: any Channel
    ) async throws -> Bool {
        if let delay = plan.delay { try await Task.sleep(for: delay) }
        var headers = HTTPHeaders(plan.response.headers.map { ($0.name, $0.value) })
        let status = plan.response.status
        let bodyAllowed = request.method != .HEAD && status != 304 && status != 204
        if !headers.contains(name: "Content-Length"), !headers.contains(name: "Transfer-Encoding"), status != 304,
            status != 204
        {
            headers.add(name: "Content-Length", value: String(plan.response.body.count))
        }
        let keepAlive = request.isKeepAlive && plan.dropAfter == nil
        if !keepAlive { headers.replaceOrAdd(name: "Connection", value: "close") }
        let head = HTTPResponseHead(
            version: request.version, status: HTTPResponseStatus(statusCode: status), headers: headers)
        if let dropAfter = plan.dropAfter {
            // Written straight to the channel and awaited, so exactly these bytes reach the client before the close.
            try await channel.writeAndFlush(HTTPServerResponsePart.head(head)).get()
            let sent = bodyAllowed ? Array(plan.response.body.prefix(dropAfter)) : []
            if !sent.isEmpty {
                try await channel.writeAndFlush(HTTPServerResponsePart.body(.byteBuffer(ByteBuffer(bytes: sent)))).get()
            }
            // Let the client consume what arrived before it sees the close (clients may drop unread data on EOF);
            // a stalling server keeps the connection open and silent for longer.
            try? await Task.sleep(for: plan.stall ?? .milliseconds(50))
            return false  // the connection closes mid-body
        }
        try await outbound.write(.head(head))
        if bodyAllowed, !plan.response.body.isEmpty {
            try await outbound.write(.body(.byteBuffer(ByteBuffer(bytes: plan.response.body))))
        }
        try await outbound.write(.end(nil))
        return keepAlive
    }
}

/// Runs `body` with a started server and shuts the server down afterwards, also when `body` throws.
public func withTestHTTPServer<T>(root: String? = nil, _ body: (TestHTTPServer) async throws -> T) async throws -> T {
    let server = try await TestHTTPServer.start(root: root)
    return try await withShutdown({ try await body(server) }, shutdown: { try await server.shutdown() })
}

/// What to send for one request.
struct ResponsePlan: Sendable {
    var response: TestHTTPResponse
    var delay: Duration?
    /// Close the connection after this many body bytes.
    var dropAfter: Int?
    /// With `dropAfter`: how long to keep the connection open and silent before closing it.
    var stall: Duration?
}

/// The server's configuration and records, shared by all connections.
actor ServerState {
    let root: String?
    var files: [String: [UInt8]] = [:]
    var faults: [String: [(fault: TestHTTPFault, remaining: Int)]] = [:]
    var handlers: [String: TestHTTPHandler] = [:]
    var requests: [RecordedRequest] = []
    var connections = 0
    var inFlight = 0
    var maxInFlight = 0

    init(root: String?) { self.root = root }

    func setFile(_ path: String, _ bytes: [UInt8]) { files[path] = bytes }

    func addFault(_ fault: TestHTTPFault, for path: String) {
        let times: Int
        switch fault {
        case .status(_, let count), .dropConnection(_, let count), .retryAfter(_, _, let count), .stall(_, _, let count):
            times = count
        default: times = Int.max
        }
        faults[path, default: []].append((fault, times))
    }

    func clearFaults(for path: String) { faults[path] = nil }

    func setHandler(method: String, path: String, _ handler: @escaping TestHTTPHandler) {
        handlers["\(method.uppercased()) \(path)"] = handler
    }

    func connectionAccepted() -> Int {
        connections += 1
        return connections
    }

    func end() { inFlight -= 1 }

    /// Records `request` and decides the answer.
    func begin(_ request: RecordedRequest) async -> ResponsePlan {
        requests.append(request)
        inFlight += 1
        maxInFlight = max(maxInFlight, inFlight)

        var plan = ResponsePlan(response: TestHTTPResponse(status: 500))
        var tampered: [UInt8]?
        var ignoreRange = false
        for key in ["*", request.path] {
            guard var list = faults[key] else { continue }
            for index in list.indices {
                switch list[index].fault {
                case .delay(let duration):
                    plan.delay = (plan.delay ?? .zero) + duration
                case .requireBasicAuth(let user, let password):
                    let expected = "Basic " + Base64.encode(Array("\(user):\(password)".utf8))
                    if request.header("Authorization") != expected {
                        faults[key] = list
                        plan.response = TestHTTPResponse(
                            status: 401, headers: [("WWW-Authenticate", "Basic realm=\"test\"")], text: "unauthorized")
                        return plan
                    }
                case .status(let status, _):
                    if list[index].remaining > 0 {
                        list[index].remaining -= 1
                        faults[key] = list
                        plan.response = TestHTTPResponse(status: status, text: "injected failure \(status)")
                        return plan
                    }
                case .dropConnection(let bytes, _):
                    if list[index].remaining > 0, plan.dropAfter == nil {
                        list[index].remaining -= 1
                        plan.dropAfter = bytes
                    }
                case .tamper(let bytes):
                    tampered = bytes
                case .ignoreRange:
                    ignoreRange = true
                case .retryAfter(let status, let value, _):
                    if list[index].remaining > 0 {
                        list[index].remaining -= 1
                        faults[key] = list
                        plan.response = TestHTTPResponse(status: status, headers: [("Retry-After", value)], text: "come back later")
                        return plan
                    }
                case .redirect(let location):
                    faults[key] = list
                    plan.response = TestHTTPResponse(status: 302, headers: [("Location", location)], text: "moved")
                    return plan
                case .stall(let bytes, let duration, _):
                    if list[index].remaining > 0, plan.dropAfter == nil {
                        list[index].remaining -= 1
                        plan.dropAfter = bytes
                        plan.stall = duration
                    }
                }
            }
            faults[key] = list
        }

        if let handler = handlers["\(request.method) \(request.path)"] {
            plan.response = await handler(request)
            return plan
        }
        guard request.method == "GET" || request.method == "HEAD" else {
            plan.response = TestHTTPResponse(status: 405, text: "method not allowed")
            return plan
        }
        guard var content = content(at: request.path) else {
            plan.response = TestHTTPResponse(status: 404, text: "not found")
            return plan
        }
        if let tampered { content = tampered }
        plan.response = Self.serveFile(content, request: request, honourRange: !ignoreRange)
        return plan
    }

    private func content(at rawPath: String) -> [UInt8]? {
        let path = rawPath.removingPercentEncoding ?? rawPath
        if let bytes = files[path] { return bytes }
        guard let root, path.hasPrefix("/"), !path.split(separator: "/").contains("..") else { return nil }
        var isDirectory: ObjCBool = false
        let full = root + path
        guard FileManager.default.fileExists(atPath: full, isDirectory: &isDirectory), !isDirectory.boolValue,
            let data = FileManager.default.contents(atPath: full)
        else { return nil }
        return Array(data)
    }

    /// A GET/HEAD answer for `content`: ETag, conditional requests, single byte ranges.
    static func serveFile(_ content: [UInt8], request: RecordedRequest, honourRange: Bool) -> TestHTTPResponse {
        let etag = "\"\(fnv1a(content))-\(content.count)\""
        let common = [("ETag", etag), ("Accept-Ranges", "bytes"), ("Content-Type", "application/octet-stream")]
        if let match = request.header("If-None-Match"),
            match == "*" || match.split(separator: ",").contains(where: { String($0).trimmingSpaces == etag })
        {
            return TestHTTPResponse(status: 304, headers: [("ETag", etag)])
        }
        if honourRange, let range = request.header("Range"),
            request.header("If-Range").map({ $0 == etag }) ?? true
        {
            switch byteRange(range, size: content.count) {
            case .some(.some(let bounds)):
                return TestHTTPResponse(
                    status: 206,
                    headers: common + [
                        ("Content-Range", "bytes \(bounds.lowerBound)-\(bounds.upperBound - 1)/\(content.count)")
                    ],
                    body: Array(content[bounds]))
            case .some(.none):
                return TestHTTPResponse(status: 416, headers: [("Content-Range", "bytes */\(content.count)")])
            case .none:
                break  // not a single byte range: send everything
            }
        }
        return TestHTTPResponse(status: 200, headers: common, body: content)
    }

    /// Parses `bytes=N-`, `bytes=N-M`, `bytes=-S`. nil: not a single byte range (ignored);
    /// `.some(nil)`: unsatisfiable.
    static func byteRange(_ header: String, size: Int) -> Range<Int>?? {
        let text = header.trimmingSpaces
        guard text.hasPrefix("bytes="), !text.contains(",") else { return nil }
        let spec = text.dropFirst("bytes=".count)
        guard let dash = spec.firstIndex(of: "-") else { return nil }
        let first = String(spec[..<dash]).trimmingSpaces
        let last = String(spec[spec.index(after: dash)...]).trimmingSpaces
        if first.isEmpty {
            guard let suffix = Int(last), suffix > 0 else { return .some(nil) }
            return .some(max(0, size - suffix)..<size)
        }
        guard let start = Int(first) else { return nil }
        guard start < size else { return .some(nil) }
        if last.isEmpty { return .some(start..<size) }
        guard let end = Int(last), end >= start else { return nil }
        return .some(start..<min(size, end + 1))
    }

    static func fnv1a(_ bytes: [UInt8]) -> String {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in bytes {
            hash ^= UInt64(byte)
            hash = hash &* 0x100_0000_01b3
        }
        return String(hash, radix: 16)
    }
}
