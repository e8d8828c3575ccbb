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

/// How our image may differ from apko's golden one, on purpose.
struct GoldenCase: Sendable {
    /// The config, relative to `directory`.
    var config: String
    /// Working directory of the build (apko's configs name their files relative to it).
    var directory: String
    /// The golden layout folder.
    var golden: String
    /// Repository folders whose `<arch>/*.apk` the image installs (for the owners they record).
    var repositories: [String]
    var annotations: [String] = []
    /// Entries apko writes and we do not (after mapping apko's paths to ours).
    var apkoOnly: Set<String>
    /// Entries we write and apko does not.
    var oursOnly: Set<String>
    /// False when the golden was made by an older apko whose Env and labels differ from today's.
    var compareEnvironmentAndLabels = true

    /// Differences every golden shares:
    /// - apko makes the char devices dev/{console,null,random,urandom,zero}; we leave /dev empty (runtimes mount
    ///   their own /dev, and unprivileged unpackers cannot create device nodes);
    /// - apko writes an empty etc/passwd when `accounts` is empty; we write none;
    /// - apko's var/cache/misc (and, in newer apko, etc/apko.json, a dump of its configuration);
    /// - we add the usual top-level home, root, run, sys and var/tmp directories.
    static let commonApkoOnly: Set<String> = [
        "dev/console", "dev/null", "dev/random", "dev/urandom", "dev/zero", "etc/passwd", "var/cache/misc",
    ]
    static let commonOursOnly: Set<String> = ["home", "root", "run", "sys", "var/tmp"]

    /// apko (since 0.14) keeps the apk database in usr/lib/apk/db with a lib/apk → ../usr/lib/apk symlink; we keep
    /// apk-tools' classic lib/apk/db (a real directory).
    static func ourPath(forApko path: String) -> String? {
        if path == "usr/lib/apk" || path == "usr/lib/apk/exec" { return nil }
        if path.hasPrefix("usr/lib/apk/db") { return String(path.dropFirst("usr/".count)) }
        return path
    }
}

let goldenCases: [GoldenCase] = [
    GoldenCase(
        config: "testdata/apko.yaml", directory: apkoCLI, golden: apkoCLI + "/testdata/golden",
        repositories: [apkoCLI + "/testdata/packages"],
        annotations: ["org.opencontainers.image.title:Title", "org.opencontainers.image.vendor:Vendor"],
        apkoOnly: GoldenCase.commonApkoOnly.union(["usr/lib", "etc/apko.json"]),
        oursOnly: GoldenCase.commonOursOnly.union(["lib/apk"])),
    // Made by an older apko: database already in lib/apk/db, no /opt or /usr, PATH with /usr/sbin before /usr/bin,
    // no created label.
    GoldenCase(
        config: "base_image.apko.yaml", directory: apkoCLI + "/testdata", golden: apkoCLI + "/testdata/base_image",
        repositories: [apkoCLI + "/testdata/packages", apkoCLI + "/testdata/private_packages/packages"],
        apkoOnly: GoldenCase.commonApkoOnly, oursOnly: GoldenCase.commonOursOnly.union(["opt", "usr"]),
        compareEnvironmentAndLabels: false),
]

extension EndToEnd {
    @Suite(
        .enabled(
            if: FileManager.default.fileExists(atPath: apkoCLI + "/testdata/golden/index.json"),
            "needs apko's golden layouts"))
    struct ApkoGolden {
        /// path → every owner (`uid/gid`) the packages of `repositories` record for it.
        func packageOwners(_ repositories: [String], arch: String) throws -> [String: Set<String>] {
            var out: [String: Set<String>] = [:]
            for repository in repositories {
                let dir = "\(repository)/\(arch)"
                for file in try FileManager.default.contentsOfDirectory(atPath: dir) where file.hasSuffix(".apk") {
                    for (path, entry) in try layerListing(tarball: "\(dir)/\(file)", layer: nil)
                    where !path.hasPrefix(".") {
                        out[path, default: []].insert(entry.owner)
                    }
                }
            }
            return out
        }

        @Test(arguments: goldenCases.indices)
        func matchesApkoGolden(_ which: Int) throws {
            let golden = goldenCases[which]
            try TemporaryDirectory.withSync { dir in
                let out = dir.path + "/layout"
                try check(
                    try CommandRunner.lamina(
                        [
                            "image", "build", golden.config, "golden:latest", out, "--format", "oci-layout",
                            "--cache-dir", dir.path + "/cache",
                            "--offline", "--sbom-path", dir.path + "/sboms",
                        ] + golden.annotations.flatMap { ["--annotations", $0] },
                        environment: ["SOURCE_DATE_EPOCH": "0"], directory: golden.directory),
                    "lamina image build \(golden.config)")
                try compare(golden, ours: out, sboms: dir.path + "/sboms")
            }
        }

