import Foundation
import LaminaCore
import OCI
import Testing

@testable import Registry

@Suite struct AuthChallengeParsing {
    @Test func bearerWithQuotedScopeHoldingCommas() {
        let challenges = AuthChallenge.parse(
            #"Bearer realm="https://auth.example/token",service="registry.example",scope="repository:ns/app:pull,push""#)
        #expect(challenges.count == 1)
        #expect(challenges.first?.scheme == "bearer")
        #expect(challenges.first?.realm == "https://auth.example/token")
        #expect(challenges.first?.service == "registry.example")
        #expect(challenges.first?.scope == "repository:ns/app:pull,push")
    }

    @Test func severalChallengesInOneValueAndEscapes() {
        let challenges = AuthChallenge.parse(
            #"Basic realm="a \"b\" c", BEARER realm="http://127.0.0.1:1/t" , service=plain"#)
        #expect(challenges.map(\.scheme) == ["basic", "bearer"])
        #expect(challenges[0].realm == #"a "b" c"#)
        #expect(challenges[1].realm == "http://127.0.0.1:1/t")
        #expect(challenges[1].service == "plain")
        #expect(challenges[1].scope == nil)
    }

    @Test(arguments: ["", "   ", ",,", "=oops"])
    func emptyOrJunkGivesNoChallenge(_ header: String) {
        #expect(AuthChallenge.parse(header).isEmpty)
    }

    @Test func schemeWithoutParameters() {
        #expect(AuthChallenge.parse("Negotiate") == [AuthChallenge(scheme: "negotiate")])
    }

    /// The fuzzer's timeout (Inputs/auth-challenge/timeout-be5a4c46) grown to 100 KB: a long bare token
    /// after the scheme, and thousands of bare tokens, parse in one pass.
    @Test func longAdversarialHeadersParseInOnePass() {
        let long = "Bearer re0tma" + String(repeating: "+", count: 100_000) + "l"
        let tokenSchemes = AuthChallenge.parse(long)
        #expect(tokenSchemes.map(\.scheme) == ["bearer", "re0tma" + String(repeating: "+", count: 100_000) + "l"])
        #expect(tokenSchemes.allSatisfy { $0.parameters.isEmpty })

        let many = "Bearer" + String(repeating: " a", count: 50_000)
        let challenges = AuthChallenge.parse(many)
        #expect(challenges.count == 50_001)
        #expect(challenges.first == AuthChallenge(scheme: "bearer"))
        #expect(challenges.last == AuthChallenge(scheme: "a"))

        let unterminated = #"Bearer realm=""# + String(repeating: #"\+"#, count: 50_000)
        #expect(AuthChallenge.parse(unterminated).first?.realm == String(repeating: "+", count: 50_000))
    }

    /// A bare token ends one challenge and starts the next; `token68`-style values keep their old reading.
    @Test func bareTokensStartTheNextChallenge() {
        #expect(
            AuthChallenge.parse(#"Bearer realm="r" Basic realm="b""#)
                == [AuthChallenge(scheme: "bearer", parameters: ["realm": "r"]), AuthChallenge(scheme: "basic", parameters: ["realm": "b"])])
        #expect(AuthChallenge.parse("Basic dXNlcg==") == [AuthChallenge(scheme: "basic", parameters: ["dxnlcg": ""])])
        #expect(AuthChallenge.parse("Bearer realm = x ( junk") == [AuthChallenge(scheme: "bearer", parameters: ["realm": "x"])])
    }
}

@Suite struct EndpointMapping {
    @Test(arguments: [
        ("127.0.0.1:5000", "http://127.0.0.1:5000"), ("localhost", "http://localhost"),
        ("LOCALHOST:8080", "http://LOCALHOST:8080"), ("[::1]:5000", "http://[::1]:5000"),
        ("registry.example", "https://registry.example"), ("docker.io", "https://registry-1.docker.io"),
        ("127.example.com", "https://127.example.com"), ("127.0.0.300", "https://127.0.0.300"),
        ("127.1.2.3:80", "http://127.1.2.3:80"),
    ])
    func schemeAndBase(_ registry: String, _ base: String) {
        #expect(RegistryEndpoint(registry: registry).baseURL == base)
    }

    @Test func insecureAllowsHTTPEverywhere() {
        #expect(RegistryEndpoint(registry: "registry.example:5000", insecure: true).baseURL == "http://registry.example:5000")
    }

    @Test func referenceToURLs() throws {
        let reference = try Reference("127.0.0.1:5000/ns/app:1.0")
        let endpoint = RegistryEndpoint(registry: reference.registry)
        let digest = Blob(bytes: Array("x".utf8), mediaType: .ociConfig).descriptor.digest
        #expect(endpoint.pingURL == "http://127.0.0.1:5000/v2/")
        #expect(endpoint.blobURL(reference.repository, digest) == "http://127.0.0.1:5000/v2/ns/app/blobs/\(digest)")
        #expect(endpoint.uploadURL(reference.repository) == "http://127.0.0.1:5000/v2/ns/app/blobs/uploads/")
        #expect(endpoint.manifestURL(reference.repository, "1.0") == "http://127.0.0.1:5000/v2/ns/app/manifests/1.0")
        // Docker Hub names get library/ and go to registry-1.
        let hub = try Reference("alpine:3.20")
        #expect(RegistryEndpoint(registry: hub.registry).manifestURL(hub.repository, "3.20")
            == "https://registry-1.docker.io/v2/library/alpine/manifests/3.20")
    }

    @Test func uploadLocations() throws {
        let endpoint = RegistryEndpoint(registry: "127.0.0.1:5000")
        #expect(try endpoint.resolve(location: "/v2/a/blobs/uploads/u1?_state=x") == "http://127.0.0.1:5000/v2/a/blobs/uploads/u1?_state=x")
        #expect(try endpoint.resolve(location: "http://127.0.0.1:9/up") == "http://127.0.0.1:9/up")
        #expect(throws: LaminaError.self) { try endpoint.resolve(location: "ftp://x/y") }
        #expect(RegistryEndpoint.appendingQuery("http://h/u?_state=x", "digest", "sha256:ab") == "http://h/u?_state=x&digest=sha256%3Aab")
        #expect(RegistryEndpoint.appendingQuery("http://h/u", "scope", "repository:a/b:pull,push")
            == "http://h/u?scope=repository%3Aa%2Fb%3Apull%2Cpush")
    }

