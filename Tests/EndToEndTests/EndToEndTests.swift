import Foundation
import TestSupport
import Testing

/// End-to-end tests of `lamina image build` output with real peer tools (dockerd, skopeo, umoci + runc,
/// pyspdxtools, syft, GNU tar), against a signed repository the tests make from the Alpine minirootfs.
/// One fixture and one set of images for the whole suite; suites that need a tool skip when it is missing.
@Suite(.serialized, .enabled(if: haveMinirootfs, "needs ../shared/testdata (the Alpine minirootfs)"), .endToEnd)
struct EndToEnd {
    /// Two builds of the same config and epoch, different output paths and caches: the same bytes.
    @Test func reproducibleTarballs() throws {
        let images = try sharedImages()
        let fixture = images.fixture
        let again = try BuiltImages.build(
            fixture, config: fixture.config(), tag: BuiltImages.singleTag, output: "repro/b/x.tar", cache: "cache-b")
        #expect(try sha256(of: again) == sha256(of: images.single))
        let sbomA = try Data(
            contentsOf: URL(
                fileURLWithPath: (images.single as NSString).deletingLastPathComponent + "/sbom-x86_64.spdx.json"))
        let sbomB = try Data(
            contentsOf: URL(fileURLWithPath: (again as NSString).deletingLastPathComponent + "/sbom-x86_64.spdx.json"))
        #expect(sbomA == sbomB)

        let multiAgain = try BuiltImages.build(
            fixture, config: fixture.config(archs: BuiltImages.multiArchs), tag: BuiltImages.multiTag,
            output: "repro/m/y.tar", cache: "cache-c")
        #expect(try sha256(of: multiAgain) == sha256(of: images.multi))

        // The epoch is an input: another one gives other bytes (so the comparison above can fail).
        let configPath = try fixture.write(fixture.config(), as: "repro/c/apko.yaml")
        let other = fixture.work + "/repro/c/z.tar"
        try check(
            try CommandRunner.lamina(
                [
                    "image", "build", configPath, BuiltImages.singleTag, other, "--cache-dir",
                    fixture.work + "/cache-a", "--offline",
                ],
                environment: ["SOURCE_DATE_EPOCH": "1700000001"]),
            "lamina image build (other epoch)")
        #expect(try sha256(of: other) != sha256(of: images.single))
    }

    /// The tarball is a complete OCI layout plus docker's files, read with GNU tar.
    @Test func tarballShape() throws {
        let images = try sharedImages()
        let list = try check(try CommandRunner.run("/bin/tar", ["-tvf", images.single]), "tar -tvf").stdout
        let names = list.split(separator: "\n").compactMap { $0.split(separator: " ").last.map(String.init) }
        #expect(names.prefix(2) == ["blobs/", "blobs/sha256/"])
        for name in ["index.json", "oci-layout", "manifest.json", "repositories"] { #expect(names.contains(name)) }
        #expect(
            names.filter { $0.hasPrefix("blobs/sha256/") }.count == 4, "config, manifest, layer (+ directory): \(names)"
        )
        let manifest = try #require(try json(readMember(images.single, "manifest.json")) as? [[String: Any]])
        #expect(manifest.count == 1)
        #expect(manifest.first?["RepoTags"] as? [String] == [BuiltImages.singleTag])
        let layers = try #require(manifest.first?["Layers"] as? [String])
        #expect(layers.count == 1 && layers[0].hasPrefix("blobs/sha256/"))
        // Every entry carries the build epoch (2023-11-14 22:13 UTC).
        #expect(!list.split(separator: "\n").contains { !$0.contains("2023-11-14 22:13") }, "\(list)")

        // The layer itself: the hello script, the accounts, the apk database.
        let layer = try layerListing(tarball: images.single, layer: layers[0])
        // The hardlink /bin/aaa-hello sorts first, so it carries the bytes and usr/bin/hello links to it; both
        // names share one mode and owner (the package's 0755 root).
        #expect(layer["bin/aaa-hello"] == ListedEntry(mode: "-rwxr-xr-x", owner: "0/0", link: nil))
        #expect(layer["usr/bin/hello"] == ListedEntry(mode: "hrwxr-xr-x", owner: "0/0", link: "hardlink:bin/aaa-hello"))
        #expect(layer["usr/bin/hello-link"]?.link == "/usr/bin/hello")
        #expect(layer["data"] == ListedEntry(mode: "drwxr-x---", owner: "65532/65532", link: nil))
        #expect(layer["data/empty"] == ListedEntry(mode: "-rw-------", owner: "65532/65532", link: nil))
        #expect(layer["home/nonroot"]?.mode == "drwx------")
        #expect(layer["home/nonroot"]?.owner == "65532/65532")
        #expect(layer["lib/apk/db/installed"] != nil)
        #expect(layer["bin/sh"]?.link == "/bin/busybox")
        #expect(layer["var/lib/db/sbom"] == nil || layer["var/lib/db/sbom"]?.mode.hasPrefix("d") == true)
        let passwd = try check(
            try CommandRunner.run(
                "/bin/sh", ["-c", "tar -xOf '\(images.single)' '\(layers[0])' | tar -xzO etc/passwd"]), "etc/passwd")
        #expect(passwd.stdout.contains("nonroot:x:65532:65532:"))
        #expect(passwd.stdout.hasPrefix("root:x:0:0:"), "the package's passwd is kept and extended")
    }
}

