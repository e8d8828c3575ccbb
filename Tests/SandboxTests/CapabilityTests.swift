import Foundation
import LaminaCore
@testable import Sandbox
import TestSupport
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// The effective capability mask a step sees (`CapEff` of /proc/self/status).
func effectiveCapabilities(_ session: any BuildSession) async throws -> UInt64 {
    let recorder = LineRecorder()
    try await session.runChecked(
        BuildStep(name: "caps", script: "grep CapEff /proc/self/status"), output: recorder.handler)
    let line = try #require(recorder.texts(.stdout).first)
    return try #require(UInt64(line.split(separator: "\t").last.map(String.init) ?? "", radix: 16), "\(line)")
}

let netRawBit: UInt64 = 1 << 13
let netAdminBit: UInt64 = 1 << 12

@Suite("capabilities add/drop")
struct CapabilityChangeTests {
    @Test("names: case-insensitive, CAP_ optional, ALL; unknown ones are refused naming the key")
    func names() throws {
        let changes = try CapabilityChanges(add: ["net_admin", "CAP_NET_RAW"], drop: ["all"])
        #expect(changes.add == ["CAP_NET_ADMIN", "CAP_NET_RAW"])
        #expect(changes.arguments == ["--cap-add", "CAP_NET_ADMIN", "--cap-add", "CAP_NET_RAW", "--cap-drop", "ALL"])
        #expect {
            _ = try CapabilityChanges(add: [], drop: ["CAP_FLY"])
        } throws: { error in
            let error = try #require(error as? LaminaError)
            return error.subject == "capabilities.drop" && error.message.contains("CAP_FLY")
        }
    }

    @Test("bubblewrap and docker arguments carry them")
    func arguments() throws {
        var configuration = SandboxConfiguration(guestRoot: nil, workspace: URL(fileURLWithPath: "/tmp"))
        configuration.capabilities = try CapabilityChanges(add: ["NET_ADMIN"], drop: ["NET_RAW"])
        let bwrap = BubblewrapRunner.arguments(for: configuration, step: BuildStep(name: "s", script: "true"))
        #expect(bwrap.joined(separator: " ").contains("--cap-add CAP_NET_ADMIN --cap-drop CAP_NET_RAW"))
        configuration.guestRoot = URL(fileURLWithPath: "/guest")
        for runner in [ContainerEngineRunner.docker(), .podman()] {
            let create = runner.createArguments(configuration: configuration, image: "img:1", container: "c1")
            #expect(create.joined(separator: " ").contains("--cap-add CAP_NET_ADMIN --cap-drop CAP_NET_RAW"))
        }
    }

    @Test(
        "bubblewrap: a step sees the capability added (uid 1000) or dropped (root)",
        .enabled(if: SandboxFixtures.bwrapAvailable, "needs bwrap"))
    func bubblewrapSteps() async throws {
        try await TemporaryDirectory.with { workspace in
            func mask(user: SandboxConfiguration.User, _ changes: CapabilityChanges) async throws -> UInt64 {
                let configuration = SandboxConfiguration(
                    guestRoot: nil, workspace: workspace.url, user: user, capabilities: changes)
                let session = try await BubblewrapRunner().prepare(configuration)
                defer { Task { try? await session.teardown() } }
                return try await effectiveCapabilities(session)
            }
            let plain = try await mask(user: .mapped(uid: 1000, gid: 1000), .init())
            #expect(plain & netRawBit == 0)
            let added = try await mask(user: .mapped(uid: 1000, gid: 1000), try .init(add: ["CAP_NET_RAW"], drop: []))
            #expect(added & netRawBit != 0)
            // (bubblewrap started by root grants the whole bounding set once any --cap-add is given; a drop still
            // removes what it names.)
            let both = try await mask(
                user: .mapped(uid: 1000, gid: 1000), try .init(add: ["CAP_NET_RAW"], drop: ["CAP_NET_ADMIN"]))
            #expect(both & netRawBit != 0)
            #expect(both & netAdminBit == 0)
            if getuid() == 0 {
                let root = try await mask(user: .root, .init())
                #expect(root & netRawBit != 0)
                let dropped = try await mask(user: .root, try .init(add: [], drop: ["CAP_NET_RAW"]))
                #expect(dropped & netRawBit == 0)
                #expect(dropped | netRawBit == root, "nothing else changed")
            }
        }
    }

    @Test(
        "docker/podman: --cap-add/--cap-drop reach the build container",
        .enabled(
            if: SandboxFixtures.alpineAvailable
                && (EngineProbe.dockerRunOptions != nil || EngineProbe.podmanRunOptions != nil),
            "needs docker or podman able to run containers"))
    func containerSteps() async throws {
        for runner in ContainerEngineRunnerTests.runners {
            try await TemporaryDirectory.with { dir in
                let root = try SandboxFixtures.alpineRoot(in: dir)
                func mask(_ changes: CapabilityChanges) async throws -> UInt64 {
                    let configuration = SandboxConfiguration(
                        guestRoot: root, workspace: dir.url, user: .root, capabilities: changes)
                    let session = try await runner.prepare(configuration)
                    let value = try await effectiveCapabilities(session)
                    try await session.teardown()
                    return value
                }
                let plain = try await mask(.init())
                #expect(plain & netRawBit != 0, "docker's defaults include NET_RAW (\(runner.name))")
                #expect(plain & netAdminBit == 0, "docker's defaults lack NET_ADMIN (\(runner.name))")
                let changed = try await mask(try .init(add: ["NET_ADMIN"], drop: ["NET_RAW"]))
                #expect(changed & netAdminBit != 0, "\(runner.name)")
                #expect(changed & netRawBit == 0, "\(runner.name)")
            }
        }
    }
}
