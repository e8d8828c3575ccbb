import APK
import APKRepository
import Foundation
import HTTPTransport
import LaminaCore

/// Runs a `fetch` step on the host: downloads with our HTTP client into the content-addressed cache
/// (`<cache>/sources/sha256/<hex>` or `…/sha512/<hex>`), checks the expected digest, and places the file in
/// the workspace. Build steps themselves never need the network.
struct SourceFetcher: Sendable {
    var cacheDirectory: String
    var offline: Bool
    var transport: HTTPClientTransport
    var progress: ProgressHandler?

    /// Fetches `action.uri` to `workspace` + the action's destination (a guest path under `/home/build`).
    /// - Throws: `.checksumMismatch` naming both digests, `.notFound` offline without a cached copy,
    ///   network errors, `.unsafePath` for a destination outside the workspace.
    func fetch(_ action: FetchAction, workspace: String, step: String) async throws {
        let destination = try Self.hostPath(forGuest: action.destination, workspace: workspace, step: step)
        let expected: (algorithm: Digest.Algorithm, hex: String)
        if let sha256 = action.expectedSHA256, !sha256.isEmpty {
            expected = (.sha256, sha256.lowercased())
        } else if let sha512 = action.expectedSHA512, !sha512.isEmpty {
            expected = (.sha512, sha512.lowercased())
        } else if action.expectedNone {
            try await fetchUnchecked(action, to: destination, step: step)
            return
        } else {
            throw LaminaError(
                .invalidInput, "One of expected-sha256 or expected-sha512 is required (fetch of \(action.uri))",
                subject: "step '\(step)'")
        }
        let folder = cacheDirectory + "/sources/" + (expected.algorithm == .sha256 ? "sha256" : "sha512")
        let cached = folder + "/" + expected.hex
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)

        if !(try Self.matches(path: cached, expected)) {
            try? FileManager.default.removeItem(atPath: cached)
            if action.uri.hasPrefix("file://") || action.uri.hasPrefix("/") {
                let source = action.uri.hasPrefix("file://") ? String(action.uri.dropFirst(7)) : action.uri
                guard FileManager.default.fileExists(atPath: source) else {
                    throw LaminaError(.notFound, "no such file: '\(source)'", subject: "step '\(step)'")
                }
                let temporary = PackageCache.privateName(for: cached, suffix: "download")
                try FileManager.default.copyItem(atPath: source, toPath: temporary)
                try Self.commit(temporary, to: cached, expected, uri: action.uri)
            } else {
                guard !offline else {
                    throw LaminaError(.notFound, "--offline and \(action.uri) is not in the cache", subject: "step '\(step)'")
                }
                progress?(.note("fetching \(action.uri)"))
                let temporary = PackageCache.privateName(for: cached, suffix: "download")
                let wanted = expected.algorithm == .sha256 ? ExpectedContent(sha256: try Digest(.sha256, hex: expected.hex)) : nil
                do {
                    try await transport.download(action.uri, to: temporary, expected: wanted)
                } catch let error as LaminaError where error.code == .checksumMismatch {
                    throw LaminaError(.checksumMismatch, "\(error.message)", subject: "step '\(step)': \(action.uri)")
                }
                // The transport already checked a sha256 while streaming; only a sha512 needs a pass over the file.
                try Self.commit(temporary, to: cached, expected, uri: action.uri, verified: wanted != nil)
            }
        }
        try Self.place(cached, at: destination)
    }

    /// `expected-none`: melange downloads without checking. The file is stored in the cache under its sha256
    /// (so a later run that names the checksum finds it), but nothing can find it there for this step, so
    /// `--offline` refuses a remote URI.
    private func fetchUnchecked(_ action: FetchAction, to destination: String, step: String) async throws {
        let folder = cacheDirectory + "/sources/sha256"
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        let temporary = PackageCache.privateName(for: folder + "/unchecked", suffix: "download")
        if action.uri.hasPrefix("file://") || action.uri.hasPrefix("/") {
            let source = action.uri.hasPrefix("file://") ? String(action.uri.dropFirst(7)) : action.uri
            guard FileManager.default.fileExists(atPath: source) else {
                throw LaminaError(.notFound, "no such file: '\(source)'", subject: "step '\(step)'")
            }
            try FileManager.default.copyItem(atPath: source, toPath: temporary)
        } else {
            guard !offline else {
                throw LaminaError(
                    .notFound, "--offline and \(action.uri) has no expected checksum to find it in the cache by",
                    subject: "step '\(step)'")
            }
            progress?(.note("fetching \(action.uri) (expected-none: the download is not checked)"))
            try await transport.download(action.uri, to: temporary, expected: nil)
        }
        let hex = try Hasher.digest(.sha256, file: temporary).hex
        let cached = folder + "/" + hex
        try Self.commit(temporary, to: cached, (.sha256, hex), uri: action.uri, verified: true)
        try Self.place(cached, at: destination)
    }

    /// Copies a cached file to its place in the workspace.
    static func place(_ cached: String, at destination: String) throws {
        let parent = (destination as NSString).deletingLastPathComponent
        try FileManager.default.createDirectory(atPath: parent, withIntermediateDirectories: true)
        try? FileManager.default.removeItem(atPath: destination)
        try FileManager.default.copyItem(atPath: cached, toPath: destination)
    }

    /// Moves a temporary file into the cache after checking its digest (unless the download already did), or
    /// removes it and throws on a mismatch.
    static func commit(
        _ temporary: String, to cached: String, _ expected: (algorithm: Digest.Algorithm, hex: String), uri: String,
        verified: Bool = false
    ) throws {
        if !verified {
            let actual = try Hasher.digest(expected.algorithm, file: temporary).hex
            guard actual == expected.hex else {
                try? FileManager.default.removeItem(atPath: temporary)
                throw LaminaError(
                    .checksumMismatch,
                    "\(expected.algorithm) mismatch: expected \(expected.hex), got \(actual)", subject: uri)
            }
        }
        guard rename(temporary, cached) == 0 else {
            let reason = String(cString: strerror(errno))
            try? FileManager.default.removeItem(atPath: temporary)
            throw LaminaError(.io, "cannot store a download in the cache: \(reason)", subject: cached)
        }
    }

    static func matches(path: String, _ expected: (algorithm: Digest.Algorithm, hex: String)) throws -> Bool {
        guard FileManager.default.fileExists(atPath: path) else { return false }
        guard try Hasher.digest(expected.algorithm, file: path).hex == expected.hex else { return false }
        CacheMaintenance.markUsed(path)
        return true
    }

    /// The host path of a guest path inside `/home/build`.
    static func hostPath(forGuest path: String, workspace: String, step: String) throws -> String {
        let base = SandboxPaths.workspace
        var relative = path
        if relative.hasPrefix(base + "/") { relative = String(relative.dropFirst(base.count + 1)) } else if relative.hasPrefix("/") {
            throw LaminaError(.unsafePath, "fetch destination '\(path)' is outside \(base)", subject: "step '\(step)'")
        }
        let components = relative.split(separator: "/")
        guard !components.isEmpty, !components.contains("..") else {
            throw LaminaError(.unsafePath, "fetch destination '\(path)' is not a file inside \(base)", subject: "step '\(step)'")
        }
        return workspace + "/" + components.joined(separator: "/")
    }
}

enum SandboxPaths {
    static let workspace = "/home/build"
    static let output = "/home/build/melange-out"
}
