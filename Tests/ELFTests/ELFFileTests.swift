import Foundation
import LaminaCore
import TestSupport
import Testing

@testable import ELF

/// What `readelf` says about a file, the reference our parser is checked against.
struct ReadelfFacts: Equatable {
    var type = ""
    var interpreter: String?
    var needed: [String] = []
    var soname: String?
    var runpath: [String] = []

    init(path: String) throws {
        let result = try CommandRunner.run(Self.readelfPath, ["-h", "-l", "-d", "-W", path], environment: ["LC_ALL": "C"])
        for line in result.stdout.split(separator: "\n").map(String.init) {
            let trimmed = line.trimmingCharacters(in: .whitespaces)
            if trimmed.hasPrefix("Type:") {
                type = trimmed.dropFirst("Type:".count).trimmingCharacters(in: .whitespaces)
            } else if let value = Self.bracketed(trimmed, after: "[Requesting program interpreter: ") {
                interpreter = value
            } else if let value = Self.bracketed(trimmed, after: "Shared library: [") {
                needed.append(value)
            } else if let value = Self.bracketed(trimmed, after: "Library soname: [") {
                soname = value
            } else if let value = Self.bracketed(trimmed, after: "Library runpath: [") {
                runpath += value.split(separator: ":").map(String.init)
            }
        }
    }

    static func bracketed(_ line: String, after marker: String) -> String? {
        guard let start = line.range(of: marker), let end = line.range(of: "]", options: .backwards) else { return nil }
        return String(line[start.upperBound ..< end.lowerBound])
    }

    static let readelfPath = CommandRunner.which("readelf") ?? "/usr/bin/readelf"
    static var isAvailable: Bool { CommandRunner.which("readelf") != nil }
}

