import Config
import LaminaCore
import Sandbox

// What `PipelineCompiler` produces: every step of a build, fully substituted, in the order to run them.
// The orchestrator (`Build/`) runs a plan without looking at the configuration's pipelines again:
//
// 1. resolve `BuildPlan.environmentPackages` into the guest root (an empty list means the host's `/`);
// 2. for each package plan in `BuildPlan.packagePlans` (main first, then subpackages), for each step:
//    `.fetch` → download on the host into the workspace (`FetchAction.destination`), checking the checksum;
//    `.run` → run `CompiledStep.buildStep` in the sandbox (the runner's `StepScript` adds `set -e`, the `cd`
//    into the working directory and `exit 0`; the script here is only the step's own text);
// 3. emit each package from `CompiledPackagePlan.outputDirectory`.

/// The inputs of a compilation besides the configuration itself.
public struct BuildContext: Sendable, Hashable {
    /// The architecture being built (`${{build.arch}}`, `${{build.goarch}}`, the triplets).
    public var architecture: Architecture
    /// `--build-option` names, in the order given.
    public var buildOptions: [String]
    /// `--pipeline-dir` directories, searched in order for `uses: NAME` as `DIR/NAME.yaml` before the
    /// built-in pipelines.
    public var pipelineDirectories: [String]
    /// SOURCE_DATE_EPOCH, put into every step's environment.
    public var sourceDateEpoch: Int64
    /// `gnu` or `musl`: the C library named by `${{host.triplet.gnu}}` and `${{host.triplet.rust}}` (melange
    /// always says `gnu`).
    public var libc: String

    public init(
        architecture: Architecture, buildOptions: [String] = [], pipelineDirectories: [String] = [],
        sourceDateEpoch: Int64 = 0, libc: String = "gnu"
    ) {
        self.architecture = architecture
        self.buildOptions = buildOptions
        self.pipelineDirectories = pipelineDirectories
        self.sourceDateEpoch = sourceDateEpoch
        self.libc = libc
    }
}

/// One step to run, with every `${{…}}` replaced.
public struct CompiledStep: Sendable, Hashable {
    /// For logs and errors: the step's `name`, else its `uses`, else the name of the `uses:` pipeline it belongs
    /// to, else the first line of its script.
    public var name: String
    public var action: StepAction
    /// Absolute guest path (relative `working-directory` values are under `/home/build`).
    public var workingDirectory: String
    /// The complete environment of the step: `SOURCE_DATE_EPOCH`, then the configuration's
    /// `environment.environment` (with melange's defaults such as `HOME`), then melange's fixed `PATH`, then the
    /// `environment` of each enclosing step and of the step itself (innermost wins).
    public var environment: [String: String]

    public init(name: String, action: StepAction, workingDirectory: String, environment: [String: String]) {
        self.name = name
        self.action = action
        self.workingDirectory = workingDirectory
        self.environment = environment
    }

    /// The sandbox step for a `.run` action (nil for `.fetch`, which runs on the host).
    public var buildStep: BuildStep? {
        guard case .run(let script) = action else { return nil }
        return BuildStep(name: name, script: script, workingDirectory: workingDirectory, environment: environment)
    }
}

/// What a step does.
public enum StepAction: Sendable, Hashable {
    /// Run this shell text with `/bin/sh` in the sandbox. It is the step's `runs:` after substitution, nothing
    /// added: `StepScript.wrap` supplies `set -e`, `pipefail`, the `cd` and the final `exit 0`.
    case run(script: String)
    /// Download a file on the host into the workspace (built-in `fetch`). The unpacking is the `.run` step that
    /// follows it in the plan.
    case fetch(FetchAction)
}

/// The host-side half of the built-in `fetch` pipeline.
public struct FetchAction: Sendable, Hashable {
    /// The URL, substituted (`${{package.version}}` …).
    public var uri: String
    /// Lowercase hex. When neither is set the fetch fails when it runs (as melange's), unless `expectedNone`.
    public var expectedSHA256: String?
    public var expectedSHA512: String?
    /// The step set `expected-none`: download without checking.
    public var expectedNone: Bool
    /// Where to store the file, relative to the workspace (`/home/build`): the step's working directory plus the
    /// last path component of the URL without query or fragment (`hello-2.12.tar.gz`, `src/hello-2.12.tar.gz`).
    /// Never absolute, never containing `..`.
    public var destination: String
    /// Whether the following step unpacks it (`extract`, default true). Informational: the unpacking is that step.
    public var extract: Bool
    /// `strip-components` (default 1). Informational, as `extract`.
    public var stripComponents: Int
    /// `delete`: the following step removes the file after unpacking. Informational, as `extract`.
    public var purgeArchive: Bool
    /// Package name and version recorded for this source in the SBOM (`purl-name`, `purl-version`).
    public var purlName: String
    public var purlVersion: String

