import Foundation
import TestSupport
import Testing

/// `lamina image show-config` on every apko configuration of the test data, `include:` resolved as apko resolves
/// it, and `lamina package compile` (melange `compile`).
@Suite(.enabled(if: SharedTestData.isAvailable, "needs ../shared/testdata"))
struct ConfigCompatibilityTests {
    static let apko = "chainguard-dev+apko"

    /// Every apko configuration in apko's test data (every `*.yaml` that is not a melange configuration), relative
    /// to apko's folder.
    static var apkoConfigs: [String] {
        let root = SharedTestData.path(apko)
        guard let walker = FileManager.default.enumerator(atPath: root) else { return [] }
        var found: [String] = []
        while let relative = walker.nextObject() as? String {
            guard relative.hasSuffix(".yaml"), !relative.hasSuffix("melange.yaml") else { continue }
            let text = (try? String(contentsOfFile: root + "/" + relative, encoding: .utf8)) ?? ""
            if !text.split(separator: "\n").contains(where: { $0.hasPrefix("package:") }) { found.append(relative) }
        }
        return found.sorted()
    }

    /// The folder apko's own tests run from for `relative`: the Go package owning its `testdata/`, else apko's root
    /// (its examples say `include: examples/alpine-base.yaml`).
    static func workingDirectory(for relative: String) -> String {
        let root = SharedTestData.path(apko)
        if let range = relative.range(of: "/testdata/") { return root + "/" + relative[..<range.lowerBound] }
        return root
    }

    @Test func apkoConfigurationsAreAllFound() {
        let configs = Self.apkoConfigs
        #expect(configs.count >= 30, "\(configs)")
        #expect(configs.contains("examples/include.yaml"))
        #expect(configs.contains("pkg/build/types/testdata/overlay/overlay_with_package.apko.yaml"))
    }

