import Config
import Foundation
import LaminaCore
import Sandbox

/// Turns a `melange.yaml` into the steps to run: melange's `Compile` plus the decisions its runner makes while
/// running (conditions, working directories, environments), all taken up front so that a plan is a plain list.
///
/// What it does, as melange does it:
/// - `--build-option`s are applied (`BuildConfiguration.applyingBuildOptions`);
/// - `uses: NAME` loads `NAME` from the pipeline directories, then the built-ins; `with:` keys must be declared
///   `inputs` of it (else an error naming the key and the step's file:line), required inputs must be set,
///   defaults fill the others, and `${{inputs.NAME}}` is substituted inside the used pipeline and everything
///   nested in it; `needs.packages` of the pipelines that run are collected for the build guest;
/// - `if:` is evaluated now: a step whose condition is false is left out with everything nested in it (its
///   text is still checked, so an unknown variable is an error even there);
/// - `working-directory` is inherited by nested steps and made absolute under `/home/build`;
/// - `environment` of a step is merged over its parent's and over the configuration's
///   `environment.environment`;
/// - every `${{…}}` is replaced (see `Substitutions.forBuild`): an unknown variable is an error naming it and
///   where it is (for text inside a used pipeline: the `uses:` step's file:line and the path in that pipeline);
/// - the built-in `fetch` becomes a `.fetch` action (host download) followed by its unpacking step;
/// - subpackages get their own `${{targets.contextdir}}`/`${{targets.subpkgdir}}`, `range:` items their
///   `${{range.key}}`/`${{range.value}}`; a subpackage whose `if:` is false is left out of the plan;
/// - `assertions.required-steps` is checked against the nested steps whose conditions hold.
///
/// Differences from melange: comments in `runs:` are kept (melange re-prints scripts through a shell parser);
/// the `needs` of a subpackage whose `if:` is false are not added to the guest (melange adds them).
///
/// The configuration should come from `BuildConfiguration.load` / `prepare` (variables known at load time are
/// already replaced, `range:` already expanded); a configuration that was only decoded works too.
public struct PipelineCompiler: Sendable {
    public let configuration: BuildConfiguration
    /// Positions in the configuration file, for error messages; nil gives key paths without lines.
    public let sourceMap: SourceMap?
    public let context: BuildContext
    public let loader: PipelineLoader

    public init(
        configuration: BuildConfiguration, sourceMap: SourceMap? = nil, context: BuildContext,
        loader: PipelineLoader = PipelineLoader()
    ) {
        self.configuration = configuration
        self.sourceMap = sourceMap
        self.context = context
        self.loader = loader
    }

    /// `init` from a loaded configuration, with its source map.
    public init(loaded: LoadedBuildConfiguration, context: BuildContext, loader: PipelineLoader = PipelineLoader()) {
        self.init(configuration: loaded.configuration, sourceMap: loaded.sourceMap, context: context, loader: loader)
    }

    /// Compiles the package and subpackage pipelines.
    /// - Throws: `LaminaError(.invalidInput)` at the offending key (unknown variable, undeclared or missing input,
    ///   bad condition, bad `fetch` settings, unknown build option); `.notFound` for a `uses:` that names no
    ///   pipeline.
    public func compile() throws -> BuildPlan {
        let build = try prepare()
        var session = Session(compiler: self)
        let base = try baseEnvironment(
            build.configuration.environment.environment, scope: build.scope,
            at: Location(ConfigPath([.key("environment"), .key("environment")])))

        var mainSteps: [CompiledStep] = []
        try session.compile(
            build.configuration.pipeline, at: Location(ConfigPath([.key("pipeline")])),
            frame: Frame(scope: build.scope, environment: base), into: &mainSteps)
        let package = build.configuration.package
        let main = CompiledPackagePlan(
            name: package.name, outputDirectory: CompiledPackagePlan.outputDirectory(of: package.name),
            description: package.description, url: package.url, commit: package.commit,
            annotations: package.annotations, dependencies: package.dependencies, options: package.options,
            scriptlets: package.scriptlets, checks: package.checks, setcap: package.setcap, steps: mainSteps)

        var subpackages: [CompiledPackagePlan] = []
        for entry in build.subpackages {
            guard try entry.isEnabled(compiler: self) else { continue }
            var steps: [CompiledStep] = []
            try session.compile(
                entry.subpackage.pipeline, at: Location(entry.path.appending("pipeline")),
                frame: Frame(scope: entry.scope, environment: base), into: &steps)
            var plan = try entry.plan(compiler: self)
            plan.steps = steps
            subpackages.append(plan)
        }

        let declared = build.configuration.environment.contents.packages
        return BuildPlan(
            package: package, main: main, subpackages: subpackages,
            environmentPackages: Self.unique(declared + session.needs), declaredEnvironmentPackages: declared,
            neededPackages: Self.unique(session.needs), environmentConfiguration: build.configuration.environment,
            environment: base, substitutions: build.scope)
    }

