import Foundation
import TestSupport
import Testing

/// `lamina image build`: the layer cache, `--compression-level`, and what a failing build prints.
/// Runs against apko's own test repository from its `internal/cli` folder.
@Suite(.enabled(if: SharedTestData.isAvailable, "needs ../shared/testdata"))
struct ImageBuildLayerTests {
    static let apkoCLI = SharedTestData.path("chainguard-dev+apko/internal/cli")

    func lamina(_ args: [String], cache: String) throws -> CommandResult {
        try CommandRunner.lamina(
            args + ["--cache-dir", cache, "--arch", "amd64", "--sbom=false"], environment: ["SOURCE_DATE_EPOCH": "1700000000"],
            directory: Self.apkoCLI)
    }

    func bytes(_ path: String) throws -> Data { try Data(contentsOf: URL(fileURLWithPath: path)) }

    @Test func warmRebuildReusesTheLayerAndGivesTheSameBytes() throws {
        try TemporaryDirectory.withSync { dir in
            let cache = dir.file("cache")
            let cold = try lamina(["image", "build", "testdata/apko.yaml", "cache:1", dir.file("cold.tar"), "--log-level", "debug"], cache: cache)
            #expect(cold.status == 0, "\(cold.stderr)")
            #expect(!cold.stderr.contains("layer cache hit"))
            #expect(cold.stderr.contains("writing layer"))
            let entries = try FileManager.default.contentsOfDirectory(atPath: cache + "/layers").filter { !$0.hasPrefix(".") }
            #expect(entries.count == 1)

            let warm = try lamina(["image", "build", "testdata/apko.yaml", "cache:1", dir.file("warm.tar"), "--log-level", "debug"], cache: cache)
            #expect(warm.status == 0, "\(warm.stderr)")
            #expect(warm.stderr.contains("layer cache hit"), "\(warm.stderr)")
            #expect(!warm.stderr.contains("installing") && !warm.stderr.contains("writing layer"), "\(warm.stderr)")
            #expect(try bytes(dir.file("warm.tar")) == bytes(dir.file("cold.tar")))

            // Into the same, untouched file: nothing to write. Changed or removed: written again.
            let same = try lamina(["image", "build", "testdata/apko.yaml", "cache:1", dir.file("warm.tar"), "--log-level", "debug"], cache: cache)
            #expect(same.status == 0 && same.stderr.contains("output unchanged"), "\(same.stderr)")
            let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: dir.file("warm.tar")))
            try handle.write(contentsOf: Data([0x21]))  // same size, one byte changed
            try handle.close()
            let changed = try lamina(["image", "build", "testdata/apko.yaml", "cache:1", dir.file("warm.tar"), "--log-level", "debug"], cache: cache)
            #expect(changed.status == 0 && !changed.stderr.contains("output unchanged"), "\(changed.stderr)")
            #expect(try bytes(dir.file("warm.tar")) == bytes(dir.file("cold.tar")))
            try FileManager.default.removeItem(atPath: dir.file("warm.tar"))
            let removed = try lamina(["image", "build", "testdata/apko.yaml", "cache:1", dir.file("warm.tar"), "--log-level", "debug"], cache: cache)
            #expect(removed.status == 0 && !removed.stderr.contains("output unchanged"), "\(removed.stderr)")
            #expect(try bytes(dir.file("warm.tar")) == bytes(dir.file("cold.tar")))

            // Without the cache: built afresh, same bytes, nothing new stored.
            let fresh = try lamina(
                ["image", "build", "testdata/apko.yaml", "cache:1", dir.file("fresh.tar"), "--no-layer-cache", "--log-level", "debug"], cache: cache)
            #expect(fresh.status == 0, "\(fresh.stderr)")
            #expect(!fresh.stderr.contains("layer cache hit") && fresh.stderr.contains("writing layer"))
            #expect(try bytes(dir.file("fresh.tar")) == bytes(dir.file("cold.tar")))

