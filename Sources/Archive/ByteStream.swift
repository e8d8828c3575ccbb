#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#elseif canImport(Darwin)
    import Darwin
#endif
import LaminaCore
import Synchronization

/// A pull-based stream of bytes. Readers of archives are composed from these: a file, a gzip
/// decompressor over the file, a tar reader over the decompressor.
public protocol ByteSource: AnyObject {
    /// Reads up to `buffer.count` bytes into `buffer`; returns 0 only at the end of the stream.
    func read(into buffer: UnsafeMutableRawBufferPointer) throws -> Int
}

/// A push-based byte consumer.
public protocol ByteSink: AnyObject {
    func write(_ bytes: UnsafeRawBufferPointer) throws
}

extension ByteSink {
    /// Writes an array of bytes.
    public func write(_ bytes: [UInt8]) throws {
        try bytes.withUnsafeBytes { try write($0) }
    }
}

extension ByteSource {
    /// Reads exactly `count` bytes, or fewer only if the stream ends first.
    public func readFully(into buffer: UnsafeMutableRawBufferPointer) throws -> Int {
        var filled = 0
        while filled < buffer.count {
            let n = try read(into: UnsafeMutableRawBufferPointer(rebasing: buffer[filled...]))
            if n == 0 { break }
            filled += n
        }
        return filled
    }

    /// Reads the whole remaining stream into memory, refusing more than `limit` bytes.
    public func readAll(limit: Int, what: String = "stream") throws -> [UInt8] {
        var out = [UInt8]()
        var chunk = [UInt8](repeating: 0, count: 64 * 1024)
        while true {
            let n = try chunk.withUnsafeMutableBytes { try read(into: $0) }
            if n == 0 { return out }
            if out.count + n > limit {
                throw LaminaError(.limitExceeded, "\(what) is larger than the limit of \(limit) bytes")
            }
            out.append(contentsOf: chunk[0..<n])
        }
    }

    /// Copies the rest of this stream into `sink`, returning the number of bytes copied.
    @discardableResult
    public func copy(to sink: ByteSink, bufferSize: Int = 128 * 1024) throws -> Int64 {
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: bufferSize, alignment: 16)
        defer { buffer.deallocate() }
        var total: Int64 = 0
        while true {
            let n = try read(into: buffer)
            if n == 0 { return total }
            try sink.write(UnsafeRawBufferPointer(rebasing: buffer[0..<n]))
            total += Int64(n)
        }
    }
}

/// Bytes held in memory, read from the start.
public final class MemorySource: ByteSource {
    private let bytes: [UInt8]
    private var offset = 0

    public init(_ bytes: [UInt8]) { self.bytes = bytes }

    public func read(into buffer: UnsafeMutableRawBufferPointer) throws -> Int {
        let n = min(buffer.count, bytes.count - offset)
        if n <= 0 { return 0 }
        bytes.withUnsafeBytes { raw in
            buffer.baseAddress!.copyMemory(from: raw.baseAddress! + offset, byteCount: n)
        }
        offset += n
        return n
    }
}

/// Collects written bytes in memory.
public final class MemorySink: ByteSink {
    public private(set) var bytes: [UInt8] = []
    public init() {}
    public func write(_ bytes: UnsafeRawBufferPointer) throws { self.bytes.append(contentsOf: bytes) }
}

/// Forwards writes to several sinks (e.g. a file and a hasher).
public final class TeeSink: ByteSink {
    private let sinks: [ByteSink]
    public init(_ sinks: [ByteSink]) { self.sinks = sinks }
    public func write(_ bytes: UnsafeRawBufferPointer) throws {
        for sink in sinks { try sink.write(bytes) }
    }
}

/// Counts bytes and hands each chunk to a closure (hashers plug in here).
public final class CallbackSink: ByteSink {
    private let body: (UnsafeRawBufferPointer) throws -> Void
    public private(set) var count: Int64 = 0
    public init(_ body: @escaping (UnsafeRawBufferPointer) throws -> Void) { self.body = body }
    public func write(_ bytes: UnsafeRawBufferPointer) throws {
        count += Int64(bytes.count)
        try body(bytes)
    }
}

