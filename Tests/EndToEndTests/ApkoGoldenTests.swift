import Foundation
import TestSupport
import Testing

/// apko's CLI test folder: configs, repositories, keys and the golden OCI layouts apko wrote from them.
let apkoCLI = SharedTestData.path("chainguard-dev+apko/internal/cli")

/// An OCI layout folder, read for comparison.
struct LayoutReader {
    var root: String

    func blob(_ digest: String) throws -> Data {
        try Data(contentsOf: URL(fileURLWithPath: "\(root)/blobs/sha256/\(digest.dropFirst("sha256:".count))"))
    }

    func object(_ digest: String) throws -> [String: Any] {
        try #require(try JSONSerialization.jsonObject(with: blob(digest)) as? [String: Any])
    }

    /// architecture → (manifest, config, layer blob path) for every platform in `index.json` (first entry wins).
    func images() throws -> [String: (manifest: [String: Any], config: [String: Any], layer: String)] {
        let index = try #require(try json(file: root + "/index.json") as? [String: Any])
        var out: [String: (manifest: [String: Any], config: [String: Any], layer: String)] = [:]
        for entry in (index["manifests"] as? [[String: Any]]) ?? [] {
            guard let arch = (entry["platform"] as? [String: Any])?["architecture"] as? String, out[arch] == nil,
                let digest = entry["digest"] as? String
            else { continue }
            let manifest = try object(digest)
            let config = try object(try #require((manifest["config"] as? [String: Any])?["digest"] as? String))
            let layers = try #require(manifest["layers"] as? [[String: Any]])
            #expect(layers.count == 1, "one layer per image")
            let layer = try #require(layers.first?["digest"] as? String)
            out[arch] = (manifest, config, "\(root)/blobs/sha256/\(layer.dropFirst(7))")
        }
        return out
    }
}

/// How our layer may differ from apko's, on purpose (each is explained in the report and design notes).
enum KnownLayerDifferences {
    /// apko keeps the apk database under usr/lib/apk (with a lib/apk symlink); we keep apk-tools' classic lib/apk/db.
    static func ourPath(forApko path: String) -> String? {
        if path == "lib/apk" { return nil }  // apko's symlink to ../usr/lib/apk
        if path == "usr/lib/apk" || path == "usr/lib/apk/exec" { return nil }
        if path.hasPrefix("usr/lib/apk/db") { return String(path.dropFirst("usr/".count)) }
        return path
    }

    /// apko-only entries we do not write.
    static let apkoOnly: Set<String> = [
        "etc/apko.json",  // apko's dump of its own configuration
        "usr/lib/apk/db/lock", "usr/lib/apk/db/triggers",
        "var/cache/misc",
        "usr/lib",  // only there to hold usr/lib/apk
    ]

    /// Entries we write and apko does not: the usual FHS top-level directories.
    static let oursOnly: Set<String> = [
        "home", "root", "run", "sys", "var/tmp", "lib/apk/db",
    ]
}

extension EndToEnd {
    @Suite(.enabled(if: FileManager.default.fileExists(atPath: apkoCLI + "/testdata/golden/index.json"), "needs apko's golden layouts"))
    struct ApkoGolden {
        /// Builds `config` (relative to apko's internal/cli, as apko's own test does) into an OCI layout folder.
        func build(_ config: String, into dir: String, annotations: [String] = []) throws -> String {
            let out = dir + "/layout"
            try check(
                try CommandRunner.lamina(
                    ["image", "build", config, "golden:latest", out, "--format", "oci-layout", "--cache-dir", dir + "/cache", "--offline",
                     "--sbom-path", dir + "/sboms"] + annotations.flatMap { ["--annotations", $0] },
                    environment: ["SOURCE_DATE_EPOCH": "0"], directory: apkoCLI),
                "lamina image build \(config)")
            return out
        }

