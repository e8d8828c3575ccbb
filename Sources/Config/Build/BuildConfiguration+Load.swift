import Foundation
import LaminaCore

/// A `melange.yaml` loaded the way melange's `ParseConfiguration` prepares it.
public struct LoadedBuildConfiguration: Sendable {
    /// The prepared configuration (see `BuildConfiguration.load`).
    public var configuration: BuildConfiguration
    /// The file as read.
    public var file: ConfigFile
    /// Positions of every key in the file; expanded `range` subpackages point at the subpackage they came
    /// from.
    public var sourceMap: SourceMap
}

/// Options for `BuildConfiguration.load`.
public struct BuildLoadOptions: Sendable {
    /// Variables merged over `vars:` (melange `--vars-file`).
    public var extraVars: [String: String]
    /// Environment variables under the config's `environment.environment` (melange `--env-file`); the
    /// config's own values win.
    public var extraEnvironment: [String: String]
    /// The commit recorded for packages whose config sets none (melange `--git-commit`).
    public var commit: String?

    public init(extraVars: [String: String] = [:], extraEnvironment: [String: String] = [:], commit: String? = nil) {
        self.extraVars = extraVars
        self.extraEnvironment = extraEnvironment
        self.commit = commit
    }
}

extension BuildConfiguration {
    /// The user melange builds as: `build`, uid and gid 1000.
    public static let buildUser = "build"
    /// The default guest environment melange sets when the config leaves a variable empty.
    public static let defaultEnvironment: [String: String] = [
        "HOME": "/home/build",
        "GOPATH": "/home/build/.cache/go",
        "GOMODCACHE": "/var/cache/melange/gomodcache",
        "UV_CACHE_DIR": "/var/cache/melange/uv",
        "PIP_CACHE_DIR": "/var/cache/melange/pip",
        "COMPOSER_CACHE_DIR": "/var/cache/melange/composer",
        "npm_config_cache": "/var/cache/melange/npm",
    ]

    /// Decodes one `melange.yaml` document as written: strict keys, no substitution, no defaults, no checks.
    /// - Throws: `LaminaError(.invalidInput)` naming `file:line:column` and the key path.
    public static func decode(yaml: String, file: String = "melange.yaml") throws -> BuildConfiguration {
        try decodeWithSourceMap(yaml: yaml, file: file).configuration
    }

    /// Decodes one document and returns where each key sits.
    public static func decodeWithSourceMap(
        yaml: String, file: String = "melange.yaml"
    ) throws -> (configuration: BuildConfiguration, sourceMap: SourceMap) {
        let (value, map) = try YAMLConfigDecoder(file: file).decode(BuildConfiguration.self, from: yaml)
        return (value, map)
    }

    /// Reads and prepares a `melange.yaml` as melange's `ParseConfiguration` does:
    ///
    /// 1. strict decoding;
    /// 2. `${{package.*}}`, `${{vars.*}}` and var-transform results replaced where already known (unknown
    ///    variables are left for the per-architecture `Substitutions`);
    /// 3. `range:` subpackages expanded, one per `data` item in key order (`${{range.key}}`,
    ///    `${{range.value}}`); `data` is then cleared;
    /// 4. the `build` user and group (1000) added to the build and test environments, default guest
    ///    environment variables (`HOME`, `GOPATH`, caches) set where empty;
    /// 5. dependencies, provides, replaces, priorities and environment packages fully substituted (an
    ///    unknown variable there is an error);
    /// 6. nested pipelines inherit `working-directory` and `environment`;
    /// 7. validation: package and subpackage names (`^[a-zA-Z\d][a-zA-Z\d+_.-]*$`, unique), a version,
    ///    integer priorities, pipeline shape (`with` needs `uses`; not both `uses` and `runs`), setcap
    ///    capabilities and reasons, CPE fields.
    /// - Throws: `LaminaError` with `file:line:column` and the key path.
    public static func load(path: String, options: BuildLoadOptions = BuildLoadOptions()) throws
        -> LoadedBuildConfiguration
    {
        let bytes = try ConfigFiles.read(path)
        let text = String(decoding: bytes, as: UTF8.self)
        let (configuration, sourceMap) = try prepare(yaml: text, file: path, options: options)
        return LoadedBuildConfiguration(
            configuration: configuration, file: ConfigFile(path: path, bytes: bytes), sourceMap: sourceMap)
    }

