// Source: System V ABI, "Object Files" chapter (ELF header, program headers, dynamic section),
// https://refspecs.linuxfoundation.org/elf/gabi4+/contents.html

/// What Lamina needs to know about one ELF object: its kind, machine, interpreter and dynamic-linking facts.
///
/// Only the ELF header, the program header table, `PT_INTERP` and `PT_DYNAMIC` (with the strings it names)
/// are read; section headers and the rest of the file are never touched, so parsing a 500 MB library
/// costs a few small reads.
public struct ELFFile: Sendable, Hashable {
    /// `EI_CLASS`: 32- or 64-bit layout.
    public enum Class: UInt8, Sendable, Hashable {
        case elf32 = 1
        case elf64 = 2
    }

    /// `EI_DATA`: byte order of every multi-byte field.
    public enum ByteOrder: UInt8, Sendable, Hashable {
        case littleEndian = 1
        case bigEndian = 2
    }

    /// `e_type`.
    public struct FileType: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
        public var rawValue: UInt16
        public init(rawValue: UInt16) { self.rawValue = rawValue }

        public static let none = FileType(rawValue: 0)
        /// `ET_REL`: an object file (`.o`).
        public static let relocatable = FileType(rawValue: 1)
        /// `ET_EXEC`: a fixed-address executable.
        public static let executable = FileType(rawValue: 2)
        /// `ET_DYN`: a shared object or a position-independent executable.
        public static let sharedObject = FileType(rawValue: 3)
        /// `ET_CORE`: a core dump.
        public static let core = FileType(rawValue: 4)

