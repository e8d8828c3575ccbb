import LaminaCore

/// One member of a tar archive, with the metadata apk and OCI layers care about.
public struct TarEntry: Hashable, Sendable {
    public enum Kind: Hashable, Sendable {
        case regular, hardLink, symbolicLink, characterDevice, blockDevice, directory, fifo

        /// The ustar typeflag byte.
        public var typeflag: UInt8 {
            switch self {
            case .regular: return UInt8(ascii: "0")
            case .hardLink: return UInt8(ascii: "1")
            case .symbolicLink: return UInt8(ascii: "2")
            case .characterDevice: return UInt8(ascii: "3")
            case .blockDevice: return UInt8(ascii: "4")
            case .directory: return UInt8(ascii: "5")
            case .fifo: return UInt8(ascii: "6")
            }
        }
    }

    /// Path inside the archive as stored (no normalisation beyond joining the ustar prefix).
    public var path: String
    public var kind: Kind
    /// Permission bits, masked to 07777.
    public var mode: UInt32
    public var uid: Int
    public var gid: Int
    public var userName: String
    public var groupName: String
    /// Content size (0 for everything but regular files).
    public var size: Int64
    /// Modification time, Unix seconds.
    public var modificationTime: Int64
    /// Target of a symlink or hardlink.
    public var linkTarget: String
    public var deviceMajor: UInt32
    public var deviceMinor: UInt32
    /// Extended attributes (`SCHILY.xattr.<name>`).
    public var xattrs: [String: [UInt8]]
    /// Other PAX records, e.g. `APK-TOOLS.checksum.SHA1`.
    public var paxRecords: [String: String]

    public init(
        path: String, kind: Kind, mode: UInt32, uid: Int = 0, gid: Int = 0, userName: String = "", groupName: String = "",
        size: Int64 = 0, modificationTime: Int64 = 0, linkTarget: String = "", deviceMajor: UInt32 = 0,
        deviceMinor: UInt32 = 0, xattrs: [String: [UInt8]] = [:], paxRecords: [String: String] = [:]
    ) {
        self.path = path
        self.kind = kind
        self.mode = mode & 0o7777
        self.uid = uid
        self.gid = gid
        self.userName = userName
        self.groupName = groupName
        self.size = size
        self.modificationTime = modificationTime
        self.linkTarget = linkTarget
        self.deviceMajor = deviceMajor
        self.deviceMinor = deviceMinor
        self.xattrs = xattrs
        self.paxRecords = paxRecords
    }

    /// The PAX key apk-tools uses for a file's SHA-1 (hex).
    public static let apkChecksumSHA1Key = "APK-TOOLS.checksum.SHA1"
    /// The older MD5 variant.
    public static let apkChecksumMD5Key = "APK-TOOLS.checksum.MD5"
}

/// Validation of archive member paths: the rules every extractor in Lamina applies.
public enum SafePath {
    /// What a leading `/` means to ``normalize(_:leadingSlash:)``.
    public enum LeadingSlash: Sendable {
        /// An absolute member path is refused (extracting).
        case refuse
        /// `/lib/x` is `lib/x` (looking a path up inside a root).
        case strip
    }

    /// Normalises an archive path to a relative form without `./`, duplicate or trailing slashes.
    ///
    /// - Throws: `LaminaError.unsafePath` for absolute paths (unless `leadingSlash` is `.strip`),
    ///   `..` components and NUL bytes.
    public static func normalize(_ path: String, leadingSlash: LeadingSlash = .refuse) throws -> String {
        if path.utf8.contains(0) { throw LaminaError(.unsafePath, "path contains a NUL byte: '\(path)'") }
        if path.hasPrefix("/") && leadingSlash == .refuse { throw LaminaError(.unsafePath, "absolute path '\(path)' in archive") }
        let parts = RootPath.components(path)
        if parts.contains("..") { throw LaminaError(.unsafePath, "path '\(path)' escapes the root with '..'") }
        return parts.joined(separator: "/")
    }
}