    /// Compiles the `test:` pipelines of the package and of the subpackages that are built.
    /// - Throws: as `compile`.
    public func compileTests() throws -> TestPlan {
        let build = try prepare()
        var mainPlan: CompiledTestPlan?
        if let test = build.configuration.test {
            mainPlan = try compileTest(
                test, packageName: build.configuration.package.name, scope: build.scope,
                at: ConfigPath([.key("test")]))
        }
        var subpackagePlans: [CompiledTestPlan] = []
        for entry in build.subpackages {
            guard let test = entry.subpackage.test, try entry.isEnabled(compiler: self) else { continue }
            let name = try entry.name(compiler: self)
            subpackagePlans.append(
                try compileTest(test, packageName: name, scope: entry.scope, at: entry.path.appending("test")))
        }
        return TestPlan(main: mainPlan, subpackages: subpackagePlans)
    }

    private func compileTest(_ test: Test, packageName: String, scope: Substitutions, at path: ConfigPath) throws
        -> CompiledTestPlan
    {
        try compileTestWithTree(test, packageName: packageName, scope: scope, at: path).plan
    }

    /// A test's plan, and its pipeline as melange's `compile` prints it.
    private func compileTestWithTree(_ test: Test, packageName: String, scope: Substitutions, at path: ConfigPath)
        throws -> (plan: CompiledTestPlan, pipeline: [Pipeline], needs: [String])
    {
        var session = Session(compiler: self)
        let base = try baseEnvironment(
            test.environment.environment, scope: scope,
            at: Location(path.appending("environment").appending("environment")))
        var steps: [CompiledStep] = []
        let tree = try session.compile(
            test.pipeline, at: Location(path.appending("pipeline")), frame: Frame(scope: scope, environment: base),
            into: &steps)
        let plan = CompiledTestPlan(
            packageName: packageName,
            environmentPackages: Self.unique(test.environment.contents.packages + [packageName] + session.needs),
            environmentConfiguration: test.environment, environment: base, steps: steps)
        return (plan, tree, session.needs)
    }

    /// The configuration as `melange compile` prints it: build options applied, every `uses:` step holding the
    /// steps of the pipeline it uses (see `Session.compile`), every subpackage listed (`range:` expanded, `if:`
    /// substituted; the pipelines of those whose condition is false are checked but add no `needs`), the
    /// `needs` of the build added to `environment.contents.packages` (without duplicates), and each test
    /// environment given the package under test and its test's `needs` (sorted, without duplicates).
    ///
    /// Differences from melange: `runs` keeps its comments and layout (melange re-prints scripts through a
    /// shell parser); a `uses:` step's `environment` keeps its own values over the used pipeline's.
    /// - Throws: as `compile` and `compileTests`.
    public func compiledConfiguration() throws -> BuildConfiguration {
        let build = try prepare()
        var result = build.configuration
        // melange's loader gives every package a (possibly empty) `resources` block.
        if result.package.resources == nil { result.package.resources = Resources() }
        var session = Session(compiler: self)
        var discarded: [CompiledStep] = []
        let base = try baseEnvironment(
            build.configuration.environment.environment, scope: build.scope,
            at: Location(ConfigPath([.key("environment"), .key("environment")])))
        result.pipeline = try session.compile(
            build.configuration.pipeline, at: Location(ConfigPath([.key("pipeline")])),
            frame: Frame(scope: build.scope, environment: base), into: &discarded)

        var subpackages: [Subpackage] = []
        for entry in build.subpackages {
            var subpackage = entry.subpackage
            let name = try entry.name(compiler: self)
            subpackage.name = name
            subpackage.range = ""
            if !subpackage.if.isEmpty {
                subpackage.if = try substituteQuoted(subpackage.if, entry.scope, at: Location(entry.path), key: ["if"])
            }
            var frame = Frame(scope: entry.scope, environment: base)
            frame.active = try entry.isEnabled(compiler: self)
            subpackage.pipeline = try session.compile(
                entry.subpackage.pipeline, at: Location(entry.path.appending("pipeline")), frame: frame,
                into: &discarded)
            if let test = entry.subpackage.test {
                let compiled = try compileTestWithTree(
                    test, packageName: name, scope: entry.scope, at: entry.path.appending("test"))
                var testResult = test
                testResult.pipeline = compiled.pipeline
                testResult.environment.contents.packages = Self.sortedUnique(
                    test.environment.contents.packages + [name] + compiled.needs)
                subpackage.test = testResult
            }
            subpackages.append(subpackage)
        }
        result.subpackages = subpackages
        result.data = []
        result.environment.contents.packages = Self.unique(
            build.configuration.environment.contents.packages + session.needs)

        if let test = build.configuration.test {
            let packageName = build.configuration.package.name
            let compiled = try compileTestWithTree(
                test, packageName: packageName, scope: build.scope, at: ConfigPath([.key("test")]))
            var testResult = test
            testResult.pipeline = compiled.pipeline
            testResult.environment.contents.packages = Self.sortedUnique(
                test.environment.contents.packages + compiled.needs + [packageName])
            result.test = testResult
        }
        return result
    }