extension EndToEnd {
    /// A `permissions` change on a hard-linked file changes every name of it (one inode, one mode).
    @Test func permissionsOnHardlinkedFileApplyToTheGroup() throws {
        let fixture = try sharedImages().fixture
        let paths = """
            paths:
              - path: /bin/aaa-hello
                type: hardlink
                source: /usr/bin/hello
              - path: /usr/bin/hello
                type: permissions
                uid: 65532
                permissions: 0o700
            """
        let out = try BuiltImages.build(
            fixture, config: fixture.config(extra: paths), tag: "perm:1", output: "perm/image.tar", cache: "cache-a",
            extra: ["--sbom=false"])
        let manifest = try #require(try json(readMember(out, "manifest.json")) as? [[String: Any]])
        let layer = try layerListing(tarball: out, layer: try #require((manifest.first?["Layers"] as? [String])?.first))
        #expect(layer["bin/aaa-hello"] == ListedEntry(mode: "-rwx------", owner: "65532/0", link: nil))
        #expect(
            layer["usr/bin/hello"] == ListedEntry(mode: "hrwx------", owner: "65532/0", link: "hardlink:bin/aaa-hello"))
    }
}

/// One entry of `tar -tv` output.
struct ListedEntry: Equatable, CustomStringConvertible {
    var mode: String
    var owner: String
    var link: String?
    var description: String { "\(mode) \(owner)\(link.map { " -> \($0)" } ?? "")" }
}

/// Parses `tar --numeric-owner -tvzf` output into path → entry (directories without their trailing `/`).
func parseListing(_ text: String) -> [String: ListedEntry] {
    var out: [String: ListedEntry] = [:]
    for line in text.split(separator: "\n") {
        // mode owner size date time name [-> target]   (device entries print "maj,min" as the size)
        let fields = line.split(separator: " ", maxSplits: 5, omittingEmptySubsequences: true)
        guard fields.count == 6 else { continue }
        var name = String(fields[5])
        var link: String?
        if let arrow = name.range(of: " -> ") {
            link = String(name[arrow.upperBound...])
            name = String(name[..<arrow.lowerBound])
        } else if let arrow = name.range(of: " link to ") {
            link = "hardlink:" + name[arrow.upperBound...]
            name = String(name[..<arrow.lowerBound])
        }
        while name.hasSuffix("/") { name.removeLast() }
        if name.hasPrefix("./") { name.removeFirst(2) }
        out[name] = ListedEntry(mode: String(fields[0]), owner: String(fields[1]), link: link)
    }
    return out
}

/// The entries of a gzip layer stored as `member` inside `tarball` (or a plain file when `member` is nil).
func layerListing(tarball: String, layer member: String?) throws -> [String: ListedEntry] {
    let command =
        member.map { "tar -xOf '\(tarball)' '\($0)' | tar --numeric-owner -tvz" }
        ?? "tar --numeric-owner -tvzf '\(tarball)'"
    return parseListing(try check(try CommandRunner.run("/bin/sh", ["-c", command]), "list layer").stdout)
}