        func compare(_ golden: GoldenCase, ours: String, sboms: String) throws {
            // index.json: the same platforms in the same order (sorted by OCI architecture), same annotations.
            func platforms(_ root: String) throws -> [String] {
                let index = try #require(try json(file: root + "/index.json") as? [String: Any])
                var seen: [String] = []
                for entry in (index["manifests"] as? [[String: Any]]) ?? [] {
                    if let arch = (entry["platform"] as? [String: Any])?["architecture"] as? String,
                        !seen.contains(arch)
                    {
                        seen.append(arch)
                    }
                }
                return seen
            }
            #expect(try platforms(ours) == platforms(golden.golden))
            if golden.compareEnvironmentAndLabels {
                let a = try #require(try json(file: ours + "/index.json") as? [String: Any])
                let b = try #require(try json(file: golden.golden + "/index.json") as? [String: Any])
                #expect(
                    a["annotations"] as? [String: String] == b["annotations"] as? [String: String],
                    "index.json annotations")
            }

            let mine = try LayoutReader(root: ours).images()
            let theirs = try LayoutReader(root: golden.golden).images()
            #expect(Set(mine.keys) == Set(theirs.keys))
            for (arch, apko) in theirs.sorted(by: { $0.key < $1.key }) {
                let us = try #require(mine[arch], "no \(arch) image")
                // Config fields.
                for key in ["architecture", "os", "created", "variant"] {
                    #expect(us.config[key] as? String == apko.config[key] as? String, "\(arch) \(key)")
                }
                let our = (us.config["config"] as? [String: Any]) ?? [:]
                let their = (apko.config["config"] as? [String: Any]) ?? [:]
                for key in ["Entrypoint", "Cmd", "Volumes"] {
                    #expect((our[key] as? [String]) == (their[key] as? [String]), "\(arch) config.\(key)")
                }
                for key in ["User", "WorkingDir", "StopSignal"] {
                    #expect((our[key] as? String) == (their[key] as? String), "\(arch) config.\(key)")
                }
                if golden.compareEnvironmentAndLabels {
                    #expect((our["Env"] as? [String]) == (their["Env"] as? [String]), "\(arch) config.Env")
                    #expect(
                        (our["Labels"] as? [String: String]) == (their["Labels"] as? [String: String]), "\(arch) labels"
                    )
                    #expect(
                        (us.manifest["annotations"] as? [String: String])
                            == (apko.manifest["annotations"] as? [String: String]))
                }

                // Layer entries: names, modes, link targets, owners.
                let ourLayer = try layerListing(tarball: us.layer, layer: nil)
                let apkoLayer = try layerListing(tarball: apko.layer, layer: nil)
                var mapped: [String: ListedEntry] = [:]
                for (path, entry) in apkoLayer where !(path == "lib/apk" && entry.link != nil) {
                    if let ourPath = GoldenCase.ourPath(forApko: path), !golden.apkoOnly.contains(ourPath) {
                        mapped[ourPath] = entry
                    }
                }
                let missing = Set(mapped.keys).subtracting(ourLayer.keys).sorted()
                let extra = Set(ourLayer.keys).subtracting(mapped.keys).subtracting(golden.oursOnly).sorted()
                #expect(missing.isEmpty, "\(arch): apko has, we lack: \(missing)")
                #expect(extra.isEmpty, "\(arch): we have, apko lacks: \(extra)")
                // The allowances must stay true differences.
                let apkoPaths = Set(apkoLayer.keys.compactMap { GoldenCase.ourPath(forApko: $0) })
                for path in golden.apkoOnly where ourLayer[path] != nil || !apkoPaths.contains(path) {
                    Issue.record("\(arch) \(path) is listed as apko-only, but we have it or apko does not")
                }
                for path in golden.oursOnly where mapped[path] != nil || ourLayer[path] == nil {
                    Issue.record("\(arch) \(path) is listed as ours-only, but apko has it or we do not")
                }
                // apko writes every package file as 0/0 (it never applies the tar owners); we keep the owner the
                // package records (as apk-tools does, and as apko's own installed database notes in its a: lines).
                let owners = try packageOwners(golden.repositories, arch: arch == "amd64" ? "x86_64" : "aarch64")
                for (path, entry) in mapped.sorted(by: { $0.key < $1.key }) {
                    guard let mineEntry = ourLayer[path] else { continue }
                    #expect(mineEntry.mode == entry.mode, "\(arch) \(path): mode \(mineEntry.mode), apko \(entry.mode)")
                    #expect(
                        mineEntry.link == entry.link,
                        "\(arch) \(path): link \(mineEntry.link ?? "-"), apko \(entry.link ?? "-")")
                    let allowed = (owners[path] ?? []).union([entry.owner])
                    #expect(
                        allowed.contains(mineEntry.owner),
                        "\(arch) \(path): owner \(mineEntry.owner), expected one of \(allowed)")
                }
            }
            // SBOM package sets.
            for arch in ["x86_64", "aarch64"] {
                let file = "sbom-\(arch).spdx.json"
                #expect(
                    try apkPackages(inSPDX: sboms + "/" + file)
                        == apkPackages(inSPDX: golden.golden + "/sboms/" + file), "\(file) package set")
            }
        }
    }
}
