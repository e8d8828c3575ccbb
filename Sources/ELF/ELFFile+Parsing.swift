import Foundation
import LaminaCore

extension ELFFile {
    /// Upper bounds that keep a hostile file from making us read or allocate much.
    enum Limits {
        static let programHeaderTableBytes: UInt64 = 1 << 20
        static let interpreterBytes: UInt64 = 4096
        static let dynamicSegmentBytes: UInt64 = 1 << 20
        static let stringBytes = 4096
        static let stringChunk = 256
    }

    enum DynamicTag {
        static let null: UInt64 = 0
        static let needed: UInt64 = 1
        static let stringTable: UInt64 = 5
        static let stringTableSize: UInt64 = 10
        static let soname: UInt64 = 14
        static let rpath: UInt64 = 15
        static let runpath: UInt64 = 29
        static let flags: UInt64 = 30
        static let flags1: UInt64 = 0x6FFF_FFFB
    }

    /// Parses an ELF image held in memory.
    /// - Throws: `LaminaError(.malformed)` when the bytes are not a well-formed ELF object (bad magic,
    ///   unknown class or byte order, tables or strings outside the data).
    public static func parse(bytes: [UInt8]) throws -> ELFFile {
        try parse(source: BufferByteSource(bytes: bytes))
    }

    /// Parses the ELF file at `path`, reading only the headers and the segments it needs.
    /// - Throws: `LaminaError(.malformed)` for a malformed or non-ELF file (the subject is the path),
    ///   `.notFound`/`.io`/`.invalidInput` when the file cannot be opened or is not a regular file.
    public static func parse(path: String) throws -> ELFFile {
        let source = try FileByteSource(path: path)
        do {
            return try parse(source: source)
        } catch let error as LaminaError {
            throw error.about(path)
        }
    }

    /// Parses `path` when it starts with the ELF magic; returns nil for any other file (scripts, data).
    /// - Throws: `LaminaError(.malformed)` when the file claims to be ELF but is not well-formed, and the
    ///   errors of `parse(path:)` when it cannot be read.
    public static func parseIfELF(path: String) throws -> ELFFile? {
        let source = try FileByteSource(path: path)
        guard source.size >= 4, hasMagic(try source.read(at: 0, count: 4)) else { return nil }
        do {
            return try parse(source: source)
        } catch let error as LaminaError {
            throw error.about(path)
        }
    }

    /// Like `parse(bytes:)` but returns nil instead of throwing.
    public static func parseIfValid(bytes: [UInt8]) -> ELFFile? { try? parse(bytes: bytes) }

