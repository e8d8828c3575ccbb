import Foundation
import TestSupport
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// The fixture's standard image with `layering: {strategy: origin, budget: N}` appended.
func layeredConfig(_ fixture: FixtureRepository, budget: Int) -> String {
    fixture.config(extra: FixtureRepository.standardExtras + "\nlayering:\n  strategy: origin\n  budget: \(budget)\n")
}

/// Builds the layered image once per call site name (output `layered-<name>/image.tar`).
func buildLayered(_ fixture: FixtureRepository, budget: Int, name: String, cache: String = "cache-layered") throws -> String {
    try BuiltImages.build(
        fixture, config: layeredConfig(fixture, budget: budget), tag: "lamina-e2e/layered:1", output: "layered-\(name)/image.tar",
        cache: cache)
}

extension EndToEnd {
    /// `layering: origin, budget 3`: musl, busybox, alpine-base and hello are four origins, so the two largest keep
    /// their own layers, the other two share one, and the top layer holds the rest: four layers, consistent across
    /// the manifest, the config's diff_ids and history, and docker's manifest.json; together they are exactly the
    /// single-layer image's files.
    @Test func layeredImageIsConsistentAndCompleteAndReproducible() throws {
        let images = try sharedImages()
        let fixture = images.fixture
        let out = try buildLayered(fixture, budget: 3, name: "a")
        let docker = try #require(try json(readMember(out, "manifest.json")) as? [[String: Any]])
        let dockerLayers = try #require(docker.first?["Layers"] as? [String])
        #expect(dockerLayers.count == 4)
        let index = try #require(try json(readMember(out, "index.json")) as? [String: Any])
        let manifestDigest = try #require(((index["manifests"] as? [[String: Any]])?.first)?["digest"] as? String)
        let manifest = try #require(try json(readMember(out, "blobs/sha256/" + manifestDigest.dropFirst(7))) as? [String: Any])
        let layers = try #require(manifest["layers"] as? [[String: Any]])
        #expect(layers.map { "blobs/sha256/" + (($0["digest"] as? String) ?? "").dropFirst(7) } == dockerLayers)
        let configDigest = try #require((manifest["config"] as? [String: Any])?["digest"] as? String)
        let config = try #require(try json(readMember(out, "blobs/sha256/" + configDigest.dropFirst(7))) as? [String: Any])
        let diffIDs = try #require((config["rootfs"] as? [String: Any])?["diff_ids"] as? [String])
        #expect((config["history"] as? [Any])?.count == 4)
        // Each diff_id is the sha256 of that layer uncompressed; each blob's size is what the manifest says.
        for (i, member) in dockerLayers.enumerated() {
            let sum = try check(
                try CommandRunner.run("/bin/sh", ["-c", "tar -xOf '\(out)' '\(member)' | gzip -dc | sha256sum"]), "diff_id")
            #expect("sha256:" + sum.stdout.prefix(64) == diffIDs[i], "layer \(i)")
            let size = try check(
                try CommandRunner.run("/bin/sh", ["-c", "tar -xOf '\(out)' '\(member)' | wc -c"]), "size")
            #expect(Int(size.stdout.trimmingCharacters(in: .whitespacesAndNewlines)) == layers[i]["size"] as? Int)
        }

        // The layers' union is the single-layer image: same paths, same modes and owners (directories appear in
        // several layers with the same metadata; the apk database is partial below the top).
        let singleManifest = try #require(try json(readMember(images.single, "manifest.json")) as? [[String: Any]])
        let single = try layerListing(
            tarball: images.single, layer: try #require((singleManifest.first?["Layers"] as? [String])?.first))
        var union: [String: ListedEntry] = [:]
        var perLayer: [[String: ListedEntry]] = []
        for member in dockerLayers {
            let listing = try layerListing(tarball: out, layer: member)
            perLayer.append(listing)
            for (path, entry) in listing {
                if let seen = union[path], seen.mode.hasPrefix("d") {
                    #expect(seen == entry, "\(path) differs between layers")
                }
                union[path] = entry
            }
        }
        #expect(union.count == single.count)
        for (path, entry) in single where path != "lib/apk/db/installed" {
            // A hard link's listing names its target, which is the same in both.
            #expect(union[path] == entry, "\(path)")
        }
        // The package files are below the top; the top holds the generated files.
        #expect(perLayer[3]["etc/passwd"] != nil)
        #expect(perLayer[3]["bin/busybox"] == nil)
        #expect(perLayer.prefix(3).contains { $0["bin/busybox"] != nil })
        #expect(perLayer.prefix(3).contains { $0["usr/bin/hello"] != nil })
        // Each package layer carries the database entries of its own packages only.
        for i in 0..<3 {
            let db = try check(
                try CommandRunner.run(
                    "/bin/sh", ["-c", "tar -xOf '\(out)' '\(dockerLayers[i])' | tar -xzO lib/apk/db/installed"]),
                "partial installed db")
            let names = db.stdout.split(separator: "\n").filter { $0.hasPrefix("P:") }.map { String($0.dropFirst(2)) }
            #expect(!names.isEmpty && names.count < 4, "layer \(i): \(names)")
            let layerHasBusybox = perLayer[i]["bin/busybox"] != nil
            #expect(names.contains("busybox") == layerHasBusybox, "layer \(i): \(names)")
        }

        // Reproducible: a fresh cache and another path give the same bytes; a warm cache too.
        let again = try buildLayered(fixture, budget: 3, name: "b", cache: "cache-layered-2")
        #expect(try sha256(of: again) == sha256(of: out))
        let warm = try buildLayered(fixture, budget: 3, name: "c")
        #expect(try sha256(of: warm) == sha256(of: out))
        // The budget is an input: budget 2 gives three layers, another image.
        let two = try buildLayered(fixture, budget: 2, name: "d")
        let twoManifest = try #require(try json(readMember(two, "manifest.json")) as? [[String: Any]])
        #expect((twoManifest.first?["Layers"] as? [String])?.count == 3)
    }

    @Test(.enabled(if: have("skopeo"), "skopeo not installed"))
    func layeredImageSkopeo() throws {
        let fixture = try sharedImages().fixture
        let out = try buildLayered(fixture, budget: 3, name: "skopeo")
        let r = try check(try runTool("skopeo", ["inspect", "oci-archive:" + out]), "skopeo inspect")
        let info = try #require(try json(r.stdout) as? [String: Any])
        #expect((info["Layers"] as? [String])?.count == 4)
    }

    @Test(.enabled(if: have("umoci") && have("runc") && getuid() == 0, "needs umoci, runc and root"))
    func layeredImageRunsWithUmoci() throws {
        let fixture = try sharedImages().fixture
        let out = try buildLayered(fixture, budget: 3, name: "umoci")
        try TemporaryDirectory.withSync { dir in
            let layout = dir.path + "/layout"
            try FileManager.default.createDirectory(atPath: layout, withIntermediateDirectories: true)
            try check(try CommandRunner.run("/bin/tar", ["-xf", out, "-C", layout]), "tar -x")
            #expect(try unpackAndRun(image: layout + ":1", in: dir.path, name: "layered") == "Hello from Lamina\n")
        }
    }
}

extension EndToEnd.Docker {
    @Test func layeredImageLoadsAndRuns() throws {
        let fixture = try sharedImages().fixture
        let out = try buildLayered(fixture, budget: 3, name: "docker")
        let load = try check(try daemon.docker(["load", "-i", out]), "docker load")
        #expect(load.stdout.contains("Loaded image: lamina-e2e/layered:1"), "\(load.stdout)")
        let image = try inspect("lamina-e2e/layered:1")
        #expect(((image["RootFS"] as? [String: Any])?["Layers"] as? [String])?.count == 4)
        let run = try check(try daemon.docker(["run", "--rm", "--network=none", "lamina-e2e/layered:1"]), "docker run")
        #expect(run.stdout == "Hello from Lamina\n")
    }
}