    /// `load` for text already in memory.
    public static func prepare(
        yaml: String, file: String = "melange.yaml", options: BuildLoadOptions = BuildLoadOptions()
    ) throws -> (configuration: BuildConfiguration, sourceMap: SourceMap) {
        var (raw, sourceMap) = try decodeWithSourceMap(yaml: yaml, file: file)
        for (name, value) in options.extraVars { raw.vars[name] = value }
        let prepared = try raw.prepared(commit: options.commit, extraEnvironment: options.extraEnvironment, sourceMap: &sourceMap)
        return (prepared, sourceMap)
    }

    func prepared(commit: String?, extraEnvironment: [String: String], sourceMap: inout SourceMap) throws
        -> BuildConfiguration
    {
        // Required fields first, so that later messages do not hide a missing name or version.
        try validateRequired(sourceMap: sourceMap)

        var known = Substitutions.packageVariables(of: self)
        try known.applyVarTransforms(varTransforms, sourceMap: sourceMap)
        let replace = Replacer(known)

        var result = self
        result.package = package.replacingVariables(replace, commit: commit)
        result.pipeline = pipeline.map { $0.replacingVariables(replace) }
        result.environment = environment.replacingVariables(replace)
        result.test = test.map { $0.replacingVariables(replace) }

        // Subpackages, expanding `range`.
        let tables = Dictionary(data.map { ($0.name, $0.items) }, uniquingKeysWith: { first, _ in first })
        var expanded: [Subpackage] = []
        for (index, subpackage) in subpackages.enumerated() {
            var subpackage = subpackage
            if subpackage.commit.isEmpty { subpackage.commit = package.commit }
            guard !subpackage.range.isEmpty else {
                sourceMap.alias(ConfigPath([.key("subpackages"), .index(expanded.count)]),
                    to: ConfigPath([.key("subpackages"), .index(index)]))
                expanded.append(subpackage.replacingVariables(replace, commit: commit ?? package.commit))
                continue
            }
            guard let items = tables[subpackage.range] else {
                throw sourceMap.error(
                    at: ConfigPath([.key("subpackages"), .index(index), .key("range")]),
                    "range '\(subpackage.range)' names no 'data' entry"
                        + (data.isEmpty ? "" : " (defined: \(data.map(\.name).joined(separator: ", ")))"))
            }
            for key in items.keys.sorted() {
                let itemVariables = known.forRangeItem(key: key, value: items[key] ?? "")
                sourceMap.alias(ConfigPath([.key("subpackages"), .index(expanded.count)]),
                    to: ConfigPath([.key("subpackages"), .index(index)]))
                var copy = subpackage.replacingVariables(Replacer(itemVariables), commit: commit ?? package.commit)
                copy.range = ""
                expanded.append(copy)
            }
        }
        result.subpackages = expanded
        result.data = []
        result.update = update

        result.addBuildAccounts()

        var environmentVariables = extraEnvironment
        for (key, value) in result.environment.environment { environmentVariables[key] = value }
        for (key, value) in Self.defaultEnvironment where environmentVariables[key, default: ""].isEmpty {
            environmentVariables[key] = value
        }
        result.environment.environment = environmentVariables

        try result.substituteDependencies(known, sourceMap: sourceMap)
        result.propagatePipelineSettings()
        try result.validate(sourceMap: sourceMap)
        return result
    }

    private func validateRequired(sourceMap: SourceMap) throws {
        if package.name.isEmpty {
            throw sourceMap.error(at: ConfigPath([.key("package"), .key("name")]), "required field is missing")
        }
        if package.version.isEmpty {
            throw sourceMap.error(at: ConfigPath([.key("package"), .key("version")]), "required field is missing")
        }
    }

