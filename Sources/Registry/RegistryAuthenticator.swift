// Source: distribution `docs/spec/auth/token.md` (token endpoint: GET realm?service=…&scope=…, answer
// `{"token": …}` or `{"access_token": …}`), `docs/spec/auth/scope.md` (`repository:<name>:pull,push`).
import Foundation
import HTTPTransport
import LaminaCore
import Synchronization

/// Answers registry authentication challenges for an ``HTTPTransport``: basic credentials when the registry asks
/// for `Basic`, and bearer tokens fetched from the challenge's realm (with the basic credentials, or anonymously)
/// when it asks for `Bearer`. Tokens are cached per registry and repository scope, so one push asks once.
public final class RegistryAuthenticator: HTTPAuthenticator {
    /// What was learnt per registry (`host[:port]`).
    private struct State {
        /// `registry repository` → bearer token (`registry ` for requests outside a repository).
        var tokens: [String: String] = [:]
        /// Registries that asked for basic authentication.
        var basic: Set<String> = []
        /// How many tokens were fetched (for tests and diagnostics).
        var tokenFetches = 0
    }

    public let credentials: RegistryCredentials
    /// The actions requested for repository scopes: `pull,push` for a pushing client.
    public let actions: String
    private let tokenTransport: any HTTPTransport
    private let state = Mutex(State())

    /// - Parameters:
    ///   - credentials: basic credentials per registry.
    ///   - tokenTransport: sends token requests; must not itself use this authenticator.
    ///   - actions: the repository actions asked for in token scopes.
    public init(credentials: RegistryCredentials, tokenTransport: any HTTPTransport, actions: String = "pull,push") {
        self.credentials = credentials
        self.tokenTransport = tokenTransport
        self.actions = actions
    }

    /// How many bearer tokens have been fetched so far.
    public var tokenFetchCount: Int { state.withLock { $0.tokenFetches } }

    public func authorization(for request: HTTPRequest) async throws -> String? {
        guard let (registry, repository) = Self.target(of: request.url) else { return nil }
        let known = state.withLock { state -> (token: String?, basic: Bool) in
            (state.tokens["\(registry) \(repository ?? "")"], state.basic.contains(registry))
        }
        if let token = known.token { return "Bearer " + token }
        if known.basic, let credential = credentials.credential(for: registry) { return credential.basicHeader }
        return nil
    }

    public func handleChallenge(_ response: HTTPResponse, for request: HTTPRequest) async throws -> Bool {
        guard let (registry, repository) = Self.target(of: request.url) else { return false }
        let challenges = AuthChallenge.parse(values: response.headers.values(for: "WWW-Authenticate"))
        if let bearer = challenges.first(where: { $0.scheme == "bearer" }), let realm = bearer.realm {
            let scope = repository.map { "repository:\($0):\(actions)" } ?? bearer.scope
            let token = try await fetchToken(
                realm: realm, service: bearer.service, scope: scope, credential: credentials.credential(for: registry),
                registry: registry)
            state.withLock { state in
                state.tokens["\(registry) \(repository ?? "")"] = token
                state.tokenFetches += 1
            }
            return true
        }
        if challenges.contains(where: { $0.scheme == "basic" }), credentials.credential(for: registry) != nil {
            let isNew = state.withLock { $0.basic.insert(registry).inserted }
            return isNew
        }
        return false
    }

    /// GET `realm?service=…&scope=…` and read the token from its JSON.
    private func fetchToken(
        realm: String, service: String?, scope: String?, credential: RegistryCredential?, registry: String
    ) async throws -> String {
        var url = realm
        if let service { url = RegistryEndpoint.appendingQuery(url, "service", service) }
        if let scope { url = RegistryEndpoint.appendingQuery(url, "scope", scope) }
        var headers = HTTPHeaderFields()
        if let credential { headers["Authorization"] = credential.basicHeader }
        let response = try await tokenTransport.execute(
            HTTPRequest(method: .get, url: url, headers: headers), options: HTTPRequestOptions(maxBodyBytes: 1 << 20))
        guard response.isSuccess else {
            let hint = credential == nil ? " (no credentials for \(registry): docker login, or --username/--password)" : ""
            throw LaminaError(
                .network, "token request refused: HTTP \(response.status)\(hint)",
                subject: "GET \(URLRedaction.redact(realm))")
        }
        guard let object = try? JSONSerialization.jsonObject(with: Data(response.body)) as? [String: Any],
            let token = (object["token"] as? String).flatMap({ $0.isEmpty ? nil : $0 })
                ?? (object["access_token"] as? String).flatMap({ $0.isEmpty ? nil : $0 })
        else {
            throw LaminaError(
                .malformed, "token response has no 'token' or 'access_token'", subject: "GET \(URLRedaction.redact(realm))")
        }
        return token
    }

    /// The registry (`host[:port]`) and repository a request URL is about.
    static func target(of url: String) -> (String, String?)? {
        guard let components = URLComponents(string: url), let host = components.host?.lowercased() else { return nil }
        let shownHost = host.contains(":") ? "[\(host)]" : host
        var registry = components.port.map { "\(shownHost):\($0)" } ?? shownHost
        if registry == "registry-1.docker.io" { registry = "docker.io" }
        return (registry, RegistryEndpoint.repository(inPath: components.percentEncodedPath))
    }
}
