import Foundation
import HTTPTransport
import LaminaCore
import TestSupport
import Testing

/// Servers that misbehave the ways real mirrors and proxies do: every failure ends in one clear line,
/// retries are bounded, and downloads resume where the server allows it.
@Suite struct NetworkFaultTests {
    static let payload: [UInt8] = (0..<300_000).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ $0 >> 7) }

    /// One line, naming the request, with no stack or dump in it.
    static func expectOneLine(_ error: LaminaError?, _ fragments: String...) {
        let text = error?.description ?? ""
        #expect(!text.isEmpty && !text.contains("\n"), "\(text)")
        for fragment in fragments { #expect(text.contains(fragment), "\(text) lacks '\(fragment)'") }
    }

    @Test func shortBodyWithLongContentLengthResumes() async throws {
        try await withServerAndTransport { server, transport in
            await server.setFile("/big", Self.payload)
            // Headers promise 300,000 bytes; 120,000 arrive and the connection closes, twice.
            await server.addFault(.dropConnection(afterBytes: 120_000, times: 2), for: "/big")
            try await TemporaryDirectory.with { dir in
                let result = try await transport.download(
                    server.url("/big"), to: dir.file("big"), expected: ExpectedContent(sha256: Served.sha256(Self.payload)))
                #expect(result.response.attempts == 3)
                #expect(FileManager.default.contents(atPath: dir.file("big")).map(Array.init) == Self.payload)
            }
            let ranges = await server.requests(path: "/big").map { $0.header("Range") }
            #expect(ranges.count == 3 && ranges[0] == nil && ranges[1] != nil && ranges[2] != nil, "\(ranges)")
        }
    }

    @Test func shortBodiesEveryTimeFailInOneLineAfterBoundedAttempts() async throws {
        try await withServerAndTransport { server, transport in
            await server.setFile("/big", Self.payload)
            await server.addFault(.dropConnection(afterBytes: 1000, times: 100), for: "/big")
            try await TemporaryDirectory.with { dir in
                let error = await #expect(throws: LaminaError.self) {
                    try await transport.download(server.url("/big"), to: dir.file("big"), expected: nil)
                }
                Self.expectOneLine(error, server.url("/big"), "after 3 attempts")
                #expect((try? FileManager.default.contentsOfDirectory(atPath: dir.path))?.isEmpty == true, "nothing half-written")
            }
            #expect(await server.requests(path: "/big").count == 3)
        }
    }

    @Test func wrongBytesAreAChecksumMismatchAndNothingIsKept() async throws {
        try await withServerAndTransport { server, transport in
            await server.setFile("/pkg", Self.payload)
            var other = Self.payload
            other[1234] ^= 1
            await server.addFault(.tamper(other), for: "/pkg")
            try await TemporaryDirectory.with { dir in
                let error = await #expect(throws: LaminaError.self) {
                    try await transport.download(
                        server.url("/pkg"), to: dir.file("pkg"), expected: ExpectedContent(sha256: Served.sha256(Self.payload)))
                }
                #expect(error?.code == .checksumMismatch)
                Self.expectOneLine(error, "/pkg")
                #expect((try? FileManager.default.contentsOfDirectory(atPath: dir.path))?.isEmpty == true)
            }
        }
    }

    /// 429 and 503 with `Retry-After` (seconds or an HTTP-date) wait as told; without it, the backoff applies.
    @Test(arguments: [(429, "1"), (503, "1"), (503, "date")])
    func retryAfterIsHonoured(status: Int, value: String) async throws {
        let policy = RetryPolicy(maxAttempts: 3, initialDelay: .milliseconds(5), multiplier: 2, maxDelay: .seconds(5), jitter: 0)
        try await withServerAndTransport(HTTPTransportConfiguration(retry: policy)) { server, transport in
            await server.setFile("/busy", Array("ok".utf8))
            let header: String
            if value == "date" {
                // Two seconds from now in IMF-fixdate; the second boundary makes it 1 to 2 s away.
                let formatter = DateFormatter()
                formatter.locale = Locale(identifier: "en_US_POSIX")
                formatter.timeZone = TimeZone(identifier: "GMT")
                formatter.dateFormat = "EEE, dd MMM yyyy HH:mm:ss 'GMT'"
                header = formatter.string(from: Date().addingTimeInterval(2))
            } else {
                header = value
            }
            await server.addFault(.retryAfter(status: status, value: header, times: 1), for: "/busy")
            let clock = ContinuousClock()
            let start = clock.now
            let response = try await transport.get(server.url("/busy"))
            let waited = clock.now - start
            #expect(response.body == Array("ok".utf8))
            #expect(response.attempts == 2)
            #expect(waited >= .milliseconds(900), "the server asked for a pause: waited only \(waited)")
        }
    }

    @Test(arguments: ["120", "0", "Wed, 21 Oct 2015 07:28:00 GMT", "Thu, 01 Jan 1970 00:02:00 GMT", "soon", "-5", "Wed, 32 Oct 2015 07:28:00 GMT"])
    func retryAfterValues(value: String) {
        let now: Int64 = 60
        let expected: [String: Int?] = [
            "120": 120, "0": 0, "Wed, 21 Oct 2015 07:28:00 GMT": Int(1_445_412_480 - now),
            "Thu, 01 Jan 1970 00:02:00 GMT": 60, "soon": nil, "-5": nil, "Wed, 32 Oct 2015 07:28:00 GMT": nil,
        ]
        #expect(RetryPolicy.retryAfterSeconds(value, now: now) == expected[value]!)
    }

    @Test func serverErrorsWithoutRetryAfterEndInOneLine() async throws {
        try await withServerAndTransport { server, transport in
            await server.setFile("/down", [1])
            await server.addFault(.status(503, times: 100), for: "/down")
            let error = await #expect(throws: LaminaError.self) { try await transport.get(server.url("/down")) }
            Self.expectOneLine(error, server.url("/down"), "HTTP 503 after 3 attempts")
            #expect(await server.requests(path: "/down").count == 3)
        }
    }

    @Test func redirectLoopIsCutShort() async throws {
        try await withServerAndTransport { server, transport in
            await server.addFault(.redirect(to: "/b"), for: "/a")
            await server.addFault(.redirect(to: "/a"), for: "/b")
            let error = await #expect(throws: LaminaError.self) { try await transport.get(server.url("/a")) }
            Self.expectOneLine(error, "redirects", server.url("/a"))
            let count = await server.requests().count
            #expect(count > 2 && count <= 25, "bounded: \(count) requests")
        }
    }

    /// A server that sends a little and then goes silent: the idle timeout ends the attempt, the retry
    /// fetches the rest, and the file arrives whole.
    @Test func stallingServerIsTimedOutAndResumed() async throws {
        // Generous bounds: the whole suite runs in parallel on two cores, and the in-process server shares them.
        let patient = RetryPolicy(maxAttempts: 6, initialDelay: .milliseconds(5), multiplier: 2, maxDelay: .milliseconds(50), jitter: 0)
        let configuration = HTTPTransportConfiguration(idleTimeout: .seconds(3), retry: patient)
        try await withServerAndTransport(configuration) { server, transport in
            await server.setFile("/slow", Self.payload)
            await server.addFault(.stall(afterBytes: 50_000, for: .seconds(10), times: 1), for: "/slow")
            try await TemporaryDirectory.with { dir in
                let result = try await transport.download(
                    server.url("/slow"), to: dir.file("slow"), expected: ExpectedContent(sha256: Served.sha256(Self.payload)))
                #expect(result.response.attempts >= 2)
                #expect(FileManager.default.contents(atPath: dir.file("slow")).map(Array.init) == Self.payload)
            }
            // The first answer stalled and was given up; a later one completed the file (resuming with a range
            // when bytes had reached the sink before the stall: shortBodyWithLongContentLengthResumes checks that).
            #expect(await server.requests(path: "/slow").count >= 2)
        }
    }

    @Test func stallingEveryTimeFailsInOneLine() async throws {
        let configuration = HTTPTransportConfiguration(idleTimeout: .milliseconds(200), retry: quickRetries)
        try await withServerAndTransport(configuration) { server, transport in
            await server.setFile("/slow", Self.payload)
            await server.addFault(.stall(afterBytes: 10, for: .seconds(2), times: 10), for: "/slow")
            let error = await #expect(throws: LaminaError.self) { try await transport.get(server.url("/slow")) }
            #expect(error?.code == .network)
            Self.expectOneLine(error, server.url("/slow"), "after 3 attempts")
        }
    }
}
