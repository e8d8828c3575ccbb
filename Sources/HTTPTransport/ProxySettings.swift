import Foundation
import LaminaCore

/// A proxy server to send requests through.
public struct ProxyEndpoint: Sendable, Hashable, CustomStringConvertible {
    public enum Kind: String, Sendable, Hashable {
        /// An HTTP proxy: requests are tunnelled with `CONNECT host:port`.
        case http
        /// A SOCKS5 proxy.
        case socks5
    }

    public var kind: Kind
    public var host: String
    public var port: Int
    /// Credentials for `Proxy-Authorization: Basic` (HTTP proxies only).
    public var user: String?
    public var password: String?

    public init(kind: Kind = .http, host: String, port: Int, user: String? = nil, password: String? = nil) {
        self.kind = kind
        self.host = host
        self.port = port
        self.user = user
        self.password = password
    }

    /// Parses a proxy variable's value: `http://[user:pass@]host[:port]`, `socks5://host[:port]`, or a bare
    /// `host[:port]` (taken as HTTP). Default ports: 80 for HTTP, 1080 for SOCKS5.
    /// - Throws: `LaminaError(.invalidInput)` naming `variable` (never the credentials).
    public init(parsing value: String, variable: String) throws {
        var text = value.trimmingSpaces
        if !text.contains("://") { text = "http://" + text }
        guard let components = URLComponents(string: text), let scheme = components.scheme?.lowercased(),
            var host = components.host, !host.isEmpty
        else {
            throw LaminaError(.invalidInput, "not a proxy URL: '\(URLRedaction.redact(value))'", subject: variable)
        }
        switch scheme {
        case "http": kind = .http
        case "socks5", "socks5h": kind = .socks5
        default:
            throw LaminaError(
                .invalidInput, "proxy scheme '\(scheme)' is not supported (use http:// or socks5://)",
                subject: variable)
        }
        if host.hasPrefix("["), host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
        self.host = host
        self.port = components.port ?? (kind == .http ? 80 : 1080)
        self.user = components.user
        self.password = components.password
    }

    /// `http://host:port` (credentials never shown).
    public var description: String {
        let shownHost = host.contains(":") ? "[\(host)]" : host
        return "\(kind.rawValue)://\(user == nil ? "" : "***@")\(shownHost):\(port)"
    }
}

/// Which proxy, if any, each URL goes through: `HTTPS_PROXY`, `HTTP_PROXY` and `NO_PROXY` as Go programs
/// (apko, melange) read them.
///
/// Upper-case names win over lower-case ones; empty values count as unset. `https` URLs use the HTTPS proxy only,
/// `http` URLs the HTTP proxy only. Loopback hosts (`localhost`, `*.localhost`, 127.0.0.0/8, ::1) never use a proxy.
/// `NO_PROXY` is a comma- or space-separated list of entries:
/// - `*`: no URL uses a proxy;
/// - an IP address (`10.1.2.3`) or a CIDR block (`10.0.0.0/8`, `fd00::/8`): hosts written as such addresses;
/// - `example.com`: that host and all its subdomains; `.example.com` or `*.example.com`: subdomains only;
/// - any of the above but `*` and CIDR with `:port`: only that port.
public struct ProxySettings: Sendable, Hashable {
    public var httpProxy: ProxyEndpoint?
    public var httpsProxy: ProxyEndpoint?
    public var noProxy: [NoProxyRule]

    public init(httpProxy: ProxyEndpoint? = nil, httpsProxy: ProxyEndpoint? = nil, noProxy: [NoProxyRule] = []) {
        self.httpProxy = httpProxy
        self.httpsProxy = httpsProxy
        self.noProxy = noProxy
    }

    /// No proxy at all.
    public static let none = ProxySettings()

    /// Reads the proxy variables from an explicit environment (the CLI passes `ProcessInfo`'s).
    /// - Throws: `LaminaError(.invalidInput)` when a proxy variable is set but unusable.
    public static func fromEnvironment(_ environment: [String: String]) throws -> ProxySettings {
        func value(_ names: String...) -> (name: String, value: String)? {
            for name in names {
                if let value = environment[name], !value.trimmingSpaces.isEmpty { return (name, value) }
            }
            return nil
        }
        var settings = ProxySettings()
        if let (name, text) = value("HTTPS_PROXY", "https_proxy") {
            settings.httpsProxy = try ProxyEndpoint(parsing: text, variable: name)
        }
        if let (name, text) = value("HTTP_PROXY", "http_proxy") {
            settings.httpProxy = try ProxyEndpoint(parsing: text, variable: name)
        }
        if let (_, text) = value("NO_PROXY", "no_proxy") {
            settings.noProxy = NoProxyRule.parseList(text)
        }
        return settings
    }

    /// The proxy for `url`, or nil to connect directly (also for URLs that do not parse).
    public func proxy(for url: String) -> ProxyEndpoint? {
        guard let parsed = try? RequestURL(url) else { return nil }
        return proxy(for: parsed)
    }

    func proxy(for url: RequestURL) -> ProxyEndpoint? {
        guard let candidate = url.scheme == "https" ? httpsProxy : httpProxy else { return nil }
        if Self.isLoopback(url.host) { return nil }
        if noProxy.contains(where: { $0.matches(host: url.host, port: url.port) }) { return nil }
        return candidate
    }

