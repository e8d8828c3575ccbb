import Foundation
import TestSupport
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// melange.yaml texts for the runner tests: an environment of `busybox` (+ musl) from the fixture repository.
enum RunnerConfigs {
    /// Three steps: one leaves a file in the guest root, the next packages it (the guest root is kept between
    /// steps by every runner), the last prints a line through a pipe.
    static func good(_ fixture: FixtureRepository) -> String {
        """
        package:
          name: shout
          version: 0.3.0
          epoch: 2
          description: Uppercases its input
          copyright:
            - license: MIT
        environment:
          contents:
            repositories:
              - \(fixture.repository)
            keyring:
              - \(fixture.publicKey)
            packages:
              - busybox
          environment:
            GREETING: hello from the guest
        pipeline:
          - name: prepare
            runs: |
              mkdir -p /var/tmp/shout
              printf '#!/bin/sh\\ntr a-z A-Z\\n' > /var/tmp/shout/shout
          - name: install
            runs: |
              mkdir -p "${{targets.destdir}}/usr/bin" "${{targets.destdir}}/usr/share/shout"
              cp /var/tmp/shout/shout "${{targets.destdir}}/usr/bin/shout"
              chmod 0755 "${{targets.destdir}}/usr/bin/shout"
              echo "$GREETING" > "${{targets.destdir}}/usr/share/shout/greeting"
          - name: compose
            runs: |
              echo "$GREETING" | sh "${{targets.destdir}}/usr/bin/shout"
              echo "home=$HOME pwd=$(pwd)"
        test:
          environment:
            contents:
              packages:
                - busybox
          pipeline:
            - name: shout-test
              runs: |
                echo "tested $(echo quiet | shout) as $(id -u):$(id -g)"
        """
    }

    static func failing(_ fixture: FixtureRepository) -> String {
        """
        package:
          name: broken
          version: 1.0.0
          epoch: 0
        environment:
          contents:
            repositories:
              - \(fixture.repository)
            keyring:
              - \(fixture.publicKey)
            packages:
              - busybox
        pipeline:
          - name: explode
            runs: |
              echo "about to fail"
              exit 3
          - name: never
            runs: echo unreachable
        """
    }

    /// No environment packages: melange would build on the host's root, which only bubblewrap can do.
    static let hostRoot = """
        package:
          name: bare
          version: 1.0.0
          epoch: 0
        pipeline:
          - runs: echo hi
        """

    /// `lamina package build CONFIG` with the fixture key, offline, for x86_64.
    static func build(
        _ config: String, fixture: FixtureRepository, out: String, cache: String, runner: [String]
    ) throws -> CommandResult {
        try CommandRunner.lamina(
            ["package", "build", config, "--signing-key", fixture.privateKey, "--arch", "x86_64", "--out-dir", out,
             "--cache-dir", cache, "--offline"] + runner,
            environment: ["SOURCE_DATE_EPOCH": fixtureEpoch])
    }

    /// A build whose step sleeps: started, killed with SIGKILL once its container runs.
    static func sleeping(_ fixture: FixtureRepository) -> String {
        """
        package:
          name: sleepy
          version: 1.0.0
          epoch: 0
        environment:
          contents:
            repositories:
              - \(fixture.repository)
            keyring:
              - \(fixture.publicKey)
            packages:
              - busybox
        pipeline:
          - name: nap
            runs: |
              echo napping
              sleep 300
        """
    }

    /// Starts `lamina package build` of ``sleeping(_:)``, waits until `containers()` lists the runner's container,
    /// kills Lamina with SIGKILL (no cleanup code runs), and returns what `containers()` still lists after up to
    /// 30 s.
    static func killMidStep(
        _ fixture: FixtureRepository, dir: String, runner: [String], containers: () throws -> String
    ) throws -> (before: String, after: String) {
        let config = try fixture.write(sleeping(fixture), as: (dir as NSString).lastPathComponent + "/melange.yaml")
        let process = Process()
        process.executableURL = URL(fileURLWithPath: CommandRunner.laminaPath)
        process.arguments =
            ["package", "build", config, "--arch", "x86_64", "--out-dir", dir + "/out", "--cache-dir", dir + "/cache",
             "--offline"] + runner
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
        var before = ""
        let start = ContinuousClock.now
        while before.isEmpty && process.isRunning && ContinuousClock.now - start < .seconds(90) {
            before = try containers()
            if before.isEmpty { usleep(200_000) }
        }
        usleep(1_000_000)  // let the step start
        kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()
        var after = try containers()
        let killed = ContinuousClock.now
        while !after.isEmpty && ContinuousClock.now - killed < .seconds(30) {
            usleep(250_000)
            after = try containers()
        }
        return (before, after)
    }