    @Test(arguments: [
        ("/v2/", nil), ("/v2/ns/app/blobs/uploads/", "ns/app"), ("/v2/a/b/c/manifests/1.0", "a/b/c"),
        ("/v2/blobs/blobs/sha256:00", "blobs"), ("/v2/x/tags/list", "x"), ("/other/x/blobs/y", nil),
    ] as [(String, String?)])
    func repositoryInPath(_ path: String, _ repository: String?) {
        #expect(RegistryEndpoint.repository(inPath: path) == repository)
    }
}

@Suite struct DockerConfigCredentials {
    @Test func authAndUsernamePasswordEntries() throws {
        let text = """
            {"auths": {
              "https://index.docker.io/v1/": {"auth": "\(Base64.encode(Array("hubuser:hub:pass".utf8)))"},
              "127.0.0.1:5000": {"username": "local", "password": "secret"},
              "http://Registry.Example/": {"auth": "\(Base64.encode(Array("u:p".utf8)))"},
              "broken.example": {"auth": "not base64!"}
            }, "credsStore": "desktop"}
            """
        let credentials = try RegistryCredentials.parseDockerConfig(Array(text.utf8), path: "config.json")
        #expect(credentials.credential(for: "docker.io") == RegistryCredential(user: "hubuser", password: "hub:pass"))
        #expect(credentials.credential(for: "127.0.0.1:5000") == RegistryCredential(user: "local", password: "secret"))
        #expect(credentials.credential(for: "registry.example") == RegistryCredential(user: "u", password: "p"))
        #expect(credentials.credential(for: "broken.example") == nil)
        #expect(credentials.credential(for: "127.0.0.1:5001") == nil)
        #expect(credentials.credential(for: "local").map(\.basicHeader) == nil)
        #expect(RegistryCredential(user: "u", password: "p").basicHeader == "Basic dTpw")
    }

    @Test func malformedFileIsNamed() {
        #expect {
            try RegistryCredentials.parseDockerConfig(Array("[1]".utf8), path: "/x/config.json")
        } throws: { error in
            (error as? LaminaError)?.subject == "/x/config.json"
        }
        #expect(throws: LaminaError.self) {
            try RegistryCredentials.parseDockerConfig(Array(#"{"auths": []}"#.utf8), path: "c")
        }
    }

    @Test func dockerConfigEnvironmentVariableWins() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("lamina-dc-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try Data(#"{"auths":{"127.0.0.1:1":{"username":"a","password":"b"}}}"#.utf8).write(
            to: URL(fileURLWithPath: dir + "/config.json"))
        let found = try RegistryCredentials.dockerConfig(environment: ["DOCKER_CONFIG": dir, "HOME": "/nonexistent"])
        #expect(found.credential(for: "127.0.0.1:1")?.user == "a")
        let none = try RegistryCredentials.dockerConfig(environment: ["HOME": "/nonexistent"])
        #expect(none.entries.isEmpty)
    }
}
