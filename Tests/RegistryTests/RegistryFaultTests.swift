import Foundation
import HTTPTransport
import LaminaCore
import OCI
import TestSupport
import Testing

@testable import Registry

/// A push that fails at any step (a blob upload, a manifest, the tag) leaves no tag naming missing
/// content, fails with one line, and the next push completes the tag.
@Suite struct RegistryFaultTests {
    enum Step: String, CaseIterable, Sendable {
        case blobUpload, amdManifest, armManifest, tag
    }

    @Test(arguments: Step.allCases)
    func interruptedPushLeavesNoBrokenTag(step: Step) async throws {
        try await TemporaryDirectory.with { dir in
            let (amd, arm, index, plan) = try RegistryPush.twoArchitectures(in: dir)
            try await withTestHTTPServer { server in
                let fake = FakeRegistry()
                await fake.install(on: server, digests: plan.blobs.map(\.descriptor.digest))
                for image in [amd, arm] { await fake.installManifest(on: server, reference: image.manifest.descriptor.digest.description) }
                await fake.installManifest(on: server, reference: "2.0")
                let path: String
                switch step {
                case .blobUpload: path = "/v2/\(FakeRegistry.repository)/blobs/uploads/session-1"
                case .amdManifest: path = "/v2/\(FakeRegistry.repository)/manifests/\(amd.manifest.descriptor.digest)"
                case .armManifest: path = "/v2/\(FakeRegistry.repository)/manifests/\(arm.manifest.descriptor.digest)"
                case .tag: path = "/v2/\(FakeRegistry.repository)/manifests/2.0"
                }
                await server.addFault(.status(500, times: 1000), for: path)
                let reference = try Reference("127.0.0.1:\(server.port)/\(FakeRegistry.repository):2.0")
                let error = await #expect(throws: LaminaError.self) {
                    try await RegistryPush.withClient { client, _ in try await client.push(plan, to: reference) }
                }
                let text = error?.description ?? ""
                #expect(!text.isEmpty && !text.contains("\n") && text.contains("500"), "\(text)")
                #expect(await fake.manifest("2.0") == nil, "no tag after a push that failed at \(step)")

                await server.clearFaults(for: path)
                let result = try await RegistryPush.withClient { client, _ in try await client.push(plan, to: reference) }
                #expect(result.digest == index.descriptor.digest)
                #expect(await fake.manifest("2.0")?.bytes == index.bytes)
                for image in [amd, arm] {
                    #expect(await fake.manifest(image.manifest.descriptor.digest.description)?.bytes == image.manifest.bytes)
                }
                for blob in plan.blobs { #expect(await fake.blob(blob.descriptor.digest.description) != nil) }
            }
        }
    }
}