    /// The file paths and provides of a package, from `lamina package info --json`.
    static func contents(_ apk: String) throws -> (files: [String], provides: [String]) {
        let info = try check(try CommandRunner.lamina(["package", "info", "--json", apk]), "lamina package info")
        let object = try #require(try json(info.stdout) as? [String: Any])
        let files = try #require(object["files"] as? [[String: Any]]).compactMap { $0["path"] as? String }
        return (files, object["provides"] as? [String] ?? [])
    }
}

extension EndToEnd.Docker {
    /// The runner's containers and images left on the daemon (none after a build, failed or not).
    func leftovers() throws -> String {
        let containers = try check(
            try daemon.docker(["ps", "-a", "-q", "--filter", "label=dev.lamina.build"]), "docker ps").stdout
        let images = try check(
            try daemon.docker(["images", "-q", "--filter", "label=dev.lamina.build"]), "docker images").stdout
        return containers + images
    }

    /// `lamina package build --runner docker` on the private daemon: steps run in a container of the guest root,
    /// their output streams with the step's name, and the packages are the bytes bubblewrap gives.
    @Test func packageBuildWithDockerRunner() throws {
        let fixture = try sharedImages().fixture
        let host = "unix://" + (try daemon).socket
        let dir = fixture.work + "/docker-runner"
        let config = try fixture.write(RunnerConfigs.good(fixture), as: "docker-runner/melange.yaml")
        let docker = try check(
            try RunnerConfigs.build(
                config, fixture: fixture, out: dir + "/docker", cache: dir + "/cache",
                runner: ["--runner", "docker", "--docker-host", host]),
            "lamina package build --runner docker")
        #expect(docker.stderr.contains("[compose] HELLO FROM THE GUEST"), "\(docker.stderr)")
        #expect(docker.stderr.contains("[compose] home=/home/build pwd=/home/build"), "\(docker.stderr)")
        #expect(docker.stderr.contains("(runner docker)"), "\(docker.stderr)")
        let apk = dir + "/docker/x86_64/shout-0.3.0-r2.apk"
        let (files, provides) = try RunnerConfigs.contents(apk)
        #expect(files.contains("usr/bin/shout") && files.contains("usr/share/shout/greeting"), "\(files)")
        #expect(provides.contains("cmd:shout=0.3.0-r2"), "\(provides)")
        try check(
            try CommandRunner.lamina(
                ["package", "verify", "--keyring", fixture.publicKey, apk, dir + "/docker/x86_64/APKINDEX.tar.gz"]),
            "lamina package verify")
        #expect(try leftovers().isEmpty, "the runner's container and image are removed")

        // `package test` runs the test pipeline in a fresh container holding the package.
        let test = try check(
            try CommandRunner.lamina(
                ["package", "test", config, "--signing-key", fixture.privateKey, "--arch", "x86_64", "--out-dir",
                 dir + "/docker", "--cache-dir", dir + "/cache", "--offline", "--runner", "docker", "--docker-host", host],
                environment: ["SOURCE_DATE_EPOCH": fixtureEpoch]),
            "lamina package test --runner docker")
        #expect(test.stderr.contains("[shout-test] tested QUIET as 1000:1000"), "test steps run as the build user too: \(test.stderr)")
        #expect(try leftovers().isEmpty, "the test's container and image are removed")

        // The runner does not change the output.
        try check(
            try RunnerConfigs.build(
                config, fixture: fixture, out: dir + "/bwrap", cache: dir + "/cache", runner: ["--runner", "bubblewrap"]),
            "lamina package build --runner bubblewrap")
        #expect(try sha256(of: apk) == sha256(of: dir + "/bwrap/x86_64/shout-0.3.0-r2.apk"))
        #expect(
            try sha256(of: dir + "/docker/x86_64/APKINDEX.tar.gz") == sha256(of: dir + "/bwrap/x86_64/APKINDEX.tar.gz"))
    }

    /// A failing step stops the docker build with the step's name, exit status and last line; nothing is left.
    @Test func failingStepWithDockerRunner() throws {
        let fixture = try sharedImages().fixture
        let host = "unix://" + (try daemon).socket
        let dir = fixture.work + "/docker-runner-fail"
        let config = try fixture.write(RunnerConfigs.failing(fixture), as: "docker-runner-fail/melange.yaml")
        let result = try RunnerConfigs.build(
            config, fixture: fixture, out: dir + "/out", cache: dir + "/cache",
            runner: ["--runner", "docker", "--docker-host", host])
        #expect(result.status != 0)
        #expect(result.stderr.contains("step 'explode'"), "\(result.stderr)")
        #expect(result.stderr.contains("exit status 3"), "\(result.stderr)")
        #expect(result.stderr.contains("about to fail"), "\(result.stderr)")
        #expect(!result.stderr.contains("unreachable"), "\(result.stderr)")
        #expect(!FileManager.default.fileExists(atPath: dir + "/out/x86_64/broken-1.0.0-r0.apk"))
        #expect(try leftovers().isEmpty, "the runner's container and image are removed after a failure")
    }

    /// Lamina killed in the middle of a step: its container ends and is removed anyway (the image, labelled,
    /// stays: removed here).
    @Test func dockerContainerDiesWithLamina() throws {
        let fixture = try sharedImages().fixture
        let daemon = try daemon
        let outcome = try RunnerConfigs.killMidStep(
            fixture, dir: fixture.work + "/docker-runner-kill",
            runner: ["--runner", "docker", "--docker-host", "unix://" + daemon.socket]
        ) {
            try check(try daemon.docker(["ps", "-a", "-q", "--filter", "label=dev.lamina.build"]), "docker ps").stdout
        }
        #expect(!outcome.before.isEmpty, "the build's container was seen running")
        #expect(outcome.after.isEmpty, "the container outlived Lamina: \(outcome.after)")
        for image in try daemon.docker(["images", "-q", "--filter", "label=dev.lamina.build"]).stdout.split(separator: "\n") {
            try daemon.docker(["rmi", "-f", String(image)])
        }
    }

    /// Without environment packages there is nothing to make an image from: a clear refusal, before any work.
    @Test func dockerRunnerRefusesTheHostRoot() throws {
        let fixture = try sharedImages().fixture
        let host = "unix://" + (try daemon).socket
        let dir = fixture.work + "/docker-runner-host"
        let config = try fixture.write(RunnerConfigs.hostRoot, as: "docker-runner-host/melange.yaml")
        let result = try RunnerConfigs.build(
            config, fixture: fixture, out: dir + "/out", cache: dir + "/cache",
            runner: ["--runner", "docker", "--docker-host", host])
        #expect(result.status != 0)
        #expect(result.stderr.contains("the docker runner needs an image"), "\(result.stderr)")
        #expect(result.stderr.contains("--runner bubblewrap"), "\(result.stderr)")
        #expect(result.stderr.contains("environment.contents.packages"), "\(result.stderr)")
    }
}