    /// Adds melange's `build` group (gid 1000, member `build`) and user (uid/gid 1000) to the build
    /// environment, the test environment and the environments of subpackage tests that have pipelines,
    /// unless already present.
    mutating func addBuildAccounts() {
        func add(_ accounts: inout ImageAccounts) {
            if !accounts.groups.contains(where: { $0.groupname == Self.buildUser }) {
                accounts.groups.append(Group(groupname: Self.buildUser, gid: 1000, members: [Self.buildUser]))
            }
            if !accounts.users.contains(where: { $0.username == Self.buildUser }) {
                accounts.users.append(User(username: Self.buildUser, uid: 1000, gid: 1000))
            }
        }
        add(&environment.accounts)
        if var mainTest = test {
            add(&mainTest.environment.accounts)
            test = mainTest
        }
        for index in subpackages.indices {
            guard var subpackageTest = subpackages[index].test, !subpackageTest.pipeline.isEmpty else { continue }
            add(&subpackageTest.environment.accounts)
            subpackages[index].test = subpackageTest
        }
    }

    /// melange's `applySubstitutionsFor…`: these fields must resolve fully at load time.
    private mutating func substituteDependencies(_ known: Substitutions, sourceMap: SourceMap) throws {
        func site(_ components: ConfigPathComponent...) -> Substitutions.Site {
            Substitutions.Site(path: ConfigPath(components), sourceMap: sourceMap)
        }
        func substitute(_ dependencies: inout Dependencies, _ prefix: [ConfigPathComponent]) throws {
            let base = ConfigPath(prefix + [.key("dependencies")])
            for (field, keyPath) in [
                ("provides", \Dependencies.provides), ("runtime", \Dependencies.runtime),
                ("replaces", \Dependencies.replaces),
            ] as [(String, WritableKeyPath<Dependencies, [String]>)] {
                for index in dependencies[keyPath: keyPath].indices {
                    let at = Substitutions.Site(path: base.appending(field).appending(index), sourceMap: sourceMap)
                    dependencies[keyPath: keyPath][index] = try known.apply(dependencies[keyPath: keyPath][index], at: at)
                }
            }
            dependencies.providerPriority = try known.apply(
                dependencies.providerPriority,
                at: Substitutions.Site(path: base.appending("provider-priority"), sourceMap: sourceMap))
            dependencies.replacesPriority = try known.apply(
                dependencies.replacesPriority,
                at: Substitutions.Site(path: base.appending("replaces-priority"), sourceMap: sourceMap))
        }
        try substitute(&package.dependencies, [.key("package")])
        for index in subpackages.indices {
            try substitute(&subpackages[index].dependencies, [.key("subpackages"), .index(index)])
        }
        func substitutePackages(_ list: inout [String], _ prefix: [ConfigPathComponent]) throws {
            for index in list.indices {
                let path = ConfigPath(prefix + [.key("contents"), .key("packages"), .index(index)])
                list[index] = try known.apply(list[index], at: Substitutions.Site(path: path, sourceMap: sourceMap))
            }
        }
        try substitutePackages(&environment.contents.packages, [.key("environment")])
        if var mainTest = test {
            try substitutePackages(&mainTest.environment.contents.packages, [.key("test"), .key("environment")])
            test = mainTest
        }
        for index in subpackages.indices {
            guard var subpackageTest = subpackages[index].test else { continue }
            try substitutePackages(
                &subpackageTest.environment.contents.packages,
                [.key("subpackages"), .index(index), .key("test"), .key("environment")])
            subpackages[index].test = subpackageTest
        }
    }

    /// Nested pipelines inherit their parent's `working-directory` (when they set none) and `environment`
    /// (their own values win).
    mutating func propagatePipelineSettings() {
        pipeline = pipeline.map { $0.propagatingSettings() }
        for index in subpackages.indices {
            subpackages[index].pipeline = subpackages[index].pipeline.map { $0.propagatingSettings() }
        }
    }

