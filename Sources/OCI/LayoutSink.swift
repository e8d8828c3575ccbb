// Source: OCI image-spec image-layout.md (https://github.com/opencontainers/image-spec/blob/main/image-layout.md).

import Foundation
import LaminaCore

#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#elseif canImport(Darwin)
    import Darwin
#endif

/// Where a layout's files go: a directory, or (in the Archive target) a streaming tar writer.
///
/// Calls arrive in the order of ``ImageLayout/entries``: every directory before the files inside it, paths
/// relative to the layout root, `/`-separated, without a leading `./` or a trailing `/` (a tar writer adds
/// the `/` to directory names itself). Each file is written exactly once.
public protocol LayoutSink {
    /// Creates the directory `path` (its parent already exists).
    mutating func makeDirectory(path: String) throws
    /// Writes a file whose bytes are in memory.
    mutating func write(path: String, bytes: [UInt8]) throws
    /// Writes a file whose bytes are the file at `sourcePath`, which must be `size` bytes long.
    mutating func writeFile(path: String, from sourcePath: String, size: Int64) throws
}

/// Writes a layout into a directory. Each file is written to a temporary name beside its final one and
/// renamed into place, so a reader never sees a half-written blob. An existing directory is reused
/// (blobs already present are replaced by identical bytes; `index.json` is replaced).
public struct DirectoryLayoutSink: LayoutSink {
    /// The layout root.
    public let root: URL

    /// - Throws: `LaminaError(.io)` when the root cannot be created.
    public init(root: String) throws {
        self.root = URL(fileURLWithPath: root, isDirectory: true)
        do {
            try FileManager.default.createDirectory(at: self.root, withIntermediateDirectories: true)
        } catch {
            throw LaminaError(.io, "cannot create the layout directory: \(error.localizedDescription)",
                subject: root, cause: error)
        }
    }

    public mutating func makeDirectory(path: String) throws {
        let url = try target(path)
        do {
            try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        } catch {
            throw LaminaError(.io, "cannot create directory: \(error.localizedDescription)", subject: url.path,
                cause: error)
        }
    }

    public mutating func write(path: String, bytes: [UInt8]) throws {
        let url = try target(path)
        let temporary = temporaryURL(for: url)
        do {
            try Data(bytes).write(to: temporary)
            try moveIntoPlace(temporary, to: url)
        } catch let error as LaminaError {
            throw error
        } catch {
            try? FileManager.default.removeItem(at: temporary)
            throw LaminaError(.io, "cannot write: \(error.localizedDescription)", subject: url.path, cause: error)
        }
    }

    public mutating func writeFile(path: String, from sourcePath: String, size: Int64) throws {
        let url = try target(path)
        let temporary = temporaryURL(for: url)
        do {
            try FileManager.default.copyItem(at: URL(fileURLWithPath: sourcePath), to: temporary)
            let attributes = try FileManager.default.attributesOfItem(atPath: temporary.path)
            let actual = (attributes[.size] as? NSNumber)?.int64Value ?? -1
            guard actual == size else {
                try? FileManager.default.removeItem(at: temporary)
                throw LaminaError(
                    .checksumMismatch, "blob source is \(actual) bytes, its descriptor says \(size)", subject: sourcePath)
            }
            try moveIntoPlace(temporary, to: url)
        } catch let error as LaminaError {
            throw error
        } catch {
            try? FileManager.default.removeItem(at: temporary)
            throw LaminaError(.io, "cannot copy \(sourcePath): \(error.localizedDescription)", subject: url.path,
                cause: error)
        }
    }

    private func target(_ path: String) throws -> URL {
        let parts = path.split(separator: "/", omittingEmptySubsequences: false)
        guard !path.isEmpty, !path.hasPrefix("/"), !parts.contains(where: { $0.isEmpty || $0 == "." || $0 == ".." })
        else {
            throw LaminaError(.unsafePath, "layout path must be relative and plain", subject: path)
        }
        return root.appendingPathComponent(path)
    }

    private func temporaryURL(for url: URL) -> URL {
        url.deletingLastPathComponent().appendingPathComponent(".\(url.lastPathComponent).tmp-\(UUID().uuidString)")
    }

    private func moveIntoPlace(_ from: URL, to: URL) throws {
        // rename(2) replaces an existing file atomically; FileManager.moveItem would refuse.
        guard rename(from.path, to.path) == 0 else {
            let code = errno
            try? FileManager.default.removeItem(at: from)
            throw LaminaError(.io, "cannot rename into place: \(String(cString: strerror(code)))", subject: to.path)
        }
    }
}