/// Whether local podman can start a container at all (the runner itself copes with rlimit refusals).
let podmanWorks: Bool = {
    guard let podman = CommandRunner.which("podman"), getuid() == 0,
        let version = try? CommandRunner.run(podman, ["version", "--format", "{{.Server.Version}}"])
    else { return false }
    return version.status == 0 && !version.stdout.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty
}()

extension EndToEnd {
    /// `--runner podman` with the machine's own (rootful) podman: the same package bytes as bubblewrap.
    @Suite(.enabled(if: podmanWorks && have("bwrap"), "needs rootful podman (apt-get install podman) and bubblewrap"))
    struct Podman {
        @Test func packageBuildWithPodmanRunner() throws {
            let fixture = try sharedImages().fixture
            let dir = fixture.work + "/podman-runner"
            let config = try fixture.write(RunnerConfigs.good(fixture), as: "podman-runner/melange.yaml")
            let podman = try check(
                try RunnerConfigs.build(
                    config, fixture: fixture, out: dir + "/podman", cache: dir + "/cache", runner: ["--runner", "podman"]),
                "lamina package build --runner podman")
            #expect(podman.stderr.contains("[compose] HELLO FROM THE GUEST"), "\(podman.stderr)")
            try check(
                try RunnerConfigs.build(
                    config, fixture: fixture, out: dir + "/bwrap", cache: dir + "/cache", runner: []),
                "lamina package build (bubblewrap)")
            #expect(
                try sha256(of: dir + "/podman/x86_64/shout-0.3.0-r2.apk")
                    == sha256(of: dir + "/bwrap/x86_64/shout-0.3.0-r2.apk"))
            let podmanPath = try #require(CommandRunner.which("podman"))
            let left = try CommandRunner.run(podmanPath, ["ps", "-a", "-q", "--filter", "label=dev.lamina.build"]).stdout
                + CommandRunner.run(podmanPath, ["images", "-q", "--filter", "label=dev.lamina.build"]).stdout
            #expect(left.isEmpty, "the runner's container and image are removed: \(left)")
        }