    /// Whether `host` names this machine: `localhost`, a `.localhost` name, 127.0.0.0/8 or ::1.
    static func isLoopback(_ host: String) -> Bool {
        let name = host.lowercased()
        if name == "localhost" || name.hasSuffix(".localhost") { return true }
        guard let address = IPAddress.parse(name) else { return false }
        if address.count == 4 { return address[0] == 127 }
        return address == [UInt8](repeating: 0, count: 15) + [1]
            || address[0..<12] == [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff] && address[12] == 127
    }
}

/// One `NO_PROXY` entry.
public enum NoProxyRule: Sendable, Hashable {
    /// `*`: nothing is proxied.
    case all
    /// An address block: `address` (4 or 16 bytes) with `prefixLength` leading bits.
    case network(address: [UInt8], prefixLength: Int)
    /// A host name: `name` itself (unless `subdomainsOnly`) and every name ending in `.name`; `port` limits it.
    case domain(name: String, subdomainsOnly: Bool, port: Int?)
    /// An IP address, optionally with a port.
    case address([UInt8], port: Int?)

    /// Parses a `NO_PROXY` value; entries that make no sense are skipped.
    public static func parseList(_ text: String) -> [NoProxyRule] {
        text.split { $0 == "," || $0 == " " || $0 == "\t" || $0 == "\n" }.compactMap { parse(String($0)) }
    }

    /// Parses one entry.
    public static func parse(_ entry: String) -> NoProxyRule? {
        let text = entry.trimmingSpaces.lowercased()
        if text.isEmpty { return nil }
        if text == "*" { return .all }
        if let slash = text.firstIndex(of: "/") {
            guard let address = IPAddress.parse(String(text[..<slash])),
                let bits = Int(text[text.index(after: slash)...]), bits >= 0, bits <= address.count * 8
            else { return nil }
            return .network(address: address, prefixLength: bits)
        }
        let (host, port) = splitHostPort(text)
        if let address = IPAddress.parse(host) { return .address(address, port: port) }
        var name = host
        var subdomainsOnly = false
        if name.hasPrefix("*.") {
            name.removeFirst(2)
            subdomainsOnly = true
        } else if name.hasPrefix(".") {
            name.removeFirst()
            subdomainsOnly = true
        }
        if name.hasSuffix(".") { name.removeLast() }
        guard !name.isEmpty else { return nil }
        return .domain(name: name, subdomainsOnly: subdomainsOnly, port: port)
    }

    /// Whether a request to `host:port` bypasses the proxy.
    public func matches(host rawHost: String, port: Int) -> Bool {
        var host = rawHost.lowercased()
        if host.hasSuffix(".") { host.removeLast() }
        switch self {
        case .all:
            return true
        case .network(let network, let prefixLength):
            guard let address = IPAddress.parse(host), address.count == network.count else { return false }
            return IPAddress.prefix(address, prefixLength) == IPAddress.prefix(network, prefixLength)
        case .address(let address, let rulePort):
            guard let parsed = IPAddress.parse(host) else { return false }
            return parsed == address && (rulePort == nil || rulePort == port)
        case .domain(let name, let subdomainsOnly, let rulePort):
            if let rulePort, rulePort != port { return false }
            return host.hasSuffix("." + name) || (!subdomainsOnly && host == name)
        }
    }

    /// `host:port`, `[v6]:port`, `host` → (host, port?).
    private static func splitHostPort(_ text: String) -> (String, Int?) {
        if text.hasPrefix("["), let close = text.firstIndex(of: "]") {
            let host = String(text[text.index(after: text.startIndex)..<close])
            let rest = text[text.index(after: close)...]
            if rest.hasPrefix(":"), let port = Int(rest.dropFirst()) { return (host, port) }
            return (host, nil)
        }
        let colons = text.filter { $0 == ":" }.count
        if colons == 1, let colon = text.firstIndex(of: ":"), let port = Int(text[text.index(after: colon)...]) {
            return (String(text[..<colon]), port)
        }
        return (text, nil)
    }
}

/// IPv4/IPv6 literals as bytes.
enum IPAddress {
    /// 4 bytes for IPv4 dotted quads, 16 for IPv6; nil for anything else (host names).
    static func parse(_ text: String) -> [UInt8]? {
        var host = text
        if host.hasPrefix("["), host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
        if host.contains(":") {
            var buffer = [UInt8](repeating: 0, count: 16)
            let ok = buffer.withUnsafeMutableBytes { inet_pton(AF_INET6, host, $0.baseAddress) }
            return ok == 1 ? buffer : nil
        }
        let parts = host.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 4 else { return nil }
        var bytes: [UInt8] = []
        for part in parts {
            guard !part.isEmpty, part.count <= 3, part.allSatisfy({ $0.isASCII && $0.isNumber }),
                let value = UInt8(part)
            else {
                return nil
            }
            bytes.append(value)
        }
        return bytes
    }

    /// The first `bits` bits of `address`, the rest zeroed.
    static func prefix(_ address: [UInt8], _ bits: Int) -> [UInt8] {
        address.enumerated().map { index, byte in
            let keep = min(8, max(0, bits - index * 8))
            return keep == 0 ? 0 : byte & UInt8(truncatingIfNeeded: 0xff << (8 - keep))
        }
    }
}
