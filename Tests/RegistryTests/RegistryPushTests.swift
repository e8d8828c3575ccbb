import Foundation
import HTTPTransport
import LaminaCore
import OCI
import TestSupport
import Testing

@testable import Registry

/// A tiny registry on the in-process test server: bearer-token auth with a token realm on the same server,
/// blob HEAD/POST/PATCH/PUT and manifest PUT for one repository, holding what it receives.
actor FakeRegistry {
    static let repository = "ns/app"
    static let user = "pusher"
    static let password = "s3cret"
    static let token = "tok-123"

    var blobs: [String: [UInt8]] = [:]
    var manifests: [String: (contentType: String, bytes: [UInt8])] = [:]
    var session: [UInt8] = []
    var tokenScopes: [String] = []

    func manifest(_ reference: String) -> (contentType: String, bytes: [UInt8])? { manifests[reference] }
    func blob(_ digest: String) -> [UInt8]? { blobs[digest] }
    func tokenIssued(scope: String) { tokenScopes.append(scope) }
    func startSession() { session = [] }
    func append(_ bytes: [UInt8]) { session += bytes }
    func finish(_ bytes: [UInt8]) -> [UInt8] { session + bytes }
    func store(blob digest: String, _ bytes: [UInt8]) { blobs[digest] = bytes }
    func has(blob digest: String) -> Bool { blobs[digest] != nil }
    func store(manifest reference: String, contentType: String, _ bytes: [UInt8]) {
        manifests[reference] = (contentType, bytes)
    }

    /// Registers handlers for the repository and the given blob digests.
    func install(on server: TestHTTPServer, digests: [Digest]) async {
        let realm = server.url("/token")
        let challenge: @Sendable (RecordedRequest) -> TestHTTPResponse? = { request in
            if request.header("Authorization") == "Bearer \(Self.token)" { return nil }
            return TestHTTPResponse(
                status: 401,
                headers: [
                    ("WWW-Authenticate", #"Bearer realm="\#(realm)",service="fake",scope="repository:ns/app:pull""#),
                    ("Content-Type", "application/json"),
                ],
                text: #"{"errors":[{"code":"UNAUTHORIZED","message":"authentication required"}]}"#)
        }
        await server.setHandler(method: "GET", path: "/token") { request in
            let basic = "Basic " + Base64.encode(Array("\(Self.user):\(Self.password)".utf8))
            guard request.header("Authorization") == basic else { return TestHTTPResponse(status: 401, text: "bad credentials") }
            let query = request.uri.split(separator: "?", maxSplits: 1).dropFirst().first.map(String.init) ?? ""
            let scope = URLComponents(string: "http://x/?" + query)?.queryItems?.first { $0.name == "scope" }?.value ?? ""
            await self.tokenIssued(scope: scope)
            return TestHTTPResponse(text: #"{"token":"\#(Self.token)","expires_in":300}"#)
        }
        await server.setHandler(method: "GET", path: "/v2/") { request in
            challenge(request) ?? TestHTTPResponse(text: "{}")
        }
        for digest in digests {
            await server.setHandler(method: "HEAD", path: "/v2/\(Self.repository)/blobs/\(digest)") { request in
                if let refused = challenge(request) { return refused }
                return await self.has(blob: digest.description) ? TestHTTPResponse(status: 200) : TestHTTPResponse(status: 404)
            }
        }
        let session = "/v2/\(Self.repository)/blobs/uploads/session-1"
        await server.setHandler(method: "POST", path: "/v2/\(Self.repository)/blobs/uploads/") { request in
            if let refused = challenge(request) { return refused }
            await self.startSession()
            return TestHTTPResponse(status: 202, headers: [("Location", session + "?_state=abc")])
        }
        await server.setHandler(method: "PATCH", path: session) { request in
            if let refused = challenge(request) { return refused }
            await self.append(request.body)
            return TestHTTPResponse(status: 202, headers: [("Location", session + "?_state=more")])
        }
        await server.setHandler(method: "PUT", path: session) { request in
            if let refused = challenge(request) { return refused }
            let query = request.uri.split(separator: "?", maxSplits: 1).dropFirst().first.map(String.init) ?? ""
            guard let digest = URLComponents(string: "http://x/?" + query)?.queryItems?.first(where: { $0.name == "digest" })?.value
            else { return TestHTTPResponse(status: 400, text: "no digest") }
            let bytes = await self.finish(request.body)
            guard Blob.sha256(bytes).description == digest else {
                return TestHTTPResponse(status: 400, text: #"{"errors":[{"code":"DIGEST_INVALID","message":"mismatch"}]}"#)
            }
            await self.store(blob: digest, bytes)
            return TestHTTPResponse(status: 201, headers: [("Docker-Content-Digest", digest)])
        }
    }

    func installManifest(on server: TestHTTPServer, reference: String) async {
        await server.setHandler(method: "PUT", path: "/v2/\(Self.repository)/manifests/\(reference)") { request in
            guard request.header("Authorization") == "Bearer \(Self.token)" else { return TestHTTPResponse(status: 401) }
            await self.store(manifest: reference, contentType: request.header("Content-Type") ?? "", request.body)
            return TestHTTPResponse(status: 201, headers: [("Docker-Content-Digest", Blob.sha256(request.body).description)])
        }
    }
}

@Suite struct RegistryPush {
    /// One image: a 2500-byte layer in a file, its config and manifest.
    static func image(in dir: TemporaryDirectory, architecture: Architecture = .x86_64, seed: UInt8 = 1) throws -> LayoutImage {
        let layerBytes = (0..<2500).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ Int(seed)) }
        let layerPath = dir.file("layer-\(seed).tar.gz")
        try Data(layerBytes).write(to: URL(fileURLWithPath: layerPath))
        let layer = Descriptor(mediaType: .ociLayerGzip, digest: Blob.sha256(layerBytes), size: Int64(layerBytes.count))
        let config = Blob(bytes: Array(#"{"architecture":"\#(architecture.ociPlatform)","os":"linux"}"#.utf8), mediaType: .ociConfig)
        let manifest = try Blob(manifest: Manifest(config: config.descriptor, layers: [layer]))
        return LayoutImage(
            architecture: architecture, manifest: manifest, config: config, layers: [LayoutBlob(descriptor: layer, file: layerPath)])
    }

    /// An amd64 and an arm64 image, their index and the plan that pushes them.
    static func twoArchitectures(in dir: TemporaryDirectory) throws -> (LayoutImage, LayoutImage, Blob, PushPlan) {
        let amd = try image(in: dir, architecture: .x86_64, seed: 1)
        let arm = try image(in: dir, architecture: .aarch64, seed: 2)
        let index = try Blob(
            index: Index(manifests: [amd, arm].map {
                Descriptor(mediaType: .ociManifest, digest: $0.manifest.descriptor.digest, size: $0.manifest.descriptor.size,
                           platform: Platform($0.architecture))
            }))
        return (amd, arm, index, try PushPlan(images: [amd, arm], index: index))
    }

    static func withClient<T: Sendable>(
        chunkSize: Int64? = nil, _ body: (RegistryClient, RegistryAuthenticator) async throws -> T
    ) async throws -> T {
        try await HTTPClientTransport.with { tokenTransport in
            let credentials = RegistryCredentials(["127.0.0.1": RegistryCredential(user: FakeRegistry.user, password: FakeRegistry.password)])
            let authenticator = RegistryAuthenticator(credentials: credentials, tokenTransport: tokenTransport)
            var configuration = HTTPTransportConfiguration()
            configuration.authenticator = authenticator
            return try await HTTPClientTransport.with(configuration) { transport in
                try await body(RegistryClient(transport: transport, chunkSize: chunkSize), authenticator)
            }
        }
    }

    @Test func pushSingleArchWithBearerTokenThenSkipsExistingBlobs() async throws {
        try await TemporaryDirectory.with { dir in
            let image = try Self.image(in: dir)
            let plan = try PushPlan(images: [image], index: nil)
            try await withTestHTTPServer { server in
                let fake = FakeRegistry()
                await fake.install(on: server, digests: plan.blobs.map(\.descriptor.digest))
                await fake.installManifest(on: server, reference: "1.0")
                let registry = "127.0.0.1:\(server.port)"
                // Credentials keyed by host without port match any port.
                let reference = try Reference("\(registry)/\(FakeRegistry.repository):1.0")
                let (first, fetches) = try await Self.withClient { client, auth in
                    (try await client.push(plan, to: reference), auth.tokenFetchCount)
                }
                #expect(first.digest == image.manifest.descriptor.digest)
                #expect(first.blobsUploaded == 2)
                #expect(first.blobsSkipped == 0)
                #expect(first.bytesUploaded == 2500 + image.config.descriptor.size)
                #expect(first.manifestsPushed == 1)
                // One token for /v2/, one for the repository; every later request reuses it.
                #expect(fetches == 2)
                #expect(await fake.tokenScopes.last == "repository:ns/app:pull,push")
                let layerFile = try #require(image.layers.first)
                #expect(await fake.blob(layerFile.descriptor.digest.description) == Array(try Data(contentsOf: URL(fileURLWithPath: dir.file("layer-1.tar.gz")))))
                #expect(await fake.blob(image.config.descriptor.digest.description) == image.config.bytes)
                let stored = try #require(await fake.manifest("1.0"))
                #expect(stored.bytes == image.manifest.bytes)
                #expect(stored.contentType == MediaType.ociManifest.rawValue)

                let second = try await Self.withClient { client, _ in try await client.push(plan, to: reference) }
                #expect(second.blobsUploaded == 0)
                #expect(second.blobsSkipped == 2)
                #expect(second.digest == first.digest)
                let puts = await server.requests().filter { $0.method == "PUT" && $0.path.hasSuffix("session-1") }
                #expect(puts.count == 2)
            }
        }
    }

    @Test func chunkedUploadSendsContentRanges() async throws {
        try await TemporaryDirectory.with { dir in
            let image = try Self.image(in: dir, seed: 7)
            let plan = try PushPlan(images: [image], index: nil)
            try await withTestHTTPServer { server in
                let fake = FakeRegistry()
                await fake.install(on: server, digests: plan.blobs.map(\.descriptor.digest))
                await fake.installManifest(on: server, reference: "latest")
                let reference = try Reference("127.0.0.1:\(server.port)/\(FakeRegistry.repository)")
                let result = try await Self.withClient(chunkSize: 1000) { client, _ in try await client.push(plan, to: reference) }
                #expect(result.blobsUploaded == 2)
                let patches = await server.requests().filter { $0.method == "PATCH" }
                #expect(patches.compactMap { $0.header("Content-Range") } == ["0-999", "1000-1999", "2000-2499"])
                #expect(patches.allSatisfy { $0.header("Authorization") == "Bearer \(FakeRegistry.token)" })
                let layer = try #require(image.layers.first)
                #expect(await fake.blob(layer.descriptor.digest.description)?.count == 2500)
                #expect(await fake.manifest("latest")?.bytes == image.manifest.bytes)
            }
        }
    }

    @Test func multiArchPushesManifestsByDigestThenIndexUnderTag() async throws {
        try await TemporaryDirectory.with { dir in
            let (amd, arm, index, plan) = try Self.twoArchitectures(in: dir)
            #expect(plan.blobs.count == 4)
            try await withTestHTTPServer { server in
                let fake = FakeRegistry()
                await fake.install(on: server, digests: plan.blobs.map(\.descriptor.digest))
                for image in [amd, arm] { await fake.installManifest(on: server, reference: image.manifest.descriptor.digest.description) }
                await fake.installManifest(on: server, reference: "2.0")
                let reference = try Reference("127.0.0.1:\(server.port)/\(FakeRegistry.repository):2.0")
                let result = try await Self.withClient { client, _ in try await client.push(plan, to: reference) }
                #expect(result.digest == index.descriptor.digest)
                #expect(result.manifestsPushed == 3)
                #expect(await fake.manifest("2.0")?.contentType == MediaType.ociIndex.rawValue)
                #expect(await fake.manifest("2.0")?.bytes == index.bytes)
                #expect(await fake.manifest(arm.manifest.descriptor.digest.description)?.bytes == arm.manifest.bytes)
                // The index went last, after both manifests it names.
                let order = await server.requests().filter { $0.method == "PUT" && $0.path.contains("/manifests/") }.map(\.path)
                #expect(order.last == "/v2/ns/app/manifests/2.0")
            }
        }
    }

    @Test func registryErrorIsQuotedAndDigestPinningIsChecked() async throws {
        try await TemporaryDirectory.with { dir in
            let image = try Self.image(in: dir, seed: 3)
            let plan = try PushPlan(images: [image], index: nil)
            // The layer file changes after planning: the registry refuses the upload, and says why.
            try Data(repeating: 0, count: 2500).write(to: URL(fileURLWithPath: dir.file("layer-3.tar.gz")))
            try await withTestHTTPServer { server in
                let fake = FakeRegistry()
                await fake.install(on: server, digests: plan.blobs.map(\.descriptor.digest))
                let reference = try Reference("127.0.0.1:\(server.port)/\(FakeRegistry.repository):1.0")
                try await Self.withClient { client, _ in
                    await #expect {
                        try await client.push(plan, to: reference)
                    } throws: { error in
                        let error = error as? LaminaError
                        return error?.message.contains("HTTP 400 (DIGEST_INVALID: mismatch)") == true
                            && error?.message.contains(image.layers[0].descriptor.digest.description) == true
                    }
                    let other = reference.digested(image.config.descriptor.digest)
                    await #expect {
                        try await client.push(plan, to: other)
                    } throws: { error in
                        (error as? LaminaError)?.code == .invalidInput
                    }
                }
                #expect(await fake.manifest("1.0") == nil)
            }
        }
    }

    @Test func wrongCredentialsFailWithTheStatus() async throws {
        try await withTestHTTPServer { server in
            let fake = FakeRegistry()
            await fake.install(on: server, digests: [])
            let reference = try Reference("127.0.0.1:\(server.port)/\(FakeRegistry.repository):1.0")
            try await HTTPClientTransport.with { tokenTransport in
                let credentials = RegistryCredentials(["127.0.0.1": RegistryCredential(user: "x", password: "wrong")])
                var configuration = HTTPTransportConfiguration()
                configuration.authenticator = RegistryAuthenticator(credentials: credentials, tokenTransport: tokenTransport)
                try await HTTPClientTransport.with(configuration) { transport in
                    await #expect {
                        try await RegistryClient(transport: transport).ping(reference)
                    } throws: { error in
                        (error as? LaminaError)?.message.contains("token request refused: HTTP 401") == true
                    }
                }
            }
        }
    }

    @Test func layoutPlanReadsWhatImageLayoutWrites() throws {
        try TemporaryDirectory.withSync { dir in
            let amd = try Self.image(in: dir, architecture: .x86_64, seed: 1)
            let arm = try Self.image(in: dir, architecture: .aarch64, seed: 2)
            let index = try Blob(
                index: Index(
                    manifests: [amd, arm].map {
                        Descriptor(mediaType: .ociManifest, digest: $0.manifest.descriptor.digest, size: $0.manifest.descriptor.size,
                                   platform: Platform($0.architecture))
                    }, annotations: ["org.opencontainers.image.created": "1970-01-01T00:00:00Z"]))
            let layout = try ImageLayout.plan(
                images: [amd, arm], tag: try Reference("ns/app:1.0"), hostArchitecture: .x86_64,
                indexAnnotations: ["org.opencontainers.image.created": "1970-01-01T00:00:00Z"], extraBlobs: [LayoutBlob(index)],
                includeDockerFiles: false)
            var sink = try DirectoryLayoutSink(root: dir.file("layout"))
            try layout.write(to: &sink)
            let plan = try PushPlan.layout(at: dir.file("layout"))
            #expect(plan.root.descriptor.digest == index.descriptor.digest)
            #expect(plan.manifests.map(\.descriptor.digest) == [amd, arm].map(\.manifest.descriptor.digest))
            #expect(Set(plan.blobs.map(\.descriptor.digest)) == Set((amd.layers + arm.layers).map(\.descriptor.digest)
                + [amd.config.descriptor.digest, arm.config.descriptor.digest]))

            // The same layout as a tarball gives the same plan; its layers are copied out byte for byte.
            let tar = try CommandRunner.run("/usr/bin/tar", ["cf", dir.file("layout.tar"), "-C", dir.file("layout"), "."])
            #expect(tar.status == 0, "\(tar.stderr)")
            let fromTar = try PushPlan.layout(ImageLayoutReader(tarball: dir.file("layout.tar")), scratch: dir.file("scratch"))
            #expect(fromTar.root == plan.root && fromTar.manifests == plan.manifests)
            #expect(fromTar.blobs.map(\.descriptor) == plan.blobs.map(\.descriptor))
            for (copied, original) in zip(fromTar.blobs, plan.blobs) {
                if case .file(let path) = copied.content, case .file(let source) = original.content {
                    #expect(path.hasPrefix(dir.file("scratch/blobs/")))
                    #expect(FileManager.default.contents(atPath: path) == FileManager.default.contents(atPath: source))
                } else {
                    #expect(copied.content == original.content)
                }
            }

            // A single image is pushed as its manifest; a tampered manifest is refused.
            let single = try ImageLayout.plan(images: [amd], tag: try Reference("ns/app:1.0"), includeDockerFiles: false)
            var one = try DirectoryLayoutSink(root: dir.file("one"))
            try single.write(to: &one)
            #expect(try PushPlan.layout(at: dir.file("one")).root == amd.manifest)
            try Data("{}".utf8).write(to: URL(fileURLWithPath: dir.file("one/" + ImageLayout.blobPath(amd.manifest.descriptor.digest))))
            #expect(throws: LaminaError.self) { try PushPlan.layout(at: dir.file("one")) }
        }
    }
}

