import Config
import Foundation
import LaminaCore
import TestSupport
import Testing

/// The pre-parse alias-key check refuses no real document: every YAML file of ../shared/testdata (melange and apko
/// configs, secdb feeds, pipelines) composes through ``ExpansionBudget/compose(_:file:single:)`` without a
/// `.limitExceeded` refusal (syntax errors of deliberately broken fixtures are Yams's business).
@Suite struct AliasKeyScanTests {
    @Test(.enabled(if: SharedTestData.isAvailable, "needs ../shared/testdata"))
    func noRealDocumentIsRefused() throws {
        let root = SharedTestData.root.path
        var checked = 0
        for case let relative as String in FileManager.default.enumerator(atPath: root) ?? .init()
        where relative.hasSuffix(".yaml") || relative.hasSuffix(".yml") {
            guard let data = FileManager.default.contents(atPath: root + "/" + relative) else { continue }
            checked += 1
            do {
                _ = try ExpansionBudget.compose(String(decoding: data, as: UTF8.self), file: relative)
            } catch let error as LaminaError {
                Issue.record("\(relative): \(error)")
            } catch {
                continue  // a Yams syntax error
            }
        }
        #expect(checked > 150)
    }
}
