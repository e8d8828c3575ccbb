import Config
import Foundation
import ImageBuilder
import LaminaCore
import Sandbox

/// The pieces `PackageBuild` and `PackageTest` share: installing a guest root and running a sandbox session.
enum GuestRoot {
    /// Resolves and installs `environment` for one architecture, then writes it into `path` (with the
    /// `/home/build` mount point the runners bind the workspace to).
    /// - Returns: how many packages the guest holds.
    static func install(
        _ environment: LoadedImageConfiguration, options imageOptions: ImageOptions, architecture: Architecture,
        clock: BuildClock, into path: String, progress: ProgressHandler?
    ) async throws -> Int {
        let engine = try ImageEngine(options: imageOptions, loaded: environment, progress: progress)
        do {
            let (keyring, keys) = try await engine.keyring()
            progress?(.phase("installing the guest", total: nil))
            let root = try await engine.assembleRoot(architecture: architecture, keyring: keyring, keys: keys, clock: clock)
            try root.tree.materialize(into: path)
            try FileManager.default.createDirectory(
                atPath: path + SandboxConfiguration.workspacePath, withIntermediateDirectories: true)
            await engine.shutdown()
            return root.resolved.packages.count
        } catch {
            await engine.shutdown()
            throw error
        }
    }

    /// Prepares a session with `runner`, runs `body`, and always tears the session down.
    static func withSession<T>(
        _ runner: any BuildRunner, _ configuration: SandboxConfiguration, _ body: (any BuildSession) async throws -> T
    ) async throws -> T {
        let session = try await runner.prepare(configuration)
        do {
            let result = try await body(session)
            try? await session.teardown()
            return result
        } catch {
            try? await session.teardown()
            throw error
        }
    }
}