    static func parse(source: some ELFByteSource) throws -> ELFFile {
        let identSize = 16
        guard source.size >= UInt64(identSize) else {
            throw LaminaError(.malformed, "not an ELF file: only \(source.size) bytes")
        }
        let ident = try source.read(at: 0, count: identSize)
        guard hasMagic(ident) else { throw LaminaError(.malformed, "not an ELF file (bad magic)") }
        guard let elfClass = Class(rawValue: ident[4]) else {
            throw LaminaError(.malformed, "unknown ELF class \(ident[4]) (EI_CLASS)")
        }
        guard let byteOrder = ByteOrder(rawValue: ident[5]) else {
            throw LaminaError(.malformed, "unknown ELF byte order \(ident[5]) (EI_DATA)")
        }
        let wide = elfClass == .elf64
        let headerSize = wide ? 64 : 52
        try source.checkRange(0, UInt64(headerSize), "ELF header")
        let header = FieldReader(bytes: try source.read(at: 0, count: headerSize), bigEndian: byteOrder == .bigEndian)

        let type = FileType(rawValue: try header.u16(16))
        let machine = Machine(rawValue: try header.u16(18))
        let entry = try header.word(24, wide: wide)
        let programHeaderOffset = try header.word(wide ? 32 : 28, wide: wide)
        let sectionHeaderOffset = try header.word(wide ? 40 : 32, wide: wide)
        let programHeaderEntrySize = UInt64(try header.u16(wide ? 54 : 42))
        var programHeaderCount = UInt64(try header.u16(wide ? 56 : 44))

        var file = ELFFile(
            elfClass: elfClass, byteOrder: byteOrder, osABI: ident[7], type: type, machine: machine, entry: entry)

        if programHeaderCount == 0 || programHeaderOffset == 0 { return file }
        // PN_XNUM: the real count lives in sh_info of section header 0.
        if programHeaderCount == 0xFFFF {
            let infoOffset = UInt64(wide ? 44 : 28)
            let (at, overflow) = sectionHeaderOffset.addingReportingOverflow(infoOffset)
            guard sectionHeaderOffset != 0, !overflow else {
                throw LaminaError(.malformed, "e_phnum is PN_XNUM but there is no section header 0")
            }
            let info = FieldReader(bytes: try source.read(at: at, count: 4), bigEndian: byteOrder == .bigEndian)
            programHeaderCount = UInt64(try info.u32(0))
        }
        let minimumEntrySize: UInt64 = wide ? 56 : 32
        guard programHeaderEntrySize >= minimumEntrySize else {
            throw LaminaError(
                .malformed, "program header entry size \(programHeaderEntrySize) is below \(minimumEntrySize)")
        }
        let (tableSize, overflow) = programHeaderEntrySize.multipliedReportingOverflow(by: programHeaderCount)
        guard !overflow, tableSize <= Limits.programHeaderTableBytes else {
            throw LaminaError(.malformed, "program header table too large (\(programHeaderCount) entries)")
        }
        try source.checkRange(programHeaderOffset, tableSize, "program header table")
        let table = FieldReader(
            bytes: try source.read(at: programHeaderOffset, count: Int(tableSize)),
            bigEndian: byteOrder == .bigEndian)

        let headers = try programHeaders(table, count: Int(programHeaderCount), entrySize: Int(programHeaderEntrySize), wide: wide)
        file.programHeaders = headers

        if let interp = headers.first(where: { $0.type == ProgramHeader.interpreter }) {
            file.interpreter = try readInterpreter(interp, from: source)
        }
        if let dynamic = headers.first(where: { $0.type == ProgramHeader.dynamic }) {
            file.dynamic = try readDynamic(
                dynamic, loads: headers.filter { $0.type == ProgramHeader.load }, wide: wide,
                bigEndian: byteOrder == .bigEndian, from: source)
        }
        return file
    }

    /// Decodes `count` program headers of `entrySize` bytes each from the table's bytes.
    static func programHeaders(_ table: FieldReader, count: Int, entrySize: Int, wide: Bool) throws -> [ProgramHeader] {
        var headers: [ProgramHeader] = []
        headers.reserveCapacity(count)
        for index in 0 ..< count {
            let base = index * entrySize
            if wide {
                headers.append(
                    ProgramHeader(
                        type: try table.u32(base), flags: try table.u32(base + 4), offset: try table.u64(base + 8),
                        virtualAddress: try table.u64(base + 16), fileSize: try table.u64(base + 32),
                        memorySize: try table.u64(base + 40)))
            } else {
                headers.append(
                    ProgramHeader(
                        type: try table.u32(base), flags: try table.u32(base + 24),
                        offset: UInt64(try table.u32(base + 4)), virtualAddress: UInt64(try table.u32(base + 8)),
                        fileSize: UInt64(try table.u32(base + 16)), memorySize: UInt64(try table.u32(base + 20))))
            }
        }
        return headers
    }

    static func readInterpreter(_ header: ProgramHeader, from source: some ELFByteSource) throws -> String {
        guard header.fileSize <= Limits.interpreterBytes else {
            throw LaminaError(.malformed, "PT_INTERP is \(header.fileSize) bytes, longer than any path")
        }
        try source.checkRange(header.offset, header.fileSize, "PT_INTERP")
        var bytes = try source.read(at: header.offset, count: Int(header.fileSize))
        while bytes.last == 0 { bytes.removeLast() }
        // Anything after an embedded NUL is not part of the path.
        if let nul = bytes.firstIndex(of: 0) { bytes.removeSubrange(nul...) }
        return String(decoding: bytes, as: UTF8.self)
    }

