import Crypto
import Foundation
import HTTPTransport
import LaminaCore
import TestSupport
import Testing

/// Real testdata served by the test server (paths relative to testdata, which is the server root).
enum Served {
    static let index = "/chainguard-dev+apko/pkg/apk/apk/testdata/alpine-316/APKINDEX.tar.gz"
    static let tzdata = "/chainguard-dev+apko/internal/cli/testdata/packages/x86_64/tzdata-2023c-r0.apk"
    static let baselayout = "/chainguard-dev+apko/pkg/apk/apk/testdata/alpine-316/alpine-baselayout-3.2.0-r23.apk"

    static func bytes(_ path: String) throws -> [UInt8] {
        let data = try #require(FileManager.default.contents(atPath: SharedTestData.path(String(path.dropFirst()))))
        return Array(data)
    }

    static func sha256(_ bytes: [UInt8]) -> LaminaCore.Digest {
        LaminaCore.Digest(.sha256, bytes: Array(SHA256.hash(data: bytes)))
    }
}

/// Fast retries so failing paths finish in milliseconds.
let quickRetries = RetryPolicy(
    maxAttempts: 3, initialDelay: .milliseconds(5), multiplier: 2, maxDelay: .milliseconds(20), jitter: 0)

func withServerAndTransport(
    _ configuration: HTTPTransportConfiguration = HTTPTransportConfiguration(retry: quickRetries),
    _ body: (TestHTTPServer, HTTPClientTransport) async throws -> Void
) async throws {
    try await withTestHTTPServer(root: SharedTestData.root.path) { server in
        try await HTTPClientTransport.with(configuration) { transport in
            try await body(server, transport)
        }
    }
}

/// Collects sink chunks (an actor, since the sink is called from the transport's task).
actor ChunkCollector {
    var chunks: [[UInt8]] = []
    var restarts = 0
    var bytes: [UInt8] { chunks.flatMap { $0 } }
    func add(_ chunk: [UInt8]) { chunks.append(chunk) }
    func restart() {
        chunks = []
        restarts += 1
    }

    nonisolated var sink: HTTPBodySink {
        HTTPBodySink(restart: { await self.restart() }, write: { await self.add($0) })
    }
    nonisolated var sinkWithoutRestart: HTTPBodySink { HTTPBodySink { await self.add($0) } }
}

func directoryListing(_ path: String) -> [String] {
    ((try? FileManager.default.contentsOfDirectory(atPath: path)) ?? []).sorted()
}

@Suite(.enabled(if: SharedTestData.isAvailable, "needs ../shared/testdata"))
struct HTTPClientTransportTests {
    @Test func getStreamsTheBodyInChunks() async throws {
        let expected = try Served.bytes(Served.index)
        try await withServerAndTransport { server, transport in
            let collector = ChunkCollector()
            let response = try await transport.get(server.url(Served.index), into: collector.sink)
            #expect(response.status == 200)
            #expect(response.body.isEmpty, "a streamed body is not also kept in memory")
            #expect(response.bytesDelivered == Int64(expected.count))
            #expect(await collector.bytes == expected)
            #expect(await collector.chunks.count > 1, "655 KB arrive in several chunks")
            let recorded = try #require(await server.requests(path: Served.index).first)
            #expect(recorded.header("User-Agent") == "lamina/0.1")
            #expect(recorded.method == "GET")
        }
    }

    @Test func headReportsSizeWithoutBody() async throws {
        let expected = try Served.bytes(Served.tzdata)
        try await withServerAndTransport { server, transport in
            let response = try await transport.head(server.url(Served.tzdata))
            #expect(response.contentLength == Int64(expected.count))
            #expect(response.body.isEmpty)
            #expect(response.etag != nil)
            #expect(await server.requests().map(\.method) == ["HEAD"])
        }
    }

    @Test func downloadRenamesIntoPlaceAndVerifies() async throws {
        let expected = try Served.bytes(Served.tzdata)
        try await withServerAndTransport { server, transport in
            try await TemporaryDirectory.with { dir in
                let target = dir.file("cache/tzdata.apk")
                let result = try await transport.download(
                    server.url(Served.tzdata), to: target,
                    expected: ExpectedContent(size: Int64(expected.count), sha256: Served.sha256(expected)))
                #expect(result.size == Int64(expected.count))
                #expect(result.sha256 == Served.sha256(expected))
                #expect(FileManager.default.contents(atPath: target).map(Array.init) == expected)
                #expect(directoryListing(dir.file("cache")) == ["tzdata.apk"], "no temporary file left")
            }
        }
    }

