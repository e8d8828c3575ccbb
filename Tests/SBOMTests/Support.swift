import Foundation
import LaminaCore
import SBOM
import TestSupport

enum Files {
    static let apkoSPDX = "chainguard-dev+apko/pkg/sbom/generator/spdx/testdata"
    static let cli = "chainguard-dev+apko/internal/cli/testdata"

    static func read(_ relative: String) throws -> [UInt8] {
        Array(try Data(contentsOf: URL(fileURLWithPath: SharedTestData.path(relative))))
    }

    static func decode(_ relative: String) throws -> SBOMDocument {
        try SPDXJSON.decode(read(relative), what: relative)
    }

    /// Every SPDX file in the shared test data.
    static func allSPDX() -> [String] {
        guard SharedTestData.isAvailable,
            let walker = FileManager.default.enumerator(atPath: SharedTestData.root.path)
        else { return [] }
        return walker.compactMap { $0 as? String }.filter { $0.hasSuffix(".spdx.json") }.sorted()
    }
}

/// Runs an external program and returns its exit status and combined output (tests only).
func run(_ executable: String, _ arguments: [String]) throws -> (status: Int32, output: String, data: Data) {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: executable)
    process.arguments = arguments
    let out = Pipe()
    let err = Pipe()
    process.standardOutput = out
    process.standardError = err
    try process.run()
    let data = out.fileHandleForReading.readDataToEndOfFile()
    let errors = err.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    return (process.terminationStatus, String(decoding: data + errors, as: UTF8.self), data)
}

/// Finds an executable on PATH.
func which(_ name: String) -> String? {
    for directory in (ProcessInfo.processInfo.environment["PATH"] ?? "").split(separator: ":") {
        let candidate = "\(directory)/\(name)"
        if FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
    }
    return nil
}

/// The SPDX validator: `$LAMINA_PYSPDXTOOLS`, else `pyspdxtools` on PATH.
enum SPDXValidator {
    static let path: String? = {
        if let explicit = ProcessInfo.processInfo.environment["LAMINA_PYSPDXTOOLS"], !explicit.isEmpty,
            FileManager.default.isExecutableFile(atPath: explicit)
        {
            return explicit
        }
        return which("pyspdxtools")
    }()

    /// Validates SPDX JSON bytes; returns the validator's complaints, empty when valid.
    static func problems(_ bytes: [UInt8]) throws -> String? {
        guard let tool = path else { return nil }
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let file = dir.file("sbom.spdx.json")
        try Data(bytes).write(to: URL(fileURLWithPath: file))
        let result = try run(tool, ["-i", file])
        return result.status == 0 ? nil : result.output
    }
}

/// The melange SBOM inside an `.apk`, read with the system `tar` (which reads apk's gzip streams).
func embeddedSBOM(apk: String, name: String, version: String) throws -> SBOMDocument? {
    guard let tar = which("tar") else { return nil }
    for path in ImageSBOM.embeddedSBOMPaths(name: name, version: version) {
        let result = try run(tar, ["-xzOf", SharedTestData.path(apk), path])
        if result.status == 0, !result.data.isEmpty {
            return try SPDXJSON.decode(Array(result.data), what: "\(apk):\(path)")
        }
    }
    return nil
}

/// `/etc/os-release` inside an `.apk`.
func osRelease(apk: String) throws -> String? {
    guard let tar = which("tar") else { return nil }
    let result = try run(tar, ["-xzOf", SharedTestData.path(apk), "etc/os-release"])
    return result.status == 0 ? String(decoding: result.data, as: UTF8.self) : nil
}

/// Line-by-line difference, for readable failures.
func firstDifference(_ a: [UInt8], _ b: [UInt8]) -> String {
    let left = String(decoding: a, as: UTF8.self).split(separator: "\n", omittingEmptySubsequences: false)
    let right = String(decoding: b, as: UTF8.self).split(separator: "\n", omittingEmptySubsequences: false)
    for index in 0..<max(left.count, right.count) {
        let l = index < left.count ? String(left[index]) : "<end>"
        let r = index < right.count ? String(right[index]) : "<end>"
        if l != r { return "line \(index + 1):\n  got:  \(l)\n  want: \(r)" }
    }
    return "identical"
}
