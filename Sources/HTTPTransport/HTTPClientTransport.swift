import AsyncHTTPClient
import Foundation
import LaminaCore
import NIOCore
import NIOHTTP1

/// How an ``HTTPClientTransport`` behaves for every request.
public struct HTTPTransportConfiguration: Sendable {
    /// Sent as `User-Agent` unless a request sets its own.
    public var userAgent: String
    /// Time allowed to open a connection (TCP and TLS).
    public var connectTimeout: Duration
    /// An attempt fails when no byte arrives for this long.
    public var idleTimeout: Duration
    /// Deadline for one attempt, body included, unless ``HTTPRequestOptions/timeout`` says otherwise.
    public var requestTimeout: Duration
    public var retry: RetryPolicy
    public var proxy: ProxySettings
    /// Supplies credentials (basic from `HTTP_AUTH`; bearer tokens from the registry client).
    public var authenticator: (any HTTPAuthenticator)?
    /// Most redirects followed for one request.
    public var maxRedirects: Int

    public init(
        userAgent: String = "lamina/0.1", connectTimeout: Duration = .seconds(10), idleTimeout: Duration = .seconds(60),
        requestTimeout: Duration = .seconds(3600), retry: RetryPolicy = .default, proxy: ProxySettings = .none,
        authenticator: (any HTTPAuthenticator)? = nil, maxRedirects: Int = 10
    ) {
        self.userAgent = userAgent
        self.connectTimeout = connectTimeout
        self.idleTimeout = idleTimeout
        self.requestTimeout = requestTimeout
        self.retry = retry
        self.proxy = proxy
        self.authenticator = authenticator
        self.maxRedirects = maxRedirects
    }

    /// Defaults plus what an explicit environment says: proxies (`HTTPS_PROXY`, `HTTP_PROXY`, `NO_PROXY`, either
    /// case) and basic credentials (`HTTP_AUTH`).
    /// - Throws: `LaminaError(.invalidInput)` for an unusable proxy variable.
    public static func fromEnvironment(_ environment: [String: String]) throws -> HTTPTransportConfiguration {
        var configuration = HTTPTransportConfiguration()
        configuration.proxy = try ProxySettings.fromEnvironment(environment)
        configuration.authenticator = BasicAuthenticator.fromEnvironment(environment)
        return configuration
    }
}

/// The ``HTTPTransport`` that talks to real servers, through AsyncHTTPClient.
///
/// It owns one `HTTPClient` for direct connections plus one per configured proxy (proxies are a per-client setting
/// in AsyncHTTPClient, while `NO_PROXY` decides per request). Call ``shutdown()`` when done, or use
/// ``with(_:_:)``, which always does.
///
/// Each request: adds `User-Agent` and credentials, follows redirects itself (dropping credentials when the origin
/// changes, refusing https → http), retries connection errors, 5xx and 429 with backoff, and resumes a broken
/// download with `Range: bytes=N-` (and `If-Range`) when the server answers 206; when it answers 200 instead,
/// the sink is told to restart.
public final class HTTPClientTransport: HTTPTransport {
    public let configuration: HTTPTransportConfiguration
    private let direct: HTTPClient
    private let proxied: [ProxyEndpoint: HTTPClient]

    public init(configuration: HTTPTransportConfiguration = HTTPTransportConfiguration()) {
        self.configuration = configuration
        self.direct = HTTPClient(configuration: Self.clientConfiguration(configuration, proxy: nil))
        var proxied: [ProxyEndpoint: HTTPClient] = [:]
        for endpoint in [configuration.proxy.httpProxy, configuration.proxy.httpsProxy].compactMap({ $0 })
        where proxied[endpoint] == nil {
            proxied[endpoint] = HTTPClient(configuration: Self.clientConfiguration(configuration, proxy: endpoint))
        }
        self.proxied = proxied
    }

    /// Creates a transport, runs `body` with it, and shuts it down whatever happens.
    public static func with<T: Sendable>(
        _ configuration: HTTPTransportConfiguration = HTTPTransportConfiguration(),
        _ body: (HTTPClientTransport) async throws -> T
    ) async throws -> T {
        let transport = HTTPClientTransport(configuration: configuration)
        return try await withShutdown({ try await body(transport) }, shutdown: { try await transport.shutdown() })
    }

    /// Closes every connection. Must be called once before the transport is released.
    /// - Throws: `LaminaError(.internal)` when a client was already shut down.
    public func shutdown() async throws {
        var failure: (any Error)?
        for client in [direct] + Array(proxied.values) {
            do { try await client.shutdown() } catch { failure = failure ?? error }
        }
        if let failure { throw LaminaError(.internal, "HTTP client shutdown failed: \(failure)", cause: failure) }
    }

