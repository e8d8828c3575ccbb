import Foundation
import TestSupport
import Testing

/// The tutorial's four lines, verbatim, through `melange` and `apko` links to the built binary, against a private
/// `dockerd` (docker runner, `docker load`, `docker run --network=none`): `examples/tutorial/run`.
@Suite(
    .enabled(if: haveMinirootfs, "needs ../shared/testdata (the Alpine minirootfs)"),
    .enabled(if: DockerDaemon.isAvailable, "\(DockerDaemon.unavailableReason)"))
struct TutorialTests {
    @Test func theFourLinesRunUnchanged() throws {
        // A short path: the socket's must stay under 108 bytes.
        let daemonDirectory = try TemporaryDirectory(prefix: "lamina-tut")
        defer { daemonDirectory.remove() }
        let daemon = try DockerDaemon.start(in: daemonDirectory.path, tcpPort: try freeLocalPort())
        defer {
            if !daemon.stop() {
                Issue.record("dockerd did not stop on SIGTERM within 20 s; killed:\n\(daemon.process.logTail())")
            }
        }
        try TemporaryDirectory.withSync { dir in
            let work = dir.file("tutorial")
            let script = SharedTestData.packageRoot.appendingPathComponent("examples/tutorial/run").path
            let environment = [
                "LAMINA": CommandRunner.laminaPath, "MINIROOTFS": minirootfsPath,
                "DOCKER_HOST": "unix://" + daemon.socket,
                "DOCKER_CONFIG": daemon.root + "/config", "DOCKER_CLI_HINTS": "false",
            ]
            let run = try check(
                try CommandRunner.run("/bin/bash", [script, work], environment: environment), "examples/tutorial/run")
            // docker load names the image as apko tags it, and the container runs with no network.
            #expect(run.stdout.contains("Loaded image: giropos-melange-apko:1.0.0-amd64\n"), "\(run.stdout)")
            #expect(run.stdout.hasSuffix("giropops-senhas: 16 random characters\n"), "\(run.stdout)")
            // The four lines appear in the trace exactly as the tutorial writes them (plus -r/-k for the local repository).
            for line in [
                "+ melange keygen\n",
                "+ melange build melange.yaml --runner docker --signing-key melange.rsa --arch amd64 -r ",
                "+ apko build apko.yaml giropos-melange-apko:1.0.0 giropops-senhas.tar -k melange.rsa.pub --arch amd64 -r ",
                "+ docker load\n",
            ] {
                #expect(run.stderr.contains(line), "missing \(line) in:\n\(run.stderr)")
            }
            // Outputs where melange and apko write them.
            for file in [
                "melange.rsa", "melange.rsa.pub", "packages/x86_64/giropops-senhas-1.0.0-r0.apk",
                "packages/x86_64/APKINDEX.tar.gz",
                "packages/x86_64/APKINDEX.json", "giropops-senhas.tar", "sbom-x86_64.spdx.json", "sbom-index.spdx.json",
            ] {
                #expect(FileManager.default.fileExists(atPath: work + "/" + file), "\(file)")
            }
            let docker = try #require(
                try json(readMember(work + "/giropops-senhas.tar", "manifest.json")) as? [[String: Any]])
            #expect(docker.flatMap { ($0["RepoTags"] as? [String]) ?? [] } == ["giropos-melange-apko:1.0.0-amd64"])

            // The docker runner over DOCKER_HOST=tcp://: the same build against the daemon's TCP listener.
            let tcp = try #require(daemon.tcpAddress)
            try FileManager.default.removeItem(atPath: work + "/packages")
            let build = try check(
                try CommandRunner.run(
                    work + "/bin/melange",
                    [
                        "build", "melange.yaml", "--runner", "docker", "--signing-key", "melange.rsa", "--arch",
                        "amd64", "-r",
                        work + "/alpine-local", "-k", work + "/alpine-local/alpine-local.rsa.pub",
                    ],
                    environment: ["DOCKER_HOST": tcp, "XDG_CACHE_HOME": work + "/cache"], directory: work),
                "melange build over \(tcp)")
            #expect(build.stderr.contains("(runner docker)"), "\(build.stderr)")
            #expect(FileManager.default.fileExists(atPath: work + "/packages/x86_64/giropops-senhas-1.0.0-r0.apk"))

            // melange test: the config's test: pipeline against the package just built, in a docker guest.
            let test = try check(
                try CommandRunner.run(
                    work + "/bin/melange",
                    [
                        "test", "melange.yaml", "giropops-senhas", "--runner", "docker", "--arch", "amd64", "-r",
                        work + "/alpine-local", "-k",
                        work + "/alpine-local/alpine-local.rsa.pub", "-k", "melange.rsa.pub",
                    ],
                    environment: ["DOCKER_HOST": "unix://" + daemon.socket, "XDG_CACHE_HOME": work + "/cache"],
                    directory: work),
                "melange test")
            #expect(test.stdout == "giropops-senhas: tests passed\n", "\(test.stdout)\(test.stderr)")
        }
    }
}
