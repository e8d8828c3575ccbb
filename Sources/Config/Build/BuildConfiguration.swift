// Source: melange `pkg/config/config.go`, `pkg/config/build_option.go`, `pkg/config/schema.json`,
// `docs/BUILD-FILE.md`. Field order follows melange's structs.

/// A `melange.yaml` package build configuration.
///
/// Decoding is strict like melange's (`KnownFields(true)`, which also covers the apko `environment`):
/// unknown keys are an error. Absent keys decode as empty values.
public struct BuildConfiguration: Codable, Sendable, Equatable {
    /// The origin package.
    public var package: Package
    /// The build guest: an apko image configuration.
    public var environment: ImageConfiguration
    /// Linux capabilities added to or dropped from the build runner.
    public var capabilities: Capabilities
    /// The steps that build the package.
    public var pipeline: [Pipeline]
    /// Further packages split out of the build.
    public var subpackages: [Subpackage]
    /// Named key/value tables that `subpackages[].range` iterates.
    public var data: [RangeData]
    /// How the package is kept up to date (read by update bots; not used for building).
    public var update: Update
    /// `${{vars.NAME}}` values.
    public var vars: [String: String]
    /// Regex rewrites creating further `${{vars.NAME}}`.
    public var varTransforms: [VarTransform]
    /// Build options, enabled with `--build-option NAME`.
    public var options: [String: BuildOption]
    /// Tests for the main package.
    public var test: Test?

    public init(
        package: Package = Package(), environment: ImageConfiguration = ImageConfiguration(),
        capabilities: Capabilities = Capabilities(), pipeline: [Pipeline] = [], subpackages: [Subpackage] = [],
        data: [RangeData] = [], update: Update = Update(), vars: [String: String] = [:],
        varTransforms: [VarTransform] = [], options: [String: BuildOption] = [:], test: Test? = nil
    ) {
        self.package = package
        self.environment = environment
        self.capabilities = capabilities
        self.pipeline = pipeline
        self.subpackages = subpackages
        self.data = data
        self.update = update
        self.vars = vars
        self.varTransforms = varTransforms
        self.options = options
        self.test = test
    }

    enum CodingKeys: String, CodingKey, CaseIterable, AlwaysEncodedKeys {
        case package, environment, capabilities, pipeline, subpackages, data, update, vars
        case varTransforms = "var-transforms"
        case options, test
        static let alwaysEncoded: Set<String> = ["package"]
    }
}

/// `package:`.
public struct Package: Codable, Sendable, Equatable {
    public var name: String
    public var version: String
    /// The apk release number (`-r<epoch>`).
    public var epoch: UInt64
    public var description: String
    public var annotations: [String: String]
    public var url: String
    /// The commit of the build configuration (recorded in `.PKGINFO`).
    public var commit: String
    /// Architectures to build for; empty or `all` means every one.
    public var targetArchitecture: [String]
    public var copyright: [Copyright]
    public var dependencies: Dependencies
    public var options: PackageOptions?
    public var scriptlets: Scriptlets?
    public var checks: Checks
    public var cpe: CPE
    /// File capabilities set after the pipelines ran.
    public var setcap: [Capability]
    /// Build time limit.
    public var timeout: GoDuration?
    public var resources: Resources?
    public var testResources: Resources?

    public init(
        name: String = "", version: String = "", epoch: UInt64 = 0, description: String = "",
        annotations: [String: String] = [:], url: String = "", commit: String = "", targetArchitecture: [String] = [],
        copyright: [Copyright] = [], dependencies: Dependencies = Dependencies(), options: PackageOptions? = nil,
        scriptlets: Scriptlets? = nil, checks: Checks = Checks(), cpe: CPE = CPE(), setcap: [Capability] = [],
        timeout: GoDuration? = nil, resources: Resources? = nil, testResources: Resources? = nil
    ) {
        self.name = name
        self.version = version
        self.epoch = epoch
        self.description = description
        self.annotations = annotations
        self.url = url
        self.commit = commit
        self.targetArchitecture = targetArchitecture
        self.copyright = copyright
        self.dependencies = dependencies
        self.options = options
        self.scriptlets = scriptlets
        self.checks = checks
        self.cpe = cpe
        self.setcap = setcap
        self.timeout = timeout
        self.resources = resources
        self.testResources = testResources
    }