    // MARK: - Preparation

    /// The configuration with options applied, its variables, and its subpackages with `range:` expanded.
    struct Prepared {
        var configuration: BuildConfiguration
        var scope: Substitutions
        var subpackages: [SubpackageEntry]
    }

    /// One subpackage to build, with the scope its pipeline sees.
    struct SubpackageEntry {
        var subpackage: Subpackage
        /// Where it is written (`subpackages[2]`; every item of a `range:` points at the same entry).
        var path: ConfigPath
        /// Build scope + `range.*` (for range items) + the subpackage's own directories.
        var scope: Substitutions

        func name(compiler: PipelineCompiler) throws -> String {
            try compiler.substitute(subpackage.name, scope, at: Location(path), key: ["name"])
        }

        func isEnabled(compiler: PipelineCompiler) throws -> Bool {
            try compiler.evaluate(subpackage.if, scope, at: Location(path), key: ["if"])
        }

        func plan(compiler: PipelineCompiler) throws -> CompiledPackagePlan {
            let location = Location(path)
            func text(_ value: String, _ key: String) throws -> String {
                try compiler.substitute(value, scope, at: location, key: [key])
            }
            func list(_ values: [String], _ key: String) throws -> [String] {
                try values.enumerated().map { index, value in
                    try compiler.substitute(
                        value, scope, at: location, key: ["dependencies", key, "[\(index)]"])
                }
            }
            let name = try self.name(compiler: compiler)
            var dependencies = subpackage.dependencies
            dependencies.runtime = try list(dependencies.runtime, "runtime")
            dependencies.provides = try list(dependencies.provides, "provides")
            dependencies.replaces = try list(dependencies.replaces, "replaces")
            return CompiledPackagePlan(
                name: name, outputDirectory: CompiledPackagePlan.outputDirectory(of: name),
                description: try text(subpackage.description, "description"), url: try text(subpackage.url, "url"),
                commit: subpackage.commit, annotations: subpackage.annotations, dependencies: dependencies,
                options: subpackage.options, scriptlets: subpackage.scriptlets, checks: subpackage.checks,
                setcap: subpackage.setcap, steps: [])
        }
    }