            // Another level is another layer (and another cache entry).
            let level1 = try lamina(["image", "build", "testdata/apko.yaml", "cache:1", dir.file("l1.tar"), "--compression-level", "1"], cache: cache)
            #expect(level1.status == 0, "\(level1.stderr)")
            #expect(try bytes(dir.file("l1.tar")) != bytes(dir.file("cold.tar")))
            #expect(try FileManager.default.contentsOfDirectory(atPath: cache + "/layers").filter { !$0.hasPrefix(".") }.count == 2)
        }
    }

    /// A cached layer altered on disk is never served: the build says so, builds the layer again and
    /// writes the same bytes. `lamina cache` lists, measures and prunes what the builds stored.
    @Test func damagedLayerIsRebuiltAndCacheCommandsSeeIt() throws {
        try TemporaryDirectory.withSync { dir in
            let cache = dir.file("cache")
            let cold = try lamina(["image", "build", "testdata/apko.yaml", "cache:1", dir.file("cold.tar")], cache: cache)
            #expect(cold.status == 0, "\(cold.stderr)")
            let key = try #require(try FileManager.default.contentsOfDirectory(atPath: cache + "/layers").first { !$0.hasPrefix(".") })
            let layer = cache + "/layers/" + key + "/layer.tar.gz"
            var bytes = Array(try bytes(layer))
            bytes[bytes.count / 2] ^= 0x40
            try Data(bytes).write(to: URL(fileURLWithPath: layer))

            let verify = try CommandRunner.lamina(["cache", "verify", "--cache-dir", cache])
            #expect(verify.status == 1, "\(verify.stdout)\(verify.stderr)")
            #expect(verify.stdout.contains("layers/\(key): its layer file no longer hashes to"), "\(verify.stdout)")
            // The layer and the compiled form of the repository's index.
            #expect(verify.stdout.contains("3 entries checked, 1 damaged"), "\(verify.stdout)")

            let again = try lamina(["image", "build", "testdata/apko.yaml", "cache:1", dir.file("again.tar"), "--log-level", "debug"], cache: cache)
            #expect(again.status == 0, "\(again.stderr)")
            #expect(again.stderr.contains("warning: discarded the cached layer \(key.prefix(12)): its layer file no longer hashes to"), "\(again.stderr)")
            #expect(!again.stderr.contains("layer cache hit") && again.stderr.contains("writing layer"))
            #expect(try self.bytes(dir.file("again.tar")) == self.bytes(dir.file("cold.tar")))

            #expect(try CommandRunner.lamina(["cache", "verify", "--cache-dir", cache]).status == 0)

            let du = try CommandRunner.lamina(["cache", "du", "--json", "--cache-dir", cache])
            #expect(du.status == 0, "\(du.stderr)")
            let areas = try #require(try JSONSerialization.jsonObject(with: Data(du.stdout.utf8)) as? [[String: Any]])
            #expect(areas.map { $0["area"] as? String } == ["indexes", "compiled-indexes", "packages", "sources", "layers", "outputs"])
            #expect(areas.first { $0["area"] as? String == "layers" }?["entries"] as? Int == 1)
            #expect(areas.first { $0["area"] as? String == "compiled-indexes" }?["entries"] as? Int == 1)
            #expect(areas.first { $0["area"] as? String == "outputs" }?["entries"] as? Int == 2)

            let ls = try CommandRunner.lamina(["cache", "ls", "--area", "layers", "--cache-dir", cache])
            #expect(ls.status == 0 && ls.stdout.contains("layers/\(key)"), "\(ls.stdout)\(ls.stderr)")

            // Everything here was used a moment ago: the grace period protects it, unless set to zero.
            let kept = try CommandRunner.lamina(["cache", "prune", "--max-size", "0", "--cache-dir", cache])
            #expect(kept.status == 0 && kept.stdout.contains("freed 0 B in 0 entries"), "\(kept.stdout)\(kept.stderr)")
            let dry = try CommandRunner.lamina(["cache", "prune", "--older-than", "0s", "--grace", "0s", "--dry-run", "--cache-dir", cache])
            #expect(dry.status == 0 && dry.stdout.contains("would free") && dry.stdout.contains("in 4 entries"), "\(dry.stdout)\(dry.stderr)")
            #expect(FileManager.default.fileExists(atPath: layer))
            let pruned = try CommandRunner.lamina(["cache", "prune", "--older-than", "0s", "--grace", "0s", "--cache-dir", cache])
            #expect(pruned.status == 0 && pruned.stdout.contains("in 4 entries"), "\(pruned.stdout)\(pruned.stderr)")
            #expect(!FileManager.default.fileExists(atPath: layer))

            let bad = try CommandRunner.lamina(["cache", "prune", "--max-size", "lots", "--cache-dir", cache])
            #expect(bad.status == 64 && bad.stderr.contains("--max-size"), "\(bad.status) \(bad.stderr)")
        }
    }

    @Test(arguments: ["0", "10", "fast"])
    func badCompressionLevelNamesTheOption(level: String) throws {
        try TemporaryDirectory.withSync { dir in
            let r = try lamina(["image", "build", "testdata/apko.yaml", "x:1", dir.file("x.tar"), "--compression-level", level], cache: dir.file("c"))
            #expect(r.status != 0)
            #expect(r.stderr.contains("--compression-level"), "\(r.stderr)")
            #expect(!FileManager.default.fileExists(atPath: dir.file("x.tar")))
        }
    }

    /// Piped at the default level, a failing build prints its error and nothing else (no progress, no
    /// "building …" note, no half line).
    @Test func failingBuildPrintsOnlyTheError() throws {
        try TemporaryDirectory.withSync { dir in
            let r = try lamina(
                ["image", "build", "testdata/apko.yaml", "x:1", dir.file("x.tar"), "-p", "no-such-package-anywhere"], cache: dir.file("c"))
            #expect(r.status == 1)
            #expect(r.stderr.hasPrefix("error: "), "\(r.stderr)")
            #expect(r.stderr.hasSuffix("\n") && r.stderr.split(separator: "\n").count == 1, "\(r.stderr)")
            #expect(r.stderr.contains("no-such-package-anywhere"))
            #expect(!r.stderr.contains("\r") && !r.stderr.contains("\u{1b}"))
        }
    }

    /// On a terminal the live progress line is erased before the error, so `error: …` starts a clean line.
    @Test(.enabled(if: FileManager.default.isExecutableFile(atPath: "/usr/bin/script"), "needs script(1) for a pseudo-terminal"))
    func errorOnATerminalStartsOnACleanLine() throws {
        try TemporaryDirectory.withSync { dir in
            let command = [CommandRunner.laminaPath, "image", "build", "testdata/apko.yaml", "x:1", dir.file("x.tar"), "--arch", "amd64",
                           "-p", "no-such-package-anywhere", "--cache-dir", dir.file("c")].joined(separator: " ")
            let r = try CommandRunner.run("/usr/bin/script", ["-qec", command, "/dev/null"], directory: Self.apkoCLI)
            #expect(r.status == 1, "\(r.stdout)")
            let text = r.stdout
            let error = try #require(text.range(of: "error: "), "\(text)")
            // What precedes the error ends with the erase sequence (or a newline): no half line.
            let before = text[..<error.lowerBound]
            #expect(before.isEmpty || before.hasSuffix("\r\u{1b}[2K") || before.hasSuffix("\n"), "\(text.debugDescription)")
            #expect(text.contains("resolving"), "the live line was shown: \(text.debugDescription)")
        }
    }
}