    /// `version-r<epoch>`.
    public var fullVersion: String { "\(version)-r\(epoch)" }

    enum CodingKeys: String, CodingKey, CaseIterable, AlwaysEncodedKeys {
        case name, version, epoch, description, annotations, url, commit
        case targetArchitecture = "target-architecture"
        case copyright, dependencies, options, scriptlets, checks, cpe, setcap, timeout, resources
        case testResources = "test-resources"
        static let alwaysEncoded: Set<String> = ["name", "version", "epoch"]
    }
}

/// `package.copyright[]`.
public struct Copyright: Codable, Sendable, Equatable {
    public var paths: [String]
    public var attestation: String
    /// SPDX license expression.
    public var license: String
    public var licensePath: String
    public var detectionOverride: String

    public init(
        paths: [String] = [], attestation: String = "", license: String = "", licensePath: String = "",
        detectionOverride: String = ""
    ) {
        self.paths = paths
        self.attestation = attestation
        self.license = license
        self.licensePath = licensePath
        self.detectionOverride = detectionOverride
    }

    enum CodingKeys: String, CodingKey, CaseIterable, AlwaysEncodedKeys {
        case paths, attestation, license
        case licensePath = "license-path"
        case detectionOverride = "detection-override"
        static let alwaysEncoded: Set<String> = ["license"]
    }
}

/// `dependencies:` of a package or subpackage.
public struct Dependencies: Codable, Sendable, Equatable {
    public var runtime: [String]
    public var provides: [String]
    public var replaces: [String]
    /// An integer, kept as written (melange checks it converts).
    public var providerPriority: String
    /// An integer, kept as written.
    public var replacesPriority: String

    public init(
        runtime: [String] = [], provides: [String] = [], replaces: [String] = [], providerPriority: String = "",
        replacesPriority: String = ""
    ) {
        self.runtime = runtime
        self.provides = provides
        self.replaces = replaces
        self.providerPriority = providerPriority
        self.replacesPriority = replacesPriority
    }

    enum CodingKeys: String, CodingKey, CaseIterable {
        case runtime, provides, replaces
        case providerPriority = "provider-priority"
        case replacesPriority = "replaces-priority"
    }
}

/// `options:` of a package or subpackage.
public struct PackageOptions: Codable, Sendable, Equatable {
    /// A virtual package: provides nothing (no `so:`/`cmd:` provides are generated).
    public var noProvides: Bool
    /// Self-contained: no dependencies are generated.
    public var noDepends: Bool
    /// No `cmd:` provides.
    public var noCommands: Bool
    /// `so:` dependencies without versions.
    public var noVersionedShlibDeps: Bool

    public init(
        noProvides: Bool = false, noDepends: Bool = false, noCommands: Bool = false, noVersionedShlibDeps: Bool = false
    ) {
        self.noProvides = noProvides
        self.noDepends = noDepends
        self.noCommands = noCommands
        self.noVersionedShlibDeps = noVersionedShlibDeps
    }

    enum CodingKeys: String, CodingKey, CaseIterable {
        case noProvides = "no-provides"
        case noDepends = "no-depends"
        case noCommands = "no-commands"
        case noVersionedShlibDeps = "no-versioned-shlib-deps"
    }
}

/// `scriptlets:`: package install scripts (each should start with a shebang).
public struct Scriptlets: Codable, Sendable, Equatable {
    public var trigger: Trigger
    public var preInstall: String
    public var postInstall: String
    public var preDeinstall: String
    public var postDeinstall: String
    public var preUpgrade: String
    public var postUpgrade: String

