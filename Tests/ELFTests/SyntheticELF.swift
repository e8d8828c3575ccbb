@testable import ELF

/// Builds small, valid ELF images of any class and byte order, for the layouts no system binary here has
/// (ELF32, big-endian) and for precise corruption in tests.
struct SyntheticELF {
    var elfClass: ELFFile.Class = .elf64
    var byteOrder: ELFFile.ByteOrder = .littleEndian
    var type: ELFFile.FileType = .sharedObject
    var machine: ELFFile.Machine = .x86_64
    var interpreter: String?
    var needed: [String] = []
    var soname: String?
    var runpath: String?
    var flags1: UInt64 = 0
    /// When false, the dynamic section has no DT_STRTAB.
    var includeStringTable = true

    static let baseAddress: UInt64 = 0x40_0000

    /// Where the pieces ended up, for tests that corrupt them.
    struct Layout {
        var programHeaderOffset = 0
        var interpreterOffset = 0
        var stringTableOffset = 0
        var stringTableSize = 0
        var dynamicOffset = 0
    }

    func build() -> (bytes: [UInt8], layout: Layout) {
        let wide = elfClass == .elf64
        let headerSize = wide ? 64 : 52
        let programHeaderSize = wide ? 56 : 32
        var programHeaders: [(type: UInt32, offset: Int, size: Int)] = []

        var layout = Layout()
        layout.programHeaderOffset = headerSize
        let programHeaderCount = 1 + (interpreter == nil ? 0 : 1) + 1
        var cursor = headerSize + programHeaderCount * programHeaderSize

        var interpreterBytes: [UInt8] = []
        if let interpreter {
            interpreterBytes = Array(interpreter.utf8) + [0]
            layout.interpreterOffset = cursor
            cursor += interpreterBytes.count
        }

        var strings: [UInt8] = [0]
        func intern(_ value: String) -> UInt64 {
            let index = UInt64(strings.count)
            strings += Array(value.utf8) + [0]
            return index
        }
        var dynamicEntries: [(UInt64, UInt64)] = []
        for name in needed { dynamicEntries.append((ELFFile.DynamicTag.needed, intern(name))) }
        if let soname { dynamicEntries.append((ELFFile.DynamicTag.soname, intern(soname))) }
        if let runpath { dynamicEntries.append((ELFFile.DynamicTag.runpath, intern(runpath))) }
        layout.stringTableOffset = cursor
        layout.stringTableSize = strings.count
        cursor += strings.count
        if includeStringTable {
            dynamicEntries.append((ELFFile.DynamicTag.stringTable, Self.baseAddress + UInt64(layout.stringTableOffset)))
            dynamicEntries.append((ELFFile.DynamicTag.stringTableSize, UInt64(strings.count)))
        }
        if flags1 != 0 { dynamicEntries.append((ELFFile.DynamicTag.flags1, flags1)) }
        dynamicEntries.append((ELFFile.DynamicTag.null, 0))
        cursor = (cursor + 7) / 8 * 8
        layout.dynamicOffset = cursor
        let dynamicSize = dynamicEntries.count * (wide ? 16 : 8)
        let total = cursor + dynamicSize

        programHeaders.append((ELFFile.ProgramHeader.load, 0, total))
        if interpreter != nil {
            programHeaders.append((ELFFile.ProgramHeader.interpreter, layout.interpreterOffset, interpreterBytes.count))
        }
        programHeaders.append((ELFFile.ProgramHeader.dynamic, layout.dynamicOffset, dynamicSize))

        var out = ByteWriter(bigEndian: byteOrder == .bigEndian)
        out.bytes += ELFFile.magic + [elfClass.rawValue, byteOrder.rawValue, 1, 0] + [UInt8](repeating: 0, count: 8)
        out.u16(type.rawValue)
        out.u16(machine.rawValue)
        out.u32(1)
        out.word(Self.baseAddress + 0x100, wide: wide)  // e_entry
        out.word(UInt64(headerSize), wide: wide)  // e_phoff
        out.word(0, wide: wide)  // e_shoff
        out.u32(0)  // e_flags
        out.u16(UInt16(headerSize))
        out.u16(UInt16(programHeaderSize))
        out.u16(UInt16(programHeaders.count))
        out.u16(wide ? 64 : 40)
        out.u16(0)
        out.u16(0)
        for header in programHeaders {
            let address = Self.baseAddress + UInt64(header.offset)
            if wide {
                out.u32(header.type)
                out.u32(4)  // PF_R
                out.u64(UInt64(header.offset))
                out.u64(address)
                out.u64(address)
                out.u64(UInt64(header.size))
                out.u64(UInt64(header.size))
                out.u64(8)
            } else {
                out.u32(header.type)
                out.u32(UInt32(header.offset))
                out.u32(UInt32(address))
                out.u32(UInt32(address))
                out.u32(UInt32(header.size))
                out.u32(UInt32(header.size))
                out.u32(4)
                out.u32(8)
            }
        }
        out.bytes += interpreterBytes
        out.bytes += strings
        while out.bytes.count < layout.dynamicOffset { out.bytes.append(0) }
        for (tag, value) in dynamicEntries {
            out.word(tag, wide: wide)
            out.word(value, wide: wide)
        }
        precondition(out.bytes.count == total)
        return (out.bytes, layout)
    }
}

struct ByteWriter {
    var bytes: [UInt8] = []
    let bigEndian: Bool

    init(bigEndian: Bool) { self.bigEndian = bigEndian }

    mutating func put(_ value: UInt64, width: Int) {
        var chunk = (0 ..< width).map { UInt8(truncatingIfNeeded: value >> (8 * UInt64($0))) }
        if bigEndian { chunk.reverse() }
        bytes += chunk
    }
    mutating func u16(_ value: UInt16) { put(UInt64(value), width: 2) }
    mutating func u32(_ value: UInt32) { put(UInt64(value), width: 4) }
    mutating func u64(_ value: UInt64) { put(value, width: 8) }
    mutating func word(_ value: UInt64, wide: Bool) { put(value, width: wide ? 8 : 4) }

    /// Overwrites `width` bytes at `offset` in `target`.
    static func patch(_ target: inout [UInt8], at offset: Int, _ value: UInt64, width: Int, bigEndian: Bool) {
        var writer = ByteWriter(bigEndian: bigEndian)
        writer.put(value, width: width)
        target.replaceSubrange(offset ..< offset + width, with: writer.bytes)
    }
}
