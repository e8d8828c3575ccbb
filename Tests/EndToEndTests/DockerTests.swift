import Foundation
import TestSupport
import Testing

/// Starts one private `dockerd` for the suite and always stops it (by pid) afterwards.
struct DockerScope: SuiteTrait, TestScoping {
    @TaskLocal static var daemon: DockerDaemon?

    var isRecursive: Bool { false }

    func provideScope(for test: Test, testCase: Test.Case?, performing function: @Sendable () async throws -> Void)
        async throws
    {
        // A short path: the socket's must stay under 108 bytes.
        let dir = try TemporaryDirectory(prefix: "lamina-dockerd")
        defer { dir.remove() }
        let daemon = try DockerDaemon.start(in: dir.path)
        defer {
            if !daemon.stop() {
                Issue.record("dockerd did not stop on SIGTERM within 20 s; killed:\n\(daemon.process.logTail())")
            }
        }
        try await Self.$daemon.withValue(daemon) { try await function() }
    }
}

extension EndToEnd {
    /// `docker load` / `image inspect` / `run` of our tarballs against a real daemon (vfs, no network).
    @Suite(
        .enabled(if: DockerDaemon.isAvailable, "\(DockerDaemon.unavailableReason)"), DockerScope())
    struct Docker {
        var daemon: DockerDaemon { get throws { try #require(DockerScope.daemon) } }

        /// `docker image inspect` of one reference, decoded.
        func inspect(_ reference: String) throws -> [String: Any] {
            let r = try check(try daemon.docker(["image", "inspect", reference]), "docker image inspect \(reference)")
            let list = try #require(try json(r.stdout) as? [[String: Any]])
            return try #require(list.first)
        }

        /// Every `repo:tag` the daemon knows.
        func tags() throws -> Set<String> {
            let r = try check(
                try daemon.docker(["image", "ls", "--format", "{{.Repository}}:{{.Tag}}"]), "docker image ls")
            return Set(r.stdout.split(separator: "\n").map(String.init))
        }

        /// The config digest our layout records for `tag` (docker's image id).
        func configDigest(layoutTar: String, refName: String) throws -> String {
            let index = try #require(try json(readMember(layoutTar, "index.json")) as? [String: Any])
            let manifests = try #require(index["manifests"] as? [[String: Any]])
            let entry = try #require(
                manifests.first {
                    ($0["annotations"] as? [String: String])?["org.opencontainers.image.ref.name"] == refName
                },
                "no index.json entry named \(refName)")
            let digest = try #require(entry["digest"] as? String)
            let manifest = try #require(
                try json(readMember(layoutTar, "blobs/sha256/" + digest.dropFirst(7))) as? [String: Any])
            return try #require((manifest["config"] as? [String: Any])?["digest"] as? String)
        }

        @Test func singleArchLoadsWithExactTagAndOneLayer() throws {
            let images = try sharedImages()
            let load = try check(try daemon.docker(["load", "-i", images.single]), "docker load")
            #expect(load.stdout.contains("Loaded image: \(BuiltImages.singleTag)"), "\(load.stdout)")
            let known = try tags()
            #expect(known.contains(BuiltImages.singleTag))
            #expect(
                !known.contains { $0.hasPrefix(BuiltImages.singleTag + "-") },
                "no -arch tag for a single-arch build: \(known)")

