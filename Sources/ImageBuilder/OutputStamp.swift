import APK
import Archive
import Foundation
import LaminaCore
import OCI

/// Remembers which image tarball was last written where, so that rebuilding an unchanged image
/// into the same, untouched file skips rewriting it (copying a large layer costs far more than
/// everything else a warm rebuild does).
///
/// A stamp lives at `<cache>/outputs/<sha256 of the absolute output path>.json` and records the
/// digest of the planned tarball (every entry's path and bytes, blobs by their digest, and the
/// mtime) together with the written file's device, inode, size and change time. `ctime` cannot be
/// set by users and changes on every write, so any change to the file, its replacement, or its
/// removal makes the stamp stale and the tarball is written again.
struct OutputStamp: Codable, Equatable {
    /// Bump when `TarLayoutSink` changes the bytes it writes for the same plan.
    static let version = 1

    var version = OutputStamp.version
    var plan: String
    var device: UInt64
    var inode: UInt64
    var size: Int64
    var changeSeconds: Int64
    var changeNanoseconds: Int64

    /// The identity of a tarball: sha256 over the layout's entries and the mtime they get.
    static func planDigest(_ layout: ImageLayout, modificationTime: Int64) -> Digest {
        var hasher = Hasher(.sha256)
        hasher.update(Array("lamina-tarball \(version) \(modificationTime)\n".utf8))
        for entry in layout.entries {
            switch entry {
            case .directory(let path):
                hasher.update(Array("d \(path)\n".utf8))
            case .bytes(let path, let bytes):
                hasher.update(Array("b \(path) \(Hasher.digest(.sha256, bytes).hex)\n".utf8))
            case .file(let path, _, let size):
                // A blob's path is its digest.
                hasher.update(Array("f \(path) \(size)\n".utf8))
            }
        }
        return hasher.finalize()
    }

    /// The stamp of the file at `path` for `plan`, or nil when it cannot be read.
    static func current(path: String, plan: Digest) -> OutputStamp? {
        var info = stat()
        guard stat(path, &info) == 0, (info.st_mode & S_IFMT) == S_IFREG else { return nil }
        return OutputStamp(
            plan: plan.hex, device: UInt64(info.st_dev), inode: UInt64(info.st_ino), size: Int64(info.st_size),
            changeSeconds: Int64(info.st_ctim.tv_sec), changeNanoseconds: Int64(info.st_ctim.tv_nsec))
    }
}

/// The stamps under `<cache>/outputs`.
struct OutputStampStore {
    let root: String

    init(cacheDirectory: String) { root = cacheDirectory + "/outputs" }

    private func stampPath(for output: String) -> String {
        root + "/" + Hasher.digest(.sha256, Array(Self.absolute(output).utf8)).hex + ".json"
    }

    static func absolute(_ path: String) -> String {
        path.hasPrefix("/") ? path : FileManager.default.currentDirectoryPath + "/" + path
    }

    /// Whether `output` is exactly the tarball of `plan` as Lamina last wrote it.
    func isCurrent(_ output: String, plan: Digest) -> Bool {
        guard let data = FileManager.default.contents(atPath: stampPath(for: output)),
            let recorded = try? JSONDecoder().decode(OutputStamp.self, from: data),
            let now = OutputStamp.current(path: output, plan: plan)
        else { return false }
        return recorded == now
    }

    /// Records that `output` now holds the tarball of `plan` (best effort: a failure only costs a rewrite).
    func record(_ output: String, plan: Digest) {
        guard let stamp = OutputStamp.current(path: output, plan: plan), let data = try? JSONEncoder().encode(stamp) else { return }
        try? FileManager.default.createDirectory(atPath: root, withIntermediateDirectories: true)
        try? AtomicFileSink.write(Array(data), to: stampPath(for: output))
    }
}
