import Config
import Foundation
import Testing
import TestSupport

@Test func smokeAll() throws {
    let fm = FileManager.default
    var failures: [String] = []
    for dir in ["chainguard-dev+apko/examples", "chainguard-dev+apko/internal/cli/testdata", "chainguard-dev+apko/pkg/build/types/testdata/overlay", "chainguard-dev+apko/pkg/build/types/testdata"] {
        let base = SharedTestData.path(dir)
        for name in (try? fm.contentsOfDirectory(atPath: base)) ?? [] where name.hasSuffix(".yaml") && !name.contains("melange") {
            let path = base + "/" + name
            let text = try String(contentsOfFile: path, encoding: .utf8)
            do { _ = try ImageConfiguration.decode(yaml: text, file: name) } catch { failures.append("\(error)") }
        }
    }
    for dir in ["chainguard-dev+melange/examples", "chainguard-dev+melange/e2e-tests", "wolfi-dev+os", "chainguard-dev+apko/internal/cli/testdata", "chainguard-dev+melange/pkg/build/testdata/configuration_load", "chainguard-dev+melange/pkg/build/testdata/build_configs"] {
        let base = SharedTestData.path(dir)
        for name in (try? fm.contentsOfDirectory(atPath: base)) ?? [] where name.hasSuffix(".yaml") && (!dir.contains("apko") || name.contains("melange")) {
            let path = base + "/" + name
            let text = try String(contentsOfFile: path, encoding: .utf8)
            do { _ = try YAMLProbe.decodeBuild(text, name) } catch { failures.append("\(error)") }
        }
    }
    print(failures.joined(separator: "\n"))
}
