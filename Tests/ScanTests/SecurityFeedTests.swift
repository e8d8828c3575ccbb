import Foundation
import LaminaCore
import Scan
import TestSupport
import Testing

/// The feed parser against every JSON/YAML file of ../shared/testdata/security (PROVENANCE.md part A).
@Suite(.enabled(if: SharedTestData.isAvailable, "needs ../shared/testdata"))
struct SecurityFeedTests {
    static let root = SharedTestData.path("security")

    /// Every .json/.yaml/.golden file of part A (cosign data and provenance files aside), relative to `root`.
    static let allFiles: [String] = {
        guard let walker = FileManager.default.enumerator(atPath: root) else { return [] }
        var out: [String] = []
        while let path = walker.nextObject() as? String {
            guard path.hasSuffix(".json") || path.hasSuffix(".yaml") || path.hasSuffix(".golden") else { continue }
            if path.hasPrefix("sigstore+") || path.hasPrefix("PROVENANCE") { continue }
            out.append(path)
        }
        return out.sorted()
    }()

    /// Files that are secdb feeds in one of the three shapes.
    static func isFeed(_ path: String) -> Bool {
        if path.contains("/snapshots/") || path.contains("/results/") || path.contains("/osv/") || path.contains("/sad/") { return false }
        if path.hasPrefix("alpinelinux+alpine-secdb/") || path.hasPrefix("quay+claircore/") || path.hasPrefix("aquasecurity+vuln-list") {
            return true
        }
        if path.hasPrefix("aquasecurity+trivy-db/") { return true }
        return path.hasSuffix("/secdb/security.json") || path.hasSuffix("/secdb/security-multiple.json") || path.contains("/input/secdb/v3.15/")
    }

    /// The two deliberately malformed trivy-db files.
    static let malformed = [
        "aquasecurity+trivy-db/pkg/vulnsrc/alpine/testdata/sad/vuln-list/alpine/ansible.json",
        "aquasecurity+trivy-db/pkg/vulnsrc/wolfi/testdata/sad/vuln-list/wolfi/binutils.json",
    ]

    func load(_ relative: String) throws -> SecurityFeed { try SecurityFeed.load(path: Self.root + "/" + relative) }

    @Test func everyFileParsesOrIsRefusedForAListedReason() throws {
        #expect(Self.allFiles.count > 300)
        var feeds = 0
        for file in Self.allFiles {
            let path = Self.root + "/" + file
            if Self.isFeed(file) || file.contains("chainguard/testdata/sad/") {
                // chainguard's "sad" file is valid JSON whose only version maps to `{}`: read as no ids, as
                // vuln-list-update's own 312-main.json has it.
                let feed = try SecurityFeed.load(path: path)
                #expect(!feed.packages.isEmpty || file.contains("community"), "\(file)")
                feeds += 1
                continue
            }
            do {
                _ = try SecurityFeed.load(path: path)
                Issue.record("\(file) parsed as a feed")
            } catch let error as LaminaError {
                #expect(error.code == .malformed, "\(file): \(error)")
                #expect(error.subject == path, "\(file): \(error)")
                if Self.malformed.contains(file) {
                    #expect(error.message.hasPrefix("invalid JSON"), "\(error)")
                } else {
                    let reasons = ["not a secdb feed", "expected a mapping with 'packages'"]
                    #expect(reasons.contains { error.message.contains($0) }, "\(file): \(error)")
                }
            }
        }
        #expect(feeds == 52)
    }

    @Test(arguments: malformed)
    func malformedTrivyFilesAreRefusedNamingTheFileAndLine(file: String) throws {
        let error = try #require(throws: LaminaError.self) { try load(file) }
        #expect(error.code == .malformed)
        #expect(error.description.hasPrefix(Self.root + "/" + file + ": invalid JSON"))
        #expect(error.description.contains("line 5"), "\(error)")
    }

