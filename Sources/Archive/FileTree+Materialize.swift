#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#endif
import LaminaCore

/// How ``FileTree/materialize(into:options:)`` writes a tree to disk.
public struct MaterializeOptions: Sendable, Hashable {
    /// When set, every entry (and the root) gets this mtime; otherwise each node's own
    /// `modificationTime` is applied.
    public var modificationTime: Int64?
    /// Give every node its uid/gid (`fchown`). Defaults to true only when running as root.
    public var applyOwners: Bool
    /// Create character and block devices (`mknod`). Defaults to true only when running as root;
    /// otherwise they are skipped and listed in the report.
    public var createDevices: Bool

    public init(modificationTime: Int64? = nil, applyOwners: Bool? = nil, createDevices: Bool? = nil) {
        let root = geteuid() == 0
        self.modificationTime = modificationTime
        self.applyOwners = applyOwners ?? root
        self.createDevices = createDevices ?? root
    }
}

/// What ``FileTree/materialize(into:options:)`` did.
public struct MaterializeReport: Sendable, Hashable {
    /// Regular files written (each hardlink group's first path counts here).
    public var files = 0
    public var directories = 0
    public var symlinks = 0
    /// Additional names linked to an already written file.
    public var hardlinks = 0
    /// Device nodes and fifos created.
    public var specialFiles = 0
    /// Bytes of file content written.
    public var bytes: Int64 = 0
    /// Device nodes and fifos that were not created (not root, or `mknod` was refused), by tree path.
    public var skippedSpecialFiles: [String] = []
    /// Nodes whose uid/gid differ from ours but were not applied (not root, or `chown` was refused).
    public var ownerChangesSkipped = 0
    /// Paths whose setuid/setgid bits the kernel refused; they got the remaining permission bits.
    public var modeBitsDropped: [String] = []
    /// Nodes with extended attributes, which are not written to disk.
    public var xattrsSkipped = 0

    public init() {}
}

extension FileTree {
    /// Writes the tree into the real folder `root`, as extracting its tar would.
    ///
    /// - Regular file content is copied in the kernel (`sendfile`) from spilled or cached files, in
    ///   chunks otherwise, never held in memory whole.
    /// - Directories are created owner-writable and get their final mode, owner and mtime only after
    ///   everything below them is written, so read-only directories (0555) work.
    /// - Symlink targets are written as data and never followed; hardlinks are `link()`ed to their
    ///   target inside the root.
    /// - Every path component is opened relative to the root with `O_NOFOLLOW`, so no symlink (in
    ///   the tree or planted on disk) can send a write outside `root`.
    ///
    /// On failure `root` may hold part of the tree.
    /// - Parameter root: an empty or absent directory (it is created, with its parents).
    /// - Throws: `.unsafePath` when `root` is not an empty directory or an entry or hardlink target
    ///   would be written through a symlink or out of the root; `.notFound` for a hardlink to a path
    ///   that is not a regular file of the tree; `.io` for failed system calls.
    @discardableResult
    public func materialize(into root: String, options: MaterializeOptions = .init()) throws -> MaterializeReport {
        try Materializer.run(sortedPaths.compactMap { path in nodes[path].map { (path, $0) } }, into: root, options: options)
    }
}

