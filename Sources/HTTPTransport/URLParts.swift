import Foundation
import LaminaCore

/// Hides credentials in URLs before they appear in messages.
public enum URLRedaction {
    /// `https://user:pass@host/path` → `https://***@host/path`. Works on any string with a `scheme://` prefix,
    /// well-formed or not; strings without userinfo come back unchanged.
    public static func redact(_ url: String) -> String {
        guard let schemeEnd = url.range(of: "://") else { return url }
        let authorityStart = schemeEnd.upperBound
        let rest = url[authorityStart...]
        let authorityEnd = rest.firstIndex { $0 == "/" || $0 == "?" || $0 == "#" } ?? url.endIndex
        let authority = url[authorityStart..<authorityEnd]
        guard let at = authority.lastIndex(of: "@") else { return url }
        return String(url[..<authorityStart]) + "***" + String(url[at..<url.endIndex])
    }
}

/// An `http`/`https` URL taken apart: what proxy selection, authentication and redirects need.
struct RequestURL: Sendable, Hashable {
    /// `http` or `https`, lowercase.
    let scheme: String
    /// Host name or IP address, lowercase, IPv6 without brackets.
    let host: String
    /// The port written in the URL, if any.
    let explicitPort: Int?
    /// Userinfo, percent-decoded.
    let user: String?
    let password: String?
    /// The URL with the userinfo removed: what goes on the wire.
    let withoutUserinfo: String

    /// The port connected to: explicit, else 80/443.
    var port: Int { explicitPort ?? (scheme == "https" ? 443 : 80) }
    /// `host` or `host:port` as written (brackets around IPv6), without userinfo.
    var authority: String {
        let shownHost = host.contains(":") ? "[\(host)]" : host
        return explicitPort.map { "\(shownHost):\($0)" } ?? shownHost
    }
    /// Scheme, host and effective port: two URLs with the same origin may share credentials.
    var origin: String { "\(scheme)://\(host):\(port)" }

    /// Parses an absolute `http`/`https` URL.
    /// - Throws: `LaminaError(.invalidInput)` naming the (redacted) URL when it is not one.
    init(_ text: String) throws {
        guard let components = URLComponents(string: text), let rawScheme = components.scheme else {
            throw LaminaError(.invalidInput, "not an absolute URL", subject: URLRedaction.redact(text))
        }
        let scheme = rawScheme.lowercased()
        guard scheme == "http" || scheme == "https" else {
            throw LaminaError(
                .invalidInput, "unsupported URL scheme '\(scheme)' (want http or https)",
                subject: URLRedaction.redact(text))
        }
        guard var host = components.host, !host.isEmpty else {
            throw LaminaError(.invalidInput, "URL has no host", subject: URLRedaction.redact(text))
        }
        if host.hasPrefix("["), host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
        self.scheme = scheme
        self.host = host.lowercased()
        self.explicitPort = components.port
        self.user = components.user
        self.password = components.password
        var stripped = components
        stripped.user = nil
        stripped.password = nil
        self.withoutUserinfo = stripped.string ?? text
    }

    /// Resolves a `Location` header against this URL.
    func resolve(_ location: String) -> String? {
        guard let base = URL(string: withoutUserinfo), let resolved = URL(string: location, relativeTo: base) else {
            return nil
        }
        return resolved.absoluteString
    }
}
