import Foundation
import TestSupport
import Testing

/// apko's base-image test data: `image_on_top.apko.yaml` builds `replayout` on `base_image/` (an apko image of
/// pretend-baselayout, package-x and package-y), with the lock and the golden `top_image` apko wrote from them.
enum BaseImageData {
    static let directory = apkoCLI
    static let config = "testdata/image_on_top.apko.yaml"
    static let lock = "testdata/image_on_top.apko.lock.json"
    static let base = apkoCLI + "/testdata/base_image"
    static let golden = apkoCLI + "/testdata/top_image"
    static var present: Bool { FileManager.default.fileExists(atPath: golden + "/index.json") }

    /// Builds the image on top into `out` (`oci-layout` or `tarball`).
    static func build(_ out: String, format: String, in dir: String, extra: [String] = []) throws {
        try check(
            try CommandRunner.lamina(
                [
                    "image", "build", config, "top:1", out, "--format", format, "--lockfile", lock, "--cache-dir", dir + "/cache",
                    "--offline", "--sbom-path", dir + "/sboms", "--log-level", "error",
                ] + extra,
                environment: ["SOURCE_DATE_EPOCH": "0"], directory: directory),
            "lamina image build \(config)")
    }

    /// The first `apk` names of an installed database, in order.
    static func packageNames(installed text: String) -> [String] {
        text.split(separator: "\n").filter { $0.hasPrefix("P:") }.map { String($0.dropFirst(2)) }
    }
}

