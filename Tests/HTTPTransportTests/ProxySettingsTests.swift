import HTTPTransport
import LaminaCore
import Testing

@Suite struct ProxySettingsTests {
    @Test func readsBothCasesUpperCaseFirst() throws {
        let settings = try ProxySettings.fromEnvironment([
            "HTTPS_PROXY": "http://upper:3128", "https_proxy": "http://lower:3128",
            "http_proxy": "proxy.corp:8080",
        ])
        #expect(settings.httpsProxy == ProxyEndpoint(host: "upper", port: 3128))
        #expect(settings.httpProxy == ProxyEndpoint(host: "proxy.corp", port: 8080))
        #expect(settings.noProxy.isEmpty)
    }

    @Test func emptyValuesCountAsUnset() throws {
        let settings = try ProxySettings.fromEnvironment(["HTTPS_PROXY": "", "https_proxy": "http://lower:1"])
        #expect(settings.httpsProxy?.host == "lower")
        #expect(try ProxySettings.fromEnvironment([:]) == .none)
    }

    @Test func schemeSelectsTheProxy() throws {
        let settings = try ProxySettings.fromEnvironment(["HTTPS_PROXY": "http://s:1", "HTTP_PROXY": "http://p:2"])
        #expect(settings.proxy(for: "https://dl-cdn.alpinelinux.org/alpine/")?.host == "s")
        #expect(settings.proxy(for: "http://dl-cdn.alpinelinux.org/alpine/")?.host == "p")
        let httpsOnly = try ProxySettings.fromEnvironment(["HTTPS_PROXY": "http://s:1"])
        #expect(httpsOnly.proxy(for: "http://example.com/") == nil)
    }

    @Test func proxyCredentialsAndDefaults() throws {
        let endpoint = try ProxyEndpoint(parsing: "http://bob:s%3Acret@10.0.0.1", variable: "HTTPS_PROXY")
        #expect(endpoint == ProxyEndpoint(host: "10.0.0.1", port: 80, user: "bob", password: "s:cret"))
        #expect(endpoint.description == "http://***@10.0.0.1:80")
        let socks = try ProxyEndpoint(parsing: "socks5://[::1]", variable: "HTTPS_PROXY")
        #expect(socks == ProxyEndpoint(kind: .socks5, host: "::1", port: 1080))
    }

    @Test(arguments: ["https://proxy:443", "ftp://proxy", "http://"])
    func unusableProxyIsAnError(value: String) throws {
        let error = #expect(throws: LaminaError.self) {
            try ProxySettings.fromEnvironment(["HTTPS_PROXY": value])
        }
        #expect(error?.code == .invalidInput)
        #expect(error?.subject == "HTTPS_PROXY")
    }

    @Test func errorsNeverShowProxyPasswords() throws {
        let error = #expect(throws: LaminaError.self) {
            try ProxySettings.fromEnvironment(["HTTP_PROXY": "gopher://user:hunter2@proxy"])
        }
        #expect(error?.description.contains("hunter2") == false)
    }

    @Test(arguments: [
        "http://127.0.0.1:8080/x", "http://localhost/x", "https://LOCALHOST:1/", "http://127.9.9.9/",
        "http://[::1]:80/", "http://registry.localhost/v2/", "http://[::ffff:127.0.0.1]/",
    ])
    func loopbackIsNeverProxied(url: String) throws {
        let settings = try ProxySettings.fromEnvironment(["HTTPS_PROXY": "http://p:1", "HTTP_PROXY": "http://p:1"])
        #expect(settings.proxy(for: url) == nil)
    }

    struct NoProxyCase: Sendable, CustomTestStringConvertible {
        let noProxy: String
        let url: String
        let bypass: Bool
        var testDescription: String { "NO_PROXY=\(noProxy) \(url) → \(bypass ? "direct" : "proxy")" }
    }

    @Test(arguments: [
        NoProxyCase(noProxy: "*", url: "https://anything.example/", bypass: true),
        NoProxyCase(noProxy: "example.com", url: "https://example.com/", bypass: true),
        NoProxyCase(noProxy: "example.com", url: "https://cdn.example.com/", bypass: true),
        NoProxyCase(noProxy: "example.com", url: "https://notexample.com/", bypass: false),
        NoProxyCase(noProxy: ".example.com", url: "https://example.com/", bypass: false),
        NoProxyCase(noProxy: ".example.com", url: "https://a.example.com/", bypass: true),
        NoProxyCase(noProxy: "*.example.com", url: "https://example.com/", bypass: false),
        NoProxyCase(noProxy: "*.example.com", url: "https://a.b.example.com/", bypass: true),
        NoProxyCase(noProxy: "EXAMPLE.com.", url: "https://Example.COM/", bypass: true),
        NoProxyCase(noProxy: "example.com:8443", url: "https://example.com:8443/", bypass: true),
        NoProxyCase(noProxy: "example.com:8443", url: "https://example.com/", bypass: false),
        NoProxyCase(noProxy: "10.0.0.0/8", url: "http://10.20.30.40/", bypass: true),
        NoProxyCase(noProxy: "10.0.0.0/8", url: "http://11.0.0.1/", bypass: false),
        NoProxyCase(noProxy: "192.168.1.0/25", url: "http://192.168.1.127/", bypass: true),
        NoProxyCase(noProxy: "192.168.1.0/25", url: "http://192.168.1.128/", bypass: false),
        NoProxyCase(noProxy: "fd00::/8", url: "http://[fd12::1]/", bypass: true),
        NoProxyCase(noProxy: "fd00::/8", url: "http://[fe80::1]/", bypass: false),
        NoProxyCase(noProxy: "10.1.2.3", url: "http://10.1.2.3:9000/", bypass: true),
        NoProxyCase(noProxy: "10.1.2.3:80", url: "http://10.1.2.3:9000/", bypass: false),
        NoProxyCase(noProxy: "10.0.0.0/8", url: "http://ten.example/", bypass: false),
        NoProxyCase(noProxy: "a.com, b.com  c.com", url: "https://c.com/", bypass: true),
        NoProxyCase(noProxy: "a.com,b.com", url: "https://d.com/", bypass: false),
        NoProxyCase(noProxy: "", url: "https://d.com/", bypass: false),
    ])
    func noProxyRules(_ testCase: NoProxyCase) throws {
        let settings = try ProxySettings.fromEnvironment([
            "HTTPS_PROXY": "http://proxy:3128", "HTTP_PROXY": "http://proxy:3128", "no_proxy": testCase.noProxy,
        ])
        #expect((settings.proxy(for: testCase.url) == nil) == testCase.bypass)
    }

    @Test func upperCaseNoProxyWins() throws {
        let settings = try ProxySettings.fromEnvironment([
            "HTTPS_PROXY": "http://proxy:3128", "NO_PROXY": "a.com", "no_proxy": "b.com",
        ])
        #expect(settings.proxy(for: "https://a.com/") == nil)
        #expect(settings.proxy(for: "https://b.com/") != nil)
    }

    @Test func nonsenseNoProxyEntriesAreSkipped() {
        #expect(
            NoProxyRule.parseList("10.0.0.0/33, ,*.,good.com") == [
                .domain(name: "good.com", subdomainsOnly: false, port: nil)
            ])
    }
}
