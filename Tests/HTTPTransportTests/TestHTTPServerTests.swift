import HTTPTransport
import LaminaCore
import TestSupport
import Testing

/// The test server's own HTTP behaviour, which later registry and repository tests rely on.
@Suite struct TestHTTPServerTests {
    let content = (0..<1000).map { UInt8(truncatingIfNeeded: $0 * 7) }

    func withServer(_ body: (TestHTTPServer, HTTPClientTransport) async throws -> Void) async throws {
        try await withTestHTTPServer { server in
            await server.setFile("/f", content)
            try await HTTPClientTransport.with(HTTPTransportConfiguration(retry: .never)) { transport in
                try await body(server, transport)
            }
        }
    }

    struct RangeCase: Sendable, CustomTestStringConvertible {
        let header: String
        let status: Int
        let expected: Range<Int>?
        var testDescription: String { "Range: \(header) → \(status)" }
    }

    @Test(arguments: [
        RangeCase(header: "bytes=0-99", status: 206, expected: 0..<100),
        RangeCase(header: "bytes=900-", status: 206, expected: 900..<1000),
        RangeCase(header: "bytes=-10", status: 206, expected: 990..<1000),
        RangeCase(header: "bytes=990-5000", status: 206, expected: 990..<1000),
        RangeCase(header: "bytes=1000-", status: 416, expected: nil),
        RangeCase(header: "bytes=0-1,5-6", status: 200, expected: 0..<1000),
        RangeCase(header: "items=0-1", status: 200, expected: 0..<1000),
    ])
    func ranges(_ testCase: RangeCase) async throws {
        try await withServer { server, transport in
            let response = try await transport.execute(
                HTTPRequest(url: server.url("/f"), headers: ["Range": testCase.header]))
            #expect(response.status == testCase.status)
            if let expected = testCase.expected {
                #expect(response.body == Array(content[expected]))
                #expect(response.contentLength == Int64(expected.count))
            }
            if testCase.status == 206, let expected = testCase.expected {
                #expect(
                    response.headers["Content-Range"]
                        == "bytes \(expected.lowerBound)-\(expected.upperBound - 1)/1000")
            }
        }
    }

    @Test func ifRangeWithAnotherETagSendsEverything() async throws {
        try await withServer { server, transport in
            let response = try await transport.execute(
                HTTPRequest(url: server.url("/f"), headers: ["Range": "bytes=0-9", "If-Range": "\"other\""]))
            #expect(response.status == 200)
            #expect(response.body == content)
        }
    }

    @Test func etagIsStableAndContentDependent() async throws {
        try await withServer { server, transport in
            let first = try await transport.head(server.url("/f")).etag
            let second = try await transport.head(server.url("/f")).etag
            await server.setFile("/f", Array(content.reversed()))
            let changed = try await transport.head(server.url("/f")).etag
            #expect(first != nil && first == second)
            #expect(changed != first)
            let wildcard = try await transport.execute(
                HTTPRequest(url: server.url("/f"), headers: ["If-None-Match": "*"]))
            #expect(wildcard.status == 304)
        }
    }

    @Test func faultsCountDownAndWildcardsApplyEverywhere() async throws {
        try await withServer { server, transport in
            await server.setFile("/g", [1])
            await server.addFault(.status(502, times: 1), for: "*")
            await server.addFault(.status(503, times: 2), for: "/f")
            var statuses: [Int] = []
            for path in ["/g", "/f", "/f", "/f", "/g"] {
                statuses.append(try await transport.execute(HTTPRequest(url: server.url(path))).status)
            }
            #expect(statuses == [502, 503, 503, 200, 200])
            await server.addFault(.status(500, times: 1), for: "/g")
            await server.clearFaults(for: "/g")
            let cleared = try await transport.execute(HTTPRequest(url: server.url("/g")))
            #expect(cleared.status == 200)
        }
    }

    @Test func unknownMethodsAndPathsAndTraversal() async throws {
        try await withServer { server, transport in
            let delete = try await transport.execute(HTTPRequest(method: .delete, url: server.url("/f")))
            #expect(delete.status == 405)
            let missing = try await transport.execute(HTTPRequest(url: server.url("/nothing")))
            #expect(missing.status == 404)
        }
        try await withTestHTTPServer(root: SharedTestData.root.path + "/keys") { server in
            try await HTTPClientTransport.with { transport in
                let escape = try await transport.execute(HTTPRequest(url: server.url("/../PROVENANCE.md")))
                #expect(escape.status == 404)
                let encoded = try await transport.execute(HTTPRequest(url: server.url("/%2e%2e/PROVENANCE.md")))
                #expect(encoded.status == 404)
                // Both reach the server unnormalised; without the guard they would name testdata/PROVENANCE.md.
                #expect(await server.requests().map(\.uri) == ["/../PROVENANCE.md", "/%2e%2e/PROVENANCE.md"])
            }
        }
    }

    @Test func recordsQueriesAndConnections() async throws {
        try await withServer { server, transport in
            _ = try await transport.execute(HTTPRequest(url: server.url("/f?x=1&y=2")))
            _ = try await transport.execute(HTTPRequest(url: server.url("/f")))
            let requests = await server.requests()
            #expect(requests.map(\.uri) == ["/f?x=1&y=2", "/f"])
            #expect(requests.map(\.path) == ["/f", "/f"])
            #expect(requests[0].connection == requests[1].connection, "keep-alive reuses the connection")
            #expect(await server.connectionCount() == 1)
        }
    }
}
