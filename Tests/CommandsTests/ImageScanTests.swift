import Foundation
import TestSupport
import Testing

/// `lamina image scan`: images built by `lamina image build`, root folders, installed databases, feeds from files,
/// directories and a local HTTP server, and the exit status.
@Suite(.enabled(if: SharedTestData.isAvailable, "needs ../shared/testdata"))
struct ImageScanTests {
    static let apkoCLI = SharedTestData.path("chainguard-dev+apko/internal/cli")
    static let security = SharedTestData.path("security")

    /// A secdb feed for the packages of apko's test repository (`replayout` depends on `pretend-baselayout`).
    static let feed = #"""
        {
          "apkurl": "{{urlprefix}}/{{reponame}}/{{arch}}/{{pkg.name}}-{{pkg.ver}}.apk",
          "archs": ["x86_64", "aarch64"],
          "reponame": "os",
          "urlprefix": "https://packages.example",
          "packages": [
            {"pkg": {"name": "replayout", "secfixes": {
              "0": ["CVE-2099-0002"],
              "1.0.0-r0": ["CVE-2099-0003"],
              "1.0.1-r0": ["CVE-2099-0001 (+ regression fix)", "GHSA-aaaa-bbbb-cccc"]
            }}},
            {"pkg": {"name": "pretend-baselayout", "secfixes": {"1.0.0-r1": ["CVE-2099-0100"]}}},
            {"pkg": {"name": "tzdata", "secfixes": {"2099a-r0": ["CVE-2099-0200"]}}}
          ]
        }
        """#

    func build(_ dir: TemporaryDirectory, archs: String) throws -> String {
        let image = dir.file("image-\(archs.replacingOccurrences(of: ",", with: "-")).tar")
        let r = try CommandRunner.lamina(
            ["image", "build", "testdata/apko.yaml", "scan:1", image, "--cache-dir", dir.file("cache"), "--arch", archs, "--sbom=false"],
            environment: ["SOURCE_DATE_EPOCH": "1700000000"], directory: Self.apkoCLI)
        #expect(r.status == 0, "\(r.stderr)")
        return image
    }

    /// Runs `lamina` on a plain thread, so the in-process server keeps the cooperative pool to itself.
    func lamina(_ arguments: [String]) async throws -> CommandResult {
        try await CommandRunner.laminaOffPool(arguments)
    }

    func json(_ text: String) throws -> [String: Any] {
        try #require(try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any])
    }

    @Test func scanOfABuiltImageReportsJSONAndExitStatus() throws {
        try TemporaryDirectory.withSync { dir in
            let image = try build(dir, archs: "amd64")
            let feed = dir.file("secdb.json")
            try Data(Self.feed.utf8).write(to: URL(fileURLWithPath: feed))

            let r = try CommandRunner.lamina(["image", "scan", image, "--secdb", feed, "--format", "json"])
            #expect(r.status == 0, "\(r.stderr)")
            let report = try json(r.stdout)
            #expect(report["target"] as? String == image)
            #expect((report["database"] as? String)?.hasSuffix(":lib/apk/db/installed") == true)
            #expect(report["platform"] as? String == "linux/amd64")
            let findings = try #require(report["findings"] as? [[String: Any]])
            #expect(findings.map { $0["package"] as? String } == ["pretend-baselayout", "replayout"])
            let replayout = try #require(findings.last)
            #expect(replayout["version"] as? String == "1.0.0-r0")
            #expect(replayout["fixedIn"] as? String == "1.0.1-r0")
            let ids = try #require(replayout["vulnerabilities"] as? [[String: String]])
            #expect(ids == [["id": "CVE-2099-0001", "fixedIn": "1.0.1-r0"], ["id": "GHSA-aaaa-bbbb-cccc", "fixedIn": "1.0.1-r0"]])
            #expect((findings.first?["vulnerabilities"] as? [[String: String]]) == [["id": "CVE-2099-0100", "fixedIn": "1.0.0-r1"]])
            #expect((report["feeds"] as? [[String: Any]])?.first?["fixes"] as? Int == 4)

            // Same bytes every time (stable keys and order).
            #expect(try CommandRunner.lamina(["image", "scan", image, "--secdb", feed, "--format", "json"]).stdout == r.stdout)

            let failing = try CommandRunner.lamina(["image", "scan", image, "--secdb", feed, "--fail-on-vulnerable"])
            #expect(failing.status == 1)
            #expect(failing.stdout.contains("replayout           1.0.0-r0   1.0.1-r0  CVE-2099-0001 GHSA-aaaa-bbbb-cccc"), "\(failing.stdout)")
            #expect(failing.stdout.hasSuffix("2 of \(report["packages"] as? Int ?? -1) packages vulnerable, 3 ids (1 feeds, 4 fixes)\n"))

            // No finding: exit 0 even with --fail-on-vulnerable.
            let clean = try CommandRunner.lamina([
                "image", "scan", image, "--secdb", Self.security + "/aquasecurity+vuln-list/wolfi/os/openssl.json", "--fail-on-vulnerable",
            ])
            #expect(clean.status == 0, "\(clean.stderr)")
            #expect(clean.stdout.hasPrefix("no known vulnerabilities in "))
        }
    }

    /// An OCI layout folder and a `build-minirootfs` tarball give the same findings as the image tarball.
    @Test func layoutFolderAndMinirootfsTarball() throws {
        try TemporaryDirectory.withSync { dir in
            let feed = dir.file("secdb.json")
            try Data(Self.feed.utf8).write(to: URL(fileURLWithPath: feed))
            let common = ["--cache-dir", dir.file("cache"), "--arch", "amd64"]
            let env = ["SOURCE_DATE_EPOCH": "1700000000"]
            let layout = try CommandRunner.lamina(
                ["image", "build", "testdata/apko.yaml", "scan:1", dir.file("layout"), "--format", "oci-layout", "--sbom=false"] + common,
                environment: env, directory: Self.apkoCLI)
            #expect(layout.status == 0, "\(layout.stderr)")
            let rootfs = try CommandRunner.lamina(
                ["image", "build-minirootfs", "testdata/apko.yaml", dir.file("root.tar.gz")] + common, environment: env, directory: Self.apkoCLI)
            #expect(rootfs.status == 0, "\(rootfs.stderr)")
            let image = try build(dir, archs: "amd64")
            var outputs: [String] = []
            for target in [image, dir.file("layout"), dir.file("root.tar.gz")] {
                let r = try CommandRunner.lamina(["image", "scan", target, "--secdb", feed, "--format", "json"])
                #expect(r.status == 0, "\(r.stderr)")
                let findings = try #require(try json(r.stdout)["findings"] as? [[String: Any]])
                #expect(findings.map { $0["package"] as? String } == ["pretend-baselayout", "replayout"], "\(target)")
                outputs.append(r.stdout.replacingOccurrences(of: target, with: "TARGET"))
            }
            #expect(outputs[0] == outputs[1], "tarball and layout read the same layer")
        }
    }

    @Test func multiArchImageNeedsArch() throws {
        try TemporaryDirectory.withSync { dir in
            let image = try build(dir, archs: "amd64,arm64")
            let feed = dir.file("secdb.json")
            try Data(Self.feed.utf8).write(to: URL(fileURLWithPath: feed))
            let ambiguous = try CommandRunner.lamina(["image", "scan", image, "--secdb", feed])
            #expect(ambiguous.status == 64)
            #expect(ambiguous.stderr.contains("linux/amd64") && ambiguous.stderr.contains("linux/arm64") && ambiguous.stderr.contains("--arch"),
                    "\(ambiguous.stderr)")
            let arm = try CommandRunner.lamina(["image", "scan", image, "--secdb", feed, "--arch", "aarch64", "--format", "json"])
            #expect(arm.status == 0, "\(arm.stderr)")
            #expect(try json(arm.stdout)["platform"] as? String == "linux/arm64/v8" || (try json(arm.stdout)["platform"] as? String)?.hasPrefix("linux/arm64") == true)
            let missing = try CommandRunner.lamina(["image", "scan", image, "--secdb", feed, "--arch", "s390x"])
            #expect(missing.status == 1 && missing.stderr.contains("no image for"), "\(missing.stderr)")
        }
    }

    @Test func rootFolderDatabaseFileAndFeedDirectory() throws {
        let root = SharedTestData.path("derived/minirootfs-3.20.3-x86_64")
        let feeds = Self.security + "/aquasecurity+vuln-list/alpine/3.20/main"
        for target in [root, root + "/lib/apk/db/installed"] {
            let r = try CommandRunner.lamina(["image", "scan", target, "--secdb", feeds, "--fail-on-vulnerable"])
            #expect(r.status == 1, "\(r.stderr)")
            #expect(r.stdout.contains("busybox-binsh  1.36.1-r29  1.36.1-r31  CVE-2024-58251 CVE-2025-46394"), "\(r.stdout)")
            #expect(r.stdout.hasSuffix("5 of 14 packages vulnerable, 50 ids (4 feeds, 57 fixes)\n"), "\(r.stdout)")
        }
    }

    @Test func malformedFeedFailsNamingTheFile() throws {
        let bad = Self.security + "/aquasecurity+trivy-db/pkg/vulnsrc/alpine/testdata/sad/vuln-list/alpine/ansible.json"
        let db = SharedTestData.path("derived/minirootfs-3.20.3-x86_64/lib/apk/db/installed")
        let r = try CommandRunner.lamina(["image", "scan", db, "--secdb", bad])
        #expect(r.status == 1)
        #expect(r.stdout.isEmpty)
        #expect(r.stderr.hasPrefix("error: \(bad): invalid JSON"), "\(r.stderr)")
        #expect(!r.stderr.contains("\n") || r.stderr.split(separator: "\n").count == 1, "one line: \(r.stderr)")

        let usage = try CommandRunner.lamina(["image", "scan", db, "--secdb", bad, "--format", "xml"])
        #expect(usage.status == 64 && usage.stderr.contains("--format"))
        let noTarget = try CommandRunner.lamina(["image", "scan", "/nonexistent/image.tar", "--secdb", bad])
        #expect(noTarget.status == 1 && noTarget.stderr.contains("/nonexistent/image.tar"))
    }

    @Test func feedFromURLIsCachedAndRevalidated() async throws {
        try await TemporaryDirectory.with { dir in
            let yaml = try Data(contentsOf: URL(fileURLWithPath: Self.security + "/alpinelinux+alpine-secdb/v3.10/main.yaml"))
            let db = Self.security + "/aquasecurity+trivy/pkg/fanal/test/testdata/alpine-310.tar.gz.extracted/lib/apk/db/installed"
            // Downgrade openssl in a copy of alpine 3.10.4's database, so the real feed has something to say.
            let text = try String(contentsOfFile: db, encoding: .utf8).replacingOccurrences(of: "V:1.1.1d-r2", with: "V:1.1.1c-r0")
            try Data(text.utf8).write(to: URL(fileURLWithPath: dir.file("installed")))
            try await withTestHTTPServer { server in
                await server.setFile("/v3.10/main.yaml", Array(yaml))
                let url = server.url("/v3.10/main.yaml")
                let args = ["image", "scan", dir.file("installed"), "--secdb", url, "--cache-dir", dir.file("cache"), "--format", "json"]
                let first = try await lamina(args)
                #expect(first.status == 0, "\(first.stderr)")
                let findings = try #require(try json(first.stdout)["findings"] as? [[String: Any]])
                #expect(findings.map { $0["package"] as? String } == ["libcrypto1.1", "libssl1.1"])
                #expect((try json(first.stdout)["feeds"] as? [[String: Any]])?.first?["source"] as? String == url)

                let second = try await lamina(args)
                #expect(second.stdout == first.stdout)
                let requests = await server.requests(path: "/v3.10/main.yaml")
                #expect(requests.count == 2)
                #expect(requests.last?.header("If-None-Match") != nil, "the cached copy is revalidated")

                let offline = try await lamina(args + ["--offline"])
                #expect(offline.stdout == first.stdout)
                #expect(await server.requests(path: "/v3.10/main.yaml").count == 2)

                // --offline with nothing cached: an error naming the URL, and no request.
                let uncached = try await lamina(["image", "scan", dir.file("installed"), "--secdb", server.url("/v3.11/main.yaml"),
                                                 "--cache-dir", dir.file("cache"), "--offline"])
                #expect(uncached.status == 1 && uncached.stderr.contains("/v3.11/main.yaml") && uncached.stderr.contains("--offline"))
                #expect(await server.requests(path: "/v3.11/main.yaml").isEmpty)

                // A URL that fails is an error naming it.
                let missing = try await lamina(["image", "scan", dir.file("installed"), "--secdb", server.url("/nope.json"),
                                                        "--cache-dir", dir.file("cache")])
                #expect(missing.status == 1 && missing.stderr.contains("/nope.json"), "\(missing.stderr)")

                // Malformed content from a URL is named by its URL.
                await server.setFile("/bad.json", Array(#"{"packages": [{"pkg": {"name": "a", "secfixes": {"1-r0": {},}}}]}"#.utf8))
                let bad = try await lamina(["image", "scan", dir.file("installed"), "--secdb", server.url("/bad.json"),
                                                    "--cache-dir", dir.file("cache")])
                #expect(bad.status == 1 && bad.stderr.hasPrefix("error: \(server.url("/bad.json")): invalid JSON"), "\(bad.stderr)")
            }
        }
    }
}