        public var description: String {
            switch self {
            case .none: return "NONE"
            case .relocatable: return "REL"
            case .executable: return "EXEC"
            case .sharedObject: return "DYN"
            case .core: return "CORE"
            default: return "0x" + String(rawValue, radix: 16)
            }
        }
    }

    /// `e_machine`, with names for the architectures apk packages are built for.
    public struct Machine: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
        public var rawValue: UInt16
        public init(rawValue: UInt16) { self.rawValue = rawValue }

        public static let x86 = Machine(rawValue: 3)
        public static let mips = Machine(rawValue: 8)
        public static let powerPC = Machine(rawValue: 20)
        public static let powerPC64 = Machine(rawValue: 21)
        public static let s390 = Machine(rawValue: 22)
        public static let arm = Machine(rawValue: 40)
        public static let sparcV9 = Machine(rawValue: 43)
        public static let x86_64 = Machine(rawValue: 62)
        public static let aarch64 = Machine(rawValue: 183)
        public static let riscV = Machine(rawValue: 243)
        public static let loongArch = Machine(rawValue: 258)

        /// A short conventional name (`x86_64`, `aarch64`, `arm`, `ppc64`, `riscv`); see
        /// `ELFFile.apkArchitecture` for the apk spelling, which also depends on class and byte order.
        public var name: String? {
            switch self {
            case .x86: return "x86"
            case .mips: return "mips"
            case .powerPC: return "ppc"
            case .powerPC64: return "ppc64"
            case .s390: return "s390x"
            case .arm: return "arm"
            case .sparcV9: return "sparcv9"
            case .x86_64: return "x86_64"
            case .aarch64: return "aarch64"
            case .riscV: return "riscv"
            case .loongArch: return "loongarch"
            default: return nil
            }
        }

        public var description: String { name ?? "machine(\(rawValue))" }
    }

    /// One entry of the program header table.
    public struct ProgramHeader: Sendable, Hashable {
        /// `p_type` (`PT_LOAD` = 1, `PT_DYNAMIC` = 2, `PT_INTERP` = 3, …).
        public var type: UInt32
        public var flags: UInt32
        public var offset: UInt64
        public var virtualAddress: UInt64
        public var fileSize: UInt64
        public var memorySize: UInt64

        public static let load: UInt32 = 1
        public static let dynamic: UInt32 = 2
        public static let interpreter: UInt32 = 3
    }

    /// The facts read from the `PT_DYNAMIC` segment.
    public struct DynamicInfo: Sendable, Hashable {
        /// `DT_NEEDED` entries, in file order.
        public var needed: [String] = []
        /// `DT_SONAME`, if present.
        public var soname: String?
        /// `DT_RPATH` entries (colon-separated in the file).
        public var rpath: [String] = []
        /// `DT_RUNPATH` entries (colon-separated in the file).
        public var runpath: [String] = []
        /// `DT_FLAGS`.
        public var flags: UInt64 = 0
        /// `DT_FLAGS_1` (`DF_1_PIE` = 0x0800_0000 marks a PIE executable).
        public var flags1: UInt64 = 0

        public init() {}
    }

    /// What kind of object this is, combining `e_type`, `PT_INTERP`, `DT_SONAME` and `DF_1_PIE`.
    public enum Kind: String, Sendable, Hashable {
        case relocatable
        /// `ET_EXEC`.
        case executable
        /// `ET_DYN` marked `DF_1_PIE`, or with an interpreter and no `DT_SONAME`.
        case pieExecutable
        /// `ET_DYN` otherwise (a library; some libraries, e.g. libc and libcap, also carry an interpreter).
        case sharedObject
        case core
        case other
    }

    public var elfClass: Class
    public var byteOrder: ByteOrder
    /// `EI_OSABI`.
    public var osABI: UInt8
    public var type: FileType
    public var machine: Machine
    /// `e_entry`.
    public var entry: UInt64
    public var programHeaders: [ProgramHeader]
    /// The `PT_INTERP` path with trailing NULs removed, e.g. `/lib/ld-musl-x86_64.so.1`.
    public var interpreter: String?
    /// Nil when the file has no `PT_DYNAMIC` segment (static executables, object files).
    public var dynamic: DynamicInfo?

    /// `DT_NEEDED` entries (empty without a dynamic segment).
    public var needed: [String] { dynamic?.needed ?? [] }
    /// `DT_SONAME`, if any.
    public var soname: String? { dynamic?.soname }

    static let pieFlag1: UInt64 = 0x0800_0000

    public var kind: Kind {
        switch type {
        case .relocatable: return .relocatable
        case .executable: return .executable
        case .core: return .core
        case .sharedObject:
            if let dynamic, dynamic.flags1 & Self.pieFlag1 != 0 { return .pieExecutable }
            if interpreter != nil && soname == nil { return .pieExecutable }
            return .sharedObject
        default: return .other
        }
    }

    /// True for a shared library (see `kind`).
    public var isSharedObject: Bool { kind == .sharedObject }
    /// True for a position-independent executable (dynamic or static-pie).
    public var isPIEExecutable: Bool { kind == .pieExecutable }
    /// True for an executable that needs no dynamic loader: no `PT_INTERP` and no `DT_NEEDED`
    /// (covers classic static binaries and static-pie).
    public var isStaticExecutable: Bool {
        (kind == .executable || kind == .pieExecutable) && interpreter == nil && needed.isEmpty
    }

    public init(
        elfClass: Class, byteOrder: ByteOrder, osABI: UInt8 = 0, type: FileType, machine: Machine, entry: UInt64 = 0,
        programHeaders: [ProgramHeader] = [], interpreter: String? = nil, dynamic: DynamicInfo? = nil
    ) {
        self.elfClass = elfClass
        self.byteOrder = byteOrder
        self.osABI = osABI
        self.type = type
        self.machine = machine
        self.entry = entry
        self.programHeaders = programHeaders
        self.interpreter = interpreter
        self.dynamic = dynamic
    }

    /// The apk architecture this object runs on (`x86_64`, `aarch64`, `armv7`, `x86`, `ppc64le`,
    /// `s390x`, `riscv64`, `loongarch64`), or nil for machines apk has no name for.
    /// 32-bit ARM is reported as `armv7` (Alpine's `armhf` cannot be told apart from the header alone).
    public var apkArchitecture: String? {
        switch (machine, elfClass, byteOrder) {
        case (.x86_64, .elf64, .littleEndian): return "x86_64"
        case (.aarch64, .elf64, .littleEndian): return "aarch64"
        case (.x86, .elf32, .littleEndian): return "x86"
        case (.arm, .elf32, .littleEndian): return "armv7"
        case (.powerPC64, .elf64, .littleEndian): return "ppc64le"
        case (.s390, .elf64, .bigEndian): return "s390x"
        case (.riscV, .elf64, .littleEndian): return "riscv64"
        case (.loongArch, .elf64, .littleEndian): return "loongarch64"
        default: return nil
        }
    }

    /// The four magic bytes `0x7f 'E' 'L' 'F'`.
    public static let magic: [UInt8] = [0x7F, 0x45, 0x4C, 0x46]

    /// Whether `prefix` starts with the ELF magic (a cheap check before parsing).
    public static func hasMagic<C: Collection>(_ prefix: C) -> Bool where C.Element == UInt8 {
        prefix.count >= 4 && prefix.prefix(4).elementsEqual(magic)
    }
}
