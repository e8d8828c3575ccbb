import Config
import Foundation
import LaminaCore

/// Whether this machine can run an architecture's programs: a build for another architecture runs the guest's
/// own `/bin/sh` and tools, which only works natively (the host's architecture, or its 32-bit companion) or
/// through a qemu-user handler registered with the kernel's binfmt_misc. Lamina ships no emulator, so a build
/// that cannot run is refused up front instead of failing at its first step with "Exec format error".
public struct NativeExecution: Sendable {
    public var host: Architecture
    /// Where the kernel lists binfmt_misc handlers.
    public var binfmtDirectory: String

    public init(host: Architecture = .host, binfmtDirectory: String = "/proc/sys/fs/binfmt_misc") {
        self.host = host
        self.binfmtDirectory = binfmtDirectory
    }

    /// 32-bit architectures the 64-bit host runs without emulation (x86 on x86_64, 32-bit ARM on aarch64).
    static let companions: [String: Set<String>] = ["x86_64": ["x86"], "aarch64": ["armv7", "armhf"]]

    /// Whether `architecture`'s programs run here, and how.
    public func support(for architecture: Architecture) -> Support {
        if architecture == host || architecture == .noarch { return .native }
        if Self.companions[host.apk]?.contains(architecture.apk) == true { return .native }
        if let handler = emulator(for: architecture) { return .emulated(handler) }
        return .unavailable
    }

    public enum Support: Sendable, Equatable {
        case native
        /// Through this binfmt_misc handler (its name).
        case emulated(String)
        case unavailable
    }

    /// The enabled binfmt_misc handler for `architecture` (`qemu-aarch64`, or one whose interpreter is a
    /// `qemu-aarch64[-static]`), if any.
    func emulator(for architecture: Architecture) -> String? {
        let wanted = "qemu-" + architecture.qemu
        guard let names = try? FileManager.default.contentsOfDirectory(atPath: binfmtDirectory) else { return nil }
        for name in names.sorted() where name != "register" && name != "status" {
            guard let text = try? String(contentsOfFile: binfmtDirectory + "/" + name, encoding: .utf8) else { continue }
            let lines = text.split(separator: "\n").map(String.init)
            guard lines.first == "enabled" else { continue }
            let interpreter = lines.first { $0.hasPrefix("interpreter ") }.map { String($0.dropFirst("interpreter ".count)) }
            let program = interpreter.map { ($0 as NSString).lastPathComponent } ?? ""
            if name == wanted || program == wanted || program == wanted + "-static" { return name }
        }
        return nil
    }

    /// Throws unless every architecture in `architectures` can run here.
    /// - Throws: `.invalidInput` naming the first architecture that cannot, the host's, and
    ///   the remedies (build on such a machine, or register qemu-user with binfmt_misc).
    public func check(_ architectures: [Architecture], subject: String) throws {
        for architecture in architectures where support(for: architecture) == .unavailable {
            throw LaminaError(
                .invalidInput,
                "cannot build for \(architecture.apk) on this \(host.apk) machine: the build runs the environment's"
                    + " \(architecture.apk) programs, and nothing here can run them (Lamina has no emulator, and no"
                    + " qemu-\(architecture.qemu) handler is registered in \(binfmtDirectory)); build on an"
                    + " \(architecture.apk) machine, register qemu-user-static with binfmt_misc"
                    + " (Debian: apt-get install qemu-user-static binfmt-support), or drop --arch \(architecture.apk)",
                subject: subject)
        }
    }
}

extension PackageBuild {
    /// Refuses, before any work, architectures whose programs cannot run here — when the build runs programs
    /// of that architecture, i.e. when it installs environment packages (a build on the host's `/` runs the
    /// host's programs whatever `--arch` says).
    /// - Throws: config errors; the error of ``NativeExecution/check(_:subject:)``.
    public static func checkCanRun(
        options: PackageBuildOptions, architectures: [Architecture], execution: NativeExecution = NativeExecution()
    ) throws {
        let loaded = try BuildConfiguration.load(
            path: options.configPath,
            options: BuildLoadOptions(extraVars: options.vars, extraEnvironment: options.environmentOverrides))
        guard !(loaded.configuration.environment.contents.packages + options.extraPackages).isEmpty else { return }
        try execution.check(architectures, subject: options.configPath)
    }
}
