import LaminaCore

/// Sends HTTP requests for Lamina's engines: repository index and package fetches, and (later) the OCI registry client.
///
/// The protocol has one primitive, ``execute(_:options:sink:)``; downloads, conditional GETs and bounded parallel
/// fetches are built on it in extensions, so any conforming type (a local test double, the AsyncHTTPClient-backed
/// ``HTTPClientTransport``) gets them for free. Conforming types own retries, redirects, authentication and resuming.
public protocol HTTPTransport: Sendable {
    /// Sends `request` and returns the final response (after redirects and retries).
    ///
    /// The body of a successful (2xx) response to a non-HEAD request goes to `sink` as it arrives, in order, so the
    /// caller can hash and write it with bounded memory; it is then not kept in ``HTTPResponse/body``. Without a sink,
    /// and for every non-2xx response, the body is collected into ``HTTPResponse/body`` (bounded by
    /// ``HTTPRequestOptions/maxBodyBytes`` or ``HTTPRequestOptions/maxCollectedBytes``).
    ///
    /// Statuses are not errors here: a 404 or 401 comes back as a response, so callers such as a registry client can
    /// react to them. ``HTTPResponse/requireSuccess()`` turns a non-2xx response into a `LaminaError`.
    ///
    /// - Throws: `LaminaError(.network)` when the server cannot be reached or the transfer keeps failing after the
    ///   retry policy is exhausted; `.limitExceeded` when the body is larger than allowed; `.invalidInput` for a URL
    ///   that is not `http`/`https`; whatever `sink` throws, unchanged.
    func execute(_ request: HTTPRequest, options: HTTPRequestOptions, sink: HTTPBodySink?) async throws -> HTTPResponse
}

extension HTTPTransport {
    /// ``execute(_:options:sink:)`` with default options and no sink: the body is collected into the response.
    public func execute(_ request: HTTPRequest, options: HTTPRequestOptions = HTTPRequestOptions()) async throws
        -> HTTPResponse
    {
        try await execute(request, options: options, sink: nil)
    }
}

/// One HTTP request: method, absolute URL, header fields and body.
public struct HTTPRequest: Sendable {
    /// An HTTP method. Any token is accepted; the common ones have names.
    public struct Method: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
        public var rawValue: String
        public init(rawValue: String) { self.rawValue = rawValue }
        public init(_ rawValue: String) { self.rawValue = rawValue }

        public static let get = Method("GET")
        public static let head = Method("HEAD")
        public static let put = Method("PUT")
        public static let post = Method("POST")
        public static let patch = Method("PATCH")
        public static let delete = Method("DELETE")

        /// Whether sending the request twice has the same effect as sending it once (RFC 9110 §9.2.2).
        public var isIdempotent: Bool { ![Method.post, .patch].contains(self) && rawValue != "CONNECT" }
        public var description: String { rawValue }
    }

    public var method: Method
    /// An absolute `http://` or `https://` URL. Userinfo (`https://user:pass@host/`) becomes basic authentication
    /// and is never sent in the request line.
    public var url: String
    public var headers: HTTPHeaderFields
    public var body: HTTPRequestBody

    public init(
        method: Method = .get, url: String, headers: HTTPHeaderFields = HTTPHeaderFields(),
        body: HTTPRequestBody = .none
    ) {
        self.method = method
        self.url = url
        self.headers = headers
        self.body = body
    }

    /// `GET https://***@host/path`: the method and the redacted URL, as error subjects name a request.
    public var redactedDescription: String { "\(method) \(URLRedaction.redact(url))" }
}

/// A request body. Every case can be sent again, so requests with bodies can be retried and redirected.
public enum HTTPRequestBody: Sendable, Equatable {
    /// No body.
    case none
    /// Bytes held in memory.
    case bytes([UInt8])
    /// A file streamed from disk in chunks (all of it, or `range` of it, e.g. one chunk of a chunked upload).
    case file(path: String, range: Range<Int64>? = nil)
}

/// Ordered HTTP header fields with case-insensitive name lookup. Keeps duplicates (e.g. several `WWW-Authenticate`).
public struct HTTPHeaderFields: Sendable, Equatable, Sequence, ExpressibleByDictionaryLiteral, CustomStringConvertible {
    public private(set) var fields: [(name: String, value: String)]

    public init() { fields = [] }
    public init(_ fields: [(String, String)]) { self.fields = fields.map { (name: $0.0, value: $0.1) } }
    public init(dictionaryLiteral elements: (String, String)...) { self.init(elements) }

    /// The first value of `name`, or nil. Setting replaces every field named `name` (nil removes them).
    public subscript(name: String) -> String? {
        get { fields.first { $0.name.lowercased() == name.lowercased() }?.value }
        set {
            remove(name)
            if let newValue { fields.append((name: name, value: newValue)) }
        }
    }

    /// Every value of `name`, in order.
    public func values(for name: String) -> [String] {
        fields.filter { $0.name.lowercased() == name.lowercased() }.map(\.value)
    }

    /// Adds a field, keeping any existing ones of the same name.
    public mutating func add(_ name: String, _ value: String) { fields.append((name: name, value: value)) }

    /// Removes every field named `name`.
    public mutating func remove(_ name: String) { fields.removeAll { $0.name.lowercased() == name.lowercased() } }

    public func contains(_ name: String) -> Bool { self[name] != nil }