    func prepare() throws -> Prepared {
        let configuration = try self.configuration.applyingBuildOptions(context.buildOptions)
        var scope = try Substitutions.forBuild(
            configuration, architecture: context.architecture, libc: context.libc,
            buildOptions: context.buildOptions, sourceMap: sourceMap)

        // `range:` items (only in configurations that were decoded but not prepared).
        let tables = Dictionary(configuration.data.map { ($0.name, $0.items) }, uniquingKeysWith: { first, _ in first })
        var entries: [(Subpackage, ConfigPath, Substitutions)] = []
        for (index, subpackage) in configuration.subpackages.enumerated() {
            let path = ConfigPath([.key("subpackages"), .index(index)])
            guard !subpackage.range.isEmpty else {
                entries.append((subpackage, path, scope))
                continue
            }
            guard let items = tables[subpackage.range] else {
                throw Location(path).error(
                    "range '\(subpackage.range)' names no 'data' entry", key: ["range"], sourceMap: sourceMap)
            }
            for key in items.keys.sorted() {
                entries.append((subpackage, path, scope.forRangeItem(key: key, value: items[key] ?? "")))
            }
        }
        // `${{targets.package.NAME}}` for the final names.
        var named: [(Subpackage, ConfigPath, Substitutions, String)] = []
        for (subpackage, path, itemScope) in entries {
            let name = try substitute(subpackage.name, itemScope, at: Location(path), key: ["name"])
            named.append((subpackage, path, itemScope, name))
            scope["targets.package.\(name)"] = CompiledPackagePlan.outputDirectory(of: name)
        }
        let subpackages = named.map { subpackage, path, itemScope, name in
            var itemScope = itemScope
            for (key, value) in scope.values where key.hasPrefix("targets.package.") { itemScope[key] = value }
            return SubpackageEntry(subpackage: subpackage, path: path, scope: itemScope.forSubpackage(named: name))
        }
        return Prepared(configuration: configuration, scope: scope, subpackages: subpackages)
    }

    /// `SOURCE_DATE_EPOCH`, melange's default variables (`HOME`, caches) where unset, the configuration's
    /// variables, then melange's fixed `PATH`.
    func baseEnvironment(_ variables: [String: String], scope: Substitutions, at location: Location) throws
        -> [String: String]
    {
        var environment = ["SOURCE_DATE_EPOCH": String(context.sourceDateEpoch)]
        for (key, value) in variables.sorted(by: { $0.key < $1.key }) {
            environment[key] = try substitute(value, scope, at: location, key: [key])
        }
        for (key, value) in BuildConfiguration.defaultEnvironment where environment[key, default: ""].isEmpty {
            environment[key] = value
        }
        environment["PATH"] = SandboxConfiguration.standardPath
        return environment
    }

    // MARK: - Helpers

    /// `text` with every variable replaced, errors located at `location` + `key`.
    func substitute(_ text: String, _ scope: Substitutions, at location: Location, key: [String]) throws -> String {
        do {
            return try scope.apply(text)
        } catch let error as LaminaError {
            throw location.error(error.message, key: key, sourceMap: sourceMap, code: error.code)
        }
    }

    /// `text` with every variable replaced by its Go-quoted value (for conditions), errors located at `location`
    /// + `key`.
    func substituteQuoted(_ text: String, _ scope: Substitutions, at location: Location, key: [String]) throws
        -> String
    {
        do {
            return try scope.applyQuoted(text)
        } catch let error as LaminaError {
            throw location.error(error.message, key: key, sourceMap: sourceMap, code: error.code)
        }
    }

    /// An `if:` condition (empty is true), errors located at `location` + `key`.
    func evaluate(_ condition: String, _ scope: Substitutions, at location: Location, key: [String]) throws -> Bool {
        do {
            return try scope.evaluate(condition: condition)
        } catch let error as LaminaError {
            throw location.error(error.message, key: key, sourceMap: sourceMap, code: error.code)
        }
    }

    static func sortedUnique(_ names: [String]) -> [String] {
        Set(names.filter { !$0.isEmpty }).sorted()
    }

    static func unique(_ names: [String]) -> [String] {
        var seen: Set<String> = []
        return names.filter { !$0.isEmpty && seen.insert($0).inserted }
    }

    /// `directory` as an absolute, normalised guest path: relative paths are under `/home/build`.
    static func absoluteDirectory(_ directory: String) -> String {
        let joined = directory.hasPrefix("/") ? directory : SandboxConfiguration.workspacePath + "/" + directory
        var components: [Substring] = []
        for component in joined.split(separator: "/") {
            switch component {
            case ".": continue
            case "..": _ = components.popLast()
            default: components.append(component)
            }
        }
        return "/" + components.joined(separator: "/")
    }
}

// MARK: - Where a step is

/// A step's position for error messages: the key path in the configuration file, and, for steps that come from
/// `uses:` pipelines, the chain of pipelines entered and the path inside the innermost one.
struct Location {
    struct Inside {
        var definition: String
        var path: ConfigPath
    }

    /// In the configuration file: the step itself, or the `uses:` step that led into a pipeline definition.
    var path: ConfigPath
    var inside: [Inside] = []