    private static func clientConfiguration(_ configuration: HTTPTransportConfiguration, proxy: ProxyEndpoint?)
        -> HTTPClient.Configuration
    {
        var result = HTTPClient.Configuration()
        result.redirectConfiguration = .disallow
        result.decompression = .disabled
        // A refused connection fails the request at once; `RetryPolicy` decides about another attempt (AsyncHTTPClient
        // would otherwise keep reconnecting until the request's deadline).
        result.connectionPool.retryConnectionEstablishment = false
        result.timeout = HTTPClient.Configuration.Timeout(
            connect: TimeAmount(configuration.connectTimeout), read: TimeAmount(configuration.idleTimeout))
        if let proxy {
            switch proxy.kind {
            case .http:
                let authorization = proxy.user.map {
                    HTTPClient.Authorization.basic(username: $0, password: proxy.password ?? "")
                }
                result.proxy = .server(host: proxy.host, port: proxy.port, authorization: authorization)
            case .socks5:
                result.proxy = .socksServer(host: proxy.host, port: proxy.port)
            }
        }
        return result
    }

    private func client(for url: RequestURL) -> HTTPClient {
        configuration.proxy.proxy(for: url).flatMap { proxied[$0] } ?? direct
    }

    // MARK: - Request loop

    public func execute(_ request: HTTPRequest, options: HTTPRequestOptions, sink: HTTPBodySink?) async throws
        -> HTTPResponse
    {
        let policy = options.retry ?? configuration.retry
        let clock = ContinuousClock()
        let started = clock.now
        var current = request
        var target = try RequestURL(request.url)
        current.url = target.withoutUserinfo
        // Credentials from the URL belong to that URL's origin only.
        let userinfo = target.user.map {
            (origin: target.origin, value: BasicCredential.headerValue(user: $0, password: target.password ?? ""))
        }
        var attempts = 0
        var redirects = 0
        var answeredChallenge = false
        var transfer = TransferState()

        while true {
            attempts += 1
            let outcome: AttemptOutcome
            do {
                outcome = try await attempt(
                    current, target: target, userinfo: userinfo, options: options, sink: sink, transfer: &transfer)
            } catch let failure as SinkFailure {
                throw failure.error
            } catch let failure as RetryableFailure {
                if Task.isCancelled { throw CancellationError() }
                let mayRepeat = current.method.isIdempotent || options.retryNonIdempotent
                if mayRepeat, attempts < policy.maxAttempts,
                    let pause = Self.pause(policy, retry: attempts, since: started, clock: clock, retryAfter: nil)
                {
                    try await Task.sleep(for: pause)
                    continue
                }
                let suffix = attempts > 1 ? " after \(attempts) attempts" : ""
                throw LaminaError(
                    .network, failure.message + suffix, subject: current.redactedDescription, cause: failure.cause)
            }

            switch outcome {
            case .redirect(let status, let location):
                redirects += 1
                guard redirects <= configuration.maxRedirects else {
                    throw LaminaError(
                        .network, "more than \(configuration.maxRedirects) redirects",
                        subject: request.redactedDescription)
                }
                try Self.follow(status: status, location: location, request: &current, target: &target)
                attempts = 0
                transfer = TransferState()

            case .response(var response):
                if response.status == 401, !answeredChallenge, let authenticator = configuration.authenticator,
                    try await authenticator.handleChallenge(response, for: current)
                {
                    answeredChallenge = true
                    attempts -= 1
                    continue
                }
                let status = response.status
                let rejectedUnprocessed = status == 429 || status == 503
                if RetryPolicy.isRetryable(status: status),
                    current.method.isIdempotent || options.retryNonIdempotent || rejectedUnprocessed,
                    attempts < policy.maxAttempts,
                    let pause = Self.pause(
                        policy, retry: attempts, since: started, clock: clock,
                        retryAfter: response.headers["Retry-After"].flatMap { RetryPolicy.retryAfterSeconds($0, now: Int64(time(nil))) })
                {
                    try await Task.sleep(for: pause)
                    continue
                }
                response.attempts = attempts
                return response
            }
        }
    }