/// The writer behind ``FileTree/materialize(into:options:)``. It takes a list of entries (parents
/// before children) rather than a tree so that its own checks can be tested with entries a
/// `FileTree` would never hold.
enum Materializer {
    static func run(_ entries: [(String, FileNode)], into root: String, options: MaterializeOptions) throws -> MaterializeReport {
        var report = MaterializeReport()
        let rootFD = try openEmptyRoot(root)
        defer { close(rootFD) }
        let walker = DirectoryWalker(rootFD: rootFD)
        defer { walker.closeAll() }
        let euid = Int(geteuid()), egid = Int(getegid())

        // Pass 1: directories, files, symlinks and special files, parents first.
        var directories: [(path: String, node: FileNode)] = []
        var hardlinks: [(path: String, node: FileNode)] = []
        var kinds: [String: TarEntry.Kind] = [:]
        for (path, node) in entries {
            let components = try split(path)
            kinds[components.joined(separator: "/")] = node.kind
            if !node.xattrs.isEmpty { report.xattrsSkipped += 1 }
            if node.kind == .hardLink {
                hardlinks.append((path, node))
                continue
            }
            let parent = try walker.open(components.dropLast(), for: path)
            let name = components[components.count - 1]
            switch node.kind {
            case .directory:
                guard mkdirat(parent, name, 0o700) == 0 else { throw failure("cannot create directory", path) }
                directories.append((path, node))
                report.directories += 1
            case .regular:
                let fd = openat(parent, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0o600)
                guard fd >= 0 else { throw failure("cannot create file", path) }
                defer { close(fd) }
                report.bytes += try copyContent(node.content, to: fd, path: path)
                try applyMetadata(fd: fd, node: node, path: path, options: options, report: &report, euid: euid, egid: egid)
                report.files += 1
            case .symbolicLink:
                guard symlinkat(node.linkTarget, parent, name) == 0 else { throw failure("cannot create symlink", path) }
                try applyOwner(parent, name, node: node, path: path, options: options, report: &report, euid: euid, egid: egid)
                try setTime(parent, name, options.modificationTime ?? node.modificationTime, path: path)
                report.symlinks += 1
            case .characterDevice, .blockDevice, .fifo:
                if node.kind != .fifo && !options.createDevices {
                    report.skippedSpecialFiles.append(path)
                    continue
                }
                let type: mode_t = node.kind == .fifo ? S_IFIFO : node.kind == .characterDevice ? S_IFCHR : S_IFBLK
                let device = node.kind == .fifo ? 0 : makeDevice(node.deviceMajor, node.deviceMinor)
                if mknodat(parent, name, type | mode_t(node.mode & 0o777), device) != 0 {
                    if errno == EPERM || errno == EACCES {
                        report.skippedSpecialFiles.append(path)
                        continue
                    }
                    throw failure("cannot create \(node.kind)", path)
                }
                // Not opened (opening a device can have effects): set the rest by name; the node was just made.
                try applyOwner(parent, name, node: node, path: path, options: options, report: &report, euid: euid, egid: egid)
                if fchmodat(parent, name, mode_t(node.mode & 0o7777), 0) != 0 { throw failure("cannot set the mode", path) }
                try setTime(parent, name, options.modificationTime ?? node.modificationTime, path: path)
                report.specialFiles += 1
            case .hardLink:
                break
            }
        }

        // Pass 2: hardlinks, now that every regular file exists.
        try link(hardlinks, kinds: kinds, walker: walker, report: &report)
        // Pass 3: directory modes, owners and times, deepest first.
        let identity = (euid: euid, egid: egid)
        try finish(directories, walker: walker, options: options, report: &report, identity: identity)
        if let time = options.modificationTime {
            var times = [timespec(tv_sec: Int(time), tv_nsec: 0), timespec(tv_sec: Int(time), tv_nsec: 0)]
            if futimens(rootFD, &times) != 0 { throw failure("cannot set the modification time", root) }
        }
        return report
    }

    /// Creates every hardlink of `hardlinks`; each must name a regular file of the tree (`kinds`).
    private static func link(
        _ hardlinks: [(path: String, node: FileNode)], kinds: [String: TarEntry.Kind], walker: DirectoryWalker,
        report: inout MaterializeReport
    ) throws {
        for (path, node) in hardlinks {
            let components = try split(path)
            let target = try split(node.linkTarget, what: "hardlink target of '\(path)'")
            guard kinds[target.joined(separator: "/")] == .regular else {
                throw LaminaError(.notFound, "hardlink '\(path)' points to '\(node.linkTarget)', which is not a regular file in the tree")
            }
            let targetParent = try walker.open(target.dropLast(), for: node.linkTarget)
            let targetFD = dup(targetParent)
            guard targetFD >= 0 else { throw failure("cannot duplicate a descriptor", path) }
            defer { close(targetFD) }
            let parent = try walker.open(components.dropLast(), for: path)
            guard linkat(targetFD, target[target.count - 1], parent, components[components.count - 1], 0) == 0 else {
                throw failure("cannot link to '\(node.linkTarget)'", path)
            }
            report.hardlinks += 1
        }
    }

