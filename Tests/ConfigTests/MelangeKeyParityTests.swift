import Testing

@testable import Config

/// melange decodes `melange.yaml` strictly (yaml.v3 `KnownFields`): every key it knows is accepted, every other
/// key refused. Our key sets per type equal melange's YAML field names (`pkg/config/config.go` at melange
/// 2043d30b), so a configuration melange takes is never refused and one it refuses is never taken. How an unknown
/// key is reported (file:line:column, key path, closest valid key) is in ConfigErrorTests.
struct MelangeKeyParityTests {
    static let melangeKeys: [(type: String, keys: [String], ours: [String]?)] = [
        (
            "BuildConfiguration",
            ["capabilities", "data", "environment", "options", "package", "pipeline", "subpackages", "test",
                "update", "var-transforms", "vars"],
            KnownKeys.names(of: BuildConfiguration.CodingKeys.self)),
        (
            "CPE",
            ["edition", "language", "other", "part", "product", "sw_edition", "target_hw", "target_sw", "vendor"],
            KnownKeys.names(of: CPE.CodingKeys.self)),
        ("Capabilities", ["add", "drop"], KnownKeys.names(of: Capabilities.CodingKeys.self)),
        ("Capability", ["add", "path", "reason"], KnownKeys.names(of: Capability.CodingKeys.self)),
        ("Checks", ["disabled"], KnownKeys.names(of: Checks.CodingKeys.self)),
        (
            "Copyright",
            ["attestation", "detection-override", "license", "license-path", "paths"],
            KnownKeys.names(of: Copyright.CodingKeys.self)),
        (
            "Dependencies",
            ["provider-priority", "provides", "replaces", "replaces-priority", "runtime"],
            KnownKeys.names(of: Dependencies.CodingKeys.self)),
        (
            "GitHubMonitor",
            ["identifier", "strip-prefix", "strip-suffix", "tag-filter", "tag-filter-contains", "tag-filter-prefix",
                "use-tag"],
            KnownKeys.names(of: GitHubMonitor.CodingKeys.self)),
        (
            "GitMonitor",
            ["strip-prefix", "strip-suffix", "tag-filter-contains", "tag-filter-prefix"],
            KnownKeys.names(of: GitMonitor.CodingKeys.self)),
        ("Needs", ["packages"], KnownKeys.names(of: Needs.CodingKeys.self)),
        (
            "OCIMonitor",
            ["identifier", "strip-prefix", "strip-suffix", "tag-filter-contains", "tag-filter-prefix"],
            KnownKeys.names(of: OCIMonitor.CodingKeys.self)),
        (
            "Package",
            ["annotations", "checks", "commit", "copyright", "cpe", "dependencies", "description", "epoch", "name",
                "options", "resources", "scriptlets", "setcap", "target-architecture", "test-resources", "timeout",
                "url", "version"],
            KnownKeys.names(of: Package.CodingKeys.self)),
        (
            "PackageOptions",
            ["no-commands", "no-depends", "no-provides", "no-versioned-shlib-deps"],
            KnownKeys.names(of: PackageOptions.CodingKeys.self)),
        (
            "Pipeline",
            ["assertions", "environment", "if", "inputs", "label", "name", "needs", "pipeline", "runs", "uses",
                "with", "working-directory"],
            KnownKeys.names(of: Pipeline.CodingKeys.self)),
        ("PipelineAssertions", ["required-steps"], KnownKeys.names(of: PipelineAssertions.CodingKeys.self)),
        ("PipelineInput", ["default", "description", "required"], KnownKeys.names(of: PipelineInput.CodingKeys.self)),
        ("RangeData", ["items", "name"], KnownKeys.names(of: RangeData.CodingKeys.self)),
        (
            "ReleaseMonitor",
            ["identifier", "strip-prefix", "strip-suffix", "version-filter-contains", "version-filter-prefix"],
            KnownKeys.names(of: ReleaseMonitor.CodingKeys.self)),
        ("Resources", ["cpu", "cpumodel", "disk", "memory"], KnownKeys.names(of: Resources.CodingKeys.self)),
        ("Schedule", ["period", "reason"], KnownKeys.names(of: Schedule.CodingKeys.self)),
        (
            "Scriptlets",
            ["post-deinstall", "post-install", "post-upgrade", "pre-deinstall", "pre-install", "pre-upgrade",
                "trigger"],
            KnownKeys.names(of: Scriptlets.CodingKeys.self)),
        (
            "Subpackage",
            ["annotations", "checks", "commit", "dependencies", "description", "if", "name", "options", "pipeline",
                "range", "scriptlets", "setcap", "test", "url"],
            KnownKeys.names(of: Subpackage.CodingKeys.self)),
        ("Test", ["environment", "pipeline"], KnownKeys.names(of: Test.CodingKeys.self)),
        ("Trigger", ["paths", "script"], KnownKeys.names(of: Trigger.CodingKeys.self)),
        (
            "Update",
            ["enable-prerelease-tags", "enabled", "exclude-reason", "git", "github", "ignore-regex-patterns",
                "manual", "oci", "release-monitor", "require-sequential", "schedule", "shared", "version-separator",
                "version-transform", "version_data"],
            KnownKeys.names(of: Update.CodingKeys.self)),
        ("VarTransform", ["from", "match", "replace", "to"], KnownKeys.names(of: VarTransform.CodingKeys.self)),
        ("VersionDataMonitor", ["sources", "version_format"], KnownKeys.names(of: VersionDataMonitor.CodingKeys.self)),
        (
            "VersionDataSource",
            ["commit_source", "ignore", "name", "stream", "use_release"],
            KnownKeys.names(of: VersionDataSource.CodingKeys.self)),
        ("VersionTransform", ["match", "replace"], KnownKeys.names(of: VersionTransform.CodingKeys.self)),
    ]

    @Test func everyTypeIsStrictWithMelangesKeys() {
        #expect(Self.melangeKeys.count == 29)
        for row in Self.melangeKeys {
            #expect(row.ours != nil, "\(row.type) accepts any key")
            #expect(Set(row.ours ?? []) == Set(row.keys), "\(row.type)")
        }
    }

    /// A key melange knows somewhere else is still unknown here: strictness is per mapping.
    @Test func keysAreCheckedPerMapping() throws {
        let error = try #require(throws: (any Error).self) {
            try BuildConfiguration.decode(yaml: "package:\n  name: a\n  version: 1\n  pipeline: []\n")
        }
        #expect("\(error)".contains("melange.yaml:4:3"))
        #expect("\(error)".contains("unknown key 'pipeline' in 'package'"))
    }
}
