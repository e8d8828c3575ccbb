import Foundation
import TestSupport
import Testing

#if canImport(Glibc)
    import Glibc
#endif

extension EndToEnd {
    /// melange's `setcap` end to end: `package build` (bubblewrap) writes `security.capability` into the
    /// package (main and subpackage), `image build` carries it into the layer, Python's tarfile sees the PAX
    /// records in both, and GNU tar + getcap read the capability back from the extracted layer.
    @Test(.enabled(if: have("bwrap") && have("python3"), "needs bubblewrap and python3"))
    func setcapReachesPackageAndLayer() throws {
        let fixture = try sharedImages().fixture
        let dir = fixture.work + "/setcap"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        let config = try fixture.write(
            """
            package:
              name: pinger
              version: 1.0.0
              epoch: 0
              description: binds low ports
              copyright:
                - license: MIT
              setcap:
                - path: /usr/bin/pinger
                  add:
                    cap_net_bind_service: "+ep"
                  reason: listens on port 80
            \(fixture.busyboxEnvironment)
            pipeline:
              - runs: |
                  mkdir -p "${{targets.destdir}}/usr/bin"
                  printf '#!/bin/sh\\necho ping\\n' > "${{targets.destdir}}/usr/bin/pinger"
                  chmod 0755 "${{targets.destdir}}/usr/bin/pinger"
            subpackages:
              - name: pinger-raw
                setcap:
                  - path: /usr/bin/pinger-raw
                    add:
                      cap_net_raw,cap_net_admin: "+eip"
                    reason: raw sockets
                pipeline:
                  - runs: |
                      mkdir -p "${{targets.subpkgdir}}/usr/bin"
                      printf '#!/bin/sh\\necho raw\\n' > "${{targets.subpkgdir}}/usr/bin/pinger-raw"
                      chmod 0755 "${{targets.subpkgdir}}/usr/bin/pinger-raw"
            """, as: "setcap/melange.yaml")
        let out = dir + "/packages"
        try check(
            try CommandRunner.lamina(
                ["package", "build", config, "--signing-key", fixture.privateKey, "--arch", "x86_64", "--out-dir", out,
                 "--cache-dir", dir + "/cache", "--offline"],
                environment: ["SOURCE_DATE_EPOCH": fixtureEpoch]),
            "lamina package build")
        // melange's encoding: revision 3 (+ effective), permitted, inheritable, zero high words and root id.
        let bindService = "01000003" + "00040000" + "00000000" + String(repeating: "0", count: 24)
        let rawAdmin = "01000003" + "00300000" + "00300000" + String(repeating: "0", count: 24)
        #expect(
            try PythonTarfile.xattrs(out + "/x86_64/pinger-1.0.0-r0.apk", member: "usr/bin/pinger")
                == ["security.capability": bindService])
        #expect(
            try PythonTarfile.xattrs(out + "/x86_64/pinger-raw-1.0.0-r0.apk", member: "usr/bin/pinger-raw")
                == ["security.capability": rawAdmin])

        // Into the image layer.
        let image = try fixture.write(
            fixture.config(packages: ["hello", "pinger", "pinger-raw"], extra: ""), as: "setcap/apko.yaml")
        let tarball = dir + "/image.tar"
        try check(
            try CommandRunner.lamina(
                ["image", "build", image, "setcap:1", tarball, "-r", out, "--cache-dir", dir + "/cache", "--offline",
                 "--sbom=false"],
                environment: ["SOURCE_DATE_EPOCH": fixtureEpoch]),
            "lamina image build")
        let manifest = try #require(try json(readMember(tarball, "manifest.json")) as? [[String: Any]])
        let layerMember = try #require((manifest.first?["Layers"] as? [String])?.first)
        let layer = dir + "/layer.tar.gz"
        try check(
            try CommandRunner.run("/bin/sh", ["-c", "tar -xOf '\(tarball)' '\(layerMember)' > '\(layer)'"]), "layer")
        #expect(try PythonTarfile.xattrs(layer, member: "usr/bin/pinger") == ["security.capability": bindService])
        #expect(try PythonTarfile.xattrs(layer, member: "usr/bin/pinger-raw") == ["security.capability": rawAdmin])
        #expect(try PythonTarfile.xattrs(layer, member: "usr/bin/hello").isEmpty)

        // GNU tar restores it, the kernel accepts it, getcap reads the capability.
        guard getuid() == 0, have("getcap") else {
            print("getcap check skipped: needs root and getcap")
            return
        }
        let root = dir + "/root"
        try FileManager.default.createDirectory(atPath: root, withIntermediateDirectories: true)
        try check(
            try CommandRunner.run(
                "/bin/tar",
                ["--xattrs", "--xattrs-include=security.capability", "-xzf", layer, "-C", root, "usr/bin"]),
            "tar --xattrs -x")
        let getcap = try check(
            try CommandRunner.run(
                try #require(CommandRunner.which("getcap")), [root + "/usr/bin/pinger", root + "/usr/bin/pinger-raw"]),
            "getcap")
        #expect(getcap.stdout.contains("usr/bin/pinger cap_net_bind_service=ep"), "\(getcap.stdout)")
        #expect(getcap.stdout.contains("usr/bin/pinger-raw cap_net_admin,cap_net_raw=eip"), "\(getcap.stdout)")
    }
}