/// One image of a layout folder: manifest, config and layer blob paths, per OCI architecture.
private func layoutImages(_ root: String) throws -> [String: (manifest: [String: Any], config: [String: Any], layers: [String])] {
    let reader = LayoutReader(root: root)
    var index = try #require(try json(file: root + "/index.json") as? [String: Any])
    var out: [String: (manifest: [String: Any], config: [String: Any], layers: [String])] = [:]
    var entries = (index["manifests"] as? [[String: Any]]) ?? []
    // Ours names the image index first; follow it.
    if let nested = entries.first(where: { ($0["mediaType"] as? String)?.contains("index") == true }), let digest = nested["digest"] as? String {
        index = try reader.object(digest)
        entries = (index["manifests"] as? [[String: Any]]) ?? []
    }
    for entry in entries {
        guard let arch = (entry["platform"] as? [String: Any])?["architecture"] as? String, let digest = entry["digest"] as? String else { continue }
        let manifest = try reader.object(digest)
        let config = try reader.object(try #require((manifest["config"] as? [String: Any])?["digest"] as? String))
        let layers = try #require(manifest["layers"] as? [[String: Any]]).compactMap { $0["digest"] as? String }
        out[arch] = (manifest, config, layers.map { "\(root)/blobs/sha256/\($0.dropFirst(7))" })
    }
    return out
}

extension EndToEnd {
    @Suite(.enabled(if: BaseImageData.present, "needs apko's base-image test data (testdata/top_image)"))
    struct BaseImage {
        @Test func buildingWithoutALockIsRefusedAsApkoDoes() throws {
            try TemporaryDirectory.withSync { dir in
                let r = try CommandRunner.lamina(
                    ["image", "build", BaseImageData.config, "top:1", dir.path + "/out.tar", "--cache-dir", dir.path + "/cache", "--offline"],
                    directory: BaseImageData.directory)
                #expect(r.status == 1)
                #expect(
                    r.stderr.hasPrefix("error: ") && r.stderr.contains("contents.baseimage") && r.stderr.contains("--lockfile")
                        && r.stderr.split(separator: "\n").count == 1, "\(r.stderr)")
                #expect(try FileManager.default.contentsOfDirectory(atPath: dir.path).filter { $0 != "cache" }.isEmpty)
            }
        }

        /// apko refuses `layering` on a base image; so do we, naming the key.
        @Test func layeringOnABaseIsRefused() throws {
            try TemporaryDirectory.withSync { dir in
                let testdata = BaseImageData.directory + "/testdata"
                let config = dir.path + "/top.yaml"
                try """
                    contents:
                      baseimage: {image: \(BaseImageData.base), apkindex: \(BaseImageData.base)/metadata}
                      keyring: [\(testdata)/melange.rsa.pub]
                      repositories: [\(testdata)/packages]
                      packages: [replayout]
                    layering: {strategy: origin, budget: 2}

                    """.write(toFile: config, atomically: true, encoding: .utf8)
                let r = try CommandRunner.lamina(
                    ["image", "build", config, "t:1", dir.path + "/out.tar", "--lockfile", BaseImageData.directory + "/" + BaseImageData.lock,
                     "--cache-dir", dir.path + "/cache", "--offline"])
                #expect(r.status == 1 && r.stderr.contains("layering") && r.stderr.contains("contents.baseimage"), "\(r.stderr)")
                #expect(!FileManager.default.fileExists(atPath: dir.path + "/out.tar"))
            }
        }

        /// Our image on top against apko's golden: the base's layer blobs and diff_ids untouched and first, one
        /// layer of ours on top, the base's run settings kept, apko's Env and labels, the history of both, and a
        /// top layer with the same entries (less the differences every golden case allows).
        @Test func matchesApkoTopImage() throws {
            try TemporaryDirectory.withSync { dir in
                let out = dir.path + "/layout"
                try BaseImageData.build(out, format: "oci-layout", in: dir.path)
                let ours = try layoutImages(out)
                let apko = try layoutImages(BaseImageData.golden)
                let base = try layoutImages(BaseImageData.base)
                #expect(Set(ours.keys) == ["amd64", "arm64"])
                #expect(Set(ours.keys) == Set(apko.keys))
                for (arch, theirs) in apko.sorted(by: { $0.key < $1.key }) {
                    let us = try #require(ours[arch])
                    let under = try #require(base[arch])
                    #expect(us.layers.count == 2 && theirs.layers.count == 2, "\(arch): base layer + ours")
                    // The base layer: the very blob apko reused, and the base's diff_id first.
                    #expect(try sha256(of: us.layers[0]) == sha256(of: theirs.layers[0]), "\(arch) base layer bytes")
                    #expect(try sha256(of: us.layers[0]) == sha256(of: under.layers[0]))
                    let ourIDs = try #require((us.config["rootfs"] as? [String: Any])?["diff_ids"] as? [String])
                    let apkoIDs = try #require((theirs.config["rootfs"] as? [String: Any])?["diff_ids"] as? [String])
                    #expect(ourIDs.count == 2 && ourIDs.first == apkoIDs.first, "\(arch) diff_ids \(ourIDs)")
                    let ourLayerDiff = try check(try CommandRunner.run("/bin/sh", ["-c", "gzip -dc '\(us.layers[1])' | sha256sum"]), "sha256")
                    #expect(ourIDs.last.map { String($0.dropFirst(7)) } == String(ourLayerDiff.stdout.prefix(64)), "\(arch) our diff_id")
                    // Config: fields, run settings (the base's entrypoint survives), Env and labels as apko's.
                    for key in ["architecture", "os", "created"] {
                        #expect(us.config[key] as? String == theirs.config[key] as? String, "\(arch) \(key)")
                    }
                    let our = try #require(us.config["config"] as? [String: Any])
                    let their = try #require(theirs.config["config"] as? [String: Any])
                    #expect(our["Entrypoint"] as? [String] == ["/bin/sh", "-l"])
                    #expect(our["Entrypoint"] as? [String] == their["Entrypoint"] as? [String], "\(arch) Entrypoint")
                    #expect(our["Env"] as? [String] == their["Env"] as? [String], "\(arch) Env")
                    #expect(our["Labels"] as? [String: String] == their["Labels"] as? [String: String], "\(arch) Labels")
                    #expect(
                        us.manifest["annotations"] as? [String: String] == theirs.manifest["annotations"] as? [String: String],
                        "\(arch) manifest annotations")
                    // History: the base's entry kept as it was, then one for our layer.
                    let history = try #require(us.config["history"] as? [[String: String]])
                    let apkoHistory = try #require(theirs.config["history"] as? [[String: String]])
                    #expect(history.count == 2 && history.first == apkoHistory.first, "\(arch) history \(history)")
                    #expect(history.last?["created"] == "1970-01-01T00:00:00Z")

                    // The top layer: apko's entries, mapped to our database folder.
                    let ourLayer = try layerListing(tarball: us.layers[1], layer: nil)
                    let apkoLayer = try layerListing(tarball: theirs.layers[1], layer: nil)
                    var mapped: [String: ListedEntry] = [:]
                    let apkoOnly = GoldenCase.commonApkoOnly.subtracting(["etc/passwd"]).union(["etc/apko.json", "usr/lib"])
                    for (path, entry) in apkoLayer where !(path == "lib/apk" && entry.link != nil) {
                        if let mine = GoldenCase.ourPath(forApko: path), !apkoOnly.contains(mine) { mapped[mine] = entry }
                    }
                    let oursOnly = GoldenCase.commonOursOnly.union(["lib/apk"])
                    #expect(Set(mapped.keys).subtracting(ourLayer.keys).isEmpty, "\(arch): apko has, we lack: \(Set(mapped.keys).subtracting(ourLayer.keys).sorted())")
                    #expect(
                        Set(ourLayer.keys).subtracting(mapped.keys).subtracting(oursOnly).isEmpty,
                        "\(arch): we have, apko lacks: \(Set(ourLayer.keys).subtracting(mapped.keys).subtracting(oursOnly).sorted())")
                    // No account files: the base's stay in charge.
                    #expect(ourLayer["etc/passwd"] == nil && ourLayer["etc/group"] == nil)
                    for (path, entry) in mapped where !path.hasPrefix("etc/os-release") {
                        guard let mine = ourLayer[path] else { continue }
                        #expect(mine.mode == entry.mode, "\(arch) \(path) mode")
                    }

                    // The database on top lists the base's packages first (in the base's order), then ours; the world pins the base's.
                    let installed = try check(
                        try CommandRunner.run("/bin/sh", ["-c", "tar -xzOf '\(us.layers[1])' lib/apk/db/installed"]), "installed").stdout
                    let apkArch = arch == "amd64" ? "x86_64" : "aarch64"
                    let baseIndex = try String(contentsOfFile: "\(BaseImageData.base)/metadata/\(apkArch)/APKINDEX", encoding: .utf8)
                    #expect(BaseImageData.packageNames(installed: installed) == BaseImageData.packageNames(installed: baseIndex) + ["replayout"])
                    #expect(BaseImageData.packageNames(installed: installed) == ["pretend-baselayout", "package-x", "package-y", "replayout"])
                    let world = try check(try CommandRunner.run("/bin/sh", ["-c", "tar -xzOf '\(us.layers[1])' etc/apk/world"]), "world").stdout
                    #expect(world == "package-x=1.0.0-r0\npackage-y=1.0.0-r0\npretend-baselayout=1.0.0-r0\nreplayout\n", "\(world)")
                    // replayout replaces pretend-baselayout's os-release: the file moves to its new owner.
                    #expect(installed.contains("P:replayout") && installed.components(separatedBy: "R:os-release").count == 2)
                }
                // The SBOMs name every package of the image: the base's and ours.
                for arch in ["x86_64", "aarch64"] {
                    #expect(
                        try apkPackages(inSPDX: dir.path + "/sboms/sbom-\(arch).spdx.json")
                            == ["pretend-baselayout@1.0.0-r0", "package-x@1.0.0-r0", "package-y@1.0.0-r0", "replayout@1.0.0-r0"],
                        "\(arch) SBOM packages")
                }
                // Same inputs, same bytes.
                let again = dir.path + "/again"
                try BaseImageData.build(again, format: "oci-layout", in: dir.path, extra: ["--no-layer-cache"])
                #expect(try String(contentsOfFile: out + "/index.json", encoding: .utf8) == String(contentsOfFile: again + "/index.json", encoding: .utf8))
            }
        }

        /// `image lock` leaves what the base holds out of the lock: the same packages as apko's lock.
        @Test func lockLeavesTheBasePackagesOut() throws {
            try TemporaryDirectory.withSync { dir in
                let out = dir.path + "/lock.json"
                try check(
                    try CommandRunner.lamina(
                        ["image", "lock", BaseImageData.config, "-o", out, "--cache-dir", dir.path + "/cache", "--offline", "--log-level", "error"],
                        directory: BaseImageData.directory), "lamina image lock")
                func packages(_ path: String) throws -> Set<String> {
                    let lock = try #require(try json(file: path) as? [String: Any])
                    let list = try #require((lock["contents"] as? [String: Any])?["packages"] as? [[String: Any]])
                    return Set(list.map { "\($0["name"] ?? "") \($0["architecture"] ?? "") \($0["checksum"] ?? "") \($0["url"] ?? "")" })
                }
                let ours = try packages(out)
                #expect(ours.count == 2)
                #expect(ours == (try packages(BaseImageData.directory + "/" + BaseImageData.lock)))
            }
        }

        /// A base layer whose bytes are not what its manifest says is refused, naming the blob.
        @Test func tamperedBaseLayerIsRefused() throws {
            try TemporaryDirectory.withSync { dir in
                let copy = dir.path + "/base"
                try check(try CommandRunner.run("/bin/cp", ["-r", BaseImageData.base, copy]), "cp")
                let layer = copy + "/blobs/sha256/bf74ddaf55d32ec9672a0a40efc6cb1bf0a167763c18fc22586c8a301167822f"
                var bytes = try Array(Data(contentsOf: URL(fileURLWithPath: layer)))
                bytes[bytes.count / 2] ^= 0xff
                try FileManager.default.setAttributes([.posixPermissions: 0o644], ofItemAtPath: layer)
                try Data(bytes).write(to: URL(fileURLWithPath: layer))
                let testdata = BaseImageData.directory + "/testdata"
                let config = dir.path + "/top.yaml"
                try """
                    contents:
                      baseimage:
                        image: \(copy)
                        apkindex: \(copy)/metadata
                      keyring: [\(testdata)/melange.rsa.pub]
                      repositories: [\(testdata)/packages]
                      packages: [replayout]
                    archs: [x86_64]

                    """.write(toFile: config, atomically: true, encoding: .utf8)
                let r = try CommandRunner.lamina(["image", "lock", config, "-o", dir.path + "/lock.json", "--cache-dir", dir.path + "/cache", "--offline"])
                #expect(r.status == 1)
                #expect(r.stderr.contains("bf74ddaf55d3") && r.stderr.contains("hashes to"), "\(r.stderr)")
                #expect(r.stderr.split(separator: "\n").count == 1, "\(r.stderr)")
                #expect(!FileManager.default.fileExists(atPath: dir.path + "/lock.json"))
            }
        }

        /// A usr-merged base (`lib → usr/lib`): our layer goes through the link (the database lands in usr/lib/apk/db
        /// and `lib` stays a link, never a directory that would hide the base's), and the base's run settings apko
        /// does not set (ports, entrypoint) survive.
        @Test func usrMergedBaseKeepsItsLinks() throws {
            try TemporaryDirectory.withSync { dir in
                let root = dir.path + "/root", layout = dir.path + "/base"
                let blobs = layout + "/blobs/sha256"
                try FileManager.default.createDirectory(atPath: blobs, withIntermediateDirectories: true)
                try FileManager.default.createDirectory(atPath: layout + "/metadata/x86_64", withIntermediateDirectories: true)
                try check(
                    try CommandRunner.run(
                        "/bin/sh",
                        [
                            "-c",
                            "mkdir -p '\(root)/usr/lib' '\(root)/etc' && ln -s usr/lib '\(root)/lib' && cd '\(root)' && "
                                + "tar --numeric-owner --owner=0 --group=0 --mtime=@0 -cf '\(dir.path)/layer.tar' etc lib usr && "
                                + "gzip -n -c '\(dir.path)/layer.tar' > '\(dir.path)/layer.tar.gz'",
                        ]), "make the base layer")
                let diffID = try sha256(of: dir.path + "/layer.tar")
                let layerDigest = try sha256(of: dir.path + "/layer.tar.gz")
                let layerSize = try #require(try FileManager.default.attributesOfItem(atPath: dir.path + "/layer.tar.gz")[.size] as? Int)
                try FileManager.default.copyItem(atPath: dir.path + "/layer.tar.gz", toPath: blobs + "/" + layerDigest)
                func blob(_ text: String) throws -> (String, Int) {
                    let path = dir.path + "/blob"
                    try text.write(toFile: path, atomically: true, encoding: .utf8)
                    let digest = try sha256(of: path)
                    try? FileManager.default.removeItem(atPath: blobs + "/" + digest)
                    try FileManager.default.moveItem(atPath: path, toPath: blobs + "/" + digest)
                    return (digest, text.utf8.count)
                }
                let (configDigest, configSize) = try blob(
                    #"{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":["sha256:\#(diffID)"]},"config":{"Entrypoint":["/bin/true"],"ExposedPorts":{"80/tcp":{}},"Env":["OLD=1"]}}"#)
                let (manifestDigest, manifestSize) = try blob(
                    #"{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"sha256:\#(configDigest)","size":\#(configSize)},"layers":[{"mediaType":"application/vnd.docker.image.rootfs.diff.tar.gzip","digest":"sha256:\#(layerDigest)","size":\#(layerSize)}]}"#)
                try #"{"schemaVersion":2,"manifests":[{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"sha256:\#(manifestDigest)","size":\#(manifestSize)}]}"#
                    .write(toFile: layout + "/index.json", atomically: true, encoding: .utf8)
                try #"{"imageLayoutVersion":"1.0.0"}"#.write(toFile: layout + "/oci-layout", atomically: true, encoding: .utf8)
                try "P:merged-base\nV:1.0-r0\nA:x86_64\np:merged-lib\nF:usr/lib\n\n".write(
                    toFile: layout + "/metadata/x86_64/APKINDEX", atomically: true, encoding: .utf8)
                let testdata = BaseImageData.directory + "/testdata"
                let config = dir.path + "/top.yaml"
                try """
                    contents:
                      baseimage: {image: \(layout), apkindex: \(layout)/metadata}
                      keyring: [\(testdata)/melange.rsa.pub]
                      repositories: [\(testdata)/packages]
                      packages: [replayout]
                    archs: [x86_64]

                    """.write(toFile: config, atomically: true, encoding: .utf8)
                let common = ["--cache-dir", dir.path + "/cache", "--offline", "--log-level", "error"]
                try check(try CommandRunner.lamina(["image", "lock", config, "-o", dir.path + "/lock.json"] + common), "image lock")
                let out = dir.path + "/out"
                try check(
                    try CommandRunner.lamina(
                        ["image", "build", config, "merged:1", out, "--format", "oci-layout", "--lockfile", dir.path + "/lock.json",
                         "--sbom=false"] + common), "image build")
                let image = try #require(try layoutImages(out)["amd64"])
                #expect(image.layers.count == 2)
                let mediaTypes = try #require(image.manifest["layers"] as? [[String: Any]]).compactMap { $0["mediaType"] as? String }
                #expect(mediaTypes.first == "application/vnd.docker.image.rootfs.diff.tar.gzip", "the base layer keeps its media type")
                let run = try #require(image.config["config"] as? [String: Any])
                #expect(run["Entrypoint"] as? [String] == ["/bin/true"])
                #expect((run["ExposedPorts"] as? [String: Any]).map { Array($0.keys) } == ["80/tcp"])
                #expect((run["Env"] as? [String])?.contains("OLD=1") == false, "apko's Env replaces the base's")
                let top = try layerListing(tarball: image.layers[1], layer: nil)
                #expect(top["lib"]?.link == "usr/lib", "lib stays the base's link: \(top["lib"].map(\.description) ?? "absent")")
                #expect(top["usr/lib/apk/db/installed"] != nil, "\(top.keys.sorted())")
                #expect(!top.keys.contains { $0.hasPrefix("lib/") })
                let installed = try check(
                    try CommandRunner.run("/bin/sh", ["-c", "tar -xzOf '\(image.layers[1])' usr/lib/apk/db/installed"]), "installed").stdout
                #expect(BaseImageData.packageNames(installed: installed) == ["merged-base", "pretend-baselayout", "replayout"], "replayout needs pretend-baselayout, which this base lacks")
            }
        }

        /// skopeo reads the two-layer image from the tarball.
        @Test(.enabled(if: have("skopeo"), "skopeo not installed (apt-get install skopeo)"))
        func skopeoReadsTheImageOnTop() throws {
            try TemporaryDirectory.withSync { dir in
                let out = dir.path + "/top.tar"
                try BaseImageData.build(out, format: "tarball", in: dir.path, extra: ["--arch", "amd64"])
                let r = try check(try runTool("skopeo", ["inspect", "oci-archive:" + out]), "skopeo inspect")
                let info = try #require(try json(r.stdout) as? [String: Any])
                let layers = try #require(info["Layers"] as? [String])
                #expect(layers.count == 2)
                #expect(layers.first == "sha256:bf74ddaf55d32ec9672a0a40efc6cb1bf0a167763c18fc22586c8a301167822f")
            }
        }
    }
}

