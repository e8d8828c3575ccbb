import Foundation
import FuzzTargets
import TestSupport
import Testing

/// Replays, through the same functions libFuzzer drives, every seed from the real test data and
/// every input a fuzzing run ever found (Inputs/<target>/), plus mutilated copies of the seeds.
@Suite struct FuzzRegressionTests {
    static let inputs = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Inputs").path

    @Test(.enabled(if: SharedTestData.isAvailable, "needs ../shared/testdata"), arguments: FuzzTarget.allCases)
    func seedsAndTheirMutilationsParse(target: FuzzTarget) throws {
        // Small files only: a debug build reads a 4 MiB index slowly, and libFuzzer's inputs are small too.
        let files = target.seeds(testdata: SharedTestData.root.path, limit: 30, maxSize: 48 << 10)
        var seeds = target.builtinSeeds
        for path in files { seeds.append(try #require(FileManager.default.contents(atPath: path).map(Array.init))) }
        #expect(!seeds.isEmpty, "no seed for \(target.rawValue)")
        var state: UInt64 = 0x5eed
        for bytes in seeds where !bytes.isEmpty {
            target.run(bytes)
            // Truncated, bit-flipped and doubled copies: what a fuzzer tries first.
            target.run(Array(bytes.prefix(bytes.count / 2)))
            var flipped = bytes
            for _ in 0..<min(8, bytes.count) {
                state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
                flipped[Int(state >> 33) % flipped.count] ^= UInt8(truncatingIfNeeded: state >> 17) | 1
            }
            target.run(flipped)
            target.run(bytes + bytes)
        }
    }

    @Test func regressionInputsParse() throws {
        var replayed = 0
        for target in FuzzTarget.allCases {
            let folder = Self.inputs + "/" + target.rawValue
            for name in (try? FileManager.default.contentsOfDirectory(atPath: folder)) ?? [] {
                let bytes = try #require(FileManager.default.contents(atPath: folder + "/" + name).map(Array.init))
                target.run(bytes)
                replayed += 1
            }
        }
        // Folders name real targets only.
        for name in (try? FileManager.default.contentsOfDirectory(atPath: Self.inputs)) ?? [] where name != "README.md" {
            #expect(FuzzTarget(rawValue: name) != nil, "Inputs/\(name) is not a fuzz target")
        }
        _ = replayed
    }
}
