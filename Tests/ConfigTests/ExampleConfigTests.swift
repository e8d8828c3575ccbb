import Config
import Foundation
import LaminaCore
import TestSupport
import Testing

/// The configs shipped under examples/ load, and say what the README and the demo rely on.
@Suite struct ExampleConfigTests {
    static func example(_ relative: String) -> String {
        SharedTestData.packageRoot.appendingPathComponent("examples/" + relative).path
    }

    @Test func helloPackageBuildsStaticallyWithoutAnEnvironment() throws {
        let loaded = try BuildConfiguration.load(path: Self.example("hello/melange.yaml"))
        let config = loaded.configuration
        #expect(config.package.name == "hello")
        #expect(config.package.fullVersion == "1.0.0-r0")
        // No environment packages: the demo builds with the host's compiler, read-only.
        #expect(config.environment.contents.packages.isEmpty)
        #expect(config.pipeline.first?.runs.contains("cc -static") == true)
        #expect(config.package.copyright.map(\.license) == ["MIT"])
    }

    @Test func helloImageRunsTheProgram() throws {
        let loaded = try ImageConfiguration.load(path: Self.example("hello/apko.yaml"))
        #expect(loaded.configuration.contents.packages == ["hello"])
        #expect(loaded.configuration.entrypoint.command == "/usr/bin/hello")
    }

    @Test func senhasConfigsMirrorTheSeed() throws {
        let build = try BuildConfiguration.load(path: Self.example("senhas/melange.yaml")).configuration
        #expect(build.package.name == "senhas")
        #expect(build.package.fullVersion == "1.0.0-r0")
        #expect(build.environment.contents.repositories.allSatisfy { $0.contains("alpine/edge") })
        #expect(build.environment.contents.packages.contains("python3"))
        let image = try ImageConfiguration.load(path: Self.example("senhas/apko.yaml")).configuration
        #expect(image.contents.packages.contains("senhas@local"))
        #expect(image.accounts.runAs == "giropops")
        #expect(try image.resolvedArchitectures(sourceMap: nil).map(\.apk) == ["x86_64"])
    }
}
