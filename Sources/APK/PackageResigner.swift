import Archive
import Foundation
import LaminaCore

/// Replaces the signature of an existing `.apk` (what `melange sign` does): the signature member is rebuilt over
/// the unchanged control member, and the control and data members are copied byte for byte, so the package's
/// identity (`C:`, the SHA-1 of the control member) and `datahash` stay what they were.
public enum PackageResigner {
    /// Re-signs `path` in place (written to a temporary file and renamed) with `keys`.
    /// - Parameter modificationTime: the signature entries' mtime (melange uses the package's build date).
    /// - Throws: `LaminaError(.malformed)` for a file that is not a package; `.io` when it cannot be rewritten.
    public static func resign(
        path: String, keys: [SigningKey], algorithms: [SignatureAlgorithm] = [.rsaSHA256],
        modificationTime: Int64? = nil
    ) throws {
        let archive = try PackageReader().read(path: path)
        let control = try readRange(path, archive.controlRange)
        let signature = try signatureMember(
            signing: control, keys: keys, algorithms: algorithms,
            modificationTime: modificationTime ?? archive.info.buildDate ?? 0)
        let sink = try AtomicFileSink(path: path, mode: 0o644)
        try sink.write(signature)
        try sink.write(control)
        // The data members, streamed.
        let source = try FileSource(path: path)
        var skip = archive.dataRange.lowerBound
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 1 << 20, alignment: 16)
        defer { buffer.deallocate() }
        while true {
            let count = try source.read(into: buffer)
            if count == 0 { break }
            let drop = Int(min(skip, Int64(count)))
            skip -= Int64(drop)
            if drop < count { try sink.write(UnsafeRawBufferPointer(rebasing: buffer[drop..<count])) }
        }
        try sink.commit()
    }

    static func readRange(_ path: String, _ range: Range<Int64>) throws -> [UInt8] {
        guard let handle = FileHandle(forReadingAtPath: path) else {
            throw LaminaError(.notFound, "cannot read the file", subject: path)
        }
        defer { try? handle.close() }
        do {
            try handle.seek(toOffset: UInt64(range.lowerBound))
            let data = try handle.read(upToCount: Int(range.count)) ?? Data()
            guard data.count == range.count else { throw LaminaError(.malformed, "truncated package", subject: path) }
            return Array(data)
        } catch let error as LaminaError {
            throw error
        } catch {
            throw LaminaError(.io, "cannot read: \(error.localizedDescription)", subject: path, cause: error)
        }
    }
}