/// A byte source that passes every byte it reads to an observer (to hash while reading).
public final class ObservedSource: ByteSource {
    private let base: ByteSource
    private let observer: (UnsafeRawBufferPointer) -> Void
    public init(_ base: ByteSource, observer: @escaping (UnsafeRawBufferPointer) -> Void) {
        self.base = base
        self.observer = observer
    }
    public func read(into buffer: UnsafeMutableRawBufferPointer) throws -> Int {
        let n = try base.read(into: buffer)
        if n > 0 { observer(UnsafeRawBufferPointer(rebasing: buffer[0..<n])) }
        return n
    }
}

/// Reads a file through its descriptor.
public final class FileSource: ByteSource {
    private let fd: Int32
    public let path: String

    /// Opens `path` for reading.
    /// - Throws: `LaminaError.notFound` or `.io`.
    public init(path: String) throws {
        self.path = path
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        if fd < 0 {
            let code = errno
            throw LaminaError(code == ENOENT ? .notFound : .io, code == ENOENT ? "no such file" : String(cString: strerror(code)), subject: path)
        }
        self.fd = fd
    }

    deinit { close(fd) }

    public func read(into buffer: UnsafeMutableRawBufferPointer) throws -> Int {
        while true {
            #if canImport(Glibc) || canImport(Musl)
                let n = Glibc.read(fd, buffer.baseAddress, buffer.count)
            #else
                let n = Darwin.read(fd, buffer.baseAddress, buffer.count)
            #endif
            if n >= 0 { return n }
            if errno == EINTR { continue }
            throw LaminaError(.io, "read failed: \(String(cString: strerror(errno)))", subject: path)
        }
    }

    /// Moves to an absolute offset.
    public func seek(to offset: Int64) throws {
        if lseek(fd, off_t(offset), SEEK_SET) < 0 {
            throw LaminaError(.io, "seek failed: \(String(cString: strerror(errno)))", subject: path)
        }
    }
}

/// Writes a file that appears at its final path only when `commit()` is called: the bytes go to a
/// hidden temp file in the same folder, which is renamed into place. Dropping it uncommitted
/// removes the temp file, so a failure leaves nothing half-written.
public final class AtomicFileSink: ByteSink {
    public let path: String
    public let temporaryPath: String
    private var fd: Int32
    private var committed = false

    /// - Parameter mode: permission bits of the final file.
    public init(path: String, mode: mode_t = 0o644) throws {
        self.path = path
        let slash = path.lastIndex(of: "/")
        let dir = slash.map { String(path[..<$0]) } ?? "."
        let base = slash.map { String(path[path.index(after: $0)...]) } ?? path
        var template = Array("\(dir.isEmpty ? "/" : dir)/.\(base).tmp-XXXXXX".utf8CString)
        let fd = template.withUnsafeMutableBufferPointer { mkstemp($0.baseAddress!) }
        if fd < 0 {
            throw LaminaError(.io, "cannot create a file here: \(String(cString: strerror(errno)))", subject: path)
        }
        fchmod(fd, mode)
        // Held until the file is closed: tells later writers this temporary file has a live owner.
        flock(fd, LOCK_EX)
        self.fd = fd
        self.temporaryPath = String(cString: template.withUnsafeBufferPointer { $0.baseAddress! })
        Self.removeAbandoned(directory: dir.isEmpty ? "/" : dir, base: base, except: temporaryPath)
    }