/// `scripts/bench-image --smoke`: the benchmark's plumbing on a 3-package corpus with the test build
/// (seconds, no release build). The real benchmark is run by hand.
@Suite struct BenchImageSmokeTests {
    static let script = SharedTestData.packageRoot.appendingPathComponent("scripts/bench-image").path
    static let corpusScript = SharedTestData.packageRoot.appendingPathComponent("../shared/bench/make-corpus.py").path
    static let ready = FileManager.default.fileExists(atPath: corpusScript) && CommandRunner.which("python3") != nil
        && CommandRunner.which("pigz") != nil && FileManager.default.isExecutableFile(atPath: "/usr/bin/time")

    @Test(.enabled(if: ready, "needs ../shared/bench, python3, pigz and /usr/bin/time"))
    func smokeRunReportsEveryFigure() throws {
        let r = try CommandRunner.run("/bin/bash", [Self.script, "--smoke"], environment: ["LAMINA": CommandRunner.laminaPath])
        #expect(r.status == 0, "\(r.stdout)\n\(r.stderr)")
        for line in ["corpus: 3 packages", "lamina image build (no layer cache):", "peak RSS", "1-core limit", "2-core limit",
                     "layer ", "warm rebuild (layer cache)"] {
            #expect(r.stdout.contains(line), "missing '\(line)' in:\n\(r.stdout)")
        }
    }
}
