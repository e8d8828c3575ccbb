import Foundation
import TestSupport
import Testing

/// Who pipeline steps run as: melange's build user (uid/gid 1000) unless `environment.accounts.run-as` asks for
/// root; either way the package's files belong to root.
enum StepUserConfigs {
    static func config(_ fixture: FixtureRepository, runAs: String?) -> String {
        """
        package:
          name: who
          version: 1.0.0
          epoch: 0
        \(fixture.busyboxEnvironment)
        \(runAs.map { "  accounts:\n    run-as: \($0)" } ?? "")
        pipeline:
          - name: whoami
            runs: |
              echo "ids=$(id -u):$(id -g) home=$HOME"
              echo built > "$HOME/in-workspace"
              mkdir -p "${{targets.destdir}}/usr/share/who"
              id -u > "${{targets.destdir}}/usr/share/who/uid"
              cp "$HOME/in-workspace" "${{targets.destdir}}/usr/share/who/"
        """
    }

    /// Builds `config` with `runner` flags and checks what the step saw and what the package holds.
    static func verify(
        _ fixture: FixtureRepository, runAs: String?, expected: String, runner: [String], name: String
    ) throws {
        let dir = fixture.work + "/\(name)"
        let config = try fixture.write(config(fixture, runAs: runAs), as: "\(name)/melange.yaml")
        let result = try check(
            try RunnerConfigs.build(config, fixture: fixture, out: dir + "/out", cache: dir + "/cache", runner: runner),
            "lamina package build (\(name))")
        #expect(result.stderr.contains("[whoami] ids=\(expected) home=/home/build"), "\(result.stderr)")
        let apk = dir + "/out/x86_64/who-1.0.0-r0.apk"
        // Every entry of the package is root's, whoever ran the steps.
        let listing = try layerListing(tarball: apk, layer: nil)
        let data = listing.filter { !$0.key.hasPrefix(".") }
        #expect(data["usr/share/who/uid"] != nil && data["usr/share/who/in-workspace"] != nil, "\(listing.keys.sorted())")
        for (path, entry) in data { #expect(entry.owner == "0/0", "\(name) \(path): \(entry.owner)") }
        let uid = try check(
            try CommandRunner.run("/bin/sh", ["-c", "tar -xzOf '\(apk)' usr/share/who/uid 2>/dev/null"]), "read uid").stdout
        #expect(uid == expected.split(separator: ":")[0] + "\n", "\(name): \(uid)")
    }
}

extension EndToEnd {
    @Suite(.enabled(if: have("bwrap"), "needs bubblewrap (apt-get install bubblewrap)"))
    struct StepUser {
        @Test(arguments: [(nil, "1000:1000"), ("root", "0:0"), ("build", "1000:1000")] as [(String?, String)])
        func bubblewrapRunsStepsAsTheBuildUser(_ runAs: String?, _ expected: String) throws {
            try StepUserConfigs.verify(try sharedImages().fixture, runAs: runAs, expected: expected, runner: [], name: "who-bwrap-\(runAs ?? "default")")
        }

        @Test func unknownRunAsUserIsRefused() throws {
            let fixture = try sharedImages().fixture
            let config = try fixture.write(StepUserConfigs.config(fixture, runAs: "nobody-here"), as: "who-unknown/melange.yaml")
            let r = try RunnerConfigs.build(config, fixture: fixture, out: fixture.work + "/who-unknown/out", cache: fixture.work + "/who-unknown/cache", runner: [])
            #expect(r.status == 1)
            #expect(r.stderr.contains("environment.accounts.run-as") && r.stderr.contains("nobody-here"), "\(r.stderr)")
        }
    }
}

extension EndToEnd.Docker {
    @Test(arguments: [(nil, "1000:1000"), ("root", "0:0")] as [(String?, String)])
    func dockerRunnerRunsStepsAsTheBuildUser(_ runAs: String?, _ expected: String) throws {
        let host = "unix://" + (try daemon).socket
        try StepUserConfigs.verify(
            try sharedImages().fixture, runAs: runAs, expected: expected, runner: ["--runner", "docker", "--docker-host", host],
            name: "who-docker-\(runAs ?? "default")")
        #expect(try leftovers().isEmpty)
    }
}
