import LaminaCore

/// `lib/apk/db/installed`: for each installed package its index header and the files it owns.
///
/// Byte-compatible with apk-tools 2.14 (`database.c` `apk_db_write_fdb`): header letters in the
/// order `C P V A S I T U L o m t c k D p i r q s f`, then for each owned directory `F:` (with
/// `M:uid:gid:mode` unless 0:0:755) and for each file in it `R:` (with `a:uid:gid:mode` unless
/// 0:0:644) and `Z:Q1…`; a blank line ends each record.
public struct InstalledDatabase: Sendable, Hashable {
    public var packages: [InstalledPackage]

    public init(packages: [InstalledPackage] = []) { self.packages = packages }

    /// Renders the whole database.
    public func render() -> String { packages.map { $0.render() + "\n" }.joined() }

    /// Parses an installed database.
    /// - Throws: `.malformed` naming the line.
    public static func parse(_ text: String, source: String = "installed") throws -> InstalledDatabase {
        var packages: [InstalledPackage] = []
        var headerLines: [Substring] = []
        var current: InstalledPackage?
        var lineNumber = 0
        var recordStart = 1
        func finish() throws {
            guard !headerLines.isEmpty || current != nil else { return }
            guard var pkg = current else { return }
            let infos = try APKIndex.parseText(headerLines.joined(separator: "\n"), source: "\(source):\(recordStart)")
            guard let info = infos.first else {
                throw LaminaError(.malformed, "line \(recordStart): record without package header", subject: source)
            }
            pkg.info = info
            packages.append(pkg)
            current = nil
            headerLines = []
        }
        for rawLine in text.split(separator: "\n", omittingEmptySubsequences: false) {
            lineNumber += 1
            if rawLine.isEmpty {
                try finish()
                recordStart = lineNumber + 1
                continue
            }
            if current == nil { current = InstalledPackage(info: PackageInfo(name: "", version: "")) }
            guard rawLine.count >= 2, rawLine.dropFirst().first == ":" else {
                throw LaminaError(.malformed, "line \(lineNumber): expected 'X:value'", subject: source)
            }
            let value = String(rawLine.dropFirst(2))
            func owner() throws -> (Int, Int, UInt32) {
                let parts = value.split(separator: ":")
                guard parts.count >= 3, let uid = Int(parts[0]), let gid = Int(parts[1]), let mode = UInt32(parts[2], radix: 8) else {
                    throw LaminaError(.malformed, "line \(lineNumber): bad owner/mode '\(value)'", subject: source)
                }
                return (uid, gid, mode)
            }
            switch rawLine.first! {
            case "F": current!.directories.append(InstalledDirectory(path: value))
            case "M":
                guard !current!.directories.isEmpty else { throw LaminaError(.malformed, "line \(lineNumber): M: before F:", subject: source) }
                let (uid, gid, mode) = try owner()
                current!.directories[current!.directories.count - 1].uid = uid
                current!.directories[current!.directories.count - 1].gid = gid
                current!.directories[current!.directories.count - 1].mode = mode
            case "R":
                if current!.directories.isEmpty { current!.directories.append(InstalledDirectory(path: "")) }
                current!.directories[current!.directories.count - 1].files.append(InstalledFile(name: value))
            case "a", "Z":
                guard let d = current!.directories.indices.last, let f = current!.directories[d].files.indices.last else {
                    throw LaminaError(.malformed, "line \(lineNumber): \(rawLine.first!): before R:", subject: source)
                }
                if rawLine.first == "a" {
                    let (uid, gid, mode) = try owner()
                    current!.directories[d].files[f].uid = uid
                    current!.directories[d].files[f].gid = gid
                    current!.directories[d].files[f].mode = mode
                } else {
                    do { current!.directories[d].files[f].checksum = try Digest(apkIdentity: value) } catch {
                        throw LaminaError(.malformed, "line \(lineNumber): bad Z: checksum '\(value)'", subject: source)
                    }
                }
            case "s": current!.repositoryTag = value
            case "f": current!.brokenFlags = value
            default: headerLines.append(rawLine)
            }
        }
        try finish()
        return InstalledDatabase(packages: packages)
    }
}

/// One package's record in the installed database.
public struct InstalledPackage: Sendable, Hashable {
    public var info: PackageInfo
    /// `s:`: the repository tag the package was pinned to.
    public var repositoryTag: String?
    /// `f:`: broken-state flags (`f` files, `s` scripts, `x` xattrs).
    public var brokenFlags: String?
    public var directories: [InstalledDirectory]

    public init(info: PackageInfo, repositoryTag: String? = nil, brokenFlags: String? = nil, directories: [InstalledDirectory] = []) {
        self.info = info
        self.repositoryTag = repositoryTag
        self.brokenFlags = brokenFlags
        self.directories = directories
    }

    /// The record text, without the blank line that ends it.
    public func render() -> String {
        var out = APKIndex.renderRecord(info)
        func line(_ letter: Character, _ value: String?) {
            if let value, !value.isEmpty { out += "\(letter):\(value)\n" }
        }
        line("r", info.replaces.map(\.description).joined(separator: " "))
        line("q", info.replacesPriority.map(String.init))
        line("s", repositoryTag)
        line("f", brokenFlags)
        for dir in directories {
            out += "F:\(dir.path)\n"
            if dir.uid != 0 || dir.gid != 0 || dir.mode != 0o755 { out += "M:\(dir.uid):\(dir.gid):\(String(dir.mode, radix: 8))\n" }
            for file in dir.files {
                out += "R:\(file.name)\n"
                if file.uid != 0 || file.gid != 0 || file.mode != 0o644 { out += "a:\(file.uid):\(file.gid):\(String(file.mode, radix: 8))\n" }
                if let sum = file.checksum { out += "Z:\(sum.apkIdentity)\n" }
            }
        }
        return out
    }

    /// Every owned file path (`dir/name`).
    public var filePaths: [String] {
        directories.flatMap { dir in dir.files.map { dir.path.isEmpty ? $0.name : dir.path + "/" + $0.name } }
    }
}

/// A directory a package owns (`F:`), with its mode (`M:`) and files (`R:`).
public struct InstalledDirectory: Sendable, Hashable {
    public var path: String
    public var uid: Int = 0
    public var gid: Int = 0
    public var mode: UInt32 = 0o755
    public var files: [InstalledFile] = []

    public init(path: String, uid: Int = 0, gid: Int = 0, mode: UInt32 = 0o755, files: [InstalledFile] = []) {
        self.path = path
        self.uid = uid
        self.gid = gid
        self.mode = mode
        self.files = files
    }
}

/// A file a package owns (`R:`), with owner/mode (`a:`) and content SHA-1 (`Z:`).
public struct InstalledFile: Sendable, Hashable {
    public var name: String
    public var uid: Int = 0
    public var gid: Int = 0
    public var mode: UInt32 = 0o644
    public var checksum: Digest?

    public init(name: String, uid: Int = 0, gid: Int = 0, mode: UInt32 = 0o644, checksum: Digest? = nil) {
        self.name = name
        self.uid = uid
        self.gid = gid
        self.mode = mode
        self.checksum = checksum
    }
}