    /// melange's `validate`.
    /// - Throws: `LaminaError(.invalidInput)` at the offending key.
    public func validate(sourceMap: SourceMap? = nil) throws {
        let map = sourceMap ?? SourceMap(file: "melange.yaml")
        let packagePath = ConfigPath([.key("package")])
        if package.name.isEmpty { throw map.error(at: packagePath.appending("name"), "required field is missing") }
        if !Self.isValidPackageName(package.name) {
            throw map.error(
                at: packagePath.appending("name"),
                "invalid package name '\(package.name)' (must match \(Self.packageNamePattern))")
        }
        if package.version.isEmpty {
            throw map.error(at: packagePath.appending("version"), "required field is missing")
        }
        try Self.validatePriorities(package.dependencies, at: packagePath.appending("dependencies"), map)
        try Self.validatePipelines(pipeline, at: ConfigPath([.key("pipeline")]), map)
        try Self.validateCapabilities(package.setcap, at: packagePath.appending("setcap"), map)

        var seen: [String: Int] = [package.name: -1]
        for (index, subpackage) in subpackages.enumerated() {
            let path = ConfigPath([.key("subpackages"), .index(index)])
            if let earlier = seen[subpackage.name] {
                throw map.error(
                    at: path.appending("name"),
                    earlier == -1
                        ? "subpackage '\(subpackage.name)' has the same name as the main package"
                        : "duplicate subpackage name '\(subpackage.name)' (also subpackages[\(earlier)])")
            }
            seen[subpackage.name] = index
            if !Self.isValidPackageName(subpackage.name) {
                throw map.error(
                    at: path.appending("name"),
                    "invalid subpackage name '\(subpackage.name)' (must match \(Self.packageNamePattern))")
            }
            try Self.validatePriorities(subpackage.dependencies, at: path.appending("dependencies"), map)
            try Self.validatePipelines(subpackage.pipeline, at: path.appending("pipeline"), map)
            try Self.validateCapabilities(subpackage.setcap, at: path.appending("setcap"), map)
        }
        try Self.validateCPE(package.cpe, at: packagePath.appending("cpe"), map)
    }

    static let packageNamePattern = "^[a-zA-Z\\d][a-zA-Z\\d+_.-]*$"

    /// `^[a-zA-Z\d][a-zA-Z\d+_.-]*$`.
    public static func isValidPackageName(_ name: String) -> Bool {
        guard let first = name.unicodeScalars.first, first.isASCIIAlphanumeric else { return false }
        return name.unicodeScalars.allSatisfy { $0.isASCIIAlphanumeric || "+_.-".unicodeScalars.contains($0) }
    }

    private static func validatePriorities(_ dependencies: Dependencies, at path: ConfigPath, _ map: SourceMap) throws {
        for (key, value) in [
            ("provider-priority", dependencies.providerPriority), ("replaces-priority", dependencies.replacesPriority),
        ] where !value.isEmpty && Int(value) == nil {
            throw map.error(at: path.appending(key), "priority must be an integer, got '\(value)'")
        }
    }

    private static func validatePipelines(_ pipelines: [Pipeline], at path: ConfigPath, _ map: SourceMap) throws {
        for (index, step) in pipelines.enumerated() {
            let stepPath = path.appending(index)
            if !step.with.isEmpty, step.uses.isEmpty {
                throw map.error(at: stepPath.appending("with"), "'with' needs 'uses' (a pipeline to pass inputs to)")
            }
            if !step.uses.isEmpty, !step.runs.isEmpty {
                throw map.error(at: stepPath, "a step cannot have both 'uses' ('\(step.uses)') and 'runs'")
            }
            if !step.with.isEmpty, !step.runs.isEmpty {
                throw map.error(at: stepPath, "a step cannot have both 'with' and 'runs'")
            }
            try validatePipelines(step.pipeline, at: stepPath.appending("pipeline"), map)
        }
    }

    /// Capabilities melange accepts in `setcap` (with their bit numbers).
    public static let knownFileCapabilities: [String: Int] = [
        "cap_net_bind_service": 10, "cap_net_admin": 12, "cap_net_raw": 13, "cap_ipc_lock": 14, "cap_sys_admin": 21,
    ]

    private static func validateCapabilities(_ capabilities: [Capability], at path: ConfigPath, _ map: SourceMap)
        throws
    {
        for (index, capability) in capabilities.enumerated() {
            let entry = path.appending(index)
            for names in capability.add.keys.sorted() {
                for name in names.split(separator: ",", omittingEmptySubsequences: false)
                where knownFileCapabilities[String(name)] == nil {
                    throw map.error(
                        at: entry.appending("add"),
                        "invalid capability '\(name)' for '\(capability.path)' (known: "
                            + knownFileCapabilities.keys.sorted().joined(separator: ", ") + ")")
                }
            }
            if capability.reason.isEmpty {
                throw map.error(at: entry, "setcap for '\(capability.path)' needs a 'reason'")
            }
        }
    }

