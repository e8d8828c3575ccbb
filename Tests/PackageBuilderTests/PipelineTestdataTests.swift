import Config
import Foundation
import LaminaCore
import Testing
import TestSupport

@testable import PackageBuilder

/// Compiles every melange configuration in the shared test data.
@Suite(.enabled(if: SharedTestData.isAvailable, "needs ../shared/testdata"))
struct PipelineTestdataTests {
    static func yamlFiles(in directory: String, where include: (String) -> Bool = { _ in true }) -> [String] {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: SharedTestData.path(directory))) ?? []
        return names.filter { $0.hasSuffix(".yaml") && include($0) }.sorted().map { "\(directory)/\($0)" }
    }

    static let e2e = "chainguard-dev+melange/e2e-tests"

    /// melange's examples, its e2e build/test configurations and the Wolfi package configurations.
    static var configs: [String] {
        yamlFiles(in: "chainguard-dev+melange/examples") + ["chainguard-dev+melange/examples/simple-hello/melange.yaml"]
            + yamlFiles(in: e2e) { $0.hasSuffix("-build.yaml") || $0.hasSuffix("-test.yaml") }
            + yamlFiles(in: "wolfi-dev+os")
    }

    /// What compiling `file` gives: "ok", "missing NAME" (a `uses:` we do not ship), or "error: MESSAGE".
    static func outcome(_ file: String, tests: Bool) -> String {
        do {
            let loaded = try BuildConfiguration.load(path: SharedTestData.path(file))
            let compiler = PipelineCompiler(
                loaded: loaded,
                context: BuildContext(
                    architecture: try Architecture("x86_64"),
                    pipelineDirectories: [SharedTestData.path("\(e2e)/pipelines")]))
            if tests { _ = try compiler.compileTests() } else { _ = try compiler.compile() }
            return "ok"
        } catch let error as LaminaError {
            if error.code == .notFound, let range = error.message.range(of: "no pipeline named '") {
                return "missing " + error.message[range.upperBound...].prefix { $0 != "'" }
            }
            return "error: \(error)"
        } catch {
            return "error: \(error)"
        }
    }

    @Test func survey() {
        for file in Self.configs {
            print("BUILD", file, Self.outcome(file, tests: false))
            print("TEST", file, Self.outcome(file, tests: true))
        }
    }
}