    public init(
        uri: String, expectedSHA256: String? = nil, expectedSHA512: String? = nil, destination: String,
        extract: Bool = true, stripComponents: Int = 1, purgeArchive: Bool = false, purlName: String = "",
        purlVersion: String = "", expectedNone: Bool = false
    ) {
        self.uri = uri
        self.expectedSHA256 = expectedSHA256
        self.expectedSHA512 = expectedSHA512
        self.expectedNone = expectedNone
        self.destination = destination
        self.extract = extract
        self.stripComponents = stripComponents
        self.purgeArchive = purgeArchive
        self.purlName = purlName
        self.purlVersion = purlVersion
    }
}

/// The steps and metadata of one output package (the main package or a subpackage).
public struct CompiledPackagePlan: Sendable {
    /// The package name, substituted (a `range:` subpackage has its item's name).
    public var name: String
    /// The folder the package is made from: `/home/build/melange-out/NAME` (guest path;
    /// `${{targets.contextdir}}` of its pipeline).
    public var outputDirectory: String
    public var description: String
    public var url: String
    public var commit: String
    public var annotations: [String: String]
    /// Declared runtime dependencies, provides, replaces and priorities, substituted.
    public var dependencies: Dependencies
    public var options: PackageOptions?
    public var scriptlets: Scriptlets?
    public var checks: Checks
    public var setcap: [Capability]
    /// The steps, in order. A subpackage's steps run after every step of the main package.
    public var steps: [CompiledStep]

    /// Output directory of a package named `name`.
    public static func outputDirectory(of name: String) -> String { "\(Substitutions.outputDirectory)/\(name)" }
}

/// A whole build.
public struct BuildPlan: Sendable {
    /// The main package's fields (build options applied, variables substituted): version, epoch, copyright…
    public var package: Package
    /// The main package's pipeline.
    public var main: CompiledPackagePlan
    /// Subpackages in configuration order, `range:` expanded, those whose `if:` is false left out.
    public var subpackages: [CompiledPackagePlan]
    /// The guest to build in: `environment.contents.packages` (after build options), then every
    /// `needs.packages` of the pipelines that run, without duplicates, first occurrence kept.
    public var environmentPackages: [String]
    /// Only the configuration's own `environment.contents.packages` (after build options). When this is empty,
    /// the design says the host's `/` is the guest; the orchestrator decides whether `needs` alone should
    /// change that.
    public var declaredEnvironmentPackages: [String]
    /// Only the packages that `needs:` of the steps in the plan add (in the order met, without duplicates).
    public var neededPackages: [String]
    /// The build guest configuration (repositories, keyring, accounts, …) after build options.
    public var environmentConfiguration: ImageConfiguration
    /// The base environment of every step (see `CompiledStep.environment`), for the sandbox session.
    public var environment: [String: String]
    /// The variables of the build (main-package scope), e.g. for logging.
    public var substitutions: Substitutions

    /// `main` then `subpackages`: the order steps run in.
    public var packagePlans: [CompiledPackagePlan] { [main] + subpackages }
}

/// The `test:` pipelines of a configuration.
public struct TestPlan: Sendable {
    /// The main package's test, when the configuration has one.
    public var main: CompiledTestPlan?
    /// Tests of subpackages that have one (and whose `if:` holds), in configuration order.
    public var subpackages: [CompiledTestPlan]

    public var all: [CompiledTestPlan] { (main.map { [$0] } ?? []) + subpackages }
}

/// One package's test.
public struct CompiledTestPlan: Sendable {
    /// The package under test.
    public var packageName: String
    /// The test guest: `test.environment.contents.packages`, the package under test, then the `needs` of the
    /// test pipelines; without duplicates, first occurrence kept.
    public var environmentPackages: [String]
    /// The test guest configuration as written (repositories, keyring, accounts, …).
    public var environmentConfiguration: ImageConfiguration
    /// The base environment of every step.
    public var environment: [String: String]
    public var steps: [CompiledStep]
}
