// Source: docker CLI `cli/config/configfile` (config.json `auths`: `auth` = base64("user:password"), or
// `username`/`password`; keys may carry a scheme and a path such as `https://index.docker.io/v1/`).
import Foundation
import HTTPTransport
import LaminaCore
import OCI

/// A user name and password for one registry.
public struct RegistryCredential: Sendable, Hashable, CustomStringConvertible {
    public var user: String
    public var password: String

    public init(user: String, password: String) {
        self.user = user
        self.password = password
    }

    /// `Basic base64(user:password)`.
    public var basicHeader: String { "Basic " + Base64.encode(Array("\(user):\(password)".utf8)) }

    /// The user name only; the password is never shown.
    public var description: String { user }
}

/// Credentials per registry: from explicit options and docker's `config.json`.
public struct RegistryCredentials: Sendable, Hashable {
    /// Registry (`host[:port]`, normalised by ``normalise(_:)``) → credential.
    public var entries: [String: RegistryCredential]

    public init(_ entries: [String: RegistryCredential] = [:]) {
        self.entries = Dictionary(entries.map { (Self.normalise($0.key), $0.value) }, uniquingKeysWith: { a, _ in a })
    }

    /// The credential for `registry` (`host[:port]`), if any: an entry for exactly that, else one for the host
    /// without a port (which then serves every port).
    public func credential(for registry: String) -> RegistryCredential? {
        let key = Self.normalise(registry)
        if let exact = entries[key] { return exact }
        guard !key.hasSuffix("]"), let colon = key.lastIndex(of: ":") else { return nil }
        return entries[String(key[..<colon])]
    }

    /// Adds (or replaces) the credential of `registry`.
    public mutating func set(_ credential: RegistryCredential, for registry: String) {
        entries[Self.normalise(registry)] = credential
    }

    /// `https://index.docker.io/v1/` → `docker.io`; `http://127.0.0.1:5000/` → `127.0.0.1:5000`; lowercased.
    public static func normalise(_ key: String) -> String {
        var text = Substring(key.lowercased())
        if let scheme = text.range(of: "://") { text = text[scheme.upperBound...] }
        text = text.prefix { $0 != "/" }
        switch text {
        case "index.docker.io", "registry-1.docker.io", "registry.hub.docker.com": return Reference.dockerHub
        default: return String(text)
        }
    }

    /// The `auths` of docker's `config.json`: `$DOCKER_CONFIG/config.json`, else `$HOME/.docker/config.json`.
    /// A missing file gives no credentials; entries without a usable `auth` or `username`/`password` are skipped.
    /// - Throws: `LaminaError(.malformed)` naming the file when it exists but is not JSON of that shape.
    public static func dockerConfig(environment: [String: String]) throws -> RegistryCredentials {
        let directory: String
        if let configured = environment["DOCKER_CONFIG"], !configured.isEmpty {
            directory = configured
        } else if let home = environment["HOME"], !home.isEmpty {
            directory = home + "/.docker"
        } else {
            return RegistryCredentials()
        }
        let path = directory + "/config.json"
        guard let data = FileManager.default.contents(atPath: path) else { return RegistryCredentials() }
        return try parseDockerConfig(Array(data), path: path)
    }

    /// Parses the bytes of a docker `config.json`.
    /// - Throws: `LaminaError(.malformed)` naming `path` when it is not a JSON object or `auths` is not one.
    public static func parseDockerConfig(_ bytes: [UInt8], path: String) throws -> RegistryCredentials {
        guard let object = try? JSONSerialization.jsonObject(with: Data(bytes)) as? [String: Any] else {
            throw LaminaError(.malformed, "not a JSON object", subject: path)
        }
        guard let raw = object["auths"] else { return RegistryCredentials() }
        guard let auths = raw as? [String: Any] else {
            throw LaminaError(.malformed, "'auths' is not an object", subject: path)
        }
        var result = RegistryCredentials()
        for (key, value) in auths.sorted(by: { $0.key < $1.key }) {
            guard let entry = value as? [String: Any] else { continue }
            if let auth = entry["auth"] as? String, !auth.isEmpty,
                let decoded = Base64.decode(auth.trimmingCharacters(in: .whitespaces)),
                let text = String(bytes: decoded, encoding: .utf8), let colon = text.firstIndex(of: ":")
            {
                result.set(
                    RegistryCredential(user: String(text[..<colon]), password: String(text[text.index(after: colon)...])),
                    for: key)
            } else if let user = entry["username"] as? String, let password = entry["password"] as? String {
                result.set(RegistryCredential(user: user, password: password), for: key)
            }
        }
        return result
    }
}
