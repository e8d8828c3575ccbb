import Foundation
import TestSupport

/// Discovers configuration files in the shared test data at test time.
enum TestFiles {
    static var available: Bool { SharedTestData.isAvailable }

    /// `*.yaml` files directly in `directory` (relative to the test data root), as paths relative to the root.
    static func yamlFiles(in directory: String, where include: (String) -> Bool = { _ in true }) -> [String] {
        let base = SharedTestData.path(directory)
        let names = (try? FileManager.default.contentsOfDirectory(atPath: base)) ?? []
        return names.filter { $0.hasSuffix(".yaml") && include($0) }.sorted().map { "\(directory)/\($0)" }
    }

    static func absolute(_ relative: String) -> String { SharedTestData.path(relative) }

    static func text(_ relative: String) throws -> String {
        try String(contentsOfFile: absolute(relative), encoding: .utf8)
    }

    // MARK: apko

    /// The 20 apko example configs.
    static var apkoExamples: [String] { yamlFiles(in: "chainguard-dev+apko/examples") }

    /// apko configs in apko's CLI test data (the `*.melange.yaml` files there are melange configs).
    static var apkoCLIConfigs: [String] {
        yamlFiles(in: "chainguard-dev+apko/internal/cli/testdata") { !$0.hasSuffix(".melange.yaml") }
    }

    /// apko configs in `pkg/build/types/testdata` (including the overlay chain).
    static var apkoTypesConfigs: [String] {
        yamlFiles(in: "chainguard-dev+apko/pkg/build/types/testdata")
            + yamlFiles(in: "chainguard-dev+apko/pkg/build/types/testdata/overlay")
            + yamlFiles(in: "chainguard-dev+apko/examples/on_top_of_base")
    }

    // MARK: melange

    static var melangeExamples: [String] {
        yamlFiles(in: "chainguard-dev+melange/examples") + ["chainguard-dev+melange/examples/simple-hello/melange.yaml"]
    }

    /// melange e2e files that are build or test configurations: `*-build.yaml`, `*-test.yaml`,
    /// `*-build-test.yaml` at the top of `e2e-tests/` (its README's naming rule). `pipelines/` holds
    /// pipeline definitions, `test-fixtures/` shell fixtures, and `*.yaml-DISABLED` is switched off.
    static var melangeE2EConfigs: [String] {
        yamlFiles(in: "chainguard-dev+melange/e2e-tests") { $0.hasSuffix("-build.yaml") || $0.hasSuffix("-test.yaml") }
    }

    /// Every top-level e2e YAML file: each must be classified by `melangeE2EConfigs` (checked by a test).
    static var melangeE2EAll: [String] { yamlFiles(in: "chainguard-dev+melange/e2e-tests") }

    /// Pipeline definitions used by the e2e tests (`uses: ./pipelines/...` style files).
    static var melangeE2EPipelines: [String] { yamlFiles(in: "chainguard-dev+melange/e2e-tests/pipelines") }

    static var wolfiConfigs: [String] { yamlFiles(in: "wolfi-dev+os") }

    /// melange configs kept in apko's and melange's own test data that are meant to load.
    static var otherMelangeConfigs: [String] {
        yamlFiles(in: "chainguard-dev+apko/internal/cli/testdata") { $0.hasSuffix(".melange.yaml") }
            + yamlFiles(in: "chainguard-dev+melange/pkg/build/testdata/build_configs")
            + yamlFiles(in: "chainguard-dev+melange/pkg/build/testdata/test_configuration_load")
    }
}
