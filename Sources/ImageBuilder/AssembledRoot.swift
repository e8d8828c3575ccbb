import APK
import Archive
import Foundation
import LaminaCore
import RootFS

/// An installed root before it becomes a layer: what `image build` writes into the layer, and what a
/// package build materialises as its guest.
public struct AssembledRoot: Sendable {
    public var tree: FileTree
    public var resolved: ResolvedContents
    /// uid → user name and gid → group name, from `/etc/passwd` and `/etc/group` as written.
    public var userNames: [Int: String]
    public var groupNames: [Int: String]
    /// Owns the spilled file contents the tree refers to: keep this value alive while the tree is read.
    public var storage: RootFSBuilder
}

extension ImageEngine {
    /// Installs one architecture's packages over apko's base directories, writes the apk database, then
    /// applies `accounts` and `paths`.
    /// - Throws: resolution, download, install, account and path errors.
    public func assembleRoot(
        architecture: Architecture, keyring: Keyring, keys: [String: String], clock: BuildClock
    ) async throws -> AssembledRoot {
        try refuseUnbuiltKeys()
        var builder = try RootFSBuilder(spillDirectory: options.temporaryDirectory)
        builder.setTree(try ImageBuilder.baseTree())
        let resolved = try await installRoot(into: &builder, architecture: architecture, keyring: keyring, keys: keys, clock: clock)
        var tree = builder.tree
        let (users, groups) = try AccountsWriter.apply(configuration.accounts, to: &tree)
        try PathsWriter.apply(configuration.paths, to: &tree)
        try ServicesWriter.apply(configuration.entrypoint.services, to: &tree)
        return AssembledRoot(tree: tree, resolved: resolved, userNames: users, groupNames: groups, storage: builder)
    }
}