    public init(
        trigger: Trigger = Trigger(), preInstall: String = "", postInstall: String = "", preDeinstall: String = "",
        postDeinstall: String = "", preUpgrade: String = "", postUpgrade: String = ""
    ) {
        self.trigger = trigger
        self.preInstall = preInstall
        self.postInstall = postInstall
        self.preDeinstall = preDeinstall
        self.postDeinstall = postDeinstall
        self.preUpgrade = preUpgrade
        self.postUpgrade = postUpgrade
    }

    enum CodingKeys: String, CodingKey, CaseIterable {
        case trigger
        case preInstall = "pre-install"
        case postInstall = "post-install"
        case preDeinstall = "pre-deinstall"
        case postDeinstall = "post-deinstall"
        case preUpgrade = "pre-upgrade"
        case postUpgrade = "post-upgrade"
    }
}

/// `scriptlets.trigger`: a script run when files change under `paths`.
public struct Trigger: Codable, Sendable, Equatable {
    public var script: String
    public var paths: [String]

    public init(script: String = "", paths: [String] = []) {
        self.script = script
        self.paths = paths
    }

    enum CodingKeys: String, CodingKey, CaseIterable { case script, paths }
}

/// `checks:`.
public struct Checks: Codable, Sendable, Equatable {
    /// Linters to turn off.
    public var disabled: [String]

    public init(disabled: [String] = []) { self.disabled = disabled }

    enum CodingKeys: String, CodingKey, CaseIterable { case disabled }
}

/// `package.cpe`: fields of a CPE 2.3 name for vulnerability matching.
public struct CPE: Codable, Sendable, Equatable {
    public var part: String
    public var vendor: String
    public var product: String
    public var edition: String
    public var language: String
    public var swEdition: String
    public var targetSW: String
    public var targetHW: String
    public var other: String

    public init(
        part: String = "", vendor: String = "", product: String = "", edition: String = "", language: String = "",
        swEdition: String = "", targetSW: String = "", targetHW: String = "", other: String = ""
    ) {
        self.part = part
        self.vendor = vendor
        self.product = product
        self.edition = edition
        self.language = language
        self.swEdition = swEdition
        self.targetSW = targetSW
        self.targetHW = targetHW
        self.other = other
    }

    public var isEmpty: Bool { self == CPE() }

    enum CodingKeys: String, CodingKey, CaseIterable {
        case part, vendor, product, edition, language
        case swEdition = "sw_edition"
        case targetSW = "target_sw"
        case targetHW = "target_hw"
        case other
    }
}

/// `setcap[]`: capabilities for one file, `add: {cap_net_bind_service: "+eip"}`.
public struct Capability: Codable, Sendable, Equatable {
    public var path: String
    /// Comma-separated capability names → flags (`e`, `p`, `i`).
    public var add: [String: String]
    /// Why the file needs it (required).
    public var reason: String

    public init(path: String = "", add: [String: String] = [:], reason: String = "") {
        self.path = path
        self.add = add
        self.reason = reason
    }

    enum CodingKeys: String, CodingKey, CaseIterable { case path, add, reason }
}

/// `package.resources` / `test-resources`.
public struct Resources: Codable, Sendable, Equatable {
    public var cpu: String
    public var cpuModel: String
    public var memory: String
    public var disk: String

    public init(cpu: String = "", cpuModel: String = "", memory: String = "", disk: String = "") {
        self.cpu = cpu
        self.cpuModel = cpuModel
        self.memory = memory
        self.disk = disk
    }

    enum CodingKeys: String, CodingKey, CaseIterable {
        case cpu
        case cpuModel = "cpumodel"
        case memory, disk
    }
}

/// `capabilities:` of the build runner.
public struct Capabilities: Codable, Sendable, Equatable {
    public var add: [String]
    public var drop: [String]

    public init(add: [String] = [], drop: [String] = []) {
        self.add = add
        self.drop = drop
    }

    enum CodingKeys: String, CodingKey, CaseIterable { case add, drop }
}

