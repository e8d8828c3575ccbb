import Foundation

/// The result of running a command.
public struct CommandResult: Sendable {
    public var status: Int32
    public var stdout: String
    public var stderr: String
}

/// Runs programs from tests: the built `lamina` binary and real peer tools.
public enum CommandRunner {
    /// The `lamina` executable built next to the test bundle.
    public static var laminaPath: String {
        let candidates = [
            Bundle.main.bundleURL.deletingLastPathComponent().appendingPathComponent("lamina").path,
            Bundle.main.bundleURL.appendingPathComponent("lamina").path,
            SharedTestData.packageRoot.appendingPathComponent(".build/debug/lamina").path,
        ]
        for path in candidates where FileManager.default.isExecutableFile(atPath: path) { return path }
        for case let url as URL in FileManager.default.enumerator(at: SharedTestData.packageRoot.appendingPathComponent(".build"), includingPropertiesForKeys: nil) ?? .init()
        where url.lastPathComponent == "lamina" && FileManager.default.isExecutableFile(atPath: url.path) {
            return url.path
        }
        return candidates[0]
    }

    /// Finds `name` on PATH (plus /usr/sbin and /sbin), or nil.
    public static func which(_ name: String) -> String? {
        let path = (ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin") + ":/usr/sbin:/sbin"
        for dir in path.split(separator: ":") {
            let candidate = "\(dir)/\(name)"
            if FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
        }
        return nil
    }

    /// Runs `executable` with `arguments`, collecting both output streams.
    @discardableResult
    public static func run(
        _ executable: String, _ arguments: [String], environment: [String: String]? = nil, directory: String? = nil
    ) throws -> CommandResult {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        if let environment {
            process.environment = ProcessInfo.processInfo.environment.merging(environment) { _, new in new }
        }
        if let directory { process.currentDirectoryURL = URL(fileURLWithPath: directory) }
        let out = Pipe()
        let err = Pipe()
        process.standardOutput = out
        process.standardError = err
        process.standardInput = FileHandle.nullDevice
        try process.run()
        // Read both pipes concurrently so neither fills up.
        let group = DispatchGroup()
        nonisolated(unsafe) var errData = Data()
        group.enter()
        DispatchQueue.global().async {
            errData = err.fileHandleForReading.readDataToEndOfFile()
            group.leave()
        }
        let outData = out.fileHandleForReading.readDataToEndOfFile()
        group.wait()
        process.waitUntilExit()
        return CommandResult(
            status: process.terminationStatus, stdout: String(decoding: outData, as: UTF8.self), stderr: String(decoding: errData, as: UTF8.self))
    }

    /// Runs the `lamina` binary.
    @discardableResult
    public static func lamina(_ arguments: [String], environment: [String: String]? = nil, directory: String? = nil) throws -> CommandResult {
        try run(laminaPath, arguments, environment: environment, directory: directory)
    }

    /// Runs the `lamina` binary on a plain thread, so an in-process test server keeps the cooperative pool.
    public static func laminaOffPool(
        _ arguments: [String], environment: [String: String]? = nil, directory: String? = nil
    ) async throws -> CommandResult {
        try await withCheckedThrowingContinuation { continuation in
            DispatchQueue.global().async {
                do {
                    continuation.resume(returning: try lamina(arguments, environment: environment, directory: directory))
                } catch {
                    continuation.resume(throwing: error)
                }
            }
        }
    }

    /// A Python 3 that can import `module`: the repository's `.venv` (scripts/install-deps) first, then PATH.
    public static func python(withModule module: String) -> String? {
        let venv = SharedTestData.packageRoot.appendingPathComponent(".venv/bin/python3").path
        for candidate in [venv, which("python3")].compactMap({ $0 }) where FileManager.default.isExecutableFile(atPath: candidate) {
            if let result = try? run(candidate, ["-c", "import \(module)"]), result.status == 0 { return candidate }
        }
        return nil
    }
}
