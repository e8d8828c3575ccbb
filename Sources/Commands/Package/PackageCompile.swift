import ArgumentParser
import Config
import Foundation
import LaminaCore
import PackageBuilder

/// `lamina package compile [melange.yaml] [--arch A] [--build-option X]... [--pipeline-dir D]...` (melange `compile`)
struct PackageCompile: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "compile", abstract: "Print the compiled configuration of a melange.yaml as JSON.",
        discussion: "As `melange compile`: the configuration after variables, build options and `range:` subpackages "
            + "are applied, with every `uses:` step expanded into the steps of the pipeline it names (inputs checked, "
            + "defaults filled in) and the packages those pipelines need added to the environments, as one line of "
            + "JSON. The test pipelines are compiled too. Nothing runs and nothing is written.")

    @Argument(help: "The melange.yaml.") var config: String = "melange.yaml"
    @Option(name: .customLong("arch"), help: "The architecture to compile for (default: the host's).") var arch: String?
    @Option(
        name: .customLong("build-option"), parsing: .singleValue,
        help: "Enable an `options:` entry of the config (repeatable or comma-separated).")
    var buildOptions: [String] = []
    @Option(
        name: .customLong("pipeline-dir"), help: "Extra folder of pipeline definitions, searched first (repeatable).")
    var pipelineDirs: [String] = []
    @Option(name: .customLong("vars-file"), help: "YAML/KEY: VALUE file of variables merged over `vars:`.")
    var varsFile: String?
    @Option(name: .customLong("env-file"), help: "KEY=VALUE file of environment variables for the steps.")
    var envFile: String?
    @Option(
        name: .customLong("bench"),
        help: ArgumentHelp(
            "Compile every melange.yaml under this folder (repeatable) and print configs/s and failures by reason.",
            visibility: .hidden))
    var benchDirectories: [String] = []
    @OptionGroup var global: GlobalOptions

    func run() async throws {
        let architecture = try arch.map { try Architecture($0, option: "--arch") } ?? .host
        let options = ConfigurationCompilation.Options(
            architecture: architecture,
            buildOptions: buildOptions.flatMap { $0.split(separator: ",").map(String.init) },
            pipelineDirectories: pipelineDirs,
            load: BuildLoadOptions(
                extraVars: try varsFile.map(PackageBuildCommand.readVars) ?? [:],
                extraEnvironment: try envFile.map(PackageBuildCommand.readEnvironment) ?? [:]))
        if !benchDirectories.isEmpty {
            var files: [String] = []
            for directory in benchDirectories {
                files += try BuildConfiguration.findConfigurations(under: directory)
            }
            guard !files.isEmpty else {
                throw LaminaError(.notFound, "no melange.yaml under \(benchDirectories.joined(separator: ", "))")
            }
            let report = ConfigurationCompilation.benchmark(files: files, options: options)
            for line in report.summary { Terminal.standardOutput.write(line + "\n") }
            return
        }
        Terminal.standardOutput.write(try ConfigurationCompilation.json(path: config, options: options) + "\n")
    }
}