/// One pipeline step: a built-in or custom pipeline (`uses` + `with`), a shell script (`runs`), or a group
/// of nested steps sharing `working-directory` and `environment`.
public struct Pipeline: Codable, Sendable, Equatable {
    /// Condition (`${{build.arch}} == 'x86_64'`); see `Condition`.
    public var `if`: String
    public var name: String
    /// A pipeline name such as `fetch`, `autoconf/configure`, or a path under a pipeline directory.
    public var uses: String
    /// Inputs of the `uses` pipeline (any scalar, kept as written).
    public var with: [String: String]
    /// A shell script run with `/bin/sh`.
    public var runs: String
    /// Nested steps.
    public var pipeline: [Pipeline]
    /// In a pipeline definition file: the inputs it declares.
    public var inputs: [String: PipelineInput]
    /// Packages this step needs in the build guest.
    public var needs: Needs?
    public var label: String
    public var assertions: PipelineAssertions?
    /// Relative to `/home/build` unless absolute.
    public var workingDirectory: String
    /// Extra environment variables for this step (and its nested steps).
    public var environment: [String: String]

    public init(
        if condition: String = "", name: String = "", uses: String = "", with: [String: String] = [:],
        runs: String = "", pipeline: [Pipeline] = [], inputs: [String: PipelineInput] = [:], needs: Needs? = nil,
        label: String = "", assertions: PipelineAssertions? = nil, workingDirectory: String = "",
        environment: [String: String] = [:]
    ) {
        self.if = condition
        self.name = name
        self.uses = uses
        self.with = with
        self.runs = runs
        self.pipeline = pipeline
        self.inputs = inputs
        self.needs = needs
        self.label = label
        self.assertions = assertions
        self.workingDirectory = workingDirectory
        self.environment = environment
    }

    enum CodingKeys: String, CodingKey, CaseIterable {
        case `if`, name, uses, with, runs, pipeline, inputs, needs, label, assertions
        case workingDirectory = "working-directory"
        case environment
    }
}

/// A declared input of a pipeline definition.
public struct PipelineInput: Codable, Sendable, Equatable {
    public var description: String
    /// The value used when `with:` leaves it out.
    public var defaultValue: String
    public var required: Bool

    public init(description: String = "", defaultValue: String = "", required: Bool = false) {
        self.description = description
        self.defaultValue = defaultValue
        self.required = required
    }

    enum CodingKeys: String, CodingKey, CaseIterable {
        case description
        case defaultValue = "default"
        case required
    }
}

/// `needs:` of a pipeline step.
public struct Needs: Codable, Sendable, Equatable {
    public var packages: [String]

    public init(packages: [String] = []) { self.packages = packages }

    enum CodingKeys: String, CodingKey, CaseIterable { case packages }
}

/// `assertions:` of a pipeline step.
public struct PipelineAssertions: Codable, Sendable, Equatable {
    /// How many nested steps must succeed.
    public var requiredSteps: Int

    public init(requiredSteps: Int = 0) { self.requiredSteps = requiredSteps }

    enum CodingKeys: String, CodingKey, CaseIterable {
        case requiredSteps = "required-steps"
    }
}

/// `subpackages[]`.
public struct Subpackage: Codable, Sendable, Equatable {
    /// Condition deciding whether the subpackage is built.
    public var `if`: String
    /// Name of a `data` entry: the subpackage is repeated for each of its items (`${{range.key}}`,
    /// `${{range.value}}`).
    public var range: String
    public var name: String
    public var pipeline: [Pipeline]
    public var dependencies: Dependencies
    public var options: PackageOptions?
    public var scriptlets: Scriptlets?
    public var description: String
    public var annotations: [String: String]
    public var url: String
    public var commit: String
    public var checks: Checks
    public var test: Test?
    public var setcap: [Capability]