    /// Gives every directory its mode, owner and time, deepest first (after its content is written).
    private static func finish(
        _ directories: [(path: String, node: FileNode)], walker: DirectoryWalker, options: MaterializeOptions,
        report: inout MaterializeReport, identity: (euid: Int, egid: Int)
    ) throws {
        let (euid, egid) = identity
        for (path, node) in directories.reversed() {
            let components = try split(path)
            let parent = try walker.open(components.dropLast(), for: path)
            let fd = openat(parent, components[components.count - 1], O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
            guard fd >= 0 else { throw failure("cannot open directory", path) }
            defer { close(fd) }
            walker.forget(components)
            try applyMetadata(fd: fd, node: node, path: path, options: options, report: &report, euid: euid, egid: egid)
        }
    }

    /// Opens `root`, creating it when absent; refuses anything but an empty directory.
    static func openEmptyRoot(_ root: String) throws -> Int32 {
        guard !root.isEmpty else { throw LaminaError(.unsafePath, "the root folder path is empty") }
        var info = stat()
        if lstat(root, &info) != 0 {
            guard errno == ENOENT else { throw failure("cannot inspect the root folder", root) }
            try makeDirectories(root)
        }
        let fd = open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard fd >= 0 else {
            if errno == ENOTDIR { throw LaminaError(.unsafePath, "the root folder is not a directory", subject: root) }
            throw failure("cannot open the root folder", root)
        }
        let listing = dup(fd)
        guard listing >= 0, let dir = fdopendir(listing) else {
            close(fd)
            throw failure("cannot list the root folder", root)
        }
        defer { closedir(dir) }
        while let entry = readdir(dir) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in
                String(decoding: raw.prefix { $0 != 0 }, as: UTF8.self)
            }
            if name != "." && name != ".." {
                close(fd)
                throw LaminaError(.unsafePath, "the root folder must be empty or absent, but it holds '\(name)'", subject: root)
            }
        }
        return fd
    }

    /// `mkdir -p` for the root folder itself (a path the caller chose, not one from the tree).
    static func makeDirectories(_ path: String) throws {
        var prefix = path.hasPrefix("/") ? "" : "."
        for part in path.split(separator: "/") {
            prefix += "/" + part
            if mkdir(prefix, 0o755) != 0 && errno != EEXIST { throw failure("cannot create the root folder", path) }
        }
    }

    /// The components of a tree path; refuses absolute paths, `..`, `.`, empty names and NUL.
    static func split(_ path: String, what: String = "path") throws -> [String] {
        if path.hasPrefix("/") { throw LaminaError(.unsafePath, "\(what) '\(path)' is absolute; tree paths are relative to the root") }
        let components = path.split(separator: "/", omittingEmptySubsequences: false).map(String.init)
        guard !components.isEmpty, !path.isEmpty else { throw LaminaError(.unsafePath, "\(what) is empty") }
        for component in components {
            if component == ".." { throw LaminaError(.unsafePath, "\(what) '\(path)' escapes the root with '..'") }
            if component.isEmpty || component == "." || component.utf8.contains(0) {
                throw LaminaError(.unsafePath, "\(what) '\(path)' is not a normalised tree path")
            }
        }
        return components
    }

    /// Streams `content` into `fd`: in the kernel from a file, in chunks from memory.
    static func copyContent(_ content: FileContent?, to fd: Int32, path: String) throws -> Int64 {
        switch content {
        case nil:
            return 0
        case .bytes(let bytes):
            try bytes.withUnsafeBytes { try writeAll(fd, $0, path: path) }
            return Int64(bytes.count)
        case .file(let source, let offset, let size):
            let input = open(source, O_RDONLY | O_CLOEXEC)
            guard input >= 0 else { throw failure("cannot open the content file '\(source)'", path) }
            defer { close(input) }
            var position = off_t(offset)
            var left = size
            while left > 0 {
                let n = sendfile(fd, input, &position, Int(min(left, 1 << 30)))
                if n > 0 {
                    left -= Int64(n)
                    continue
                }
                if n < 0 && errno == EINTR { continue }
                if n == 0 { throw LaminaError(.io, "content file '\(source)' ended \(left) bytes early", subject: path) }
                if errno == EINVAL || errno == ENOSYS {
                    // No in-kernel copy between these files: fall back to read/write.
                    return try copyByChunks(input, from: Int64(position), left: left, to: fd, path: path, done: size - left)
                }
                throw failure("cannot copy content from '\(source)'", path)
            }
            return size
        }
    }

    static func copyByChunks(_ input: Int32, from offset: Int64, left: Int64, to fd: Int32, path: String, done: Int64) throws -> Int64 {
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 256 * 1024, alignment: 16)
        defer { buffer.deallocate() }
        var position = offset
        var left = left
        while left > 0 {
            let n = pread(input, buffer.baseAddress, Int(min(Int64(buffer.count), left)), off_t(position))
            if n < 0 && errno == EINTR { continue }
            if n < 0 { throw failure("cannot read content", path) }
            if n == 0 { throw LaminaError(.io, "content file ended \(left) bytes early", subject: path) }
            try writeAll(fd, UnsafeRawBufferPointer(rebasing: buffer[0..<n]), path: path)
            position += Int64(n)
            left -= Int64(n)
        }
        return done + (position - offset)
    }

    static func writeAll(_ fd: Int32, _ bytes: UnsafeRawBufferPointer, path: String) throws {
        var offset = 0
        while offset < bytes.count {
            guard let base = bytes.baseAddress else { return }
            let n = write(fd, base + offset, bytes.count - offset)
            if n < 0 {
                if errno == EINTR { continue }
                throw failure("write failed", path)
            }
            offset += n
        }
    }

    /// Owner, then mode (chown clears setuid/setgid), then mtime, on an open descriptor.
    static func applyMetadata(
        fd: Int32, node: FileNode, path: String, options: MaterializeOptions, report: inout MaterializeReport, euid: Int, egid: Int
    ) throws {
        if options.applyOwners {
            if fchown(fd, uid_t(node.uid), gid_t(node.gid)) != 0 {
                if errno != EPERM && errno != EINVAL { throw failure("cannot change the owner", path) }
                report.ownerChangesSkipped += 1
            }
        } else if node.uid != euid || node.gid != egid {
            report.ownerChangesSkipped += 1
        }
        if fchmod(fd, mode_t(node.mode & 0o7777)) != 0 {
            guard errno == EPERM, node.mode & 0o6000 != 0, fchmod(fd, mode_t(node.mode & 0o1777)) == 0 else {
                throw failure("cannot set mode \(String(node.mode, radix: 8))", path)
            }
            report.modeBitsDropped.append(path)
        } else if node.mode & 0o6000 != 0 {
            // Linux silently drops setgid for a group we are not in: check what stuck.
            var info = stat()
            if fstat(fd, &info) == 0 && UInt32(info.st_mode) & 0o6000 != node.mode & 0o6000 { report.modeBitsDropped.append(path) }
        }
        let time = options.modificationTime ?? node.modificationTime
        var times = [timespec(tv_sec: Int(time), tv_nsec: 0), timespec(tv_sec: Int(time), tv_nsec: 0)]
        if futimens(fd, &times) != 0 { throw failure("cannot set the modification time", path) }
    }

    /// Owner of a node that is not opened (symlink, device, fifo), by name, never following a link.
    static func applyOwner(
        _ parent: Int32, _ name: String, node: FileNode, path: String, options: MaterializeOptions, report: inout MaterializeReport,
        euid: Int, egid: Int
    ) throws {
        if options.applyOwners {
            if fchownat(parent, name, uid_t(node.uid), gid_t(node.gid), AT_SYMLINK_NOFOLLOW) != 0 {
                if errno != EPERM { throw failure("cannot change the owner", path) }
                report.ownerChangesSkipped += 1
            }
        } else if node.uid != euid || node.gid != egid {
            report.ownerChangesSkipped += 1
        }
    }

    static func setTime(_ parent: Int32, _ name: String, _ time: Int64, path: String) throws {
        var times = [timespec(tv_sec: Int(time), tv_nsec: 0), timespec(tv_sec: Int(time), tv_nsec: 0)]
        if utimensat(parent, name, &times, AT_SYMLINK_NOFOLLOW) != 0 { throw failure("cannot set the modification time", path) }
    }

    /// Linux's `makedev`.
    static func makeDevice(_ major: UInt32, _ minor: UInt32) -> dev_t {
        let major = UInt64(major), minor = UInt64(minor)
        return dev_t(((major & 0xffff_f000) << 32) | ((major & 0xfff) << 8) | ((minor & 0xffff_ff00) << 12) | (minor & 0xff))
    }

    static func failure(_ what: String, _ path: String) -> LaminaError {
        let code = errno
        return LaminaError(code == ELOOP || code == ENOTDIR ? .unsafePath : .io, "\(what): \(String(cString: strerror(code)))", subject: path)
    }
}