    private static func validateCPE(_ cpe: CPE, at path: ConfigPath, _ map: SourceMap) throws {
        if !cpe.part.isEmpty, !["a", "o"].contains(cpe.part) {
            throw map.error(at: path.appending("part"), "CPE part must be 'a' or 'o', got '\(cpe.part)'")
        }
        if cpe.vendor.isEmpty != cpe.product.isEmpty {
            throw map.error(at: path, "CPE vendor and product must be set together")
        }
        if cpe.vendor == "*" { throw map.error(at: path.appending("vendor"), "CPE vendor cannot be '*'") }
        if cpe.product == "*" { throw map.error(at: path.appending("product"), "CPE product cannot be '*'") }
        let fields: [(String, String)] = [
            ("vendor", cpe.vendor), ("product", cpe.product), ("edition", cpe.edition), ("language", cpe.language),
            ("sw_edition", cpe.swEdition), ("target_sw", cpe.targetSW), ("target_hw", cpe.targetHW),
            ("other", cpe.other),
        ]
        for (key, value) in fields where !value.isEmpty {
            let scalars = Array(value.unicodeScalars)
            let valid =
                scalars.first.map { ("a"..."z").contains($0) || ("0"..."9").contains($0) } == true
                && scalars.allSatisfy { ("a"..."z").contains($0) || ("0"..."9").contains($0) || "+_.-".unicodeScalars.contains($0) }
            if !valid {
                throw map.error(
                    at: path.appending(key), "invalid CPE field '\(value)' (must match ^[a-z\\d][a-z\\d+_.-]*$)")
            }
        }
    }

    /// The configuration with `--build-option` changes applied (melange `applyBuildOption`): option
    /// `vars` override `vars`, option packages are added to / removed from the build environment.
    /// - Throws: `LaminaError(.invalidInput)` for an option the configuration does not define.
    public func applyingBuildOptions(_ names: [String]) throws -> BuildConfiguration {
        var result = self
        for name in names {
            guard let option = options[name] else {
                let defined = options.keys.sorted().joined(separator: ", ")
                throw LaminaError(
                    .invalidInput,
                    "unknown build option '\(name)'" + (defined.isEmpty ? " (the configuration defines none)"
                        : " (defined: \(defined))"))
            }
            for (key, value) in option.vars { result.vars[key] = value }
            result.environment.contents.packages += option.environment.contents.packages.add
            for removed in option.environment.contents.packages.remove {
                result.environment.contents.packages.removeAll { $0 == removed }
            }
        }
        return result
    }

    /// The architectures this package builds for, given the ones requested: `target-architecture` empty or
    /// containing `all` allows every one.
    public func builds(for architecture: Architecture) -> Bool {
        if package.targetArchitecture.isEmpty || package.targetArchitecture.contains("all") { return true }
        return package.targetArchitecture.contains { (try? Architecture($0)) == architecture }
    }
}

extension Pipeline {
    /// Decodes a pipeline definition file, the target of `uses:` (`name`, `needs`, `inputs`, `pipeline`).
    /// Unknown keys are ignored here, as melange does for these files.
    /// - Throws: `LaminaError(.invalidInput)` for YAML and type errors.
    public static func decodeDefinition(yaml: String, file: String) throws -> Pipeline {
        try YAMLConfigDecoder(file: file, strict: false).decode(Pipeline.self, from: yaml).value
    }
}

extension Unicode.Scalar {
    fileprivate var isASCIIAlphanumeric: Bool {
        ("a"..."z").contains(self) || ("A"..."Z").contains(self) || ("0"..."9").contains(self)
    }
}

// MARK: - Load-time replacement (melange's strings.Replacer pass)

/// melange's load-time replacement of known variables. Unlike melange, `if:` conditions get the values
/// quoted: melange's replacer (`replacePipeline`) writes them bare, which by our reading of `pkg/config` and
/// `pkg/cond` turns `${{package.name}} == 'hello'` (its `examples/conditional.yaml`) into the invalid
/// `hello == 'hello'`.
struct Replacer {
    let variables: Substitutions

    init(_ variables: Substitutions) { self.variables = variables }

    func callAsFunction(_ text: String) -> String { variables.replacingKnown(text) }
    func condition(_ text: String) -> String { variables.replacingKnown(text, quoted: true) }
}

typealias Replace = Replacer