    /// Points `request` at a redirect's `Location`: never from https to http, credentials dropped for another
    /// origin, a 303 (or a 301/302 after POST) turned into a GET without a body.
    private static func follow(status: Int, location: String, request current: inout HTTPRequest, target: inout RequestURL) throws {
        guard let resolved = target.resolve(location), let next = try? RequestURL(resolved) else {
            throw LaminaError(
                .network, "HTTP \(status) redirect to an unusable Location '\(URLRedaction.redact(location))'",
                subject: current.redactedDescription)
        }
        if target.scheme == "https" && next.scheme == "http" {
            throw LaminaError(
                .network, "refusing redirect from https to \(URLRedaction.redact(next.withoutUserinfo))",
                subject: current.redactedDescription)
        }
        if next.origin != target.origin { current.headers.remove("Authorization") }
        if status == 303 || (status == 301 || status == 302) && current.method == .post {
            if current.method != .head { current.method = .get }
            current.body = .none
            current.headers.remove("Content-Type")
            current.headers.remove("Content-Length")
        }
        current.url = next.withoutUserinfo
        target = next
    }

    /// The pause before retry number `retry`, or nil when it would end past the policy's total time.
    private static func pause(
        _ policy: RetryPolicy, retry: Int, since started: ContinuousClock.Instant, clock: ContinuousClock,
        retryAfter: Int?
    ) -> Duration? {
        var delay = policy.delay(beforeRetry: retry)
        if let retryAfter, retryAfter > 0 {
            delay = max(delay, min(.seconds(retryAfter), policy.maxDelay))
        }
        return clock.now - started + delay > policy.maxTotalTime ? nil : delay
    }

    /// What one attempt learnt about a download in progress, kept across attempts.
    private struct TransferState {
        /// Bytes already handed to the sink.
        var delivered: Int64 = 0
        /// The strong `ETag` (or `Last-Modified`) of the response being delivered, for `If-Range`.
        var validator: String?
    }

    private enum AttemptOutcome {
        case redirect(status: Int, location: String)
        case response(HTTPResponse)
    }

    /// The request as sent: user agent and credentials added, a broken download resumed with `Range`
    /// (or started over for a caller's own range), the body attached.
    private func prepare(
        _ request: HTTPRequest, target: RequestURL, userinfo: (origin: String, value: String)?, sink: HTTPBodySink?,
        transfer: inout TransferState
    ) async throws -> (HTTPClientRequest, resuming: Bool) {
        var headers = request.headers
        if headers["User-Agent"] == nil { headers["User-Agent"] = configuration.userAgent }
        if headers["Authorization"] == nil {
            if let userinfo, userinfo.origin == target.origin {
                headers["Authorization"] = userinfo.value
            } else if let authenticator = configuration.authenticator,
                let value = try await authenticator.authorization(for: request)
            {
                headers["Authorization"] = value
            }
        }
        if let sink, transfer.delivered > 0, request.headers["Range"] != nil {
            // The caller asked for a range of their own: start it over rather than resume inside it.
            guard let restart = sink.restart else {
                throw LaminaError(
                    .network, "transfer broke after \(transfer.delivered) bytes of a range request",
                    subject: request.redactedDescription)
            }
            do { try await restart() } catch { throw SinkFailure(error: error) }
            transfer = TransferState()
        }
        let resuming = sink != nil && transfer.delivered > 0
        if resuming {
            headers["Range"] = "bytes=\(transfer.delivered)-"
            if let validator = transfer.validator { headers["If-Range"] = validator }
        }
        var outgoing = HTTPClientRequest(url: target.withoutUserinfo)
        outgoing.method = NIOHTTP1.HTTPMethod(rawValue: request.method.rawValue)
        outgoing.headers = NIOHTTP1.HTTPHeaders(headers.fields.map { ($0.name, $0.value) })
        switch request.body {
        case .none: break
        case .bytes(let bytes): outgoing.body = .bytes(bytes)
        case .file(let path, let range):
            let chunks = try FileChunks(path: path, range: range)
            outgoing.body = .stream(chunks, length: .known(chunks.length))
        }
        return (outgoing, resuming)
    }

    /// Sends the request once and reads the response.
    private func attempt(
        _ request: HTTPRequest, target: RequestURL, userinfo: (origin: String, value: String)?,
        options: HTTPRequestOptions, sink: HTTPBodySink?, transfer: inout TransferState
    ) async throws -> AttemptOutcome {
        let (outgoing, resuming) = try await prepare(request, target: target, userinfo: userinfo, sink: sink, transfer: &transfer)
        let deadline = NIODeadline.now() + TimeAmount(options.timeout ?? configuration.requestTimeout)
        let response: HTTPClientResponse
        do {
            response = try await client(for: target).execute(outgoing, deadline: deadline)
        } catch {
            throw try Self.classify(error)
        }

        let status = Int(response.status.code)
        let responseHeaders = HTTPHeaderFields(response.headers.map { ($0.name, $0.value) })
        if options.followRedirects, [301, 302, 303, 307, 308].contains(status),
            let location = responseHeaders["Location"]
        {
            return .redirect(status: status, location: location)
        }
        var result = HTTPResponse(
            status: status, headers: responseHeaders, method: request.method, url: target.withoutUserinfo)
        let subject = request.redactedDescription

        guard let sink, (200..<300).contains(status), request.method != .head else {
            // Collected in memory: bodies without a sink, error bodies, HEAD.
            try await Self.collect(response.body, into: &result, options: options, subject: subject)
            return .response(result)
        }

        try await Self.deliver(
            response.body, result: result, to: sink, resuming: resuming, options: options, subject: subject, transfer: &transfer)
        result.bytesDelivered = transfer.delivered
        return .response(result)
    }