    /// Deletes temporary files of `base` that a killed writer left in `directory`: those no live
    /// writer holds locked. A writer locks its file right after creating it and before writing, so an
    /// unlocked file with bytes in it is abandoned; an empty one may be a writer between those two
    /// calls, and goes only once it is a few seconds old.
    static func removeAbandoned(directory: String, base: String, except: String, minimumAge: Int = 10) {
        let prefix = ".\(base).tmp-"
        guard let listing = opendir(directory) else { return }
        var names: [String] = []
        while let entry = readdir(listing) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in
                String(decoding: raw.prefix { $0 != 0 }, as: UTF8.self)
            }
            if name.hasPrefix(prefix) { names.append(name) }
        }
        closedir(listing)
        let now = time(nil)
        for name in names {
            let path = directory + "/" + name
            guard path != except else { continue }
            var info = stat()
            guard lstat(path, &info) == 0, (info.st_mode & S_IFMT) == S_IFREG,
                info.st_size > 0 || now - info.st_mtim.tv_sec >= minimumAge
            else { continue }
            let fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC)
            guard fd >= 0 else { continue }
            if flock(fd, LOCK_EX | LOCK_NB) == 0 { unlink(path) }
            close(fd)
        }
    }

    deinit {
        if fd >= 0 { close(fd) }
        if !committed { unlink(temporaryPath) }
    }

    public func write(_ bytes: UnsafeRawBufferPointer) throws {
        var offset = 0
        while offset < bytes.count {
            #if canImport(Glibc) || canImport(Musl)
                let n = Glibc.write(fd, bytes.baseAddress! + offset, bytes.count - offset)
            #else
                let n = Darwin.write(fd, bytes.baseAddress! + offset, bytes.count - offset)
            #endif
            if n < 0 {
                if errno == EINTR { continue }
                throw LaminaError(.io, "write failed: \(String(cString: strerror(errno)))", subject: path)
            }
            offset += n
        }
    }

    /// Flushes and renames the temp file to `path`. With `keepOpen`, the file is renamed at once
    /// and stays open for further writes (used for spill files).
    public func commit(keepOpen: Bool = false) throws {
        if !keepOpen, fsync(fd) != 0 && errno != EINVAL {
            throw LaminaError(.io, "fsync failed: \(String(cString: strerror(errno)))", subject: path)
        }
        // Renamed while still open (and so still locked): an unlocked temporary file is one a killed writer left.
        if rename(temporaryPath, path) != 0 {
            throw LaminaError(.io, "cannot rename into place: \(String(cString: strerror(errno)))", subject: path)
        }
        committed = true
        if !keepOpen {
            close(fd)
            fd = -1
        }
    }

    /// Writes `bytes` to `path` atomically.
    public static func write(_ bytes: [UInt8], to path: String, mode: mode_t = 0o644) throws {
        let sink = try AtomicFileSink(path: path, mode: mode)
        try sink.write(bytes)
        try sink.commit()
    }
}

/// At most `limit` bytes of another source.
public final class BoundedSource: ByteSource {
    private let base: ByteSource
    private var left: Int64
    public init(_ base: ByteSource, limit: Int64) {
        self.base = base
        self.left = limit
    }
    public func read(into buffer: UnsafeMutableRawBufferPointer) throws -> Int {
        if left <= 0 { return 0 }
        let n = try base.read(into: UnsafeMutableRawBufferPointer(rebasing: buffer[0..<Int(min(Int64(buffer.count), left))]))
        left -= Int64(n)
        return n
    }
}

/// An append-only spill file: content is written once and referred to by offset, so a tree of any
/// size keeps only metadata in memory. The file is deleted when the store is released.
public final class SpillStore: @unchecked Sendable {
    // Safety: `sink` (the only non-Sendable member) is used only inside `state.withLock`.
    private struct State {
        var offset: Int64 = 0
        var closed = false
    }

    public let path: String
    private let sink: AtomicFileSink
    private let state = Mutex(State())

    /// Creates the spill file in `directory`.
    public init(directory: String) throws {
        path = directory + "/lamina-spill-\(getpid())-\(UInt64.random(in: 0...UInt64.max))"
        sink = try AtomicFileSink(path: path, mode: 0o600)
        try sink.commit(keepOpen: true)
    }

    deinit { unlink(path) }

    /// Appends everything `source` yields; returns where it landed.
    /// - Throws: `CancellationError` after ``close()``; whatever reading or writing throws.
    public func append(_ source: ByteSource) throws -> FileContent {
        try state.withLock { state in
            if state.closed { throw CancellationError() }
            let start = state.offset
            let copied = try source.copy(to: sink)
            state.offset += copied
            return .file(path: path, offset: start, size: copied)
        }
    }

    /// Refuses further appends (what is stored stays readable), so writers still running stop early.
    public func close() {
        state.withLock { $0.closed = true }
    }
}
