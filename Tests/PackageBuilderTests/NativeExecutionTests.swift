import Foundation
import LaminaCore
import PackageBuilder
import Sandbox
import TestSupport
import Testing

@Suite("which architectures can run here")
struct NativeExecutionTests {
    /// A binfmt_misc folder with the given handler files.
    static func binfmt(_ entries: [String: String], in dir: TemporaryDirectory) throws -> String {
        let path = dir.file("binfmt_misc")
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        try "enabled\n".write(toFile: path + "/status", atomically: true, encoding: .utf8)
        for (name, text) in entries { try text.write(toFile: path + "/" + name, atomically: true, encoding: .utf8) }
        return path
    }

    @Test("the host, its 32-bit companion and noarch are native; others need a qemu handler")
    func support() throws {
        try TemporaryDirectory.withSync { dir in
            let empty = try Self.binfmt([:], in: dir)
            let x86Host = NativeExecution(host: .x86_64, binfmtDirectory: empty)
            #expect(x86Host.support(for: .x86_64) == .native)
            #expect(x86Host.support(for: try Architecture("x86")) == .native)
            #expect(x86Host.support(for: .noarch) == .native)
            #expect(x86Host.support(for: .aarch64) == .unavailable)
            #expect(x86Host.support(for: try Architecture("riscv64")) == .unavailable)
            let armHost = NativeExecution(host: .aarch64, binfmtDirectory: empty)
            #expect(armHost.support(for: try Architecture("armv7")) == .native)
            #expect(armHost.support(for: .x86_64) == .unavailable)
            // No binfmt_misc at all (not mounted): nothing emulated.
            #expect(NativeExecution(host: .x86_64, binfmtDirectory: dir.file("none")).support(for: .aarch64) == .unavailable)
        }
    }

    @Test("an enabled qemu-user handler, by name or by interpreter, makes an architecture runnable; a disabled one does not")
    func emulated() throws {
        try TemporaryDirectory.withSync { dir in
            let path = try Self.binfmt(
                [
                    "qemu-aarch64": "enabled\ninterpreter /usr/libexec/qemu-binfmt/aarch64-binfmt-P\nflags: PF\noffset 0\n",
                    "riscv": "enabled\ninterpreter /usr/bin/qemu-riscv64-static\nflags: F\n",
                    "qemu-s390x": "disabled\ninterpreter /usr/bin/qemu-s390x-static\n",
                ], in: dir)
            let execution = NativeExecution(host: .x86_64, binfmtDirectory: path)
            #expect(execution.support(for: .aarch64) == .emulated("qemu-aarch64"))
            #expect(execution.support(for: try Architecture("riscv64")) == .emulated("riscv"))
            #expect(execution.support(for: try Architecture("s390x")) == .unavailable)
            #expect(execution.support(for: try Architecture("ppc64le")) == .unavailable)
            try execution.check([.x86_64, .aarch64, try Architecture("riscv64")], subject: "melange.yaml")
        }
    }

    @Test("check names the architecture, the host and the remedies")
    func message() throws {
        try TemporaryDirectory.withSync { dir in
            let execution = NativeExecution(host: .x86_64, binfmtDirectory: try Self.binfmt([:], in: dir))
            let error = #expect(throws: LaminaError.self) {
                try execution.check([.x86_64, .aarch64], subject: "melange.yaml")
            }
            #expect(error?.code == .invalidInput)
            #expect(error?.subject == "melange.yaml")
            let message = error?.message ?? ""
            #expect(message.contains("cannot build for aarch64 on this x86_64 machine"), "\(message)")
            #expect(message.contains("qemu-aarch64"), "\(message)")
            #expect(message.contains("qemu-user-static"), "\(message)")
        }
    }

    static var foreignUnavailable: Bool {
        Architecture.host == .x86_64 && NativeExecution().support(for: .aarch64) == .unavailable
    }

    @Test(
        "a build for an architecture that cannot run here fails before any work; one on the host's root is allowed",
        .enabled(if: foreignUnavailable, "needs an x86_64 host without a qemu-aarch64 binfmt handler"))
    func buildRefusesForeignArchitecture() async throws {
        try await TemporaryDirectory.with { dir in
            let config = dir.file("melange.yaml")
            try """
                package:
                  name: foreign
                  version: 1.0.0
                  epoch: 0
                environment:
                  contents:
                    repositories:
                      - \(dir.file("nowhere"))
                    packages:
                      - busybox
                pipeline:
                  - runs: echo never
                """.write(toFile: config, atomically: true, encoding: .utf8)
            var options = PackageBuildOptions(
                configPath: config, architecture: .aarch64, cacheDirectory: dir.file("cache"), runner: BubblewrapRunner(),
                clock: BuildClock(epoch: 0), environment: [:], temporaryDirectory: dir.file("tmp"))
            options.outputDirectory = dir.file("packages")
            let error = await #expect(throws: LaminaError.self) { try await PackageBuild(options: options).run() }
            #expect(error?.code == .invalidInput)
            #expect(error?.message.contains("cannot build for aarch64") == true, "\(String(describing: error))")
            #expect(!FileManager.default.fileExists(atPath: dir.file("packages")), "nothing was written")
            #expect(throws: LaminaError.self) {
                try PackageBuild.checkCanRun(options: options, architectures: [.x86_64, .aarch64])
            }

            // Without environment packages the steps run the host's programs: any --arch may be built.
            let bare = dir.file("bare.yaml")
            try """
                package:
                  name: bare
                  version: 1.0.0
                  epoch: 0
                pipeline:
                  - runs: echo host
                """.write(toFile: bare, atomically: true, encoding: .utf8)
            options.configPath = bare
            try PackageBuild.checkCanRun(options: options, architectures: [.x86_64, .aarch64])
        }
    }
}
