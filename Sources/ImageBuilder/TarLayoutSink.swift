import Archive
import LaminaCore
import OCI

/// Writes an image layout into one tar file (what `docker load` and `skopeo oci-archive:` read):
/// directories 0755, files 0644, owned by root, every mtime the build epoch.
public struct TarLayoutSink: LayoutSink {
    private let file: AtomicFileSink
    private let tar: TarWriter
    private let modificationTime: Int64

    public init(path: String, modificationTime: Int64) throws {
        file = try AtomicFileSink(path: path)
        tar = TarWriter(file)
        self.modificationTime = modificationTime
    }

    public mutating func makeDirectory(path: String) throws {
        try tar.append(TarEntry(path: path + "/", kind: .directory, mode: 0o755, modificationTime: modificationTime))
    }

    public mutating func write(path: String, bytes: [UInt8]) throws {
        try tar.append(TarEntry(path: path, kind: .regular, mode: 0o644, modificationTime: modificationTime), bytes: bytes)
    }

    public mutating func writeFile(path: String, from sourcePath: String, size: Int64) throws {
        try tar.append(TarEntry(path: path, kind: .regular, mode: 0o644, size: size, modificationTime: modificationTime), content: try FileSource(path: sourcePath))
    }

    /// Ends the archive and renames it into place.
    public func commit() throws {
        try tar.finish(terminate: true)
        try file.commit()
    }
}