    static func readDynamic(
        _ header: ProgramHeader, loads: [ProgramHeader], wide: Bool, bigEndian: Bool, from source: some ELFByteSource
    ) throws -> DynamicInfo {
        let entrySize: UInt64 = wide ? 16 : 8
        let length = min(header.fileSize, Limits.dynamicSegmentBytes) / entrySize * entrySize
        try source.checkRange(header.offset, length, "PT_DYNAMIC")
        let reader = FieldReader(bytes: try source.read(at: header.offset, count: Int(length)), bigEndian: bigEndian)

        var entries: [(tag: UInt64, value: UInt64)] = []
        var offset = 0
        while UInt64(offset) + entrySize <= length {
            let tag = try reader.word(offset, wide: wide)
            let value = try reader.word(offset + (wide ? 8 : 4), wide: wide)
            if tag == DynamicTag.null { break }
            entries.append((tag, value))
            offset += Int(entrySize)
        }

        var info = DynamicInfo()
        var stringTableAddress: UInt64?
        var stringTableSize: UInt64?
        for entry in entries {
            switch entry.tag {
            case DynamicTag.stringTable: stringTableAddress = stringTableAddress ?? entry.value
            case DynamicTag.stringTableSize: stringTableSize = stringTableSize ?? entry.value
            case DynamicTag.flags: info.flags = entry.value
            case DynamicTag.flags1: info.flags1 = entry.value
            default: break
            }
        }
        let stringTags: Set<UInt64> = [DynamicTag.needed, DynamicTag.soname, DynamicTag.rpath, DynamicTag.runpath]
        guard entries.contains(where: { stringTags.contains($0.tag) }) else { return info }
        guard let stringTableAddress else {
            throw LaminaError(.malformed, "dynamic section names strings but has no DT_STRTAB")
        }
        guard let tableOffset = fileOffset(ofAddress: stringTableAddress, loads: loads) else {
            throw LaminaError(
                .malformed, "DT_STRTAB address 0x\(String(stringTableAddress, radix: 16)) is in no PT_LOAD segment")
        }
        // The table ends at DT_STRSZ, or at the end of the file when that is missing.
        var tableEnd = source.size
        if let size = stringTableSize {
            let (end, overflow) = tableOffset.addingReportingOverflow(size)
            if !overflow { tableEnd = min(end, source.size) }
        }
        func string(_ index: UInt64) throws -> String {
            try readString(at: tableOffset, index: index, tableEnd: tableEnd, from: source)
        }
        for entry in entries {
            switch entry.tag {
            case DynamicTag.needed: info.needed.append(try string(entry.value))
            case DynamicTag.soname: if info.soname == nil { info.soname = try string(entry.value) }
            case DynamicTag.rpath: info.rpath += splitPath(try string(entry.value))
            case DynamicTag.runpath: info.runpath += splitPath(try string(entry.value))
            default: break
            }
        }
        return info
    }

    /// Maps a virtual address to a file offset through the `PT_LOAD` segment containing it.
    static func fileOffset(ofAddress address: UInt64, loads: [ProgramHeader]) -> UInt64? {
        for load in loads where address >= load.virtualAddress {
            let delta = address - load.virtualAddress
            if delta < load.fileSize {
                let (offset, overflow) = load.offset.addingReportingOverflow(delta)
                if !overflow { return offset }
            }
        }
        return nil
    }

    static func readString(
        at tableOffset: UInt64, index: UInt64, tableEnd: UInt64, from source: some ELFByteSource
    ) throws -> String {
        let (start, overflow) = tableOffset.addingReportingOverflow(index)
        guard !overflow, start < tableEnd else {
            throw LaminaError(.malformed, "dynamic string index \(index) is outside the string table")
        }
        var bytes: [UInt8] = []
        var position = start
        while bytes.count < Limits.stringBytes, position < tableEnd {
            let count = Int(min(UInt64(Limits.stringChunk), tableEnd - position))
            let chunk = try source.read(at: position, count: count)
            if let nul = chunk.firstIndex(of: 0) {
                bytes += chunk[..<nul]
                return String(decoding: bytes, as: UTF8.self)
            }
            bytes += chunk
            position += UInt64(count)
        }
        throw LaminaError(.malformed, "dynamic string at index \(index) is not NUL-terminated")
    }

    static func splitPath(_ value: String) -> [String] {
        value.split(separator: ":", omittingEmptySubsequences: true).map(String.init)
    }
}