    /// Package and fix-version counts per file as PROVENANCE.md lists them (computed there with PyYAML/json).
    @Test func countsAgreeWithProvenance() throws {
        let provenance = try String(contentsOfFile: Self.root + "/PROVENANCE.md", encoding: .utf8)
        let row = /^\| `([^`]+)` \| (secdb: (\d+) packages, (\d+) fixed-version keys|split-secdb: pkg ([^:]+): (\d+) versions)/
        var checked = 0
        for line in provenance.split(separator: "\n") {
            guard let match = try row.firstMatch(in: String(line)) else { continue }
            let file = String(match.1)
            if Self.malformed.contains(file) { continue }
            let feed = try load(file)
            let keys = feed.packages.reduce(0) { $0 + $1.fixes.count } + feed.skipped.count
            if let packages = match.3, let versions = match.4 {
                #expect(feed.shape == .repository, "\(file)")
                #expect(feed.packages.count == Int(packages), "\(file)")
                #expect(keys == Int(versions), "\(file)")
            } else if let name = match.5, let versions = match.6 {
                #expect(feed.shape == .package, "\(file)")
                #expect(feed.packages.map(\.name) == [String(name)], "\(file)")
                #expect(keys == Int(versions), "\(file)")
            }
            checked += 1
        }
        #expect(checked == 48)  // the 52 feeds less the 4 empty ones, which the table lists without counts
    }

    /// vunnel's expected records are exactly the (package, fix version, id) triples of its input feeds.
    @Test(arguments: [
        ("wolfi/test-fixtures/input/secdb/security.json", "wolfi/test-fixtures/snapshots/wolfi:rolling", 59),
        ("chainguard/test-fixtures/input/secdb/security.json", "chainguard/test-fixtures/snapshots/secdb/chainguard:rolling", 197),
        ("alpine/test-fixtures/input/secdb/v3.15", "alpine/test-fixtures/snapshots/3.15", 16),
    ])
    func triplesMatchVunnelSnapshots(input: String, snapshots: String, count: Int) throws {
        let base = "anchore+vunnel/tests/unit/providers/"
        let inputPath = Self.root + "/" + base + input
        var files = [inputPath]
        if input.hasSuffix("v3.15") {
            files = try FileManager.default.contentsOfDirectory(atPath: inputPath).sorted().map { inputPath + "/" + $0 }
        }
        var ours = Set<String>()
        for file in files {
            for triple in try SecurityFeed.load(path: file).triples { ours.insert("\(triple.package) \(triple.version) \(triple.id)") }
        }
        var expected = Set<String>()
        let folder = Self.root + "/" + base + snapshots
        for name in try FileManager.default.contentsOfDirectory(atPath: folder) where name.hasSuffix(".json") {
            let data = try Data(contentsOf: URL(fileURLWithPath: folder + "/" + name))
            let record = try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
            let item = try #require(record["item"] as? [String: Any])
            let vulnerability = try #require(item["Vulnerability"] as? [String: Any])
            let id = try #require(vulnerability["Name"] as? String)
            for fixed in try #require(vulnerability["FixedIn"] as? [[String: Any]]) {
                expected.insert("\(fixed["Name"] as? String ?? "") \(fixed["Version"] as? String ?? "") \(id)")
            }
        }
        #expect(expected.count == count)
        #expect(ours == expected)
    }

    @Test func quirksOfRealFeeds() throws {
        // `"0"`: never affected, kept but marked.
        let openssl = try load("aquasecurity+vuln-list/alpine/3.20/main/openssl.json")
        #expect(openssl.shape == .package && openssl.distroVersion == "v3.20" && openssl.repositoryName == "main")
        let zero = try #require(openssl.packages.first?.fixes.first { $0.version == "0" })
        #expect(zero.isNotAffected)
        #expect(zero.ids == ["CVE-2022-1292", "CVE-2022-2068", "CVE-2022-2274", "CVE-2023-0466", "CVE-2023-4807"])

        // Ids with more than an id in them.
        let ansible = try load("aquasecurity+trivy-db/pkg/vulnsrc/alpine/testdata/happy/vuln-list/alpine/ansible.json")
        let fix = try #require(ansible.packages.first?.fixes.first { $0.version == "2.9.3-r0" })
        #expect(fix.ids == [
            "CVE-2019-14904", "CVE-2019-14905", "CVE-2024-22195", "GHSA-h5c8-rqwp-cp95", "CVE-2017-2616", "GHSA-f7r5-w49x-gxm3",
            "GHSA-h6cc-rc6q-23j4",
        ])
        let busybox = try load("aquasecurity+vuln-list/alpine/3.20/main/busybox.json")
        #expect(busybox.packages.first?.fixes.first { $0.version == "1.35.0-r7" }?.ids == ["ALPINE-13661", "CVE-2022-28391"])

        // Empty repositories: YAML `packages:` null, JSON `"packages": {}`.
        let empty = try load("alpinelinux+alpine-secdb/v3.3/community.yaml")
        #expect(empty.packages.isEmpty && empty.distroVersion == "v3.3" && empty.repositoryName == "community")
        for file in ["311-community.json", "312-community.json", "edge-community.json"] {
            #expect(try load("aquasecurity+vuln-list-update/alpine/testdata/" + file).packages.isEmpty)
        }
        // A version whose ids are `{}` (JSON) or null (YAML).
        let ansible312 = try load("aquasecurity+vuln-list-update/alpine/testdata/312-main.json")
        #expect(ansible312.packages.first?.fixes.map(\.version).sorted() == ["2.7.9-r0", "2.8.0-r0"])
        #expect(ansible312.packages.first?.fixes.first { $0.version == "2.8.0-r0" }?.ids == [])
        let v36 = try load("alpinelinux+alpine-secdb/v3.6/main.yaml")
        #expect(v36.packages.first { $0.name == "heimdal" }?.fixes.first { $0.version == "7.4.0-r0" }?.ids == [])

        // Odd but apk-valid versions (apk-tools 2.14 accepts `1.18.-r2`) are kept; none of the real feeds has an
        // unusable one (the trivy detector fixture has, see MatchingTests).
        let v35 = try load("alpinelinux+alpine-secdb/v3.5/main.yaml")
        #expect(v35.skipped.isEmpty)
        #expect(v35.packages.first { $0.name == "wget" }?.fixes.contains { $0.version == "1.18.-r2" } == true)

        // Wolfi security.json: no distroversion; GHSA ids next to CVEs.
        let wolfi = try load("wolfi-dev+wolfictl/pkg/advisory/testdata/secdb/security.json")
        #expect(wolfi.distroVersion == nil && wolfi.repositoryName == "os" && wolfi.urlPrefix == "https://packages.wolfi.dev")
        #expect(wolfi.triples.contains { $0.package == "openssl" && $0.version == "0" && $0.id == "CVE-2023-0466" })
        #expect(wolfi.triples.contains { $0.id.hasPrefix("GHSA-") })
    }

    @Test(arguments: [
        ("CVE-2019-1547", ["CVE-2019-1547"]),
        ("CVE-2017-2616 (+ regression fix)", ["CVE-2017-2616"]),
        ("GHSA-h6cc-rc6q-23j4 (+regression fix)", ["GHSA-h6cc-rc6q-23j4"]),
        ("CVE-2024-22195 GHSA-h5c8-rqwp-cp95", ["CVE-2024-22195", "GHSA-h5c8-rqwp-cp95"]),
        ("CVE-2016-10013 XSA-204", ["CVE-2016-10013", "XSA-204"]),
        ("CVE-2018-3620   XSA-273", ["CVE-2018-3620", "XSA-273"]),
        ("CVE-????-?????  XSA-284", ["XSA-284"]),
        ("CVE-2017-8073.patch", ["CVE-2017-8073"]),
        ("CVE_2019-2426", ["CVE-2019-2426"]),
        ("CVE 2018-16859", ["CVE-2018-16859"]),
        ("CVE-2017-5753 CVE-2017-5715 CVE-2017-5754 XSA-254 XPTI", ["CVE-2017-5753", "CVE-2017-5715", "CVE-2017-5754", "XSA-254"]),
        ("CVE-2018-14461 (LDP)", ["CVE-2018-14461"]),
        ("ALPINE-13661", ["ALPINE-13661"]),
        ("wnpa-sec-2017-18", ["wnpa-sec-2017-18"]),
        ("  odd text  ", ["odd text"]),
        ("", []),
    ])
    func identifiersAreNormalised(raw: String, expected: [String]) {
        #expect(SecurityFix.normalizeIdentifiers(raw) == expected)
    }

    @Test(arguments: [
        (#"{"packages": {"openssl": {}}}"#, "packages: expected a list of packages, found a mapping of 1 keys"),
        (#"{"packages": [{"pkg": {"name": "a", "secfixes": ["1.0-r0"]}}]}"#, "packages[0].pkg.secfixes (a): expected a mapping"),
        (#"{"packages": [{"pkg": {"name": "a", "secfixes": {"1.0-r0": "CVE-2020-0001"}}}]}"#, #"packages[0].pkg.secfixes (a)."1.0-r0": expected a list of ids"#),
        (#"{"packages": [{"pkg": {"secfixes": {}}}]}"#, "packages[0].pkg: missing package 'name'"),
        (#"{"packages": [{"name": "a"}]}"#, "packages[0]: missing 'pkg'"),
        (#"{"name": "a", "secfixes": {"1.0-r0": [["x"]]}}"#, #"document.secfixes (a)."1.0-r0"[0]: expected a string"#),
        (#"{"schema-version": "2"}"#, "not a secdb feed"),
        ("[1, 2]", "expected a mapping with 'packages'"),
        ("packages:\n  - pkg:\n      name: a\n      secfixes:\n        - x\n", "line 5: packages[0].pkg.secfixes (a): expected a mapping"),
        ("packages:\n  - pkg: [\n", "invalid YAML: line"),
        ("", "empty document"),
        (#"{"packages": [],}"#, "invalid JSON: line 1: trailing comma"),
        ("{\n\"packages\": [\n1,\n]\n}", "invalid JSON: line 4: trailing comma"),
        (#"{"packages": [] "x": 1}"#, "expected ',' or '}'"),
        (#"{"name": "a\x"}"#, "invalid escape"),
        (#"{"name": "a"} {}"#, "unexpected text after the document"),
        (#"{"name": 01}"#, "expected ',' or '}' (at '1')"),
    ])
    func malformedDocumentsNameTheKey(text: String, message: String) throws {
        let error = try #require(throws: LaminaError.self) { try SecurityFeed.parse(Array(text.utf8), source: "feed.json") }
        #expect(error.code == .malformed)
        #expect(error.subject == "feed.json")
        #expect(error.message.contains(message), "\(error.message)")
    }

    @Test func jsonStringsNumbersAndLiterals() throws {
        let text = #"{"name": "caf\u00e9 \ud83d\ude00 \"q\" \\ \/", "secfixes": {"1.0-r0": ["CVE-2020-0001", null], "2.0-r0": null},"#
            + #" "archs": [1, -2.5e3, true, false]}"#
        let feed = try SecurityFeed.parse(Array(text.utf8), source: "x.json")
        #expect(feed.packages.first?.name == "café 😀 \"q\" \\ /")
        #expect(feed.packages.first?.fixes == [SecurityFix(version: "1.0-r0", ids: ["CVE-2020-0001"]), SecurityFix(version: "2.0-r0", ids: [])])
    }

    @Test func yamlScalarsStayStrings() throws {
        // Unquoted keys that YAML would type as numbers must keep their spelling.
        let text = "packages:\n  - pkg:\n      name: a\n      secfixes:\n        1.10-r0:\n          - CVE-2020-0001\n        0:\n          - CVE-2020-0002\n"
        let feed = try SecurityFeed.parse(Array(text.utf8), source: "a.yaml")
        #expect(feed.packages.first?.fixes.map(\.version) == ["1.10-r0", "0"])
        #expect(feed.packages.first?.fixes.last?.isNotAffected == true)
    }
}