    public init(
        if condition: String = "", range: String = "", name: String = "", pipeline: [Pipeline] = [],
        dependencies: Dependencies = Dependencies(), options: PackageOptions? = nil, scriptlets: Scriptlets? = nil,
        description: String = "", annotations: [String: String] = [:], url: String = "", commit: String = "",
        checks: Checks = Checks(), test: Test? = nil, setcap: [Capability] = []
    ) {
        self.if = condition
        self.range = range
        self.name = name
        self.pipeline = pipeline
        self.dependencies = dependencies
        self.options = options
        self.scriptlets = scriptlets
        self.description = description
        self.annotations = annotations
        self.url = url
        self.commit = commit
        self.checks = checks
        self.test = test
        self.setcap = setcap
    }

    enum CodingKeys: String, CodingKey, CaseIterable, AlwaysEncodedKeys {
        case `if`, range, name, pipeline, dependencies, options, scriptlets, description, annotations, url, commit
        case checks, test, setcap
        static let alwaysEncoded: Set<String> = ["name"]
    }
}

/// `test:` of a package or subpackage.
public struct Test: Codable, Sendable, Equatable {
    /// Extra guest contents for the test (the package under test is added by the engine).
    public var environment: ImageConfiguration
    public var pipeline: [Pipeline]

    public init(environment: ImageConfiguration = ImageConfiguration(), pipeline: [Pipeline] = []) {
        self.environment = environment
        self.pipeline = pipeline
    }

    enum CodingKeys: String, CodingKey, CaseIterable, AlwaysEncodedKeys {
        case environment, pipeline
        static let alwaysEncoded: Set<String> = ["pipeline"]
    }
}

/// `data[]`: a named table for `range`.
public struct RangeData: Codable, Sendable, Equatable {
    public var name: String
    public var items: [String: String]

    public init(name: String = "", items: [String: String] = [:]) {
        self.name = name
        self.items = items
    }

    enum CodingKeys: String, CodingKey, CaseIterable, AlwaysEncodedKeys {
        case name, items
        static let alwaysEncoded: Set<String> = ["name", "items"]
    }
}

/// `var-transforms[]`: `vars.<to>` = `from` (after substitution) with every match of `match` replaced by
/// `replace` (Go regexp syntax; `$1`, `${1}`, `${name}` refer to groups).
public struct VarTransform: Codable, Sendable, Equatable {
    public var from: String
    public var match: String
    public var replace: String
    public var to: String

    public init(from: String = "", match: String = "", replace: String = "", to: String = "") {
        self.from = from
        self.match = match
        self.replace = replace
        self.to = to
    }

    enum CodingKeys: String, CodingKey, CaseIterable, AlwaysEncodedKeys {
        case from, match, replace, to
        static let alwaysEncoded: Set<String> = ["from", "match", "replace", "to"]
    }
}

/// `options.<name>`: what a build option changes.
public struct BuildOption: Codable, Sendable, Equatable {
    /// Variables overridden when the option is on.
    public var vars: [String: String]
    public var environment: BuildOptionEnvironment

    public init(vars: [String: String] = [:], environment: BuildOptionEnvironment = BuildOptionEnvironment()) {
        self.vars = vars
        self.environment = environment
    }

    enum CodingKeys: String, CodingKey, CaseIterable { case vars, environment }
}

/// `options.<name>.environment`.
public struct BuildOptionEnvironment: Codable, Sendable, Equatable {
    public var contents: BuildOptionContents

    public init(contents: BuildOptionContents = BuildOptionContents()) { self.contents = contents }

    enum CodingKeys: String, CodingKey, CaseIterable { case contents }
}

/// `options.<name>.environment.contents`.
public struct BuildOptionContents: Codable, Sendable, Equatable {
    public var packages: ListOption

    public init(packages: ListOption = ListOption()) { self.packages = packages }

    enum CodingKeys: String, CodingKey, CaseIterable { case packages }
}

/// Additions to and removals from a list.
public struct ListOption: Codable, Sendable, Equatable {
    public var add: [String]
    public var remove: [String]

    public init(add: [String] = [], remove: [String] = []) {
        self.add = add
        self.remove = remove
    }

    enum CodingKeys: String, CodingKey, CaseIterable { case add, remove }
}
