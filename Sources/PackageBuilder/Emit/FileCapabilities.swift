import Config
import LaminaCore

/// `setcap:` of a package or subpackage → `security.capability` extended attributes, encoded as melange's
/// `EncodeCapability` does (Linux `struct vfs_ns_cap_data`, little-endian, 24 bytes):
/// `magic_etc` = `VFS_CAP_REVISION_3` (0x03000000) | `VFS_CAP_FLAGS_EFFECTIVE` (1, when any capability is
/// effective), then the low 32 permitted and inheritable bits, the (zero) high words, and root id 0.
/// Every capability melange accepts has a bit below 32.
public enum FileCapabilities {
    /// The xattr name the kernel reads file capabilities from.
    public static let xattrName = "security.capability"

    /// One file's capability sets.
    public struct Sets: Sendable, Equatable {
        public var effective: UInt32 = 0
        public var permitted: UInt32 = 0
        public var inheritable: UInt32 = 0

        public init(effective: UInt32 = 0, permitted: UInt32 = 0, inheritable: UInt32 = 0) {
            self.effective = effective
            self.permitted = permitted
            self.inheritable = inheritable
        }

        /// The 24 bytes of the xattr value.
        public var encoded: [UInt8] {
            let magic: UInt32 = 0x0300_0000 | (effective != 0 ? 1 : 0)
            var out: [UInt8] = []
            out.reserveCapacity(24)
            for word in [magic, permitted, inheritable, 0, 0, 0] {
                for shift in stride(from: 0, to: 32, by: 8) { out.append(UInt8(truncatingIfNeeded: word >> UInt32(shift))) }
            }
            return out
        }
    }

    /// Merges the entries per path (as melange: `cap_a,cap_b: "+ep"`, flag letters `e`, `p`, `i`; anything
    /// else in the flags, such as `+` or `=`, is ignored).
    /// - Returns: package-relative path (no leading `/`) → sets.
    /// - Throws: `.invalidInput` naming `<keyPrefix>.setcap[i]` for an unknown capability or an empty path
    ///   (the configuration loader checks these too; this keeps the encoder honest on its own).
    public static func sets(_ entries: [Capability], keyPrefix: String) throws -> [String: Sets] {
        var out: [String: Sets] = [:]
        for (index, entry) in entries.enumerated() {
            let path = String(entry.path.drop { $0 == "/" })
            guard !path.isEmpty else {
                throw LaminaError(.invalidInput, "\(keyPrefix).setcap[\(index)].path is empty")
            }
            var sets = out[path] ?? Sets()
            for (names, flags) in entry.add {
                for name in names.split(separator: ",", omittingEmptySubsequences: false).map(String.init) {
                    guard let bit = BuildConfiguration.knownFileCapabilities[name] else {
                        throw LaminaError(
                            .invalidInput, "\(keyPrefix).setcap[\(index)]: unknown capability '\(name)'")
                    }
                    let mask = UInt32(1) << UInt32(bit)
                    if flags.contains("e") { sets.effective |= mask }
                    if flags.contains("p") { sets.permitted |= mask }
                    if flags.contains("i") { sets.inheritable |= mask }
                }
            }
            out[path] = sets
        }
        return out
    }

    /// The xattrs a package gets from `setcap` (path → name → value).
    public static func xattrs(_ entries: [Capability], keyPrefix: String) throws -> [String: [String: [UInt8]]] {
        try sets(entries, keyPrefix: keyPrefix).mapValues { [xattrName: $0.encoded] }
    }
}