    init(_ path: ConfigPath) { self.path = path }

    /// The `index`-th nested step.
    func child(_ index: Int) -> Location {
        var result = self
        if result.inside.isEmpty {
            result.path = path.appending("pipeline").appending(index)
        } else {
            result.inside[result.inside.count - 1].path = inside[inside.count - 1].path.appending("pipeline")
                .appending(index)
        }
        return result
    }

    /// The `index`-th step of a list that `self` points at.
    func element(_ index: Int) -> Location {
        var result = self
        if result.inside.isEmpty {
            result.path = path.appending(index)
        } else {
            result.inside[result.inside.count - 1].path = inside[inside.count - 1].path.appending(index)
        }
        return result
    }

    /// Steps of the pipeline `definition` (a file path or `builtin NAME`).
    func entering(_ definition: String) -> Location {
        var result = self
        result.inside.append(Inside(definition: definition, path: ConfigPath()))
        return result
    }

    /// An error about `key` (path components under the step: `["with", "uri"]`, `["runs"]`) of this step.
    func error(
        _ message: String, key: [String] = [], sourceMap: SourceMap?, code: LaminaError.Code = .invalidInput
    ) -> LaminaError {
        func extend(_ base: ConfigPath) -> ConfigPath {
            var result = base
            for component in key {
                if component.hasPrefix("["), component.hasSuffix("]"), let index = Int(component.dropFirst().dropLast())
                {
                    result = result.appending(index)
                } else {
                    result = result.appending(component)
                }
            }
            return result
        }
        var target = path
        var text = message
        if inside.isEmpty {
            target = extend(path)
        } else {
            var chain: [String] = []
            for (index, frame) in inside.enumerated() {
                let innerPath = index == inside.count - 1 ? extend(frame.path) : frame.path
                chain.append("in \(frame.definition)" + (innerPath.isEmpty ? "" : " at \(innerPath)"))
            }
            text = chain.joined(separator: ", ") + ": " + message
        }
        if let sourceMap { return sourceMap.error(code, at: target, text) }
        return LaminaError(code, target.isEmpty ? text : "\(target): \(text)")
    }
}

/// What a step inherits from the steps around it.
struct Frame {
    var scope: Substitutions
    /// As written and substituted; empty means `/home/build`.
    var workingDirectory: String = ""
    var environment: [String: String]
    /// False inside a step whose condition is false: nothing is emitted, but everything is still checked.
    var active: Bool = true
    /// The name of the nearest `uses:` step around, for unnamed steps of its pipeline.
    var enclosingName: String?

    init(scope: Substitutions, environment: [String: String]) {
        self.scope = scope
        self.environment = environment
    }
}

// MARK: - Compiling steps

/// One compilation: the definitions loaded so far and the packages the running steps need.
struct Session {
    let compiler: PipelineCompiler
    var definitions: [String: PipelineDefinition] = [:]
    var needs: [String] = []

    init(compiler: PipelineCompiler) { self.compiler = compiler }

    var sourceMap: SourceMap? { compiler.sourceMap }

    /// Compiles `steps` into `output`.
    /// - Returns: the steps as melange's `compile` leaves them (see `compile(_:at:frame:into:)`).
    @discardableResult
    mutating func compile(_ steps: [Pipeline], at location: Location, frame: Frame, into output: inout [CompiledStep])
        throws -> [Pipeline]
    {
        var compiled: [Pipeline] = []
        for (index, step) in steps.enumerated() {
            compiled.append(try compile(step, at: location.element(index), frame: frame, into: &output).compiled)
        }
        return compiled
    }

    mutating func definition(_ name: String, at location: Location) throws -> PipelineDefinition {
        if let known = definitions[name] { return known }
        do {
            let loaded = try compiler.loader.load(name, directories: compiler.context.pipelineDirectories)
            definitions[name] = loaded
            return loaded
        } catch let error as LaminaError {
            let detail = error.subject.map { "\($0): \(error.message)" } ?? error.message
            throw location.error(detail, key: ["uses"], sourceMap: sourceMap, code: error.code)
        }
    }

