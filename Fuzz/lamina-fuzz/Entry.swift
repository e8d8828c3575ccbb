import Foundation
import FuzzTargets

// libFuzzer's entry points, driven by `LLVMFuzzerRunDriver` from the program's `main` (SwiftPM links
// an executable's `main` to `<module>_main`; this file is compiled with -parse-as-library). The target comes from LAMINA_FUZZ_TARGET;
// scripts/fuzz runs one process per target. With LAMINA_FUZZ_SEEDS=DIR the process only writes the
// target's seed corpus (from LAMINA_FUZZ_TESTDATA) into DIR and exits.
nonisolated(unsafe) private var selected = FuzzTarget.tar

@_cdecl("LLVMFuzzerInitialize")
public func fuzzInitialize(_ argc: UnsafeMutablePointer<CInt>?, _ argv: UnsafeMutableRawPointer?) -> CInt {
    let environment = ProcessInfo.processInfo.environment
    guard let target = FuzzTarget(rawValue: environment["LAMINA_FUZZ_TARGET"] ?? "") else {
        let names = FuzzTarget.allCases.map(\.rawValue).joined(separator: ", ")
        FileHandle.standardError.write(Data("lamina-fuzz: set LAMINA_FUZZ_TARGET to one of \(names)\n".utf8))
        exit(2)
    }
    selected = target
    if let folder = environment["LAMINA_FUZZ_SEEDS"] {
        do {
            let count = try target.writeSeeds(testdata: environment["LAMINA_FUZZ_TESTDATA"] ?? "../shared/testdata", into: folder)
            FileHandle.standardError.write(Data("lamina-fuzz: \(count) seeds for \(target.rawValue)\n".utf8))
            exit(0)
        } catch {
            FileHandle.standardError.write(Data("lamina-fuzz: \(error)\n".utf8))
            exit(1)
        }
    }
    return 0
}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOneInput(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    selected.run(data.map { Array(UnsafeBufferPointer(start: $0, count: size)) } ?? [])
    return 0
}

@_silgen_name("LLVMFuzzerRunDriver")
func runDriver(
    _ argc: UnsafeMutablePointer<CInt>, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>>,
    _ callback: @convention(c) (UnsafePointer<UInt8>?, Int) -> CInt
) -> CInt

@_cdecl("lamina_fuzz_main")
public func fuzzMain(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>) -> CInt {
    var count = argc
    var arguments = argv
    return runDriver(&count, &arguments) { data, size in fuzzOneInput(data, size) }
}
