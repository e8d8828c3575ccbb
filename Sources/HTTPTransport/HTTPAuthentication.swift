import LaminaCore

/// Adds credentials to outgoing requests. The transport asks it before every attempt and after every redirect, so
/// a registry client can hand out (and refresh) bearer tokens per repository scope.
///
/// Credentials in the URL (`https://user:pass@host/`) and an `Authorization` header set by the caller take precedence:
/// the authenticator is only asked when neither is present.
public protocol HTTPAuthenticator: Sendable {
    /// The `Authorization` header value for `request`, or nil to send it without one.
    /// `request.url` carries no userinfo.
    func authorization(for request: HTTPRequest) async throws -> String?

    /// Called once per request when the server answered 401. Return true when new credentials were obtained (for
    /// example a bearer token fetched for the `WWW-Authenticate` challenge): the request is then sent once more,
    /// with `authorization(for:)` asked again. The default returns false.
    func handleChallenge(_ response: HTTPResponse, for request: HTTPRequest) async throws -> Bool
}

extension HTTPAuthenticator {
    public func handleChallenge(_ response: HTTPResponse, for request: HTTPRequest) async throws -> Bool { false }
}

/// A user name and password for one host.
public struct BasicCredential: Sendable, Hashable, CustomStringConvertible {
    /// `host` or `host:port`. Without a port it matches the host on any port.
    public var host: String
    public var user: String
    public var password: String

    public init(host: String, user: String, password: String) {
        self.host = host.lowercased()
        self.user = user
        self.password = password
    }

    /// `Basic base64(user:password)`.
    public var headerValue: String { Self.headerValue(user: user, password: password) }

    static func headerValue(user: String, password: String) -> String {
        "Basic " + Base64.encode(Array("\(user):\(password)".utf8))
    }

    /// Whether these credentials are for `url`'s host (and port, when the credential names one).
    func matches(_ url: RequestURL) -> Bool {
        host == url.authority || host == url.host
    }

    /// `user@host` (the password is never shown).
    public var description: String { "\(user)@\(host)" }
}

/// Basic authentication for a fixed set of hosts: what `HTTP_AUTH` configures.
public struct BasicAuthenticator: HTTPAuthenticator, Hashable {
    public var credentials: [BasicCredential]

    public init(_ credentials: [BasicCredential]) { self.credentials = credentials }

    public func authorization(for request: HTTPRequest) async throws -> String? {
        guard let url = try? RequestURL(request.url) else { return nil }
        return credentials.first { $0.matches(url) }?.headerValue
    }

    /// Credentials from `HTTP_AUTH` in an explicit environment, or nil when it is unset or not in apko's format.
    public static func fromEnvironment(_ environment: [String: String]) -> BasicAuthenticator? {
        guard let value = environment["HTTP_AUTH"], let credential = parseHTTPAuth(value) else { return nil }
        return BasicAuthenticator([credential])
    }

    /// Parses apko's `HTTP_AUTH` value: `basic:HOST:USER:PASS`, one entry, exactly four colon-separated fields, the
    /// host compared with the URL's `host[:port]`. Lamina also accepts `basic:HOST:PORT:USER:PASS` (five fields with
    /// a numeric third), since apko's form cannot name a port. Anything else gives nil, as in apko: other tools use
    /// the same variable name for a plain `user:password`, and apko silently ignores such values.
    public static func parseHTTPAuth(_ value: String) -> BasicCredential? {
        let parts = value.trimmingSpaces.split(separator: ":", omittingEmptySubsequences: false).map(String.init)
        guard parts.first == "basic" else { return nil }
        if parts.count == 4, !parts[1].isEmpty {
            return BasicCredential(host: parts[1], user: parts[2], password: parts[3])
        }
        if parts.count == 5, !parts[1].isEmpty, !parts[2].isEmpty, parts[2].allSatisfy({ $0.isASCII && $0.isNumber }) {
            return BasicCredential(host: "\(parts[1]):\(parts[2])", user: parts[3], password: parts[4])
        }
        return nil
    }
}

/// Asks several authenticators in order; the first that returns a value wins.
public struct AuthenticatorChain: HTTPAuthenticator {
    public var authenticators: [any HTTPAuthenticator]

    public init(_ authenticators: [any HTTPAuthenticator]) { self.authenticators = authenticators }

    public func authorization(for request: HTTPRequest) async throws -> String? {
        for authenticator in authenticators {
            if let value = try await authenticator.authorization(for: request) { return value }
        }
        return nil
    }

    public func handleChallenge(_ response: HTTPResponse, for request: HTTPRequest) async throws -> Bool {
        for authenticator in authenticators where try await authenticator.handleChallenge(response, for: request) {
            return true
        }
        return false
    }
}
