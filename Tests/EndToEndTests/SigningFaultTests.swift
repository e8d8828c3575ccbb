import Foundation
import TestSupport
import Testing

/// `lamina image verify` against an in-process registry that misbehaves: every fault gives one clear line.
@Suite(.serialized) struct SigningRegistryFaults {
    static let manifest = #"{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a","size":2},"layers":[]}"#

    /// Serves the manifest at `/v2/app/manifests/1.0` and answers the `.sig` tag with `status`.
    func verify(sigStatus status: Int) async throws -> CommandResult {
        try await withTestHTTPServer { server in
            let manifestBytes = Array(Self.manifest.utf8)
            await server.setHandler(method: "GET", path: "/v2/app/manifests/1.0") { _ in
                TestHTTPResponse(headers: [("Content-Type", "application/vnd.oci.image.manifest.v1+json")], body: manifestBytes)
            }
            let digest = try sha256Hex(manifestBytes)
            await server.setHandler(method: "GET", path: "/v2/app/manifests/sha256-\(digest).sig") { _ in
                TestHTTPResponse(
                    status: status, headers: [("Content-Type", "application/json")],
                    text: #"{"errors":[{"code":"TEST","message":"injected \#(status)"}]}"#)
            }
            return try await TemporaryDirectory.with { dir in
                let keygen = try await CommandRunner.laminaOffPool(
                    ["image", "keygen", "--output-key-prefix", dir.file("k")], environment: ["COSIGN_PASSWORD": ""])
                #expect(keygen.status == 0, "\(keygen.stderr)")
                return try await CommandRunner.laminaOffPool(
                    ["image", "verify", "--key", dir.file("k.pub"), "127.0.0.1:\(server.port)/app:1.0"],
                    environment: ["DOCKER_CONFIG": dir.path])
            }
        }
    }

    @Test func missingSignatureTagIsNamed() async throws {
        let result = try await verify(sigStatus: 404)
        #expect(result.status == 1)
        #expect(result.stderr.contains("no signatures found for sha256:"), "\(result.stderr)")
        #expect(result.stderr.contains(".sig)"), "\(result.stderr)")
        #expect(result.stdout.isEmpty)
    }

    @Test func unauthorisedSaysCheckCredentials() async throws {
        let result = try await verify(sigStatus: 401)
        #expect(result.status == 1)
        #expect(result.stderr.contains("HTTP 401"), "\(result.stderr)")
        #expect(result.stderr.contains("check credentials"), "\(result.stderr)")
    }

    @Test func serverErrorIsQuoted() async throws {
        let result = try await verify(sigStatus: 500)
        #expect(result.status == 1)
        #expect(result.stderr.contains("HTTP 500"), "\(result.stderr)")
        #expect(result.stderr.contains("injected 500"), "\(result.stderr)")
        #expect(result.stderr.split(separator: "\n").count == 1 || result.stderr.contains("warning"), "\(result.stderr)")
    }
}

/// sha256 hex of bytes, through coreutils (no shared code).
func sha256Hex(_ bytes: [UInt8]) throws -> String {
    let dir = try TemporaryDirectory()
    defer { dir.remove() }
    try Data(bytes).write(to: URL(fileURLWithPath: dir.file("blob")))
    return String(try CommandRunner.run("/usr/bin/sha256sum", [dir.file("blob")]).stdout.prefix(64))
}