@Suite struct RegistryBasicAuth {
    /// A registry that answers `Basic` challenges: the credentials are sent after the first 401, then up front.
    @Test func basicChallengeIsAnsweredWithConfiguredCredentials() async throws {
        try await withTestHTTPServer { server in
            await server.addFault(.requireBasicAuth(user: "u", password: "p"), for: "*")
            await server.setHandler(method: "GET", path: "/v2/") { _ in TestHTTPResponse(text: "{}") }
            await server.setHandler(method: "HEAD", path: "/v2/a/blobs/sha256:" + String(repeating: "0", count: 64)) { _ in
                TestHTTPResponse(status: 404)
            }
            let reference = try Reference("127.0.0.1:\(server.port)/a:1")
            try await HTTPClientTransport.with { tokenTransport in
                var configuration = HTTPTransportConfiguration()
                let credentials = RegistryCredentials(["127.0.0.1:\(server.port)": RegistryCredential(user: "u", password: "p")])
                configuration.authenticator = RegistryAuthenticator(credentials: credentials, tokenTransport: tokenTransport)
                try await HTTPClientTransport.with(configuration) { transport in
                    let client = RegistryClient(transport: transport)
                    try await client.ping(reference)
                    let digest = try Digest(parsing: "sha256:" + String(repeating: "0", count: 64))
                    #expect(try await client.blobExists(reference, digest) == false)
                }
            }
            let sent = await server.requests().map { $0.header("Authorization") }
            #expect(sent == [nil, "Basic dTpw", "Basic dTpw"])
        }
    }

    @Test func basicChallengeWithoutCredentialsFails() async throws {
        try await withTestHTTPServer { server in
            await server.addFault(.requireBasicAuth(user: "u", password: "p"), for: "*")
            let reference = try Reference("127.0.0.1:\(server.port)/a:1")
            try await HTTPClientTransport.with { tokenTransport in
                var configuration = HTTPTransportConfiguration()
                configuration.authenticator = RegistryAuthenticator(credentials: RegistryCredentials(), tokenTransport: tokenTransport)
                try await HTTPClientTransport.with(configuration) { transport in
                    await #expect {
                        try await RegistryClient(transport: transport).ping(reference)
                    } throws: { error in
                        (error as? LaminaError)?.message.contains("HTTP 401") == true
                    }
                }
            }
        }
    }
}
