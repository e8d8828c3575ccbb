import Foundation
import LaminaCore

/// Random-access reads over an ELF image: an in-memory buffer or an open file.
protocol ELFByteSource {
    /// Total size in bytes.
    var size: UInt64 { get }
    /// Exactly `count` bytes at `offset`; throws `.malformed` when the range is outside the source.
    func read(at offset: UInt64, count: Int) throws -> [UInt8]
}

extension ELFByteSource {
    /// Checks `offset ..< offset + count` lies inside the source without overflowing.
    func checkRange(_ offset: UInt64, _ count: UInt64, _ what: String) throws {
        let (end, overflow) = offset.addingReportingOverflow(count)
        if overflow || end > size {
            throw LaminaError(
                .malformed, "\(what) at offset \(offset) (+\(count) bytes) lies outside the file (\(size) bytes)")
        }
    }
}

struct BufferByteSource: ELFByteSource {
    let bytes: [UInt8]
    var size: UInt64 { UInt64(bytes.count) }

    func read(at offset: UInt64, count: Int) throws -> [UInt8] {
        try checkRange(offset, UInt64(count), "read")
        let start = Int(offset)
        return Array(bytes[start ..< start + count])
    }
}

/// Reads through a `FileHandle`; only the requested ranges are ever loaded.
final class FileByteSource: ELFByteSource {
    let handle: FileHandle
    let size: UInt64
    let path: String

    init(path: String) throws {
        self.path = path
        let values: URLResourceValues
        do {
            // Like open(2), follow symlinks: a library is usually reached through its soname link.
            values = try URL(fileURLWithPath: path).resolvingSymlinksInPath()
                .resourceValues(forKeys: [.isRegularFileKey, .fileSizeKey])
        } catch {
            throw LaminaError(.notFound, "cannot stat: \(error.localizedDescription)", subject: path, cause: error)
        }
        // Opening a FIFO or device would block or read forever.
        guard values.isRegularFile == true else {
            throw LaminaError(.invalidInput, "not a regular file", subject: path)
        }
        guard let handle = FileHandle(forReadingAtPath: path) else {
            throw LaminaError(.io, "cannot open for reading", subject: path)
        }
        self.handle = handle
        do {
            self.size = try handle.seekToEnd()
        } catch {
            try? handle.close()
            throw LaminaError(.io, "cannot determine size: \(error)", subject: path, cause: error)
        }
    }

    deinit { try? handle.close() }

    func read(at offset: UInt64, count: Int) throws -> [UInt8] {
        try checkRange(offset, UInt64(count), "read")
        if count == 0 { return [] }
        do {
            try handle.seek(toOffset: offset)
            var result: [UInt8] = []
            result.reserveCapacity(count)
            while result.count < count {
                guard let data = try handle.read(upToCount: count - result.count), !data.isEmpty else { break }
                result.append(contentsOf: data)
            }
            guard result.count == count else {
                throw LaminaError(.malformed, "file shrank while reading (short read at offset \(offset))")
            }
            return result
        } catch let error as LaminaError {
            throw error
        } catch {
            throw LaminaError(.io, "read failed at offset \(offset): \(error)", cause: error)
        }
    }
}

/// Decodes fixed-width integers in the file's byte order from a small buffer, bounds-checked.
struct FieldReader {
    let bytes: [UInt8]
    let bigEndian: Bool

    func u8(_ at: Int) throws -> UInt8 {
        guard at >= 0, at < bytes.count else { throw LaminaError(.malformed, "truncated header field") }
        return bytes[at]
    }

    func u16(_ at: Int) throws -> UInt16 { UInt16(truncatingIfNeeded: try unsigned(at, 2)) }
    func u32(_ at: Int) throws -> UInt32 { UInt32(truncatingIfNeeded: try unsigned(at, 4)) }
    func u64(_ at: Int) throws -> UInt64 { try unsigned(at, 8) }

    /// A 32-bit field in ELF32, a 64-bit one in ELF64.
    func word(_ at: Int, wide: Bool) throws -> UInt64 { wide ? try u64(at) : UInt64(try u32(at)) }

    private func unsigned(_ at: Int, _ width: Int) throws -> UInt64 {
        guard at >= 0, width <= bytes.count, at <= bytes.count - width else {
            throw LaminaError(.malformed, "truncated header field")
        }
        var value: UInt64 = 0
        if bigEndian {
            for index in at ..< at + width { value = value << 8 | UInt64(bytes[index]) }
        } else {
            for index in stride(from: at + width - 1, through: at, by: -1) { value = value << 8 | UInt64(bytes[index]) }
        }
        return value
    }
}