        /// Lamina killed in the middle of a step: its podman container ends and is removed anyway.
        @Test func podmanContainerDiesWithLamina() throws {
            let fixture = try sharedImages().fixture
            let podman = try #require(CommandRunner.which("podman"))
            let outcome = try RunnerConfigs.killMidStep(
                fixture, dir: fixture.work + "/podman-runner-kill", runner: ["--runner", "podman"]
            ) {
                try CommandRunner.run(podman, ["ps", "-a", "-q", "--filter", "label=dev.lamina.build"]).stdout
            }
            #expect(!outcome.before.isEmpty, "the build's container was seen running")
            #expect(outcome.after.isEmpty, "the container outlived Lamina: \(outcome.after)")
            for image in try CommandRunner.run(podman, ["images", "-q", "--filter", "label=dev.lamina.build"]).stdout
                .split(separator: "\n")
            {
                _ = try CommandRunner.run(podman, ["rmi", "-f", String(image)])
            }
        }
    }
}

extension EndToEnd {
    /// Several `--arch` values, one of which cannot run here: refused before the first build, so nothing is
    /// written even for the host's architecture.
    @Test(
        .enabled(
            if: HostCPU.isX86_64 && !FileManager.default.fileExists(atPath: "/proc/sys/fs/binfmt_misc/qemu-aarch64"),
            "needs an x86_64 host without a qemu-aarch64 binfmt handler"))
    func multiArchBuildRefusesAnArchitectureThatCannotRun() throws {
        let fixture = try sharedImages().fixture
        let dir = fixture.work + "/foreign-arch"
        let config = try fixture.write(RunnerConfigs.good(fixture), as: "foreign-arch/melange.yaml")
        let result = try CommandRunner.lamina(
            ["package", "build", config, "--signing-key", fixture.privateKey, "--arch", "x86_64,aarch64", "--out-dir",
             dir + "/out", "--cache-dir", dir + "/cache", "--offline"],
            environment: ["SOURCE_DATE_EPOCH": fixtureEpoch])
        #expect(result.status != 0)
        #expect(result.stderr.contains("cannot build for aarch64 on this x86_64 machine"), "\(result.stderr)")
        #expect(!result.stderr.contains("[compose]"), "no step ran: \(result.stderr)")
        #expect(!FileManager.default.fileExists(atPath: dir + "/out/x86_64"), "nothing written for x86_64 either")
    }
}

enum HostCPU {
    static var isX86_64: Bool {
        #if arch(x86_64)
            return true
        #else
            return false
        #endif
    }
}