    @Test func checksumMismatchLeavesNothingBehind() async throws {
        let genuine = try Served.bytes(Served.baselayout)
        try await withServerAndTransport { server, transport in
            await server.addFault(.tamper(Array("not the package".utf8)), for: Served.baselayout)
            try await TemporaryDirectory.with { dir in
                let target = dir.file("pkg.apk")
                try Data("old copy".utf8).write(to: URL(fileURLWithPath: target))
                let error = await #expect(throws: LaminaError.self) {
                    try await transport.download(
                        server.url(Served.baselayout), to: target,
                        expected: ExpectedContent(sha256: Served.sha256(genuine)))
                }
                #expect(error?.code == .checksumMismatch)
                #expect(error?.description.contains(Served.sha256(genuine).hex) == true)
                #expect(error?.description.hasPrefix("GET \(server.url(Served.baselayout)): sha256 mismatch") == true)
                #expect(directoryListing(dir.url.path) == ["pkg.apk"])
                #expect(FileManager.default.contents(atPath: target) == Data("old copy".utf8), "old copy untouched")
            }
        }
    }

    @Test func wrongSizeIsAMismatchToo() async throws {
        try await withServerAndTransport { server, transport in
            try await TemporaryDirectory.with { dir in
                let error = await #expect(throws: LaminaError.self) {
                    try await transport.download(
                        server.url(Served.baselayout), to: dir.file("x.apk"), expected: ExpectedContent(size: 100))
                }
                #expect(error?.code == .checksumMismatch)
                #expect(directoryListing(dir.url.path).isEmpty)
            }
        }
    }

    @Test func retriesAfterServerErrors() async throws {
        let expected = try Served.bytes(Served.baselayout)
        try await withServerAndTransport { server, transport in
            await server.addFault(.status(500, times: 2), for: Served.baselayout)
            let response = try await transport.get(server.url(Served.baselayout))
            #expect(response.body == expected)
            #expect(response.attempts == 3)
            #expect(await server.requests(path: Served.baselayout).count == 3)
        }
    }

    @Test func givesUpAfterMaxAttemptsNamingTheURL() async throws {
        try await withServerAndTransport { server, transport in
            let path = "/x/APKINDEX.tar.gz"
            await server.setFile(path, [1, 2, 3])
            await server.addFault(.status(500, times: 10), for: path)
            let error = await #expect(throws: LaminaError.self) { try await transport.get(server.url(path)) }
            #expect(error?.code == .network)
            #expect(error?.description == "GET \(server.url(path)): HTTP 500 after 3 attempts")
            #expect(await server.requests(path: path).count == 3)
        }
    }

    @Test func tooManyRequestsIsRetried() async throws {
        try await withServerAndTransport { server, transport in
            await server.setFile("/limited", Array("ok".utf8))
            await server.addFault(.status(429, times: 1), for: "/limited")
            let response = try await transport.get(server.url("/limited"))
            #expect(response.body == Array("ok".utf8))
            #expect(response.attempts == 2)
        }
    }

    @Test(arguments: [404, 403, 400])
    func clientErrorsAreNotRetried(status: Int) async throws {
        try await withServerAndTransport { server, transport in
            await server.setFile("/file", [1])
            await server.addFault(.status(status, times: 5), for: "/file")
            let error = await #expect(throws: LaminaError.self) { try await transport.get(server.url("/file")) }
            #expect(error?.code == (status == 404 ? .notFound : .network))
            #expect(error?.description.hasPrefix("GET \(server.url("/file")): HTTP \(status)") == true)
            #expect(await server.requests(path: "/file").count == 1)
        }
    }

    @Test func missingFileIsNotFound() async throws {
        try await withServerAndTransport { server, transport in
            let error = await #expect(throws: LaminaError.self) {
                try await transport.get(server.url("/nope/APKINDEX.tar.gz"))
            }
            #expect(error?.code == .notFound)
            #expect(await server.requests().count == 1)
        }
    }

    @Test func resumesWithRangeAfterADroppedConnection() async throws {
        let expected = try Served.bytes(Served.index)
        try await withServerAndTransport { server, transport in
            await server.addFault(.dropConnection(afterBytes: 100_000, times: 1), for: Served.index)
            try await TemporaryDirectory.with { dir in
                let result = try await transport.download(
                    server.url(Served.index), to: dir.file("APKINDEX.tar.gz"),
                    expected: ExpectedContent(sha256: Served.sha256(expected)))
                #expect(result.response.status == 206)
                #expect(result.response.attempts == 2)
                #expect(FileManager.default.contents(atPath: dir.file("APKINDEX.tar.gz")).map(Array.init) == expected)
            }
            let requests = await server.requests(path: Served.index)
            #expect(requests.count == 2)
            #expect(requests[0].header("Range") == nil)
            // The client may lose bytes that were in flight when the connection dropped: it resumes from what the
            // sink actually received, which is at most what the server sent.
            let range = try #require(requests[1].header("Range"))
            #expect(range.hasPrefix("bytes=") && range.hasSuffix("-"))
            let resumedAt = try #require(Int(range.dropFirst("bytes=".count).dropLast()))
            #expect(resumedAt > 0 && resumedAt <= 100_000, "resumed from what had arrived: \(range)")
            #expect(requests[1].header("If-Range") != nil, "resume is conditional on the same ETag")
        }
    }

    @Test func restartsWhenTheServerIgnoresRange() async throws {
        let expected = try Served.bytes(Served.index)
        try await withServerAndTransport { server, transport in
            await server.addFault(.ignoreRange, for: Served.index)
            await server.addFault(.dropConnection(afterBytes: 50_000, times: 2), for: Served.index)
            let collector = ChunkCollector()
            let response = try await transport.get(server.url(Served.index), into: collector.sink)
            #expect(response.status == 200)
            #expect(response.attempts == 3)
            #expect(await collector.bytes == expected)
            #expect(await collector.restarts == 2)
            #expect(await server.requests(path: Served.index).count == 3)
        }
    }

    @Test func callerRangesAreRestartedNotResumed() async throws {
        let expected = try Served.bytes(Served.tzdata)
        try await withServerAndTransport { server, transport in
            await server.addFault(.dropConnection(afterBytes: 50_000, times: 1), for: Served.tzdata)
            let collector = ChunkCollector()
            let response = try await transport.get(
                server.url(Served.tzdata), headers: ["Range": "bytes=100000-199999"], into: collector.sink)
            #expect(response.status == 206)
            #expect(await collector.bytes == Array(expected[100_000..<200_000]))
            #expect(await collector.restarts == 1)
            let ranges = await server.requests(path: Served.tzdata).map { $0.header("Range") }
            #expect(ranges == ["bytes=100000-199999", "bytes=100000-199999"])
        }
    }

    @Test func aSinkThatCannotRestartFailsCleanly() async throws {
        try await withServerAndTransport { server, transport in
            await server.addFault(.ignoreRange, for: Served.index)
            await server.addFault(.dropConnection(afterBytes: 50_000, times: 1), for: Served.index)
            let collector = ChunkCollector()
            let error = await #expect(throws: LaminaError.self) {
                try await transport.get(server.url(Served.index), into: collector.sinkWithoutRestart)
            }
            #expect(error?.code == .network)
            #expect(error?.message.hasPrefix("transfer broke after ") == true)
            #expect(error?.message.hasSuffix(" bytes and the server cannot resume it") == true)
        }
    }

    @Test func droppedConnectionsExhaustRetries() async throws {
        try await withServerAndTransport { server, transport in
            await server.addFault(.ignoreRange, for: Served.tzdata)
            await server.addFault(.dropConnection(afterBytes: 10, times: 5), for: Served.tzdata)
            try await TemporaryDirectory.with { dir in
                let error = await #expect(throws: LaminaError.self) {
                    try await transport.download(server.url(Served.tzdata), to: dir.file("t.apk"))
                }
                #expect(error?.code == .network)
                #expect(error?.description.hasPrefix("GET \(server.url(Served.tzdata)): ") == true)
                #expect(error?.message.hasPrefix("connection closed before the whole body arrived (after ") == true)
                #expect(error?.message.hasSuffix(" bytes) after 3 attempts") == true)
                #expect(directoryListing(dir.url.path).isEmpty)
            }
            #expect(await server.requests(path: Served.tzdata).count == 3)
        }
    }

    @Test func conditionalGetReportsNotModified() async throws {
        let expected = try Served.bytes(Served.index)
        try await withServerAndTransport { server, transport in
            try await TemporaryDirectory.with { dir in
                let target = dir.file("APKINDEX.tar.gz")
                guard
                    case .modified(let first) = try await transport.download(
                        server.url(Served.index), to: target, ifNoneMatch: nil)
                else {
                    Issue.record("first fetch must download")
                    return
                }
                let etag = try #require(first.response.etag)
                try Data("stale".utf8).write(to: URL(fileURLWithPath: target))
                let second = try await transport.download(server.url(Served.index), to: target, ifNoneMatch: etag)
                guard case .notModified(let response) = second else {
                    Issue.record("expected 304")
                    return
                }
                #expect(response.status == 304)
                #expect(FileManager.default.contents(atPath: target) == Data("stale".utf8), "304 writes nothing")
                #expect(directoryListing(dir.url.path) == ["APKINDEX.tar.gz"])
                let third = try await transport.download(
                    server.url(Served.index), to: target, ifNoneMatch: "\"some-older-etag\"")
                guard case .modified = third else {
                    Issue.record("a different ETag must download")
                    return
                }
                #expect(FileManager.default.contents(atPath: target).map(Array.init) == expected)
            }
            let sent = await server.requests(path: Served.index).map { $0.header("If-None-Match") }
            #expect(sent.count == 3)
            #expect(sent.first == .some(nil))
            #expect(sent.dropFirst().first??.hasPrefix("\"") == true, "the stored ETag is sent back")
            #expect(sent.last == "\"some-older-etag\"")
        }
    }

    @Test func conditionalGetIntoASink() async throws {
        try await withServerAndTransport { server, transport in
            let etag = try #require(try await transport.head(server.url(Served.index)).etag)
            let collector = ChunkCollector()
            let result = try await transport.get(server.url(Served.index), ifNoneMatch: etag, into: collector.sink)
            guard case .notModified = result else {
                Issue.record("expected notModified")
                return
            }
            #expect(await collector.chunks.isEmpty)
        }
    }

    @Test func basicAuthFromTheURL() async throws {
        try await withServerAndTransport { server, transport in
            await server.addFault(.requireBasicAuth(user: "alice", password: "p@ss:word"), for: Served.baselayout)
            let authorised = server.url(Served.baselayout)
                .replacingOccurrences(of: "http://", with: "http://alice:p%40ss%3Aword@")
            let response = try await transport.get(authorised)
            #expect(response.status == 200)
            #expect(response.url == server.url(Served.baselayout), "userinfo never leaves the transport")
            let error = await #expect(throws: LaminaError.self) {
                try await transport.get(server.url(Served.baselayout))
            }
            #expect(error?.message.hasPrefix("HTTP 401") == true)
            let wrong = authorised.replacingOccurrences(of: "alice", with: "mallory")
            let wrongError = await #expect(throws: LaminaError.self) { try await transport.get(wrong) }
            #expect(wrongError?.description.contains("p%40ss") == false, "password never in messages")
            #expect(wrongError?.description.hasPrefix("GET \(server.url(Served.baselayout)): HTTP 401") == true)
            let requests = await server.requests(path: Served.baselayout)
            #expect(requests.count == 3, "401 is not retried")
            #expect(requests[0].header("Authorization") == "Basic " + Base64.encode(Array("alice:p@ss:word".utf8)))
            #expect(requests[1].header("Authorization") == nil)
        }
    }

    @Test(arguments: ["basic:127.0.0.1:bob:hunter2", "basic:127.0.0.1:PORT:bob:hunter2"])
    func basicAuthFromHTTPAuth(value: String) async throws {
        try await withTestHTTPServer(root: SharedTestData.root.path) { server in
            await server.addFault(.requireBasicAuth(user: "bob", password: "hunter2"), for: Served.baselayout)
            let environment = ["HTTP_AUTH": value.replacingOccurrences(of: "PORT", with: String(server.port))]
            var configuration = try HTTPTransportConfiguration.fromEnvironment(environment)
            configuration.retry = quickRetries
            try await HTTPClientTransport.with(configuration) { transport in
                let response = try await transport.get(server.url(Served.baselayout))
                #expect(response.status == 200)
            }
            #expect(await server.requests(path: Served.baselayout).count == 1)
        }
    }

    @Test func credentialsStayWithTheirOriginAcrossRedirects() async throws {
        try await withTestHTTPServer { other in
            await other.setFile("/landing", Array("landed".utf8))
            try await withServerAndTransport { server, transport in
                await server.setHandler(method: "GET", path: "/moved") { _ in
                    TestHTTPResponse(status: 302, headers: [("Location", other.url("/landing"))])
                }
                await server.setHandler(method: "GET", path: "/local") { _ in
                    TestHTTPResponse(status: 301, headers: [("Location", "/final")])
                }
                await server.setFile("/final", Array("final".utf8))
                let withUser = server.baseURL.replacingOccurrences(of: "http://", with: "http://u:p@")
                let response = try await transport.get(withUser + "/moved")
                #expect(response.body == Array("landed".utf8))
                #expect(response.url == other.url("/landing"))
                #expect(await other.requests().first?.header("Authorization") == nil)
                #expect(await server.requests(path: "/moved").first?.header("Authorization") != nil)

                let local = try await transport.get(withUser + "/local")
                #expect(local.body == Array("final".utf8))
                #expect(
                    await server.requests(path: "/final").first?.header("Authorization") != nil,
                    "same origin keeps the credentials")
            }
        }
    }

    @Test func authenticatorAnswersChallenges() async throws {
        actor TokenIssuer: HTTPAuthenticator {
            var token: String?
            var challenges: [String] = []
            func authorization(for request: HTTPRequest) async throws -> String? { token.map { "Bearer \($0)" } }
            func handleChallenge(_ response: HTTPResponse, for request: HTTPRequest) async throws -> Bool {
                challenges.append(response.headers["WWW-Authenticate"] ?? "")
                token = "t0k3n"
                return true
            }
        }
        let issuer = TokenIssuer()
        var configuration = HTTPTransportConfiguration(retry: quickRetries)
        configuration.authenticator = issuer
        try await withServerAndTransport(configuration) { server, transport in
            await server.setHandler(method: "GET", path: "/v2/") { request in
                request.header("Authorization") == "Bearer t0k3n"
                    ? TestHTTPResponse(text: "{}")
                    : TestHTTPResponse(status: 401, headers: [("WWW-Authenticate", "Bearer realm=\"r\"")], text: "")
            }
            let response = try await transport.get(server.url("/v2/"))
            #expect(response.body == Array("{}".utf8))
            #expect(response.attempts == 1, "a challenge round is not a failed attempt")
            #expect(await issuer.challenges == ["Bearer realm=\"r\""])
            #expect(await server.requests(path: "/v2/").count == 2)
        }
    }

    @Test func sizeLimitStopsLargeBodies() async throws {
        try await withServerAndTransport { server, transport in
            let options = HTTPRequestOptions(maxBodyBytes: 4096)
            let collected = await #expect(throws: LaminaError.self) {
                try await transport.get(server.url(Served.tzdata), options: options)
            }
            #expect(collected?.code == .limitExceeded)
            #expect(collected?.subject == "GET \(server.url(Served.tzdata))")
            try await TemporaryDirectory.with { dir in
                let streamed = await #expect(throws: LaminaError.self) {
                    try await transport.download(server.url(Served.tzdata), to: dir.file("t"), options: options)
                }
                #expect(streamed?.code == .limitExceeded)
                #expect(directoryListing(dir.url.path).isEmpty)
            }
            let atLimit = try await transport.get(
                server.url(Served.baselayout), options: HTTPRequestOptions(maxBodyBytes: 11012))
            #expect(atLimit.body.count == 11012, "a body exactly at the limit passes")
        }
    }

    @Test func sizeLimitAppliesWithoutContentLengthToo() async throws {
        try await withServerAndTransport { server, transport in
            // A handler response that declares no length: the limit is enforced while streaming.
            await server.setHandler(method: "GET", path: "/unsized") { _ in
                TestHTTPResponse(
                    headers: [("Transfer-Encoding", "chunked")], body: [UInt8](repeating: 7, count: 10_000))
            }
            let error = await #expect(throws: LaminaError.self) {
                try await transport.get(
                    server.url("/unsized"), options: HTTPRequestOptions(maxBodyBytes: 1000),
                    into: ChunkCollector().sink)
            }
            #expect(error?.code == .limitExceeded)
        }
    }

    @Test func uploadsBytesAndFiles() async throws {
        let package = try Served.bytes(Served.baselayout)
        try await withServerAndTransport { server, transport in
            for method in ["PUT", "POST", "PATCH"] {
                await server.setHandler(method: method, path: "/upload") { request in
                    TestHTTPResponse(status: 201, headers: [("Location", "/blobs/1")], body: request.body)
                }
            }
            let put = try await transport.send(.put, server.url("/upload"), body: .bytes(Array("hello".utf8)))
            #expect(put.status == 201)
            #expect(put.headers["location"] == "/blobs/1")
            #expect(put.body == Array("hello".utf8))

            let post = try await transport.send(
                .post, server.url("/upload"), headers: ["Content-Type": "application/octet-stream"],
                body: .file(path: SharedTestData.path(String(Served.baselayout.dropFirst()))))
            #expect(post.body == package)

            let patch = try await transport.send(
                .patch, server.url("/upload"),
                body: .file(path: SharedTestData.path(String(Served.baselayout.dropFirst())), range: 100..<612))
            #expect(patch.body == Array(package[100..<612]))

            let recorded = await server.requests(path: "/upload")
            #expect(recorded.map(\.method) == ["PUT", "POST", "PATCH"])
            #expect(recorded[1].header("Content-Type") == "application/octet-stream")
            #expect(recorded[2].header("Content-Length") == "512")
        }
    }

    @Test func missingUploadFileIsReported() async throws {
        try await withServerAndTransport { server, transport in
            let error = await #expect(throws: LaminaError.self) {
                try await transport.send(.put, server.url("/x"), body: .file(path: "/nonexistent/lamina-file"))
            }
            #expect(error?.code == .notFound)
            #expect(await server.requests().isEmpty)
        }
    }

    @Test func postIsNotRepeatedAfterAServerError() async throws {
        try await withServerAndTransport { server, transport in
            await server.setHandler(method: "POST", path: "/uploads/") { _ in TestHTTPResponse(status: 202) }
            await server.addFault(.status(500, times: 1), for: "/uploads/")
            let error = await #expect(throws: LaminaError.self) {
                try await transport.send(.post, server.url("/uploads/"))
            }
            #expect(error?.message == "HTTP 500")
            #expect(await server.requests(path: "/uploads/").count == 1)
            // 503 says the request was not processed: safe to repeat even for POST.
            await server.addFault(.status(503, times: 1), for: "/uploads/")
            let retried = try await transport.send(.post, server.url("/uploads/"))
            #expect(retried.status == 202)
            #expect(retried.attempts == 2)
        }
    }

    @Test func idleTimeoutFailsTheAttempt() async throws {
        let configuration = HTTPTransportConfiguration(idleTimeout: .milliseconds(200), retry: .never)
        try await withServerAndTransport(configuration) { server, transport in
            await server.setFile("/slow", [1, 2, 3])
            await server.addFault(.delay(.seconds(2)), for: "/slow")
            // Without the idle timeout the request would succeed after the server's delay.
            let error = await #expect(throws: LaminaError.self) { try await transport.get(server.url("/slow")) }
            #expect(error?.code == .network)
        }
    }

    @Test func unreachableServerIsANetworkErrorAfterRetries() async throws {
        // Port 1 (tcpmux) on loopback: nothing listens there, so the connection is refused.
        let url = "http://127.0.0.1:1/gone"
        try await HTTPClientTransport.with(HTTPTransportConfiguration(retry: quickRetries)) { transport in
            let error = await #expect(throws: LaminaError.self) { try await transport.get(url) }
            #expect(error?.code == .network)
            #expect(error?.subject == "GET \(url)")
            #expect(error?.message == "connection refused after 3 attempts")
        }
    }

    @Test func nonHTTPURLsAreRejected() async throws {
        try await HTTPClientTransport.with { transport in
            for url in ["file:///etc/passwd", "/var/cache/apk/x.apk", "ftp://host/x"] {
                let error = await #expect(throws: LaminaError.self) { try await transport.get(url) }
                #expect(error?.code == .invalidInput)
            }
        }
    }

    @Test func parallelDownloadsAreBounded() async throws {
        final class Events: @unchecked Sendable {
            // Safe: every access to `list` holds `lock`.
            private let lock = NSLock()
            private var list: [ProgressEvent] = []
            func append(_ event: ProgressEvent) { lock.withLock { list.append(event) } }
            var all: [ProgressEvent] { lock.withLock { list } }
        }
        try await withServerAndTransport { server, transport in
            await server.addFault(.delay(.milliseconds(40)), for: "*")
            var items: [DownloadRequest] = []
            var contents: [[UInt8]] = []
            try await TemporaryDirectory.with { dir in
                for index in 0..<20 {
                    let bytes = (0..<(1000 + index * 5000)).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ index) }
                    contents.append(bytes)
                    await server.setFile("/pkg/\(index).apk", bytes)
                    items.append(
                        DownloadRequest(
                            url: server.url("/pkg/\(index).apk"), path: dir.file("out/\(index).apk"),
                            expected: ExpectedContent(size: Int64(bytes.count), sha256: Served.sha256(bytes))))
                }
                let events = Events()
                let results = try await transport.downloadAll(items, maxConcurrent: 4) { events.append($0) }
                #expect(results.map(\.path) == items.map(\.path))
                for (index, bytes) in contents.enumerated() {
                    #expect(FileManager.default.contents(atPath: dir.file("out/\(index).apk")).map(Array.init) == bytes)
                }
                let maxInFlight = await server.maxConcurrentRequests()
                #expect(maxInFlight <= 4)
                #expect(maxInFlight >= 2, "downloads overlap")
                let total = Int64(contents.map(\.count).reduce(0, +))
                #expect(events.all.first == .phase("fetching", total: total))
                #expect(events.all.last == .advance(completed: total))
                #expect(directoryListing(dir.file("out")).count == 20)
            }
            #expect(await server.requests().count == 20)
        }
    }

    @Test func parallelDownloadStopsAtTheFirstFailure() async throws {
        try await withServerAndTransport { server, transport in
            try await TemporaryDirectory.with { dir in
                let items = (0..<6).map {
                    DownloadRequest(url: server.url("/missing/\($0)"), path: dir.file("\($0)"))
                }
                let error = await #expect(throws: LaminaError.self) {
                    try await transport.downloadAll(items, maxConcurrent: 2)
                }
                #expect(error?.code == .notFound)
                #expect(directoryListing(dir.url.path).isEmpty)
                #expect(await server.requests().count < 6, "the rest was cancelled")
            }
        }
    }
}

