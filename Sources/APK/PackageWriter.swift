import Archive
import Foundation
import LaminaCore

/// Builds a signed `.apk` from a directory tree, byte-for-byte reproducibly.
///
/// Layout (formats.md §3.1): [signature member] + control member + data member, each its own gzip
/// stream. The data tar lists every directory before its children in lexical order, carries a PAX
/// `APK-TOOLS.checksum.SHA1` for each regular file and symlink, and ends with the two zero blocks;
/// the signature and control tars are unterminated. `datahash` is the SHA-256 of the compressed
/// data member and the signatures cover the compressed control member.
public struct PackageWriter: Sendable {
    /// Metadata; `size`, `datahash` and `builddate` are filled in by the writer.
    public var info: PackageInfo
    /// Scriptlets by action (`pre-install`, `post-install`, …, `trigger`), stored as `.<action>`.
    public var scripts: [String: String]
    /// Extra control members, e.g. `.melange.yaml`.
    public var extraControlFiles: [String: [UInt8]]
    public var clock: BuildClock
    public var signingKeys: [SigningKey]
    public var algorithms: [SignatureAlgorithm]
    /// Owner written for every entry (packages are built without root; files belong to root).
    public var owner: (uid: Int, gid: Int, user: String, group: String)
    public var compressionLevel: Int32
    /// Extended attributes to give entries (path relative to the tree, no leading `/` → name → value), e.g.
    /// `security.capability` from melange's `setcap`; written as PAX `SCHILY.xattr.<name>` records. They win
    /// over the same attribute on disk.
    public var xattrs: [String: [String: [UInt8]]]

    public static let scriptActions = ["pre-install", "post-install", "pre-deinstall", "post-deinstall", "pre-upgrade", "post-upgrade", "trigger"]

    public init(
        info: PackageInfo, scripts: [String: String] = [:], extraControlFiles: [String: [UInt8]] = [:], clock: BuildClock,
        signingKeys: [SigningKey], algorithms: [SignatureAlgorithm] = [.rsaSHA256], compressionLevel: Int32 = 6,
        xattrs: [String: [String: [UInt8]]] = [:]
    ) {
        self.info = info
        self.scripts = scripts
        self.extraControlFiles = extraControlFiles
        self.clock = clock
        self.signingKeys = signingKeys
        self.algorithms = algorithms
        self.owner = (0, 0, "root", "root")
        self.compressionLevel = compressionLevel
        self.xattrs = xattrs
    }

    /// The on-disk extended attributes a package keeps: file capabilities (a build step's `setcap`). Others
    /// (SELinux labels, `user.*` of the build host) describe the host, not the package, and would make the
    /// bytes depend on where it was built.
    public static let keptDiskXattrs = ["security.capability"]

    /// Writes the package built from the tree at `directory` to `output` (temp file + rename).
    /// - Returns: the metadata as written, with `checksum` (identity), `datahash`, sizes.
    /// - Throws: `.invalidInput` for unsupported files (sockets, devices) or a bad script name.
    @discardableResult
    public func write(directory: String, to output: String) throws -> PackageInfo {
        for action in scripts.keys where !Self.scriptActions.contains(action) {
            throw LaminaError(.invalidInput, "unknown scriptlet '\(action)' (known: \(Self.scriptActions.joined(separator: ", ")))")
        }
        let outputDir = (output as NSString).deletingLastPathComponent
        // 1. Data member, streamed to a temp file beside the output while hashing.
        let dataSink = try AtomicFileSink(path: (outputDir.isEmpty ? "." : outputDir) + "/.data-\(info.name).gz")
        var dataHasher = Hasher(.sha256)
        let hashing = CallbackSink { dataHasher.update($0) }
        let gzip = try GzipWriter(TeeSink([dataSink, hashing]), level: compressionLevel)
        let tar = TarWriter(gzip)
        let installedSize = try writeTree(directory, into: tar)
        try tar.finish(terminate: true)
        try gzip.finish()

        // 2. Control member.
        var meta = info
        meta.installedSize = installedSize
        meta.dataHash = dataHasher.finalize().hex
        meta.buildDate = clock.epoch == 0 ? nil : clock.epoch
        let controlSink = MemorySink()
        let controlTar = TarWriter(controlSink)
        let controlEntry = { (name: String, mode: UInt32) in
            TarEntry(path: name, kind: .regular, mode: mode, uid: 0, gid: 0, userName: "root", groupName: "root", modificationTime: clock.epoch)
        }
        try controlTar.append(controlEntry(".PKGINFO", 0o644), bytes: Array(PKGINFO.render(meta).utf8))
        for (name, bytes) in extraControlFiles.sorted(by: { $0.key < $1.key }) {
            try controlTar.append(controlEntry(name, 0o644), bytes: bytes)
        }
        for action in Self.scriptActions {
            if let script = scripts[action] { try controlTar.append(controlEntry("." + action, 0o755), bytes: Array(script.utf8)) }
        }
        try controlTar.finish(terminate: false)
        let control = try GzipWriter.compress(controlSink.bytes, level: compressionLevel)

        // 3. Signature member over the compressed control bytes.
        let signature = try signatureMember(signing: control, keys: signingKeys, algorithms: algorithms, modificationTime: clock.epoch)

        // 4. Concatenate into the output, atomically.
        let out = try AtomicFileSink(path: output)
        try out.write(signature)
        try out.write(control)
        try dataSink.commit()
        defer { unlink(dataSink.path) }
        _ = try FileSource(path: dataSink.path).copy(to: out)
        try out.commit()

        meta.checksum = Hasher.digest(.sha1, control)
        meta.fileSize = Int64(signature.count + control.count) + gzip.compressedCount
        return meta
    }

