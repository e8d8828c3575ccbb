import APK
import Archive
import Foundation
import LaminaCore
import TestSupport
import Testing

/// Two `lamina image build-minirootfs` processes filling one `--cache-dir` at the same time, from a
/// signed repository served on 127.0.0.1.
@Suite struct SharedCacheTests {
    /// Writes a signed repository of `count` packages (a chain of dependencies) into `root/x86_64`.
    static func makeRepository(_ root: String, count: Int) throws -> [String] {
        var state: UInt64 = 99
        let packages = (0..<count).map { i in
            let name = String(format: "pkg%02d", i)
            let noise = (0..<(60_000 + 5_000 * i)).map { _ -> UInt8 in
                state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
                return UInt8(33 + (state >> 33) % 90)
            }
            return TestPackage(
                name, "1.0-r0", depends: i > 0 ? [String(format: "pkg%02d", i - 1)] : [],
                files: ["usr/share/\(name)/data": String(decoding: noise, as: UTF8.self)])
        }
        return try SignedRepository.make(at: root, packages: packages).packages.map(\.name)
    }

    /// Runs the `lamina` binary on a plain thread, so the in-process server keeps its own.
    static func laminaInBackground(_ arguments: [String], environment: [String: String]) async throws -> CommandResult {
        try await CommandRunner.laminaOffPool(arguments, environment: environment)
    }

    /// A signed repository of `count` packages served on 127.0.0.1 (with a little latency, so concurrent
    /// downloads overlap) and an apko.yaml installing its last package; `body` gets the config's path and the names.
    static func withServedConfig(
        _ dir: TemporaryDirectory, count: Int, _ body: (String, [String]) async throws -> Void
    ) async throws {
        let names = try makeRepository(dir.file("repo"), count: count)
        let keyPath = try TestKey.writePair(in: dir.path).publicKey
        try await withTestHTTPServer(root: dir.file("repo")) { server in
            await server.addFault(.delay(.milliseconds(5)), for: "*")
            let config = dir.file("apko.yaml")
            try """
            contents:
              keyring: [\(keyPath)]
              repositories: [\(server.baseURL)]
              packages: [\(names.last!)]
            archs: [x86_64]

            """.write(toFile: config, atomically: true, encoding: .utf8)
            try await body(config, names)
        }
    }

    @Test func twoBuildsShareTheCacheAtOnce() async throws {
        try await TemporaryDirectory.with { dir in
            try await Self.withServedConfig(dir, count: 10) { config, names in
                let env = ["SOURCE_DATE_EPOCH": "1700000000"]
                for round in 0..<2 {
                    let cache = dir.file("cache-\(round)")
                    let outputs = [dir.file("a-\(round).tar.gz"), dir.file("b-\(round).tar.gz")]
                    async let first = Self.laminaInBackground(
                        ["image", "build-minirootfs", config, outputs[0], "--arch", "x86_64", "--cache-dir", cache], environment: env)
                    async let second = Self.laminaInBackground(
                        ["image", "build-minirootfs", config, outputs[1], "--arch", "x86_64", "--cache-dir", cache], environment: env)
                    let results = try await [first, second]
                    for result in results { #expect(result.status == 0, "\(result.stderr)") }
                    #expect(try Data(contentsOf: URL(fileURLWithPath: outputs[0])) == Data(contentsOf: URL(fileURLWithPath: outputs[1])))

                    // Every entry is intact and nothing temporary is left.
                    let packages = cache + "/packages"
                    let files = try FileManager.default.contentsOfDirectory(atPath: packages).sorted()
                    #expect(files.filter { $0.hasPrefix(".") }.isEmpty, "temporary files left: \(files)")
                    let apks = files.filter { $0.hasSuffix(".apk") }
                    #expect(apks.count == names.count)
                    #expect(Set(files) == Set(apks + apks.map { $0 + ".sha256" }))
                    for apk in apks {
                        let bytes = Array(try Data(contentsOf: URL(fileURLWithPath: packages + "/" + apk)))
                        let sidecar = try String(contentsOfFile: packages + "/" + apk + ".sha256", encoding: .utf8)
                            .trimmingCharacters(in: .whitespacesAndNewlines)
                        #expect(Hasher.digest(.sha256, bytes).hex == sidecar, "\(apk)")
                        let archive = try PackageReader().read(path: packages + "/" + apk)
                        #expect(apk == archive.identity.hex + ".apk")
                    }
                    let leftovers = try FileManager.default.subpathsOfDirectory(atPath: cache).filter {
                        ($0 as NSString).lastPathComponent.hasPrefix(".")
                    }
                    #expect(leftovers.isEmpty, "\(leftovers)")
                }
            }
        }
    }

    /// Eight `lamina image build` processes on one cache at once give the bytes a serial build gives, and
    /// leave a cache that verifies.
    @Test func eightParallelImageBuildsEqualASerialOne() async throws {
        try await TemporaryDirectory.with { dir in
            try await Self.withServedConfig(dir, count: 6) { config, _ in
                let env = ["SOURCE_DATE_EPOCH": "1700000000"]
                func build(_ out: String, cache: String) async throws -> CommandResult {
                    try await Self.laminaInBackground(
                        ["image", "build", config, "parallel:1", out, "--arch", "x86_64", "--cache-dir", cache, "--sbom=false"],
                        environment: env)
                }
                let serial = try await build(dir.file("serial.tar"), cache: dir.file("serial-cache"))
                #expect(serial.status == 0, "\(serial.stderr)")
                let expected = try Data(contentsOf: URL(fileURLWithPath: dir.file("serial.tar")))

                let cache = dir.file("shared-cache")
                let results = try await withThrowingTaskGroup(of: CommandResult.self) { group in
                    for i in 0..<8 { group.addTask { try await build(dir.file("parallel-\(i).tar"), cache: cache) } }
                    return try await group.reduce(into: []) { $0.append($1) }
                }
                for result in results { #expect(result.status == 0, "\(result.stderr)") }
                for i in 0..<8 {
                    #expect(try Data(contentsOf: URL(fileURLWithPath: dir.file("parallel-\(i).tar"))) == expected, "build \(i)")
                }
                let verify = try CommandRunner.lamina(["cache", "verify", "--cache-dir", cache])
                #expect(verify.status == 0, "\(verify.stdout)\(verify.stderr)")
            }
        }
    }
}
