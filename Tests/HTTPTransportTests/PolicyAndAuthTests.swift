import HTTPTransport
import LaminaCore
import Testing

@Suite struct RetryPolicyTests {
    @Test func backoffGrowsAndIsCapped() {
        let policy = RetryPolicy(
            maxAttempts: 6, initialDelay: .milliseconds(100), multiplier: 2, maxDelay: .milliseconds(500), jitter: 0)
        #expect(
            (1...5).map { policy.delay(beforeRetry: $0) } == [
                .milliseconds(100), .milliseconds(200), .milliseconds(400), .milliseconds(500), .milliseconds(500),
            ])
    }

    @Test func seededJitterIsDeterministicAndBounded() {
        let policy = RetryPolicy(initialDelay: .seconds(1), multiplier: 1, jitter: 0.5, jitterSeed: 42)
        let first = (1...8).map { policy.delay(beforeRetry: $0) }
        let second = (1...8).map { policy.delay(beforeRetry: $0) }
        #expect(first == second)
        #expect(first.allSatisfy { $0 > .milliseconds(500) && $0 <= .seconds(1) })
        #expect(Set(first).count > 1, "jitter should vary between retries")
        let otherSeed = RetryPolicy(initialDelay: .seconds(1), multiplier: 1, jitter: 0.5, jitterSeed: 43)
        #expect((1...8).map { otherSeed.delay(beforeRetry: $0) } != first)
    }

    @Test(arguments: [
        (200, false), (304, false), (400, false), (401, false), (403, false), (404, false), (408, false),
        (429, true), (500, true), (501, false), (502, true), (503, true), (504, true), (505, false),
    ])
    func retryableStatuses(status: Int, retryable: Bool) {
        #expect(RetryPolicy.isRetryable(status: status) == retryable)
    }

    @Test func atLeastOneAttempt() {
        #expect(RetryPolicy(maxAttempts: 0).maxAttempts == 1)
        #expect(RetryPolicy.never.maxAttempts == 1)
    }
}

@Suite struct HTTPAuthParsingTests {
    @Test func apkoFormat() {
        #expect(
            BasicAuthenticator.parseHTTPAuth("basic:apk.cgr.dev:user:tok.en-123")
                == BasicCredential(host: "apk.cgr.dev", user: "user", password: "tok.en-123"))
    }

    @Test func hostWithPortExtension() {
        #expect(
            BasicAuthenticator.parseHTTPAuth("basic:127.0.0.1:8080:user:pass")
                == BasicCredential(host: "127.0.0.1:8080", user: "user", password: "pass"))
    }

    @Test(arguments: [
        "", "user:password", "bearer:host:user:pass", "basic:host:user", "basic::user:pass",
        "basic:host:user:pa:ss", "basic:host,other:user:pass:x",
    ])
    func otherFormatsAreIgnoredAsApkoDoes(value: String) {
        #expect(BasicAuthenticator.parseHTTPAuth(value) == nil)
    }

    @Test func environmentWithoutHTTPAuth() {
        #expect(BasicAuthenticator.fromEnvironment([:]) == nil)
        #expect(BasicAuthenticator.fromEnvironment(["HTTP_AUTH": "admin:admin"]) == nil)
    }

    @Test func matchesHostAndPort() async throws {
        let auth = BasicAuthenticator([
            BasicCredential(host: "repo.example", user: "a", password: "1"),
            BasicCredential(host: "other.example:8443", user: "b", password: "2"),
        ])
        func header(_ url: String) async throws -> String? {
            try await auth.authorization(for: HTTPRequest(url: url))
        }
        #expect(try await header("https://repo.example/x") == "Basic " + Base64.encode(Array("a:1".utf8)))
        #expect(try await header("https://REPO.example:444/x") == "Basic " + Base64.encode(Array("a:1".utf8)))
        #expect(try await header("https://other.example:8443/") == "Basic " + Base64.encode(Array("b:2".utf8)))
        #expect(try await header("https://other.example/") == nil)
        #expect(try await header("https://evil.repo.example.net/") == nil)
    }

    @Test func chainAsksInOrder() async throws {
        let chain = AuthenticatorChain([
            BasicAuthenticator([BasicCredential(host: "a.example", user: "first", password: "x")]),
            BasicAuthenticator([
                BasicCredential(host: "a.example", user: "second", password: "x"),
                BasicCredential(host: "b.example", user: "third", password: "x"),
            ]),
        ])
        #expect(
            try await chain.authorization(for: HTTPRequest(url: "https://a.example/"))
                == BasicCredential(host: "a.example", user: "first", password: "x").headerValue)
        #expect(
            try await chain.authorization(for: HTTPRequest(url: "https://b.example/"))
                == BasicCredential(host: "b.example", user: "third", password: "x").headerValue)
        #expect(try await chain.authorization(for: HTTPRequest(url: "https://c.example/")) == nil)
    }
}

@Suite struct URLRedactionTests {
    @Test(arguments: [
        ("https://user:pass@host/path", "https://***@host/path"),
        ("https://user@host:8080/a@b", "https://***@host:8080/a@b"),
        ("https://u:p@ss@host/", "https://***@host/"),
        ("http://host/path?q=a@b", "http://host/path?q=a@b"),
        ("https://host", "https://host"),
        ("not a url", "not a url"),
    ])
    func redacts(input: String, expected: String) {
        #expect(URLRedaction.redact(input) == expected)
    }

    @Test func requestDescriptionIsRedacted() {
        let request = HTTPRequest(method: .put, url: "https://me:secret@registry.example/v2/")
        #expect(request.redactedDescription == "PUT https://***@registry.example/v2/")
    }

    @Test func headerDescriptionHidesCredentials() {
        let headers: HTTPHeaderFields = ["Authorization": "Basic c2VjcmV0", "Accept": "*/*"]
        #expect(headers.description == "Authorization: ***\nAccept: */*")
        #expect(headers["authorization"] == "Basic c2VjcmV0")
    }

    @Test func statusErrorsNameTheRedactedURL() {
        let notFound = HTTPResponse(status: 404, url: "https://u:p@h/x/APKINDEX.tar.gz").statusError()
        #expect(notFound.code == .notFound)
        #expect(notFound.description == "GET https://***@h/x/APKINDEX.tar.gz: HTTP 404")
        let retried = HTTPResponse(status: 500, url: "http://127.0.0.1:1234/x", attempts: 3).statusError()
        #expect(retried.code == .network)
        #expect(retried.description == "GET http://127.0.0.1:1234/x: HTTP 500 after 3 attempts")
    }
}