    /// Streams a success body to `sink`: continuing a broken transfer when the server resumes it, starting over
    /// when it sends the whole body again; the options' size limit counts from the first byte.
    private static func deliver(
        _ body: HTTPClientResponse.Body, result: HTTPResponse, to sink: HTTPBodySink, resuming: Bool,
        options: HTTPRequestOptions, subject: String, transfer: inout TransferState
    ) async throws {
        if resuming {
            if result.status == 206, Self.contentRangeStart(result.headers) == transfer.delivered {
                // The server continues where the broken attempt stopped.
            } else if result.status == 200 {
                guard let restart = sink.restart else {
                    throw LaminaError(
                        .network,
                        "transfer broke after \(transfer.delivered) bytes and the server cannot resume it",
                        subject: subject)
                }
                do { try await restart() } catch { throw SinkFailure(error: error) }
                transfer = TransferState()
            } else {
                throw LaminaError(
                    .network,
                    "asked to resume at byte \(transfer.delivered), the server sent "
                        + "'\(result.headers["Content-Range"] ?? "HTTP \(result.status)")'",
                    subject: subject)
            }
        }
        if transfer.delivered == 0 {
            transfer.validator = Self.validator(result.headers)
        }
        if let limit = options.maxBodyBytes, let length = result.contentLength, transfer.delivered + length > limit {
            throw Self.tooLarge(transfer.delivered + length, limit: limit, subject: subject)
        }
        do {
            for try await buffer in body {
                let chunk = Array(buffer.readableBytesView)
                if let limit = options.maxBodyBytes, transfer.delivered + Int64(chunk.count) > limit {
                    throw Self.tooLarge(nil, limit: limit, subject: subject)
                }
                do { try await sink.write(chunk) } catch { throw SinkFailure(error: error) }
                transfer.delivered += Int64(chunk.count)
            }
        } catch let error as SinkFailure {
            throw error
        } catch let error as LaminaError {
            throw error
        } catch {
            var failure = try Self.classify(error)
            failure.message += " (after \(transfer.delivered) bytes)"
            throw failure
        }
    }

    /// Reads a whole body into `result.body`: a success up to the options' limit (refused beyond it), an error
    /// body only its first MiB (it is for messages).
    private static func collect(
        _ body: HTTPClientResponse.Body, into result: inout HTTPResponse, options: HTTPRequestOptions, subject: String
    ) async throws {
        let status = result.status
        let success = (200..<300).contains(status)
        let limit = options.maxBodyBytes ?? (success ? options.maxCollectedBytes : 1 << 20)
        if success, let length = result.contentLength, length > limit {
            throw Self.tooLarge(length, limit: limit, subject: subject)
        }
        do {
            for try await buffer in body {
                if Int64(result.body.count + buffer.readableBytes) > limit {
                    if success { throw Self.tooLarge(nil, limit: limit, subject: subject) }
                    result.body += buffer.readableBytesView.prefix(Int(limit) - result.body.count)
                    break  // error bodies are only for messages: keep their start
                }
                result.body += buffer.readableBytesView
            }
        } catch let error as LaminaError {
            throw error
        } catch {
            throw try Self.classify(error)
        }
    }

    private static func tooLarge(_ size: Int64?, limit: Int64, subject: String) -> LaminaError {
        let what = size.map { "body of \($0) bytes" } ?? "body"
        return LaminaError(.limitExceeded, "\(what) exceeds the limit of \(limit) bytes", subject: subject)
    }

    /// The first byte of `Content-Range: bytes N-M/T`.
    private static func contentRangeStart(_ headers: HTTPHeaderFields) -> Int64? {
        guard var text = headers["Content-Range"]?.trimmingSpaces, text.hasPrefix("bytes ") else { return nil }
        text.removeFirst("bytes ".count)
        guard let dash = text.firstIndex(of: "-") else { return nil }
        return Int64(String(text[..<dash]).trimmingSpaces)
    }