/// End to end through a local CONNECT proxy. Requests use a made-up `.test` host name that is never resolved: the
/// client hands it to the proxy, and the proxy's tunnel always leads to the local test server.
@Suite struct ProxyTransportTests {
    @Test func requestsGoThroughTheConfiguredProxy() async throws {
        try await withTestHTTPServer { server in
            await server.setFile("/alpine/v3.20/main/x86_64/APKINDEX.tar.gz", Array("index".utf8))
            try await withTestHTTPProxy(upstream: server) { proxy in
                let environment = ["http_proxy": proxy.url.replacingOccurrences(of: "http://", with: "http://pu:pp@")]
                var configuration = try HTTPTransportConfiguration.fromEnvironment(environment)
                configuration.retry = quickRetries
                try await HTTPClientTransport.with(configuration) { transport in
                    let response = try await transport.get(
                        "http://mirror.lamina.test/alpine/v3.20/main/x86_64/APKINDEX.tar.gz")
                    #expect(response.body == Array("index".utf8))
                }
                let tunnels = await proxy.tunnels()
                #expect(tunnels.map(\.target) == ["mirror.lamina.test:80"])
                #expect(tunnels.first?.proxyAuthorization == "Basic " + Base64.encode(Array("pu:pp".utf8)))
                #expect(await server.requests().first?.header("Host") == "mirror.lamina.test")
            }
        }
    }

    @Test func loopbackBypassesTheProxy() async throws {
        try await withTestHTTPServer { server in
            await server.setFile("/local", Array("direct".utf8))
            try await withTestHTTPProxy(upstream: server) { proxy in
                var configuration = try HTTPTransportConfiguration.fromEnvironment(["HTTP_PROXY": proxy.url])
                configuration.retry = quickRetries
                try await HTTPClientTransport.with(configuration) { transport in
                    let response = try await transport.get(server.url("/local"))
                    #expect(response.body == Array("direct".utf8))
                }
                #expect(await proxy.tunnels().isEmpty)
                #expect(await server.requests().count == 1)
            }
        }
    }
}
