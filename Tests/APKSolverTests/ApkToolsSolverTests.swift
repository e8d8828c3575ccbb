import APK
import APKSolver
import Foundation
import LaminaCore
import Testing
import TestSupport

let apkToolsCases = ApkToolsCase.loadAll()

/// apk-tools 2.14.10's 93 solver test cases, run with our resolver.
@Suite("apk-tools solver cases")
struct ApkToolsSolverTests {
    @Test("all 93 cases are present", .enabled(if: SharedTestData.isAvailable, "needs ../shared/testdata"))
    func corpus() {
        #expect(apkToolsCases.count == 93)
    }

    @Test(
        "same transaction (or failure) as apk-tools 2.14",
        .enabled(if: SharedTestData.isAvailable, "needs ../shared/testdata"), arguments: apkToolsCases)
    func matchesApkTools(_ testCase: ApkToolsCase) throws {
        let outcome = try testCase.run()
        let matches: Bool
        if let subject = testCase.firstErrorSubject {
            // We must fail too, and our explanation must name what apk's report starts with.
            matches = outcome.failed && outcome.lines.joined().contains(subject)
        } else {
            // Successes, and command-line errors (invalid atoms), must match line for line.
            matches = outcome.lines == testCase.expected
        }
        #expect(
            matches,
            "expected:\n\(testCase.expected.joined(separator: "\n"))\ngot:\n\(outcome.lines.joined(separator: "\n"))")
    }
}
