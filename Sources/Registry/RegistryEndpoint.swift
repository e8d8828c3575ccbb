// Source: OCI distribution-spec spec.md (https://github.com/opencontainers/distribution-spec/blob/main/spec.md),
// endpoints end-1 … end-13; docker's rule that `localhost` and loopback registries speak plain http.
import Foundation
import LaminaCore
import OCI

/// Where a registry's `/v2/` API lives and how a reference maps onto its URLs.
public struct RegistryEndpoint: Sendable, Hashable {
    /// The registry as written in references: `registry.example`, `127.0.0.1:5000`, `docker.io`.
    public let registry: String
    /// `http` or `https`.
    public let scheme: String
    /// `scheme://host[:port]`, where the API is (`docker.io` is served by `registry-1.docker.io`).
    public let baseURL: String

    /// - Parameter insecure: allow plain http for every registry (`--insecure`). Without it, only `localhost`
    ///   and loopback addresses (`127.0.0.1`, `[::1]`), with any port, are spoken to over http.
    public init(registry: String, insecure: Bool = false) {
        self.registry = registry
        let host = registry == Reference.dockerHub ? "registry-1.docker.io" : registry
        self.scheme = insecure || Self.isLoopback(registry) ? "http" : "https"
        self.baseURL = "\(scheme)://\(host)"
    }

    /// Whether `registry` (`host[:port]`) names this machine: `localhost`, an IPv4 address `127.x.x.x` or `[::1]`.
    public static func isLoopback(_ registry: String) -> Bool {
        let host: Substring
        if registry.hasPrefix("[") {
            host = registry.dropFirst().prefix { $0 != "]" }
        } else {
            host = registry.prefix { $0 != ":" }
        }
        let lower = host.lowercased()
        if lower == "localhost" || lower == "::1" { return true }
        let octets = lower.split(separator: ".", omittingEmptySubsequences: false)
        return octets.count == 4 && octets[0] == "127"
            && octets.allSatisfy { !$0.isEmpty && $0.count <= 3 && $0.allSatisfy(\.isASCII) && UInt8($0) != nil }
    }

    /// `…/v2/`: the API version check.
    public var pingURL: String { baseURL + "/v2/" }

    /// `…/v2/<name>/blobs/<digest>`.
    public func blobURL(_ repository: String, _ digest: Digest) -> String {
        "\(baseURL)/v2/\(repository)/blobs/\(digest)"
    }

    /// `…/v2/<name>/blobs/uploads/`: where an upload session starts (POST).
    public func uploadURL(_ repository: String) -> String { "\(baseURL)/v2/\(repository)/blobs/uploads/" }

    /// `…/v2/<name>/manifests/<tag or digest>`.
    public func manifestURL(_ repository: String, _ reference: String) -> String {
        "\(baseURL)/v2/\(repository)/manifests/\(reference)"
    }

    /// Resolves an upload `Location` header (absolute, or relative to the registry) to an absolute URL.
    /// - Throws: `LaminaError(.network)` when it is not a usable URL.
    public func resolve(location: String) throws -> String {
        guard let base = URL(string: baseURL + "/"), let url = URL(string: location, relativeTo: base),
            let scheme = url.scheme?.lowercased(), scheme == "http" || scheme == "https"
        else {
            throw LaminaError(.network, "registry sent an unusable upload Location '\(location)'", subject: registry)
        }
        return url.absoluteString
    }

    /// `url` with `name=value` added to its query (percent-encoded).
    public static func appendingQuery(_ url: String, _ name: String, _ value: String) -> String {
        var allowed = CharacterSet.alphanumerics
        allowed.insert(charactersIn: "-._~")
        let encoded = value.addingPercentEncoding(withAllowedCharacters: allowed) ?? value
        return url + (url.contains("?") ? "&" : "?") + "\(name)=\(encoded)"
    }

    /// The repository a `/v2/` URL path is about (`/v2/ns/app/blobs/uploads/x` → `ns/app`), or nil for the
    /// version check and paths outside the API.
    public static func repository(inPath path: String) -> String? {
        guard path.hasPrefix("/v2/") else { return nil }
        let rest = path.dropFirst(4)
        var best: String.Index?
        for marker in ["/blobs/", "/manifests/", "/tags/", "/referrers/"] {
            if let range = rest.range(of: marker, options: .backwards), best.map({ range.lowerBound > $0 }) ?? true {
                best = range.lowerBound
            }
        }
        guard let end = best, end > rest.startIndex else { return nil }
        return String(rest[rest.startIndex..<end])
    }
}