            let image = try inspect(BuiltImages.singleTag)
            let layers = try #require((image["RootFS"] as? [String: Any])?["Layers"] as? [String])
            #expect(layers.count == 1)
            #expect(image["Architecture"] as? String == "amd64")
            #expect(image["Os"] as? String == "linux")
            #expect(image["Id"] as? String == (try configDigest(layoutTar: images.single, refName: "1.0")))
            let config = try #require(image["Config"] as? [String: Any])
            #expect(config["Entrypoint"] as? [String] == ["/usr/bin/hello"])
            #expect(config["User"] as? String == "65532")
            #expect(config["WorkingDir"] as? String == "/home/nonroot")
            let env = try #require(config["Env"] as? [String])
            #expect(env.contains("FOO=bar"))
            #expect(env.contains("PATH=/usr/local/sbin:/usr/local/bin:/usr/bin:/usr/sbin:/sbin:/bin"))
            #expect(image["Created"] as? String == "2023-11-14T22:13:20Z")
            #expect(config["Cmd"] as? [String] == ["--greeting", "two words"])
            #expect(config["StopSignal"] as? String == "SIGQUIT")
            #expect((config["Volumes"] as? [String: Any]).map { Array($0.keys) } == ["/data"])
            #expect(
                config["Labels"] as? [String: String] == [
                    "org.opencontainers.image.title": "Lamina e2e",
                    "org.opencontainers.image.created": "2023-11-14T22:13:20Z",
                ])
        }

        @Test func runPrintsTheGreeting() throws {
            let images = try sharedImages()
            try check(try daemon.docker(["load", "-i", images.single]), "docker load")
            let run = try check(
                try daemon.docker(["run", "--rm", "--network=none", BuiltImages.singleTag]), "docker run")
            #expect(run.stdout == "Hello from Lamina\n")

            // The account, working directory and environment are real inside the container.
            let shell = try check(
                try daemon.docker([
                    "run", "--rm", "--network=none", "--entrypoint", "/bin/sh", BuiltImages.singleTag, "-c",
                    "id -u; id -un; pwd; echo $FOO; ls -ld /home/nonroot | cut -c1-10; cat /etc/os-release | head -1; "
                        + "stat -c '%a %u %g' /data /data/empty; readlink /usr/bin/hello-link; "
                        + "stat -c %h /usr/bin/hello; /bin/aaa-hello",
                ]),
                "docker run sh")
            #expect(
                shell.stdout == """
                    65532
                    nonroot
                    /home/nonroot
                    bar
                    drwx------
                    NAME="Alpine Linux"
                    750 65532 65532
                    600 65532 65532
                    /usr/bin/hello
                    2
                    Hello from Lamina

                    """, "\(shell.stdout)")
        }

        /// A registry prefix (with a port) is kept as written; a name without a tag gets `:latest`.
        @Test func registryPrefixAndDefaultTag() throws {
            let images = try sharedImages()
            let out = try BuiltImages.build(
                images.fixture, config: images.fixture.config(), tag: "registry.example:5000/team/app",
                output: "named/app.tar", cache: "cache-a")
            let load = try check(try daemon.docker(["load", "-i", out]), "docker load named")
            #expect(load.stdout == "Loaded image: registry.example:5000/team/app:latest\n", "\(load.stdout)")
            #expect(try tags().contains("registry.example:5000/team/app:latest"))
        }

        @Test func multiArchLoadsHostTagPlusOnePerArch() throws {
            let images = try sharedImages()
            let load = try check(try daemon.docker(["load", "-i", images.multi]), "docker load multi")
            let base = BuiltImages.multiTag
            let known = try tags()
            for tag in [base, base + "-amd64", base + "-arm64", base + "-arm_v7"] {
                #expect(known.contains(tag), "\(tag) missing after load: \(load.stdout)")
            }
            #expect(known.filter { $0.hasPrefix("lamina-e2e/multi:") }.count == 4, "\(known)")
            let host = try inspect(base)
            let amd64 = try inspect(base + "-amd64")
            let arm64 = try inspect(base + "-arm64")
            #expect(host["Id"] as? String == amd64["Id"] as? String)
            #expect(amd64["Architecture"] as? String == "amd64")
            #expect(arm64["Architecture"] as? String == "arm64")
            #expect(arm64["Id"] as? String != amd64["Id"] as? String)
            #expect(arm64["Id"] as? String == (try configDigest(layoutTar: images.multi, refName: "2.0-arm64")))
            let armv7 = try inspect(base + "-arm_v7")
            #expect(armv7["Architecture"] as? String == "arm")
            #expect(armv7["Variant"] as? String == "v7")
            let run = try check(try daemon.docker(["run", "--rm", "--network=none", base]), "docker run multi")
            #expect(run.stdout == "Hello from Lamina\n")
        }
    }
}

/// The bytes of one member of a tar file (GNU tar reads it: an independent reader).
func readMember(_ tarball: String, _ member: String) throws -> String {
    try check(try CommandRunner.run("/bin/tar", ["-xOf", tarball, member]), "tar -xOf \(member)").stdout
}