    /// Writes the entries of `root` in lexical order (each directory before its contents) and
    /// returns the installed size (sum of regular file sizes).
    private func writeTree(_ root: String, into tar: TarWriter) throws -> Int64 {
        var total: Int64 = 0
        var inodes: [UInt64: String] = [:]
        var unused = Set(xattrs.keys)
        func visit(_ relative: String) throws {
            let dirPath = relative.isEmpty ? root : root + "/" + relative
            let names: [String]
            do { names = try FileManager.default.contentsOfDirectory(atPath: dirPath).sorted { Array($0.utf8).lexicographicallyPrecedes(Array($1.utf8)) } } catch {
                throw LaminaError(.io, "cannot list directory: \(error.localizedDescription)", subject: dirPath)
            }
            for name in names {
                let rel = relative.isEmpty ? name : relative + "/" + name
                let full = root + "/" + rel
                var st = stat()
                guard lstat(full, &st) == 0 else {
                    throw LaminaError(.io, "cannot stat: \(String(cString: strerror(errno)))", subject: full)
                }
                var entry = TarEntry(
                    path: rel, kind: .regular, mode: UInt32(st.st_mode) & 0o7777, uid: owner.uid, gid: owner.gid, userName: owner.user,
                    groupName: owner.group, modificationTime: clock.epoch)
                if st.st_mode & S_IFMT == S_IFREG {
                    for name in Self.keptDiskXattrs { if let value = try ExtendedAttributes.value(of: full, name) { entry.xattrs[name] = value } }
                }
                if st.st_mode & S_IFMT == S_IFDIR || st.st_mode & S_IFMT == S_IFREG, let given = xattrs[rel] {
                    entry.xattrs.merge(given) { _, new in new }
                    unused.remove(rel)
                }
                switch st.st_mode & S_IFMT {
                case S_IFDIR:
                    entry.kind = .directory
                    try tar.append(entry)
                    try visit(rel)
                case S_IFREG:
                    let key = UInt64(st.st_dev) << 40 ^ UInt64(st.st_ino)
                    if st.st_nlink > 1, let first = inodes[key] {
                        entry.kind = .hardLink
                        entry.linkTarget = first
                        try tar.append(entry)
                        continue
                    }
                    if st.st_nlink > 1 { inodes[key] = rel }
                    entry.size = Int64(st.st_size)
                    var sha1 = Hasher(.sha1)
                    _ = try FileSource(path: full).copy(to: CallbackSink { sha1.update($0) })
                    entry.paxRecords[TarEntry.apkChecksumSHA1Key] = sha1.finalize().hex
                    try tar.append(entry, content: try FileSource(path: full))
                    total += entry.size
                case S_IFLNK:
                    var buffer = [CChar](repeating: 0, count: Int(PATH_MAX) + 1)
                    let n = readlink(full, &buffer, buffer.count - 1)
                    guard n >= 0 else { throw LaminaError(.io, "cannot read link", subject: full) }
                    entry.kind = .symbolicLink
                    entry.mode = 0o777
                    entry.linkTarget = String(decoding: buffer[0..<n].map { UInt8(bitPattern: $0) }, as: UTF8.self)
                    entry.paxRecords[TarEntry.apkChecksumSHA1Key] = Hasher.digest(.sha1, Array(entry.linkTarget.utf8)).hex
                    try tar.append(entry)
                case S_IFIFO:
                    entry.kind = .fifo
                    try tar.append(entry)
                default:
                    throw LaminaError(.invalidInput, "cannot package this kind of file (socket or device)", subject: full)
                }
            }
        }
        var st = stat()
        guard stat(root, &st) == 0, st.st_mode & S_IFMT == S_IFDIR else {
            throw LaminaError(.notFound, "not a directory", subject: root)
        }
        try visit("")
        if let missing = unused.sorted().first {
            throw LaminaError(
                .invalidInput, "extended attributes were asked for '/\(missing)', which is not a file or directory of the package (setcap path?)",
                subject: info.name)
        }
        return total
    }
}