extension EndToEnd {
    /// `package.timeout` bounds the build: a step still running when it is spent is killed and the build fails
    /// with one line, well before the step would have ended.
    @Test(.enabled(if: have("bwrap"), "needs bubblewrap"))
    func packageTimeoutStopsTheBuild() throws {
        let fixture = try sharedImages().fixture
        let dir = fixture.work + "/timeout"
        let config = try fixture.write(
            """
            package:
              name: slow
              version: 1.0.0
              epoch: 0
              description: takes too long
              copyright:
                - license: MIT
              timeout: 3s
            \(fixture.busyboxEnvironment)
            pipeline:
              - runs: echo quick
              - runs: sleep 60
            """, as: "timeout/melange.yaml")
        let started = Date()
        let result = try CommandRunner.lamina(
            ["package", "build", config, "--signing-key", fixture.privateKey, "--arch", "x86_64", "--out-dir",
             dir + "/packages", "--cache-dir", dir + "/cache", "--offline"],
            environment: ["SOURCE_DATE_EPOCH": fixtureEpoch])
        let elapsed = Date().timeIntervalSince(started)
        #expect(result.status == 1, "\(result.stdout)\(result.stderr)")
        #expect(elapsed < 40, "the build ran \(elapsed) s: the timeout did not stop it")
        #expect(result.stderr.contains("[step 1] quick") || result.stderr.contains("quick"), "\(result.stderr)")
        #expect(result.stderr.contains("tim"), "\(result.stderr)")
        #expect(!FileManager.default.fileExists(atPath: dir + "/packages/x86_64/slow-1.0.0-r0.apk"))
    }
}

extension EndToEnd.Docker {
    /// melange's `capabilities:` with `--runner docker` and root steps (`run-as: root`): the step's effective set
    /// gains NET_ADMIN (bit 12) and loses NET_RAW (bit 13) against docker's defaults. For the build user (the
    /// default), whom docker gives no capabilities, an added one is refused naming the key.
    @Test func capabilitiesReachDockerSteps() throws {
        let fixture = try sharedImages().fixture
        let host = "unix://" + (try daemon).socket
        let dir = fixture.work + "/docker-caps"
        func build(_ capabilities: String, _ name: String) throws -> UInt64 {
            let config = try fixture.write(
                """
                package:
                  name: caps
                  version: 1.0.0
                  epoch: 0
                \(capabilities)
                \(fixture.busyboxEnvironment)
                  accounts:
                    run-as: root
                pipeline:
                  - name: caps
                    runs: grep CapEff /proc/self/status
                """, as: "docker-caps/\(name)/melange.yaml")
            let result = try check(
                try RunnerConfigs.build(
                    config, fixture: fixture, out: dir + "/\(name)/out", cache: dir + "/cache",
                    runner: ["--runner", "docker", "--docker-host", host]),
                "lamina package build --runner docker (\(name))")
            let line = try #require(
                result.stderr.split(separator: "\n").first { $0.contains("[caps] CapEff:") }, "\(result.stderr)")
            return try #require(UInt64(line.split(separator: "\t").last.map(String.init) ?? "", radix: 16), "\(line)")
        }
        let plain = try build("", "plain")
        #expect(plain & (1 << 13) != 0 && plain & (1 << 12) == 0, "docker's defaults: \(String(plain, radix: 16))")
        let changed = try build("capabilities:\n  add:\n    - CAP_NET_ADMIN\n  drop:\n    - CAP_NET_RAW", "changed")
        #expect(changed & (1 << 12) != 0, "\(String(changed, radix: 16))")
        #expect(changed & (1 << 13) == 0, "\(String(changed, radix: 16))")

        let refused = try fixture.write(
            """
            package:
              name: caps
              version: 1.0.0
              epoch: 0
            capabilities:
              add: [CAP_NET_ADMIN]
            \(fixture.busyboxEnvironment)
            pipeline:
              - runs: "true"
            """, as: "docker-caps/refused/melange.yaml")
        let r = try RunnerConfigs.build(
            refused, fixture: fixture, out: dir + "/refused/out", cache: dir + "/cache", runner: ["--runner", "docker", "--docker-host", host])
        #expect(r.status == 1 && r.stderr.contains("capabilities.add") && r.stderr.contains("run-as: root"), "\(r.stderr)")
        #expect(try leftovers().isEmpty)
    }
}