/// A deterministic generator so mutation tests are repeatable.
struct SplitMix64: RandomNumberGenerator {
    var state: UInt64
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

func expectMalformed(_ bytes: [UInt8], _ fragment: String? = nil, sourceLocation: SourceLocation = #_sourceLocation) {
    do {
        let file = try ELFFile.parse(bytes: bytes)
        Issue.record("expected .malformed, parsed \(file.kind)", sourceLocation: sourceLocation)
    } catch let error as LaminaError {
        #expect(error.code == .malformed, "\(error)", sourceLocation: sourceLocation)
        if let fragment {
            #expect(error.message.contains(fragment), "\(error.message)", sourceLocation: sourceLocation)
        }
    } catch {
        Issue.record("unexpected error type \(error)", sourceLocation: sourceLocation)
    }
}

/// System ELF files to compare against readelf: a bounded, sorted sample so the test is stable.
func systemELFSample() -> [String] {
    var paths = ["/bin/ls", "/usr/lib/x86_64-linux-gnu/libz.so.1"]
    for (directory, limit) in [("/usr/bin", 80), ("/usr/lib/x86_64-linux-gnu", 80)] {
        let names = ((try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? []).sorted()
        var taken = 0
        for name in names where taken < limit {
            let path = directory + "/" + name
            guard let values = try? URL(fileURLWithPath: path).resourceValues(forKeys: [.isRegularFileKey]),
                values.isRegularFile == true, (try? ELFFile.parseIfELF(path: path)) != nil
            else { continue }
            paths.append(path)
            taken += 1
        }
    }
    return paths.filter { FileManager.default.fileExists(atPath: $0) }
}

@Suite("ELF parsing")
struct ELFFileTests {
    @Test("matches readelf on the host's binaries and libraries", .enabled(if: ReadelfFacts.isAvailable, "needs readelf (binutils)"))
    func matchesReadelf() throws {
        let sample = systemELFSample()
        #expect(sample.count > 20)
        for path in sample {
            let facts = try ReadelfFacts(path: path)
            let elf = try ELFFile.parse(path: path)
            #expect(elf.interpreter == facts.interpreter, "\(path)")
            #expect(elf.needed == facts.needed, "\(path)")
            #expect(elf.soname == facts.soname, "\(path)")
            #expect(elf.dynamic?.runpath ?? [] == facts.runpath, "\(path)")
            #expect(facts.type.hasPrefix(elf.type.description), "\(path): \(facts.type) vs \(elf.type)")
            if facts.type.contains("Position-Independent Executable") { #expect(elf.kind == .pieExecutable, "\(path)") }
            #expect(elf.machine == .x86_64 || Architecture.host.apk != "x86_64", "\(path)")
        }
    }

    @Test("/bin/ls is a dynamic executable with the glibc loader", .enabled(if: FileManager.default.fileExists(atPath: "/bin/ls")))
    func binLs() throws {
        let elf = try ELFFile.parse(path: "/bin/ls")
        #expect(elf.elfClass == .elf64)
        #expect(elf.byteOrder == .littleEndian)
        #expect(elf.interpreter?.hasPrefix("/lib") == true)
        #expect(elf.needed.contains("libc.so.6"))
        #expect(elf.soname == nil)
        #expect(elf.isStaticExecutable == false)
        #expect(elf.kind == .pieExecutable || elf.kind == .executable)
    }

    @Test("libz is a shared object with a SONAME", .enabled(if: FileManager.default.fileExists(atPath: "/usr/lib/x86_64-linux-gnu/libz.so.1")))
    func libz() throws {
        let elf = try ELFFile.parse(path: "/usr/lib/x86_64-linux-gnu/libz.so.1")
        #expect(elf.soname == "libz.so.1")
        #expect(elf.kind == .sharedObject)
        #expect(elf.isSharedObject)
        #expect(elf.interpreter == nil)
        #expect(elf.machine == .x86_64)
        #expect(elf.apkArchitecture == "x86_64")
    }

    @Test(
        "apk architecture from machine, class and byte order",
        arguments: [
            (ELFFile.Machine.aarch64, ELFFile.Class.elf64, ELFFile.ByteOrder.littleEndian, "aarch64"),
            (.powerPC64, .elf64, .littleEndian, "ppc64le"), (.powerPC64, .elf64, .bigEndian, nil),
            (.s390, .elf64, .bigEndian, "s390x"), (.arm, .elf32, .littleEndian, "armv7"), (.x86, .elf32, .littleEndian, "x86"),
            (.riscV, .elf64, .littleEndian, "riscv64"), (.mips, .elf32, .bigEndian, nil),
        ] as [(ELFFile.Machine, ELFFile.Class, ELFFile.ByteOrder, String?)])
    func apkArchitecture(machine: ELFFile.Machine, elfClass: ELFFile.Class, byteOrder: ELFFile.ByteOrder, expected: String?) throws {
        let bytes = SyntheticELF(elfClass: elfClass, byteOrder: byteOrder, type: .executable, machine: machine).build().bytes
        #expect(try ELFFile.parse(bytes: bytes).apkArchitecture == expected)
    }

    @Test(
        "synthetic images in every class and byte order",
        arguments: [ELFFile.Class.elf32, .elf64], [ELFFile.ByteOrder.littleEndian, .bigEndian])
    func synthetic(elfClass: ELFFile.Class, byteOrder: ELFFile.ByteOrder) throws {
        var spec = SyntheticELF(elfClass: elfClass, byteOrder: byteOrder, type: .sharedObject, machine: .powerPC64)
        spec.interpreter = "/lib/ld64.so.2"
        spec.needed = ["libc.so.6", "libm.so.6"]
        spec.soname = "libdemo.so.7"
        spec.runpath = "$ORIGIN/../lib:/opt/demo"
        let elf = try ELFFile.parse(bytes: spec.build().bytes)
        #expect(elf.elfClass == elfClass)
        #expect(elf.byteOrder == byteOrder)
        #expect(elf.machine == .powerPC64)
        #expect(elf.type == .sharedObject)
        #expect(elf.interpreter == "/lib/ld64.so.2")
        #expect(elf.needed == ["libc.so.6", "libm.so.6"])
        #expect(elf.soname == "libdemo.so.7")
        #expect(elf.dynamic?.runpath == ["$ORIGIN/../lib", "/opt/demo"])
        #expect(elf.kind == .sharedObject)  // has a SONAME, no PIE flag
        #expect(elf.programHeaders.count == 3)
    }

    @Test("kind from e_type, interpreter, SONAME and DF_1_PIE")
    func kinds() throws {
        var pie = SyntheticELF(type: .sharedObject)
        pie.flags1 = ELFFile.pieFlag1
        #expect(try ELFFile.parse(bytes: pie.build().bytes).kind == .pieExecutable)
        #expect(try ELFFile.parse(bytes: pie.build().bytes).isStaticExecutable)  // static-pie: no loader, no needs

        var oldPIE = SyntheticELF(type: .sharedObject, interpreter: "/lib/ld-musl-x86_64.so.1", needed: ["libc.musl-x86_64.so.1"])
        oldPIE.flags1 = 0
        #expect(try ELFFile.parse(bytes: oldPIE.build().bytes).kind == .pieExecutable)

        let exec = SyntheticELF(elfClass: .elf32, byteOrder: .bigEndian, type: .executable, machine: .mips)
        let parsed = try ELFFile.parse(bytes: exec.build().bytes)
        #expect(parsed.kind == .executable)
        #expect(parsed.isStaticExecutable)
        #expect(parsed.machine.name == "mips")
    }

    @Test("every truncation of a valid image is reported as malformed", arguments: [ELFFile.Class.elf32, .elf64])
    func truncations(elfClass: ELFFile.Class) {
        let spec = SyntheticELF(
            elfClass: elfClass, byteOrder: .bigEndian, interpreter: "/lib/ld.so.1", needed: ["libc.so.6"],
            soname: "libx.so.1")
        let bytes = spec.build().bytes
        for length in 0 ..< bytes.count { expectMalformed(Array(bytes.prefix(length))) }
    }

    @Test("targeted corruptions name what is wrong")
    func corruptions() {
        let spec = SyntheticELF(interpreter: "/lib/ld-linux-x86-64.so.2", needed: ["libc.so.6"], soname: "libq.so.2")
        let (good, layout) = spec.build()

        expectMalformed([0x7F, 0x45, 0x4C, 0x47] + good.dropFirst(4), "bad magic")
        var badClass = good
        badClass[4] = 3
        expectMalformed(badClass, "class")
        var badOrder = good
        badOrder[5] = 0
        expectMalformed(badOrder, "byte order")
        var smallEntries = good
        ByteWriter.patch(&smallEntries, at: 54, 10, width: 2, bigEndian: false)
        expectMalformed(smallEntries, "entry size")
        var hugeTable = good
        ByteWriter.patch(&hugeTable, at: 56, 0xFFFF, width: 2, bigEndian: false)  // PN_XNUM without sections
        expectMalformed(hugeTable, "PN_XNUM")
        // DT_NEEDED pointing past the string table.
        var farString = good
        ByteWriter.patch(&farString, at: layout.dynamicOffset + 8, 0xFFFF_FFFF, width: 8, bigEndian: false)
        expectMalformed(farString, "outside the string table")
        // DT_STRSZ cut inside the first name: the string never ends.
        var shortTable = good
        let strszEntry = layout.dynamicOffset + 3 * 16  // NEEDED, SONAME, STRTAB, STRSZ
        ByteWriter.patch(&shortTable, at: strszEntry + 8, 4, width: 8, bigEndian: false)
        expectMalformed(shortTable, "not NUL-terminated")
        // PT_INTERP (second program header) pointing past the end of the file.
        var farInterp = good
        ByteWriter.patch(&farInterp, at: layout.programHeaderOffset + 56 + 8, 1 << 40, width: 8, bigEndian: false)
        expectMalformed(farInterp, "PT_INTERP")
        // DT_STRTAB outside every PT_LOAD.
        var unmapped = good
        ByteWriter.patch(&unmapped, at: layout.dynamicOffset + 2 * 16 + 8, 0x10, width: 8, bigEndian: false)
        expectMalformed(unmapped, "no PT_LOAD")

        var noStrtab = spec
        noStrtab.includeStringTable = false
        expectMalformed(noStrtab.build().bytes, "no DT_STRTAB")
    }

    @Test("random byte mutations never crash the parser")
    func mutations() throws {
        var inputs = [SyntheticELF(interpreter: "/lib/ld.so", needed: ["a.so.1", "b.so.2"], soname: "c.so.3").build().bytes]
        inputs.append(
            SyntheticELF(elfClass: .elf32, byteOrder: .bigEndian, interpreter: "/lib/ld.so.1", needed: ["libc.so.6"])
                .build().bytes)
        if let data = FileManager.default.contents(atPath: "/usr/lib/x86_64-linux-gnu/libz.so.1") {
            // The headers and dynamic segment of a real library live in its first pages.
            inputs.append(Array(data))
        }
        var generator = SplitMix64(state: 0x1A31_4A)
        var parsed = 0
        var rejected = 0
        for input in inputs {
            let interesting = min(input.count, 4096)
            for _ in 0 ..< 1500 {
                var bytes = input
                for _ in 0 ..< Int.random(in: 1 ... 8, using: &generator) {
                    bytes[Int.random(in: 0 ..< interesting, using: &generator)] = UInt8.random(in: 0 ... 255, using: &generator)
                }
                do {
                    _ = try ELFFile.parse(bytes: bytes)
                    parsed += 1
                } catch let error as LaminaError {
                    #expect(error.code == .malformed)
                    rejected += 1
                }
            }
        }
        #expect(parsed > 0)
        #expect(rejected > 0)
    }

    @Test("non-ELF files: parseIfELF gives nil, parse says malformed; directories are refused")
    func nonELF() throws {
        try TemporaryDirectory.withSync { dir in
            let script = dir.file("script.sh")
            try Data("#!/bin/sh\necho hi\n".utf8).write(to: URL(fileURLWithPath: script))
            #expect(try ELFFile.parseIfELF(path: script) == nil)
            do {
                _ = try ELFFile.parse(path: script)
                Issue.record("a script parsed as ELF")
            } catch let error as LaminaError {
                #expect(error.code == .malformed)
                #expect(error.description.contains(script))
            }
            let empty = dir.file("empty")
            #expect(FileManager.default.createFile(atPath: empty, contents: Data()))
            #expect(try ELFFile.parseIfELF(path: empty) == nil)
            #expect(throws: LaminaError.self) { try ELFFile.parse(path: dir.path) }
            #expect(throws: LaminaError.self) { try ELFFile.parse(path: dir.file("missing")) }
        }
    }
}

/// Binaries compiled by the host C compiler: static, static-pie, PIE and a versioned shared library.
@Suite("ELF parsing of freshly compiled binaries", .enabled(if: CommandRunner.which("cc") != nil, "needs a C compiler"))
struct CompiledELFTests {
    static func compile(_ flags: [String], output: String, in dir: TemporaryDirectory) throws -> String? {
        let source = dir.file("demo.c")
        try Data("int demo(void) { return 42; }\nint main(void) { return demo() - 42; }\n".utf8)
            .write(to: URL(fileURLWithPath: source))
        let path = dir.file(output)
        let result = try CommandRunner.run(CommandRunner.which("cc") ?? "cc", flags + ["-o", path, source])
        return result.status == 0 ? path : nil
    }

    @Test("cc -static: an executable without interpreter or DT_NEEDED")
    func staticBinary() throws {
        try TemporaryDirectory.withSync { dir in
            guard let path = try Self.compile(["-static"], output: "static", in: dir) else {
                print("skipped: cc -static failed (no static libc installed)")
                return
            }
            let elf = try ELFFile.parse(path: path)
            #expect(elf.interpreter == nil)
            #expect(elf.needed.isEmpty)
            #expect(elf.type == .executable)
            #expect(elf.isStaticExecutable)
        }
    }

    @Test("cc -static-pie: ET_DYN marked PIE, still static")
    func staticPIE() throws {
        try TemporaryDirectory.withSync { dir in
            guard let path = try Self.compile(["-static-pie", "-fPIE"], output: "static-pie", in: dir) else {
                print("skipped: cc -static-pie failed")
                return
            }
            let elf = try ELFFile.parse(path: path)
            #expect(elf.type == .sharedObject)
            #expect(elf.kind == .pieExecutable)
            #expect(elf.interpreter == nil)
            #expect(elf.isStaticExecutable)
        }
    }

    @Test("cc -pie and cc -shared -Wl,-soname")
    func dynamicBinaries() throws {
        try TemporaryDirectory.withSync { dir in
            let pie = try #require(try Self.compile(["-pie", "-fPIE"], output: "pie", in: dir))
            let elf = try ELFFile.parse(path: pie)
            #expect(elf.kind == .pieExecutable)
            #expect(elf.interpreter != nil)
            #expect(elf.needed.contains("libc.so.6"))
            #expect(!elf.isStaticExecutable)

            let library = try #require(
                try Self.compile(["-shared", "-fPIC", "-Wl,-soname,libdemo.so.3"], output: "libdemo.so.3.1.4", in: dir))
            let lib = try ELFFile.parse(path: library)
            #expect(lib.soname == "libdemo.so.3")
            #expect(lib.kind == .sharedObject)
            #expect(lib.interpreter == nil)
        }
    }
}