extension EndToEnd.Docker {
    /// `docker load` of an image on a base: two layers, and a container whose filesystem is the base's files with
    /// ours over them.
    @Test(.enabled(if: BaseImageData.present, "needs apko's base-image test data"))
    func imageOnABaseLoadsAndMerges() throws {
        try TemporaryDirectory.withSync { dir in
            let out = dir.path + "/top.tar"
            try BaseImageData.build(out, format: "tarball", in: dir.path, extra: ["--arch", "amd64"])
            let load = try check(try daemon.docker(["load", "-i", out]), "docker load")
            #expect(load.stdout.contains("Loaded image: top:1"), "\(load.stdout)")
            let image = try inspect("top:1")
            let layers = try #require((image["RootFS"] as? [String: Any])?["Layers"] as? [String])
            #expect(layers.count == 2)
            #expect(layers.first == "sha256:783b8b05724ae7998917558527ef930f1442af2f071850913fc406992e44606c")
            let config = try #require(image["Config"] as? [String: Any])
            #expect(config["Entrypoint"] as? [String] == ["/bin/sh", "-l"])

            let created = try check(try daemon.docker(["create", "top:1"]), "docker create").stdout.trimmingCharacters(in: .whitespacesAndNewlines)
            defer { _ = try? daemon.docker(["rm", created]) }
            let export = dir.path + "/fs.tar"
            try check(try daemon.docker(["export", "-o", export, created]), "docker export")
            let listing = parseListing(try check(try CommandRunner.run("/bin/tar", ["--numeric-owner", "-tvf", export]), "tar -t").stdout)
            for path in ["x/hello.txt", "y/hello.txt", "var/lib/db/sbom/package-x-1.0.0-r0.spdx.json", "var/lib/db/sbom/replayout-1.0.0-r0.spdx.json"] {
                #expect(listing[path] != nil, "\(path) in the container")
            }
            let osRelease = try check(try CommandRunner.run("/bin/tar", ["-xOf", export, "etc/os-release"]), "os-release").stdout
            #expect(osRelease.hasPrefix("ID=replaces"), "replayout's os-release wins: \(osRelease)")
            let installed = try check(try CommandRunner.run("/bin/tar", ["-xOf", export, "lib/apk/db/installed"]), "installed").stdout
            #expect(BaseImageData.packageNames(installed: installed) == ["pretend-baselayout", "package-x", "package-y", "replayout"])
        }
    }
}
