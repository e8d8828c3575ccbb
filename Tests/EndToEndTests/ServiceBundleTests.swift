import Foundation
import TestSupport
import Testing

extension EndToEnd {
    /// `entrypoint.type: service-bundle` with `services`: apko's s6 tree, `/sv/<name>/run` execline scripts
    /// (0755) in 0777 folders, the entrypoint `/bin/s6-svscan /sv`, and `s6` installed.
    @Test func serviceBundleWritesTheSupervisionTree() throws {
        let fixture = try sharedImages().fixture
        let config = fixture.config(extra: "").replacingOccurrences(
            of: "entrypoint:\n  command: /usr/bin/hello\n",
            with: """
                entrypoint:
                  type: service-bundle
                  services:
                    web: /usr/bin/hello --port 80
                    zz-worker: sleep 5

                """)
        #expect(config.contains("service-bundle"))
        let out = try BuiltImages.build(
            fixture, config: config, tag: "svc:1", output: "svc/image.tar", cache: "cache-svc", extra: ["--sbom=false"])
        let manifest = try #require(try json(readMember(out, "manifest.json")) as? [[String: Any]])
        let configMember = try #require(manifest.first?["Config"] as? String)
        let imageConfig = try #require(try json(readMember(out, configMember)) as? [String: Any])
        let entrypoint = (imageConfig["config"] as? [String: Any])?["Entrypoint"] as? [String]
        #expect(entrypoint == ["/bin/s6-svscan", "/sv"])

        let layerMember = try #require((manifest.first?["Layers"] as? [String])?.first)
        let layer = try layerListing(tarball: out, layer: layerMember)
        #expect(layer["sv"] == ListedEntry(mode: "drwxrwxrwx", owner: "0/0", link: nil))
        #expect(layer["sv/web"] == ListedEntry(mode: "drwxrwxrwx", owner: "0/0", link: nil))
        #expect(layer["sv/web/run"] == ListedEntry(mode: "-rwxr-xr-x", owner: "0/0", link: nil))
        #expect(layer["sv/zz-worker/run"] == ListedEntry(mode: "-rwxr-xr-x", owner: "0/0", link: nil))
        #expect(layer["bin/s6-svscan"] != nil, "s6 is added to the packages")
        func member(_ path: String) throws -> String {
            try check(
                try CommandRunner.run("/bin/sh", ["-c", "tar -xOf '\(out)' '\(layerMember)' | tar -xzO \(path)"]), path
            ).stdout
        }
        #expect(try member("sv/web/run") == "#!/bin/execlineb\n/usr/bin/hello --port 80\n")
        #expect(try member("sv/zz-worker/run") == "#!/bin/execlineb\nsleep 5\n")
        #expect(try member("etc/apk/world").split(separator: "\n").contains("s6"))
    }

    /// A service name that would leave `/sv` is refused with the key named.
    @Test func serviceNameWithSlashIsRefused() throws {
        let fixture = try sharedImages().fixture
        let config = fixture.config(extra: "").replacingOccurrences(
            of: "entrypoint:\n  command: /usr/bin/hello\n",
            with: "entrypoint:\n  type: service-bundle\n  services:\n    ../etc: evil\n")
        let path = try fixture.write(config, as: "svc-bad/apko.yaml")
        let result = try CommandRunner.lamina(
            ["image", "build", path, "bad:1", fixture.work + "/svc-bad/x.tar", "--offline"])
        #expect(result.status == 1)
        #expect(result.stderr.contains("entrypoint.services"), "\(result.stderr)")
        #expect(!FileManager.default.fileExists(atPath: fixture.work + "/svc-bad/x.tar"))
    }
}

extension EndToEnd {
    /// Keys Lamina does not build are refused with one line naming the key (file:line), and no output is written.
    @Test(arguments: [
        ("format: erofs\n", "format"),
        ("certificates:\n  additional:\n    - name: corp\n      content: x\n", "certificates"),
        ("entrypoint:\n  type: supervisord\n", "entrypoint.type"),
    ])
    func unbuiltKeysAreRefused(_ extra: String, _ key: String) throws {
        let fixture = try sharedImages().fixture
        var config = fixture.config(extra: extra)
        if extra.hasPrefix("entrypoint:") {
            config = config.replacingOccurrences(of: "entrypoint:\n  command: /usr/bin/hello\n", with: "")
        }
        let name = "refused-" + key.replacingOccurrences(of: ".", with: "-")
        let path = try fixture.write(config, as: name + "/apko.yaml")
        let output = fixture.work + "/" + name + "/x.tar"
        let result = try CommandRunner.lamina(["image", "build", path, "refused:1", output, "--offline"])
        #expect(result.status == 1, "\(result.stdout)\(result.stderr)")
        #expect(result.stderr.contains(key) && result.stderr.contains("apko.yaml:"), "\(result.stderr)")
        #expect(result.stderr.split(separator: "\n").count == 1, "\(result.stderr)")
        #expect(!FileManager.default.fileExists(atPath: output))
    }
}
