import Foundation
import TestSupport
import Testing

/// A config that must fail, and words its one-line error must contain.
struct BadCase: Sendable, CustomTestStringConvertible {
    var name: String
    var packages: [String] = ["hello"]
    /// Keyring entry; "missing" names a file that does not exist, "other" a key that signed nothing here.
    var keyring: String?
    var extra: String = ""
    var expected: [String]
    var testDescription: String { name }
}

extension EndToEnd {
    struct BadInput {
        static let cases: [BadCase] = [
            BadCase(name: "unknown package", packages: ["no-such-package"], expected: ["no-such-package"]),
            BadCase(name: "unsatisfiable constraint", packages: ["hello>2.0"], expected: ["hello"]),
            BadCase(name: "missing key file", keyring: "missing", expected: ["keyring"]),
            BadCase(name: "key that signed nothing", keyring: "other", expected: ["APKINDEX"]),
            BadCase(name: "conflicting files", packages: ["hello", "clash"], expected: ["usr/bin/hello"]),
            BadCase(
                name: "path escaping the root",
                extra: "paths:\n  - path: ../../etc/x\n    type: empty-file\n    permissions: 0o644\n",
                expected: ["../../etc/x"]),
            BadCase(
                name: "symlink path escaping the root",
                extra: "paths:\n  - path: /usr/../../x\n    type: directory\n", expected: ["/usr/../../x"]),
        ]

        /// A tarball in a folder that does not exist fails at once, before any work.
        @Test func missingOutputDirectory() throws {
            let fixture = try sharedImages().fixture
            let config = try fixture.write(fixture.config(), as: "bad/no-dir/apko.yaml")
            let target = fixture.work + "/bad/no-dir/absent/image.tar"
            let r = try CommandRunner.lamina(
                ["image", "build", config, "bad:1", target, "--cache-dir", fixture.work + "/cache-a", "--offline"])
            #expect(r.status == 1)
            #expect(r.stderr == "error: \(target): no such directory: '\(fixture.work)/bad/no-dir/absent'\n")
            #expect(!FileManager.default.fileExists(atPath: fixture.work + "/bad/no-dir/absent"))
        }

        /// An SBOM folder that cannot be made fails the build before the image is written.
        @Test func unusableSBOMPath() throws {
            let fixture = try sharedImages().fixture
            let config = try fixture.write(fixture.config(), as: "bad/sbom-path/apko.yaml")
            let out = fixture.work + "/bad/sbom-path/out"
            try FileManager.default.createDirectory(atPath: out, withIntermediateDirectories: true)
            let blocker = try fixture.write("a file, not a folder", as: "bad/sbom-path/blocker")
            let r = try CommandRunner.lamina(
                [
                    "image", "build", config, "bad:1", out + "/image.tar", "--cache-dir", fixture.work + "/cache-a",
                    "--offline",
                    "--sbom-path", blocker + "/sboms", "--log-level", "error",
                ])
            #expect(r.status == 1)
            #expect(r.stderr.hasPrefix("error: \(blocker)/sboms: cannot create the SBOM directory"), "\(r.stderr)")
            #expect(r.stderr.split(separator: "\n").count == 1)
            #expect(try FileManager.default.contentsOfDirectory(atPath: out).isEmpty)
        }

        @Test(arguments: cases)
        func failsCleanly(_ bad: BadCase) throws {
            let fixture = try sharedImages().fixture
            let slug = bad.name.replacingOccurrences(of: " ", with: "-")
            let dir = fixture.work + "/bad/" + slug
            let out = dir + "/out"
            try FileManager.default.createDirectory(atPath: out, withIntermediateDirectories: true)
            var keyring: String?
            switch bad.keyring {
            case "missing": keyring = dir + "/missing.rsa.pub"
            case "other":
                keyring = dir + "/other.rsa.pub"
                try check(try CommandRunner.lamina(["keygen", dir + "/other.rsa", "--bits", "2048"]), "keygen other")
            default: keyring = nil
            }
            let config = try fixture.write(
                fixture.config(packages: bad.packages, keyring: keyring, extra: bad.extra), as: "bad/\(slug)/apko.yaml")
            // Our own TMPDIR: the build's scratch files must be gone too.
            let scratch = dir + "/tmp"
            try FileManager.default.createDirectory(atPath: scratch, withIntermediateDirectories: true)
            for (format, logLevel) in [("tarball", "info"), ("oci-layout", "info"), ("tarball", "error")] {
                let target = format == "tarball" ? out + "/image.tar" : out + "/layout"
                let r = try CommandRunner.lamina(
                    [
                        "image", "build", config, "bad:1", target, "--cache-dir", fixture.work + "/cache-a",
                        "--offline", "--format", format,
                        "--log-level", logLevel,
                    ],
                    environment: ["SOURCE_DATE_EPOCH": fixtureEpoch, "TMPDIR": scratch])
                let what = "\(bad.name) [\(format), \(logLevel)]"
                #expect(r.status == 1, "\(what): exit \(r.status)\n\(r.stderr)")
                let lines = r.stderr.split(separator: "\n")
                // Progress notes ("building amd64") may come first at the default level; the error is one last line.
                #expect(
                    lines.filter { $0.hasPrefix("error: ") }.count == 1 && lines.last?.hasPrefix("error: ") == true,
                    "\(what):\n\(r.stderr)")
                #expect(
                    lines.dropLast().allSatisfy { $0.hasPrefix("building ") },
                    "\(what): unexpected output:\n\(r.stderr)")
                if logLevel == "error" { #expect(lines.count == 1, "\(what): one line expected:\n\(r.stderr)") }
                #expect(r.stdout.isEmpty, "\(what): stdout \(r.stdout)")
                for word in bad.expected { #expect(r.stderr.contains(word), "\(what): '\(word)' not in \(r.stderr)") }
                let left = try FileManager.default.contentsOfDirectory(atPath: out)
                #expect(left.isEmpty, "\(what): left behind \(left)")
                let scratchLeft = try FileManager.default.contentsOfDirectory(atPath: scratch)
                #expect(scratchLeft.isEmpty, "\(what): scratch files left behind \(scratchLeft)")
            }
        }
    }
}