/// Directory descriptors along the current path, opened one component at a time from the root with
/// `O_NOFOLLOW`. Entries come depth-first, so a stack of open descriptors serves them with few opens.
final class DirectoryWalker {
    private let rootFD: Int32
    private var stack: [(name: String, fd: Int32)] = []

    init(rootFD: Int32) { self.rootFD = rootFD }

    /// The descriptor of the directory at `components` (below the root).
    /// - Throws: `.unsafePath` when a component is a symlink or not a directory.
    func open(_ components: ArraySlice<String>, for path: String) throws -> Int32 {
        var common = 0
        for (held, wanted) in zip(stack, components) {
            guard held.name == wanted else { break }
            common += 1
        }
        while stack.count > common { close(stack.removeLast().fd) }
        for component in components.dropFirst(common) {
            let parent = stack.last?.fd ?? rootFD
            let fd = openat(parent, component, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
            guard fd >= 0 else {
                let code = errno
                if code == ELOOP || code == ENOTDIR {
                    let at = (stack.map(\.name) + [component]).joined(separator: "/")
                    throw LaminaError(.unsafePath, "'\(at)' is a symlink or not a directory; refusing to write through it", subject: path)
                }
                throw LaminaError(.io, "cannot open directory '\(component)': \(String(cString: strerror(code)))", subject: path)
            }
            stack.append((component, fd))
        }
        return stack.last?.fd ?? rootFD
    }

    /// Drops a held descriptor for `components` (its mode is about to change).
    func forget(_ components: [String]) {
        guard stack.count >= components.count, zip(stack, components).allSatisfy({ $0.name == $1 }) else { return }
        while stack.count >= components.count, !stack.isEmpty { close(stack.removeLast().fd) }
    }

    func closeAll() {
        while let last = stack.popLast() { close(last.fd) }
    }
}