    /// Compiles one step and what is nested in it.
    /// - Returns: whether the step's own condition holds (for `assertions.required-steps` of its parent), and the
    ///   step as melange's `compile` prints it: a `uses:` step holds the used pipeline's steps, `with` only the
    ///   inputs whose (substituted) value differs from the declared default, `runs`, `if` (quoted values) and
    ///   `working-directory` substituted, `inputs` and `needs` removed (the needs go to the environment).
    mutating func compile(
        _ original: Pipeline, at location: Location, frame parent: Frame,
        into output: inout [CompiledStep]
    ) throws -> (holds: Bool, compiled: Pipeline) {
        var step = original
        var definition: PipelineDefinition?
        if !step.uses.isEmpty, step.pipeline.isEmpty {
            let loaded = try self.definition(step.uses, at: location)
            for key in step.with.keys.sorted() where loaded.pipeline.inputs[key] == nil {
                let declared = loaded.pipeline.inputs.keys.sorted().joined(separator: ", ")
                throw location.error(
                    "pipeline '\(step.uses)' has no input '\(key)' "
                        + "(its inputs: \(declared.isEmpty ? "none" : declared))",
                    key: ["with", key], sourceMap: sourceMap)
            }
            step.inputs = loaded.pipeline.inputs
            step.needs = loaded.pipeline.needs
            step.pipeline = loaded.pipeline.pipeline
            if step.runs.isEmpty { step.runs = loaded.pipeline.runs }
            if step.workingDirectory.isEmpty { step.workingDirectory = loaded.pipeline.workingDirectory }
            step.environment = loaded.pipeline.environment.merging(step.environment) { _, own in own }
            if step.assertions == nil { step.assertions = loaded.pipeline.assertions }
            definition = loaded
        }
        // Text that came from the definition is reported inside it.
        let inner = definition.map { location.entering($0.displayName) } ?? location

        // Inputs: defaults, required, checksum shapes; `${{inputs.*}}` for this step and what it contains.
        let scope: Substitutions
        do {
            scope = try parent.scope.forPipeline(with: step.with, inputs: step.inputs).scope
        } catch let error as LaminaError {
            let prefix = step.uses.isEmpty ? "" : "pipeline '\(step.uses)': "
            throw location.error(prefix + error.message, key: ["with"], sourceMap: sourceMap, code: error.code)
        }
        for key in step.with.keys.sorted() {
            _ = try compiler.substitute(step.with[key] ?? "", scope, at: location, key: ["with", key])
        }

        let holds = try compiler.evaluate(step.if, scope, at: location, key: ["if"])
        let active = parent.active && holds

        var workingDirectory = parent.workingDirectory
        if !step.workingDirectory.isEmpty {
            workingDirectory = try compiler.substitute(
                step.workingDirectory, scope, at: original.workingDirectory.isEmpty ? inner : location,
                key: ["working-directory"])
        }
        let absoluteDirectory = PipelineCompiler.absoluteDirectory(workingDirectory)

        var environment = parent.environment
        for (key, value) in step.environment.sorted(by: { $0.key < $1.key }) {
            let site = original.environment[key] == nil ? inner : location
            environment[key] = try compiler.substitute(value, scope, at: site, key: ["environment", key])
        }

        for (index, package) in (step.needs?.packages ?? []).enumerated() {
            let name = try compiler.substitute(package, scope, at: inner, key: ["needs", "packages", "[\(index)]"])
            if active { needs.append(name) }
        }

        let script =
            step.runs.isEmpty
            ? ""
            : try compiler.substitute(
                step.runs, scope, at: original.runs.isEmpty ? inner : location, key: ["runs"])
        let name: String
        if !step.name.isEmpty {
            name = (try? scope.apply(step.name)) ?? step.name
        } else if !step.uses.isEmpty {
            name = step.uses
        } else if let enclosing = parent.enclosingName {
            name = enclosing
        } else {
            name = Self.firstLine(of: script) ?? "step"
        }

        var childScope = scope
        if let definition, definition.origin == .builtin, definition.name == "fetch" {
            let action = try fetchAction(scope, workingDirectory: absoluteDirectory, at: location)
            childScope["fetch.archive"] = Self.fileName(ofURI: action.uri)
            if active {
                output.append(
                    CompiledStep(
                        name: name, action: .fetch(action), workingDirectory: absoluteDirectory,
                        environment: environment))
            }
        }

        if !script.isEmpty {
            if active {
                output.append(
                    CompiledStep(
                        name: name, action: .run(script: script), workingDirectory: absoluteDirectory,
                        environment: environment))
            }
        }

        var childFrame = parent
        childFrame.scope = childScope
        childFrame.workingDirectory = workingDirectory
        childFrame.environment = environment
        childFrame.active = active
        if definition != nil { childFrame.enclosingName = name }
        var held = 0
        var children: [Pipeline] = []
        for (index, child) in step.pipeline.enumerated() {
            let result = try compile(child, at: inner.child(index), frame: childFrame, into: &output)
            if result.holds { held += 1 }
            children.append(result.compiled)
        }
        if active, let assertions = step.assertions, assertions.requiredSteps != held {
            throw location.error(
                "\(assertions.requiredSteps) nested step(s) must run, but the conditions of \(held) hold",
                key: ["assertions", "required-steps"], sourceMap: sourceMap)
        }

        var with: [String: String] = [:]
        for key in step.with.keys {
            let value = scope["inputs.\(key)"] ?? ""
            if value != step.inputs[key]?.defaultValue ?? "" { with[key] = value }
        }
        let compiled = Pipeline(
            if: step.if.isEmpty ? "" : (try? scope.applyQuoted(step.if)) ?? step.if, name: original.name,
            uses: original.uses, with: with, runs: script, pipeline: children, label: step.label,
            assertions: step.assertions, workingDirectory: workingDirectory, environment: step.environment)
        return (holds, compiled)
    }

