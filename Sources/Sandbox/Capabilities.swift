import LaminaCore

/// Linux process capabilities added to or dropped from a build's steps (melange's `capabilities:`).
public struct CapabilityChanges: Sendable, Hashable {
    /// Canonical names (`CAP_NET_ADMIN`), added before `drop` is applied.
    public var add: [String]
    public var drop: [String]

    public init() {
        add = []
        drop = []
    }

    /// Checks and canonicalises the names: case-insensitive, `CAP_` optional (docker's `NET_ADMIN` and
    /// bubblewrap's `CAP_NET_ADMIN` both work), `ALL` allowed.
    /// - Throws: `.invalidInput` naming `capabilities.add`/`drop` and the unknown name.
    public init(add: [String], drop: [String]) throws {
        self.add = try add.map { try Self.canonical($0, key: "capabilities.add") }
        self.drop = try drop.map { try Self.canonical($0, key: "capabilities.drop") }
    }

    public var isEmpty: Bool { add.isEmpty && drop.isEmpty }

    /// The capabilities of Linux 6.x (`include/uapi/linux/capability.h`), without the `CAP_` prefix.
    public static let known: Set<String> = [
        "CHOWN", "DAC_OVERRIDE", "DAC_READ_SEARCH", "FOWNER", "FSETID", "KILL", "SETGID", "SETUID", "SETPCAP",
        "LINUX_IMMUTABLE", "NET_BIND_SERVICE", "NET_BROADCAST", "NET_ADMIN", "NET_RAW", "IPC_LOCK", "IPC_OWNER",
        "SYS_MODULE", "SYS_RAWIO", "SYS_CHROOT", "SYS_PTRACE", "SYS_PACCT", "SYS_ADMIN", "SYS_BOOT", "SYS_NICE",
        "SYS_RESOURCE", "SYS_TIME", "SYS_TTY_CONFIG", "MKNOD", "LEASE", "AUDIT_WRITE", "AUDIT_CONTROL", "SETFCAP",
        "MAC_OVERRIDE", "MAC_ADMIN", "SYSLOG", "WAKE_ALARM", "BLOCK_SUSPEND", "AUDIT_READ", "PERFMON", "BPF",
        "CHECKPOINT_RESTORE",
    ]

    static func canonical(_ name: String, key: String) throws -> String {
        var upper = name.uppercased()
        if upper == "ALL" { return upper }
        if upper.hasPrefix("CAP_") { upper.removeFirst(4) }
        guard known.contains(upper) else {
            throw LaminaError(.invalidInput, "unknown Linux capability '\(name)'", subject: key)
        }
        return "CAP_" + upper
    }

    /// `--cap-add X … --cap-drop Y …`, the spelling bubblewrap, docker and podman all accept.
    public var arguments: [String] {
        add.flatMap { ["--cap-add", $0] } + drop.flatMap { ["--cap-drop", $0] }
    }
}