    public func makeIterator() -> IndexingIterator<[(name: String, value: String)]> { fields.makeIterator() }

    public static func == (lhs: HTTPHeaderFields, rhs: HTTPHeaderFields) -> Bool {
        lhs.fields.count == rhs.fields.count && zip(lhs.fields, rhs.fields).allSatisfy { $0 == $1 }
    }

    /// `Name: value` lines; `Authorization` and `Proxy-Authorization` values are hidden.
    public var description: String {
        fields.map { field in
            let secret = ["authorization", "proxy-authorization"].contains(field.name.lowercased())
            return "\(field.name): \(secret ? "***" : field.value)"
        }.joined(separator: "\n")
    }
}

/// The final response to a request.
public struct HTTPResponse: Sendable {
    /// The status code (200, 206, 304, 404, …).
    public var status: Int
    public var headers: HTTPHeaderFields
    /// The method and URL of the request that produced this response (after redirects); not redacted.
    public var method: HTTPRequest.Method
    public var url: String
    /// The body, when it was not streamed into a sink (see ``HTTPTransport/execute(_:options:sink:)``).
    public var body: [UInt8]
    /// Body bytes delivered to the sink, counting bytes kept across resumed attempts.
    public var bytesDelivered: Int64
    /// How many times the request was sent (1 when the first attempt succeeded), redirects not counted.
    public var attempts: Int

    public init(
        status: Int, headers: HTTPHeaderFields = HTTPHeaderFields(), method: HTTPRequest.Method = .get, url: String,
        body: [UInt8] = [], bytesDelivered: Int64 = 0, attempts: Int = 1
    ) {
        self.status = status
        self.headers = headers
        self.method = method
        self.url = url
        self.body = body
        self.bytesDelivered = bytesDelivered
        self.attempts = attempts
    }

    /// Whether the status is 2xx.
    public var isSuccess: Bool { (200..<300).contains(status) }

    /// The `ETag` header, if any.
    public var etag: String? { headers["ETag"] }

    /// The `Content-Length` header as a number, if present and valid.
    public var contentLength: Int64? { headers["Content-Length"].flatMap { Int64($0.trimmingSpaces) } }

    /// Returns self when the status is 2xx; otherwise throws an error naming the request (URL redacted).
    ///
    /// - Throws: `LaminaError(.notFound)` for 404 and 410; `LaminaError(.network)` for every other status, with the
    ///   attempt count when the request was retried (`GET http://host/x: HTTP 500 after 3 attempts`).
    @discardableResult
    public func requireSuccess() throws -> HTTPResponse {
        if isSuccess { return self }
        throw statusError()
    }

    /// The error that ``requireSuccess()`` throws for this response.
    public func statusError() -> LaminaError {
        let subject = "\(method) \(URLRedaction.redact(url))"
        var message = "HTTP \(status)"
        if attempts > 1 { message += " after \(attempts) attempts" }
        switch status {
        case 404, 410: return LaminaError(.notFound, message, subject: subject)
        case 401, 403:
            return LaminaError(.network, message + " (check credentials: URL userinfo or HTTP_AUTH)", subject: subject)
        default: return LaminaError(.network, message, subject: subject)
        }
    }
}

/// Receives a response body in order, chunk by chunk.
public struct HTTPBodySink: Sendable {
    /// Called with each chunk of the body, in order. Whatever it throws ends the request and is rethrown unchanged.
    public var write: @Sendable ([UInt8]) async throws -> Void
    /// Called when a broken transfer must start again from byte 0 because the server ignored the `Range` request:
    /// the sink must forget everything written so far. Without it such a transfer fails instead.
    public var restart: (@Sendable () async throws -> Void)?

    public init(
        restart: (@Sendable () async throws -> Void)? = nil, write: @escaping @Sendable ([UInt8]) async throws -> Void
    ) {
        self.write = write
        self.restart = restart
    }
}

/// Per-request settings.
public struct HTTPRequestOptions: Sendable {
    /// Largest body accepted, in bytes (`Content-Length` is checked before reading). nil: no limit for bodies streamed
    /// into a sink, ``maxCollectedBytes`` for bodies collected in memory.
    public var maxBodyBytes: Int64?
    /// Largest body collected in memory when no `maxBodyBytes` is set (64 MiB; 1 MiB for error bodies).
    public var maxCollectedBytes: Int64
    /// Deadline for one attempt, body included. nil: the transport's ``HTTPTransportConfiguration/requestTimeout``.
    public var timeout: Duration?
    /// Retry policy for this request; nil: the transport's.
    public var retry: RetryPolicy?
    /// Whether to follow 301/302/303/307/308 redirects (at most ``HTTPTransportConfiguration/maxRedirects``).
    public var followRedirects: Bool
    /// Whether POST and PATCH may be sent again after a connection error (the server may have acted on them).
    /// They are always retried after 429 and 503, which say the request was not processed.
    public var retryNonIdempotent: Bool

    public init(
        maxBodyBytes: Int64? = nil, maxCollectedBytes: Int64 = 64 << 20, timeout: Duration? = nil,
        retry: RetryPolicy? = nil, followRedirects: Bool = true, retryNonIdempotent: Bool = false
    ) {
        self.maxBodyBytes = maxBodyBytes
        self.maxCollectedBytes = maxCollectedBytes
        self.timeout = timeout
        self.retry = retry
        self.followRedirects = followRedirects
        self.retryNonIdempotent = retryNonIdempotent
    }
}