    /// The host download of the built-in `fetch`, from its inputs.
    func fetchAction(_ scope: Substitutions, workingDirectory: String, at location: Location) throws -> FetchAction {
        func input(_ name: String) throws -> String {
            try compiler.substitute("${{inputs.\(name)}}", scope, at: location, key: ["with", name])
        }
        let uri = try input("uri")
        let sha256 = try input("expected-sha256").lowercased()
        let sha512 = try input("expected-sha512").lowercased()
        // Neither checksum: melange's fetch script fails when it runs, not when it compiles; so does ours
        // (`SourceFetcher` refuses the action before downloading anything).
        let stripText = try input("strip-components")
        guard let strip = Int(stripText), strip >= 0 else {
            throw location.error(
                "strip-components must be a non-negative integer, got '\(stripText)'",
                key: ["with", "strip-components"],
                sourceMap: sourceMap)
        }
        let file = Self.fileName(ofURI: uri)
        guard !file.isEmpty, file != ".", file != ".." else {
            throw location.error(
                "cannot name the downloaded file after uri '\(uri)'", key: ["with", "uri"],
                sourceMap: sourceMap)
        }
        let workspace = SandboxConfiguration.workspacePath
        let relativeDirectory: String
        if workingDirectory == workspace {
            relativeDirectory = ""
        } else if workingDirectory.hasPrefix(workspace + "/") {
            relativeDirectory = String(workingDirectory.dropFirst(workspace.count + 1)) + "/"
        } else {
            throw location.error(
                "fetch downloads into its working directory, which must be under \(workspace), "
                    + "not '\(workingDirectory)'",
                key: ["working-directory"], sourceMap: sourceMap)
        }
        return FetchAction(
            uri: uri, expectedSHA256: sha256.isEmpty ? nil : sha256, expectedSHA512: sha512.isEmpty ? nil : sha512,
            destination: relativeDirectory + file, extract: try input("extract") == "true", stripComponents: strip,
            purgeArchive: try input("delete") == "true", purlName: try input("purl-name"),
            purlVersion: try input("purl-version"), expectedNone: !(try input("expected-none")).isEmpty)
    }

    /// The last path component of a URI, without query or fragment.
    static func fileName(ofURI uri: String) -> String {
        let path = uri.split(separator: "?", maxSplits: 1, omittingEmptySubsequences: false).first ?? ""
        let withoutFragment = path.split(separator: "#", maxSplits: 1, omittingEmptySubsequences: false).first ?? ""
        return withoutFragment.split(separator: "/").last.map(String.init) ?? ""
    }

    /// The first non-blank line of a script, trimmed, for naming unnamed steps.
    static func firstLine(of script: String) -> String? {
        for line in script.split(separator: "\n") {
            let trimmed = line.trimmingCharacters(in: .whitespaces)
            if !trimmed.isEmpty { return trimmed.count > 80 ? String(trimmed.prefix(77)) + "..." : trimmed }
        }
        return nil
    }
}