        func compare(ours: String, golden: String, sboms: String, goldenSBOMs: String) throws {
            let mine = try LayoutReader(root: ours).images()
            let theirs = try LayoutReader(root: golden).images()
            #expect(Set(mine.keys) == Set(theirs.keys))
            for (arch, apko) in theirs {
                let us = try #require(mine[arch], "no \(arch) image")
                // Config fields.
                for key in ["architecture", "os", "created", "variant"] {
                    #expect(us.config[key] as? String == apko.config[key] as? String, "\(arch) \(key)")
                }
                let our = (us.config["config"] as? [String: Any]) ?? [:]
                let their = (apko.config["config"] as? [String: Any]) ?? [:]
                for key in ["Entrypoint", "Cmd", "Env", "Volumes"] {
                    #expect((our[key] as? [String]) == (their[key] as? [String]), "\(arch) config.\(key)")
                }
                for key in ["User", "WorkingDir", "StopSignal"] {
                    #expect((our[key] as? String) == (their[key] as? String), "\(arch) config.\(key)")
                }
                #expect((our["Labels"] as? [String: String]) == (their["Labels"] as? [String: String]), "\(arch) labels")
                #expect((us.manifest["annotations"] as? [String: String]) == (apko.manifest["annotations"] as? [String: String]))

                // Layer entries: names, modes, owners, link targets.
                let ourLayer = try layerListing(tarball: us.layer, layer: nil)
                let apkoLayer = try layerListing(tarball: apko.layer, layer: nil)
                var mapped: [String: ListedEntry] = [:]
                for (path, entry) in apkoLayer where !KnownLayerDifferences.apkoOnly.contains(path) {
                    if let ourPath = KnownLayerDifferences.ourPath(forApko: path) { mapped[ourPath] = entry }
                }
                let missing = Set(mapped.keys).subtracting(ourLayer.keys).sorted()
                let extra = Set(ourLayer.keys).subtracting(mapped.keys).subtracting(KnownLayerDifferences.oursOnly).sorted()
                #expect(missing.isEmpty, "\(arch): apko has, we lack: \(missing)")
                #expect(extra.isEmpty, "\(arch): we have, apko lacks: \(extra)")
                for (path, entry) in mapped.sorted(by: { $0.key < $1.key }) {
                    guard let mineEntry = ourLayer[path] else { continue }
                    #expect(mineEntry == entry, "\(arch) \(path): ours \(mineEntry), apko \(entry)")
                }
            }
            // SBOM package sets.
            for arch in ["x86_64", "aarch64"] {
                let file = "sbom-\(arch).spdx.json"
                #expect(
                    try apkPackages(inSPDX: sboms + "/" + file) == apkPackages(inSPDX: goldenSBOMs + "/" + file), "\(file) package set")
            }
        }

        @Test func goldenApkoYAML() throws {
            try TemporaryDirectory.withSync { dir in
                let out = try build(
                    "testdata/apko.yaml", into: dir.path,
                    annotations: ["org.opencontainers.image.title:Title", "org.opencontainers.image.vendor:Vendor"])
                try compare(
                    ours: out, golden: apkoCLI + "/testdata/golden", sboms: dir.path + "/sboms",
                    goldenSBOMs: apkoCLI + "/testdata/golden/sboms")
            }
        }

        @Test func baseImageApkoYAML() throws {
            try TemporaryDirectory.withSync { dir in
                // base_image.apko.yaml names its keyring and repositories relative to testdata/.
                let out = dir.path + "/layout"
                try check(
                    try CommandRunner.lamina(
                        ["image", "build", "base_image.apko.yaml", "golden:latest", out, "--format", "oci-layout", "--cache-dir",
                         dir.path + "/cache", "--offline", "--sbom-path", dir.path + "/sboms"],
                        environment: ["SOURCE_DATE_EPOCH": "0"], directory: apkoCLI + "/testdata"),
                    "lamina image build base_image.apko.yaml")
                try compare(
                    ours: out, golden: apkoCLI + "/testdata/base_image", sboms: dir.path + "/sboms",
                    goldenSBOMs: apkoCLI + "/testdata/base_image/sboms")
            }
        }
    }
}