    @Test(arguments: apkoConfigs)
    func showConfigSucceeds(relative: String) throws {
        let directory = Self.workingDirectory(for: relative)
        let root = SharedTestData.path(Self.apko)
        let path = String((root + "/" + relative).dropFirst(directory.count + 1))
        let result = try CommandRunner.lamina(["image", "show-config", path, "--json"], directory: directory)
        #expect(result.status == 0, "\(relative): \(result.stderr)")
        let object = try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any]
        #expect(object?["contents"] != nil, "\(relative): \(result.stdout)")
    }

    /// apko's include chain `overlay_with_package` → `overlay` → `base`, each naming the next relative to
    /// `pkg/build/types`: the merged lists hold the included entries first.
    @Test func includeChainResolvesFromTheWorkingDirectory() throws {
        let directory = SharedTestData.path("\(Self.apko)/pkg/build/types")
        let result = try CommandRunner.lamina(
            ["image", "show-config", "testdata/overlay/overlay_with_package.apko.yaml", "--json"], directory: directory)
        #expect(result.status == 0, "\(result.stderr)")
        let object = try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any]
        let packages = (object?["contents"] as? [String: Any])?["packages"] as? [String]
        #expect(packages?.last == "other_package", "\(result.stdout)")
        #expect((packages?.count ?? 0) >= 2)
    }

    /// The working directory comes first, the including file's folder is the fallback.
    @Test func includeLooksInTheWorkingDirectoryFirst() throws {
        try TemporaryDirectory.withSync { dir in
            try FileManager.default.createDirectory(atPath: dir.file("sub"), withIntermediateDirectories: true)
            try "cmd: from-working-directory\n".write(toFile: dir.file("base.yaml"), atomically: true, encoding: .utf8)
            try "cmd: from-beside\n".write(toFile: dir.file("sub/base.yaml"), atomically: true, encoding: .utf8)
            try "include: base.yaml\ncontents:\n  packages: [top]\n".write(
                toFile: dir.file("sub/top.yaml"), atomically: true, encoding: .utf8)
            func cmd() throws -> String? {
                let result = try CommandRunner.lamina(
                    ["image", "show-config", "sub/top.yaml", "--json"], directory: dir.path)
                #expect(result.status == 0, "\(result.stderr)")
                let object = try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any]
                return object?["cmd"] as? String
            }
            #expect(try cmd() == "from-working-directory")
            try FileManager.default.removeItem(atPath: dir.file("base.yaml"))
            #expect(try cmd() == "from-beside")
            try FileManager.default.removeItem(atPath: dir.file("sub/base.yaml"))
            let missing = try CommandRunner.lamina(["image", "show-config", "sub/top.yaml"], directory: dir.path)
            #expect(missing.status == 1)
            #expect(missing.stderr.contains("sub/top.yaml:1:10"))
            #expect(
                missing.stderr.contains("cannot find included file 'base.yaml' (looked in: base.yaml, sub/base.yaml)"))
        }
    }

    // MARK: - package compile

    static let melange = SharedTestData.path("chainguard-dev+melange")

    @Test func compilePrintsOneLineOfJSON() throws {
        let result = try CommandRunner.lamina(
            ["package", "compile", "examples/gnu-hello.yaml", "--arch", "amd64"], directory: Self.melange)
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stdout.hasSuffix("}\n") && result.stdout.filter { $0 == "\n" }.count == 1)
        let object = try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any]
        let package = object?["package"] as? [String: Any]
        #expect(package?["name"] as? String == "hello")
        let pipeline = object?["pipeline"] as? [[String: Any]]
        #expect(pipeline?.first?["uses"] as? String == "fetch")
        #expect((pipeline?.first?["pipeline"] as? [[String: Any]])?.isEmpty == false)
        // Another architecture changes the triplets in the expanded steps.
        let arm = try CommandRunner.lamina(
            ["package", "compile", "examples/gnu-hello.yaml", "--arch", "arm64"], directory: Self.melange)
        #expect(arm.stdout.contains("aarch64-unknown-linux-gnu") || arm.stdout.contains("aarch64-pc-linux-gnu"))
    }

    @Test func compileUsesPipelineDirectoriesAndBuildOptions() throws {
        let result = try CommandRunner.lamina(
            ["package", "compile", "e2e-tests/env-propagation-uses-build.yaml", "--arch", "x86_64",
             "--pipeline-dir", "e2e-tests/pipelines"],
            directory: Self.melange)
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stdout.contains(#""uses":"check-env""#))
        let without = try CommandRunner.lamina(
            ["package", "compile", "e2e-tests/env-propagation-uses-build.yaml", "--arch", "x86_64"],
            directory: Self.melange)
        #expect(without.status == 1)
        #expect(without.stderr.contains("no pipeline named 'check-env'"))
        let option = try CommandRunner.lamina(
            ["package", "compile", "examples/gnu-hello.yaml", "--arch", "x86_64", "--build-option", "nope"],
            directory: Self.melange)
        #expect(option.status == 1)
        #expect(option.stderr.contains("unknown build option 'nope'"))
    }

    /// melange decodes strictly: an unknown key is refused with its file, line and column.
    @Test func compileRefusesUnknownKeysWithTheirLine() throws {
        let result = try CommandRunner.lamina(
            ["package", "compile", "pkg/build/testdata/configuration_load/unknown-fields.melange.yaml"],
            directory: Self.melange)
        #expect(result.status == 1)
        #expect(result.stderr.contains("unknown-fields.melange.yaml:7:3"), "\(result.stderr)")
        #expect(result.stderr.contains("unknown key 'repositories' in 'environment'"))
    }

    @Test func compileBenchReportsRateAndFailuresByReason() throws {
        let result = try CommandRunner.lamina(
            ["package", "compile", "--bench", "pkg/build/testdata", "--arch", "x86_64"], directory: Self.melange)
        #expect(result.status == 0, "\(result.stderr)")
        let first = result.stdout.split(separator: "\n").first ?? ""
        #expect(first.hasPrefix("compiled 17 configurations in "), "\(result.stdout)")
        // The invalid-* files melange's own tests refuse, and two that lack a required input or a pipeline.
        #expect(first.contains(" configs/s, 7 ok, 10 failed"), "\(result.stdout)")
        #expect(result.stdout.contains("  1× unknown key '*' in '*'"))
        #expect(result.stdout.contains("  1× missing pipeline 'test-uses'"))
        #expect(result.stdout.contains("  2× pipeline '*': required input \"*\" for pipeline is missing\n"))
    }
}
