import Foundation
import TestSupport
import Testing

#if canImport(Glibc)
    import Glibc
#endif

extension EndToEnd {
    /// The README's main job as a test: keygen → package build (bubblewrap) → image build → run the image.
    @Suite(
        .enabled(
            if: have("bwrap") && have("cc") && have("umoci") && have("runc") && getuid() == 0,
            "needs bubblewrap, a C compiler, umoci, runc and root"))
    struct PackageChain {
        static func example(_ relative: String) -> String {
            SharedTestData.packageRoot.appendingPathComponent("examples/" + relative).path
        }

        @Test func helloExampleBuildsSignsAndRuns() throws {
            let fixture = try sharedImages().fixture
            let dir = fixture.work + "/chain"
            try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
            let env = ["SOURCE_DATE_EPOCH": fixtureEpoch]
            let key = dir + "/melange.rsa"
            try check(try CommandRunner.lamina(["keygen", key, "--bits", "2048"]), "lamina keygen")

            var digests: [String] = []
            for run in 0..<2 {
                let out = dir + "/packages-\(run)"
                let build = try check(
                    try CommandRunner.lamina(
                        ["package", "build", Self.example("hello/melange.yaml"), "--signing-key", key, "--arch", "amd64",
                         "--out-dir", out, "--cache-dir", dir + "/cache"],
                        environment: env),
                    "lamina package build")
                #expect(build.stdout.contains("hello-1.0.0-r0.apk"), "\(build.stdout)")
                #expect(build.stderr.contains("[compile]") || build.stderr.isEmpty == false)
                try check(
                    try CommandRunner.lamina(
                        ["package", "verify", "--keyring", key + ".pub", out + "/x86_64/hello-1.0.0-r0.apk",
                         out + "/x86_64/APKINDEX.tar.gz"]),
                    "lamina package verify")
                digests.append(try sha256(of: out + "/x86_64/hello-1.0.0-r0.apk"))
            }
            #expect(digests[0] == digests[1], "two builds of the example give the same package bytes")

            let tarball = dir + "/hello.tar"
            try check(
                try CommandRunner.lamina(
                    ["image", "build", Self.example("hello/apko.yaml"), "hello:1.0.0", tarball, "-k", key + ".pub",
                     "-r", dir + "/packages-0", "--arch", "amd64", "--cache-dir", dir + "/cache", "--offline"],
                    environment: env),
                "lamina image build")
            let layout = dir + "/layout"
            try FileManager.default.createDirectory(atPath: layout, withIntermediateDirectories: true)
            try check(try CommandRunner.run("/bin/tar", ["-xf", tarball, "-C", layout]), "tar -x")
            let output = try unpackAndRun(image: layout + ":1.0.0", in: dir, name: "chain")
            #expect(output.hasPrefix("Hello from Lamina! (a single-layer image, running on Linux"), "\(output)")
        }

        @Test func buildsInAGuestFromTheFixtureRepository() throws {
            let fixture = try sharedImages().fixture
            let dir = fixture.work + "/guest-build"
            try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
            let config = try fixture.write(
                """
                package:
                  name: shout
                  version: 0.2.0
                  epoch: 1
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
                pipeline:
                  - name: script
                    runs: |
                      mkdir -p "${{targets.destdir}}/usr/bin"
                      printf '#!/bin/sh\\ntr a-z A-Z\\n' > "${{targets.destdir}}/usr/bin/shout"
                      chmod 0755 "${{targets.destdir}}/usr/bin/shout"
                      echo hello | sh "${{targets.destdir}}/usr/bin/shout"
                """, as: "guest-build/melange.yaml")
            let out = dir + "/packages"
            let build = try check(
                try CommandRunner.lamina(
                    ["package", "build", config, "--signing-key", fixture.privateKey, "--arch", "x86_64", "--out-dir", out,
                     "--cache-dir", dir + "/cache", "--offline"],
                    environment: ["SOURCE_DATE_EPOCH": fixtureEpoch]),
                "lamina package build")
            #expect(build.stderr.contains("[script] HELLO"), "\(build.stderr)")
            let info = try check(
                try CommandRunner.lamina(["package", "info", out + "/x86_64/shout-0.2.0-r1.apk"]), "lamina package info")
            // The script's interpreter is an automatic dependency, the command an automatic provide.
            #expect(info.stdout.contains("cmd:shout=0.2.0-r1"), "\(info.stdout)")
        }
    }
}
