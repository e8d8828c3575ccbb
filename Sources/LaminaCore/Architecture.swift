/// A CPU architecture, with its apk, OCI and qemu spellings.
///
/// Accepts either spelling everywhere: `amd64` and `x86_64` are the same architecture.
public struct Architecture: Hashable, Sendable, Comparable, CustomStringConvertible {
    /// The apk name: `x86_64`, `aarch64`, `armv7`, `armhf`, `x86`, `ppc64le`, `s390x`, `riscv64`, `loongarch64`.
    public let apk: String

    private struct Row {
        let apk: String
        let oci: String
        let variant: String?
        let qemu: String
        let goarch: String
        let gnuTriplet: String
    }

    private static let table: [Row] = [
        Row(apk: "x86_64", oci: "amd64", variant: nil, qemu: "x86_64", goarch: "amd64", gnuTriplet: "x86_64-pc-linux-gnu"),
        Row(apk: "aarch64", oci: "arm64", variant: nil, qemu: "aarch64", goarch: "arm64", gnuTriplet: "aarch64-unknown-linux-gnu"),
        Row(apk: "armv7", oci: "arm", variant: "v7", qemu: "arm", goarch: "arm", gnuTriplet: "armv7-unknown-linux-gnueabihf"),
        Row(apk: "armhf", oci: "arm", variant: "v6", qemu: "arm", goarch: "arm", gnuTriplet: "arm-unknown-linux-gnueabihf"),
        Row(apk: "x86", oci: "386", variant: nil, qemu: "i386", goarch: "386", gnuTriplet: "i686-pc-linux-gnu"),
        Row(apk: "ppc64le", oci: "ppc64le", variant: nil, qemu: "ppc64le", goarch: "ppc64le", gnuTriplet: "powerpc64le-unknown-linux-gnu"),
        Row(apk: "s390x", oci: "s390x", variant: nil, qemu: "s390x", goarch: "s390x", gnuTriplet: "s390x-ibm-linux-gnu"),
        Row(apk: "riscv64", oci: "riscv64", variant: nil, qemu: "riscv64", goarch: "riscv64", gnuTriplet: "riscv64-unknown-linux-gnu"),
        Row(apk: "loongarch64", oci: "loong64", variant: nil, qemu: "loongarch64", goarch: "loong64", gnuTriplet: "loongarch64-unknown-linux-gnu"),
    ]

    /// Every architecture Lamina knows, in apk spelling.
    public static let all: [Architecture] = table.map { Architecture(known: $0.apk) }
    public static let x86_64 = Architecture(known: "x86_64")
    public static let aarch64 = Architecture(known: "aarch64")
    /// apk's architecture-independent pseudo-architecture.
    public static let noarch = Architecture(known: "noarch")

    private init(known apk: String) { self.apk = apk }

    /// Parses any spelling: apk (`x86_64`), OCI (`amd64`, `arm/v7`, `linux/arm64`) or `noarch`.
    public init(_ name: String) throws {
        var text = name.trimmingSpaces
        if text.hasPrefix("linux/") { text.removeFirst("linux/".count) }
        if text == "noarch" { self.apk = "noarch"; return }
        for row in Self.table {
            let ociFull = row.variant.map { "\(row.oci)/\($0)" } ?? row.oci
            if text == row.apk || text == ociFull || text == row.oci && row.variant == nil {
                self.apk = row.apk
                return
            }
        }
        if text == "arm64/v8" { self.apk = "aarch64"; return }
        throw LaminaError(
            .invalidInput,
            "unknown architecture '\(name)' (known: \(Self.all.map(\.ociPlatform).joined(separator: ", ")), or their apk names)")
    }

    /// The architecture of the machine Lamina runs on.
    public static var host: Architecture {
        #if arch(x86_64)
            return .x86_64
        #elseif arch(arm64)
            return .aarch64
        #elseif arch(arm)
            return Architecture(known: "armv7")
        #elseif arch(i386)
            return Architecture(known: "x86")
        #elseif arch(powerpc64le)
            return Architecture(known: "ppc64le")
        #elseif arch(s390x)
            return Architecture(known: "s390x")
        #elseif arch(riscv64)
            return Architecture(known: "riscv64")
        #else
            return .x86_64
        #endif
    }

    private var row: Row? { Self.table.first { $0.apk == apk } }

    /// OCI `architecture` (`amd64`, `arm64`, `arm`).
    public var oci: String { row?.oci ?? apk }
    /// OCI `variant` (`v7` for armv7), if any.
    public var variant: String? { row?.variant }
    /// `amd64`, `arm/v7`: the form users type and apko uses in tags.
    public var ociPlatform: String { variant.map { "\(oci)/\($0)" } ?? oci }
    /// The qemu user-mode suffix (`qemu-aarch64`).
    public var qemu: String { row?.qemu ?? apk }
    /// Go's GOARCH.
    public var goarch: String { row?.goarch ?? apk }
    /// The GNU triplet (`x86_64-pc-linux-gnu`).
    public var gnuTriplet: String { row?.gnuTriplet ?? "\(apk)-unknown-linux-gnu" }
    /// The musl-libc loader soname suffix: `x86_64` for `ld-musl-x86_64.so.1`.
    public var muslName: String {
        switch apk {
        case "armv7", "armhf": return "armhf"
        case "x86": return "x86"
        default: return apk
        }
    }

    public var description: String { apk }
    public static func < (lhs: Architecture, rhs: Architecture) -> Bool { lhs.apk < rhs.apk }
}

extension String {
    /// The string without leading and trailing spaces, tabs, CR and LF (no Foundation needed).
    public var trimmingSpaces: String {
        let isSpace: (Character) -> Bool = { $0 == " " || $0 == "\t" || $0 == "\n" || $0 == "\r" }
        guard let start = firstIndex(where: { !isSpace($0) }), let end = lastIndex(where: { !isSpace($0) }) else { return "" }
        return String(self[start...end])
    }
}