    /// A value usable in `If-Range`: a strong ETag, else `Last-Modified`.
    private static func validator(_ headers: HTTPHeaderFields) -> String? {
        if let etag = headers["ETag"], !etag.hasPrefix("W/") { return etag }
        return headers["Last-Modified"]
    }

    /// Sorts an error from AsyncHTTPClient into retryable (connection trouble) or not (a bad request of ours).
    private static func classify(_ error: any Error) throws -> RetryableFailure {
        if error is CancellationError { throw error }
        if let error = error as? LaminaError { throw error }
        if let error = error as? HTTPClientError {
            if error == .cancelled || error == .requestStreamCancelled { throw CancellationError() }
            // Mistakes in the request itself: sending it again cannot help.
            let permanent: Set<String> = [
                "Invalid URL", "Empty host", "Empty scheme", "Unsupported scheme", "Missing socket path",
                "Already shutdown", "Trace request with body", "Invalid header field names",
                "Invalid header field values", "Body length mismatch", "Write after request sent",
                "Incompatible headers", "The proxy configuration is not valid",
            ]
            if permanent.contains(error.shortDescription) {
                throw LaminaError(.invalidInput, "request rejected by the HTTP client: \(error)", cause: error)
            }
            return RetryableFailure(message: describe(error), cause: error)
        }
        if let error = error as? HTTPParserError, error == .invalidEOFState {
            return RetryableFailure(message: "connection closed before the whole body arrived", cause: error)
        }
        if let error = error as? IOError {
            return RetryableFailure(message: String(cString: strerror(error.errnoCode)).lowercased(), cause: error)
        }
        return RetryableFailure(message: "\(error)", cause: error)
    }

    private static func describe(_ error: HTTPClientError) -> String {
        switch error {
        case .connectTimeout: return "connection timed out"
        case .readTimeout: return "no data received within the idle timeout"
        case .deadlineExceeded: return "request timed out"
        case .remoteConnectionClosed: return "connection closed by the server"
        case .proxyAuthenticationRequired: return "the proxy requires authentication"
        case .invalidProxyResponse: return "the proxy refused the connection"
        default: return "\(error)"
        }
    }
}

/// A failure that another attempt may cure: the connection broke or timed out.
private struct RetryableFailure: Error {
    var message: String
    var cause: any Error
}

/// An error thrown by the caller's sink, carried out unchanged.
private struct SinkFailure: Error {
    var error: any Error
}

extension TimeAmount {
    /// The same span as a `Duration`, to nanosecond precision.
    init(_ duration: Duration) {
        let (seconds, attoseconds) = duration.components
        self = .nanoseconds(seconds * 1_000_000_000 + attoseconds / 1_000_000_000)
    }
}

/// A file (or a byte range of it) read in 256 KiB chunks, as an upload body.
struct FileChunks: AsyncSequence, Sendable {
    typealias Element = ByteBuffer
    let path: String
    let start: Int64
    let length: Int64

    /// - Throws: `LaminaError(.notFound)` when the file is missing, `.invalidInput` when `range` runs past its end.
    init(path: String, range: Range<Int64>?) throws {
        guard let attributes = try? FileManager.default.attributesOfItem(atPath: path),
            let size = (attributes[.size] as? NSNumber)?.int64Value
        else { throw LaminaError(.notFound, "cannot read the file to upload", subject: path) }
        let range = range ?? 0..<size
        guard range.lowerBound >= 0, range.upperBound <= size else {
            throw LaminaError(.invalidInput, "upload range \(range) runs past the file's \(size) bytes", subject: path)
        }
        self.path = path
        self.start = range.lowerBound
        self.length = Int64(range.count)
    }

    struct AsyncIterator: AsyncIteratorProtocol {
        let path: String
        let start: Int64
        var remaining: Int64
        var handle: FileHandle?

        mutating func next() async throws -> ByteBuffer? {
            if remaining <= 0 {
                try? handle?.close()
                handle = nil
                return nil
            }
            if handle == nil {
                guard let opened = FileHandle(forReadingAtPath: path) else {
                    throw LaminaError(.io, "cannot open the file to upload", subject: path)
                }
                try opened.seek(toOffset: UInt64(start))
                handle = opened
            }
            guard let handle, let data = try handle.read(upToCount: Int(Swift.min(remaining, 256 << 10))), !data.isEmpty
            else { throw LaminaError(.io, "file shrank while it was being uploaded", subject: path) }
            remaining -= Int64(data.count)
            return ByteBuffer(bytes: data)
        }
    }

    func makeAsyncIterator() -> AsyncIterator {
        AsyncIterator(path: path, start: start, remaining: length, handle: nil)
    }
}