extension Package {
    func replacingVariables(_ replace: Replace, commit: String?) -> Package {
        var result = self
        result.name = replace(name)
        result.version = replace(version)
        result.description = replace(description)
        result.annotations = annotations.mapValues { replace($0) }
        result.url = replace(url)
        if self.commit.isEmpty, let commit { result.commit = commit }
        result.targetArchitecture = targetArchitecture.map { replace($0) }
        result.copyright = copyright.map { entry in
            var copy = entry
            copy.paths = entry.paths.map { replace($0) }
            copy.license = replace(entry.license)
            copy.licensePath = replace(entry.licensePath)
            return copy
        }
        result.dependencies = dependencies.replacingVariables(replace)
        result.scriptlets = scriptlets?.replacingVariables(replace)
        return result
    }
}

extension Dependencies {
    func replacingVariables(_ replace: Replace) -> Dependencies {
        Dependencies(
            runtime: runtime.map { replace($0) }, provides: provides.map { replace($0) }, replaces: replaces.map { replace($0) },
            providerPriority: replace(providerPriority), replacesPriority: replace(replacesPriority))
    }
}

extension Scriptlets {
    func replacingVariables(_ replace: Replace) -> Scriptlets {
        Scriptlets(
            trigger: Trigger(script: replace(trigger.script), paths: trigger.paths.map { replace($0) }),
            preInstall: replace(preInstall), postInstall: replace(postInstall), preDeinstall: replace(preDeinstall),
            postDeinstall: replace(postDeinstall), preUpgrade: replace(preUpgrade), postUpgrade: replace(postUpgrade))
    }
}

extension Pipeline {
    func replacingVariables(_ replace: Replace) -> Pipeline {
        var result = self
        result.name = replace(name)
        result.with = with.mapValues { replace($0) }
        result.runs = replace(runs)
        result.pipeline = pipeline.map { $0.replacingVariables(replace) }
        result.needs = needs.map { Needs(packages: $0.packages.map { replace($0) }) }
        result.if = replace.condition(self.if)
        result.workingDirectory = replace(workingDirectory)
        result.environment = environment.mapValues { replace($0) }
        return result
    }

    /// Children inherit `working-directory` and `environment` (theirs win), recursively.
    func propagatingSettings() -> Pipeline {
        var result = self
        result.pipeline = pipeline.map { child in
            var child = child
            if child.workingDirectory.isEmpty { child.workingDirectory = workingDirectory }
            child.environment = environment.merging(child.environment) { _, own in own }
            return child.propagatingSettings()
        }
        return result
    }
}

extension Subpackage {
    func replacingVariables(_ replace: Replace, commit: String) -> Subpackage {
        var result = self
        result.if = replace.condition(self.if)
        result.name = replace(name)
        result.pipeline = pipeline.map { $0.replacingVariables(replace) }
        result.dependencies = dependencies.replacingVariables(replace)
        result.scriptlets = scriptlets?.replacingVariables(replace)
        result.description = replace(description)
        result.annotations = annotations.mapValues { replace($0) }
        result.url = replace(url)
        if result.commit.isEmpty { result.commit = commit }
        result.test = test.map { $0.replacingVariables(replace) }
        return result
    }
}

extension Test {
    func replacingVariables(_ replace: Replace) -> Test {
        Test(environment: environment.replacingVariables(replace), pipeline: pipeline.map { $0.replacingVariables(replace) })
    }
}

extension ImageConfiguration {
    func replacingVariables(_ replace: Replace) -> ImageConfiguration {
        var result = self
        result.contents.buildRepositories = contents.buildRepositories.map { replace($0) }
        result.contents.runtimeRepositories = contents.runtimeRepositories.map { replace($0) }
        result.contents.repositories = contents.repositories.map { replace($0) }
        result.contents.keyring = contents.keyring.map { replace($0) }
        result.contents.packages = contents.packages.map { replace($0) }
        result.entrypoint.command = replace(entrypoint.command)
        result.entrypoint.shellFragment = replace(entrypoint.shellFragment)
        result.entrypoint.services = entrypoint.services.mapValues { replace($0) }
        result.cmd = replace(cmd)
        result.stopSignal = replace(stopSignal)
        result.workDir = replace(workDir)
        result.environment = environment.mapValues { replace($0) }
        result.vcsURL = replace(vcsURL)
        result.annotations = annotations.mapValues { replace($0) }
        result.volumes = volumes.map { replace($0) }
        return result
    }
}
