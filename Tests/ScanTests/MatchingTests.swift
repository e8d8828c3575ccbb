import APK
import Foundation
import LaminaCore
import Scan
import TestSupport
import Testing
import Yams

/// The matching rule, checked against scanners' own fixtures (trivy, grype, vunnel) and real databases.
@Suite(.enabled(if: SharedTestData.isAvailable, "needs ../shared/testdata"))
struct MatchingTests {
    static let security = SharedTestData.path("security")

    func feed(_ relative: String) throws -> SecurityFeed { try SecurityFeed.load(path: Self.security + "/" + relative) }

    /// `(package, installed, fixed-in, id)` rows of findings, for set comparisons.
    func rows(_ findings: [Finding]) -> Set<String> {
        Set(findings.flatMap { f in f.vulnerabilities.map { "\(f.package) \(f.version) \($0.fixedIn) \($0.id)" } })
    }

    /// trivy's bolt-DB fixture (`- bucket: "alpine 3.10" / pairs: - bucket: PKG / pairs: - key: ID, value: {FixedVersion}`),
    /// turned into a secdb JSON document so it goes through the real parser.
    func trivyFeed(_ relative: String, bucket: String) throws -> SecurityFeed {
        let text = try String(contentsOfFile: Self.security + "/" + relative, encoding: .utf8)
        let top = try #require(try Yams.load(yaml: text) as? [[String: Any]])
        let release = try #require(top.first { $0["bucket"] as? String == bucket })
        var packages: [[String: Any]] = []
        for package in try #require(release["pairs"] as? [[String: Any]]) {
            var secfixes: [String: [String]] = [:]
            for pair in try #require(package["pairs"] as? [[String: Any]]) {
                let value = try #require(pair["value"] as? [String: Any])
                secfixes[value["FixedVersion"] as? String ?? "", default: []].append(try #require(pair["key"] as? String))
            }
            packages.append(["pkg": ["name": try #require(package["bucket"] as? String), "secfixes": secfixes]])
        }
        let json = try JSONSerialization.data(withJSONObject: ["reponame": "main", "packages": packages], options: [.sortedKeys])
        return try SecurityFeed.parse(Array(json), source: relative)
    }

    /// The installed packages of trivy's alpine 3.10.2 image (name, version, source name).
    func trivyAlpine310Packages() throws -> [ScannedPackage] {
        let path = Self.security + "/aquasecurity+trivy/pkg/fanal/test/integration/testdata/goldens/packages/alpine-310.json.golden"
        let list = try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: path))) as? [[String: Any]])
        return list.map { ScannedPackage(name: $0["Name"] as? String ?? "", version: $0["Version"] as? String ?? "", origin: $0["SrcName"] as? String) }
    }

    /// trivy's integration test: its fixture DB against the alpine 3.10.2 packages gives its golden report.
    @Test func trivyFixtureDatabaseGivesTrivysGoldenReport() throws {
        let database = SecurityDatabase([try trivyFeed("aquasecurity+trivy/integration/testdata/fixtures/db/alpine.yaml", bucket: "alpine 3.10")])
        let findings = database.findings(for: try trivyAlpine310Packages())

        let golden = Self.security + "/aquasecurity+trivy/integration/testdata/alpine-310.json.golden"
        let report = try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: golden))) as? [String: Any])
        var expected = Set<String>()
        for result in try #require(report["Results"] as? [[String: Any]]) {
            for v in result["Vulnerabilities"] as? [[String: Any]] ?? [] {
                expected.insert("\(v["PkgName"] as? String ?? "") \(v["InstalledVersion"] as? String ?? "") \(v["FixedVersion"] as? String ?? "") \(v["VulnerabilityID"] as? String ?? "")")
            }
        }
        #expect(expected.count == 4)
        #expect(rows(findings) == expected)
        // musl 1.1.22-r3 is past the fixture's 1.1.20-r5: not reported.
        #expect(findings.map(\.package) == ["libcrypto1.1", "libssl1.1"])
        #expect(findings.first?.fixedIn == "1.1.1d-r2")
    }

    /// The real v3.10 secdb against the same packages (PROVENANCE.md's cross-check): only the openssl libraries.
    @Test func realAlpine310FeedAgainstTheAlpine3102Packages() throws {
        let database = SecurityDatabase([
            try feed("alpinelinux+alpine-secdb/v3.10/main.yaml"), try feed("alpinelinux+alpine-secdb/v3.10/community.yaml"),
        ])
        let findings = database.findings(for: try trivyAlpine310Packages())
        #expect(findings.map(\.package) == ["libcrypto1.1", "libssl1.1"])
        for finding in findings {
            #expect(finding.origin == "openssl" && finding.version == "1.1.1c-r0" && finding.fixedIn == "1.1.1d-r0")
            #expect(finding.vulnerabilities.map(\.id) == ["CVE-2019-1547", "CVE-2019-1549", "CVE-2019-1563"])
        }
    }

    /// The alpine 3.10.4 image's installed database: every fix of the frozen feed is installed.
    @Test func alpine3104InstalledDatabaseHasNoFindings() throws {
        let installed = try ScanTarget.load(
            Self.security + "/aquasecurity+trivy/pkg/fanal/test/testdata/alpine-310.tar.gz.extracted/lib/apk/db/installed")
        #expect(installed.packages.count == 14)
        #expect(installed.packages.contains(ScannedPackage(name: "libssl1.1", version: "1.1.1d-r2", origin: "openssl")))
        let database = SecurityDatabase([
            try feed("alpinelinux+alpine-secdb/v3.10/main.yaml"), try feed("alpinelinux+alpine-secdb/v3.10/community.yaml"),
        ])
        #expect(database.findings(for: installed.packages).isEmpty)
        // The feed does apply: a build before busybox's 1.30.1-r2 fix would be reported.
        let older = ScannedPackage(name: "ssl_client", version: "1.30.1-r1", origin: "busybox")
        #expect(database.finding(for: older)?.vulnerabilities == [Vulnerability(id: "CVE-2019-5747", fixedIn: "1.30.1-r2")])
    }

    /// Alpine 3.20.3's minirootfs against vuln-list's v3.20 main entries for busybox, openssl, zlib and apk-tools.
    @Test func minirootfs3203AgainstAlpine320Secdb() throws {
        let installed = try ScanTarget.load(SharedTestData.path("derived/minirootfs-3.20.3-x86_64/lib/apk/db/installed"))
        #expect(installed.packages.count == 14)
        let folder = "aquasecurity+vuln-list/alpine/3.20/main/"
        var database = SecurityDatabase()
        for name in ["apk-tools", "busybox", "openssl", "zlib"] { database.add(try feed(folder + name + ".json")) }
        let findings = database.findings(for: installed.packages)
        #expect(findings.map(\.package) == ["busybox", "busybox-binsh", "libcrypto3", "libssl3", "ssl_client"])

        // Hand-picked from busybox.json: 1.36.1-r29 is installed; r29's own fixes are in, r31's are not.
        for finding in findings where finding.origin == "busybox" {
            #expect(finding.version == "1.36.1-r29")
            #expect(finding.vulnerabilities == [
                Vulnerability(id: "CVE-2024-58251", fixedIn: "1.36.1-r31"), Vulnerability(id: "CVE-2025-46394", fixedIn: "1.36.1-r31"),
            ])
        }
        // openssl.json, counted by hand: 3.3.2-r1 (1) + 3.3.2-r2 (1) + 3.3.3-r0 (1) + 3.3.5-r0 (3) + 3.3.6-r0 (10) + 3.3.7-r0 (6).
        let libcrypto = try #require(findings.first { $0.package == "libcrypto3" })
        #expect(libcrypto.version == "3.3.2-r0" && libcrypto.fixedIn == "3.3.7-r0")
        #expect(libcrypto.vulnerabilities.count == 22)
        #expect(libcrypto.vulnerabilities.first == Vulnerability(id: "CVE-2024-9143", fixedIn: "3.3.2-r1"))
        let ids = Set(libcrypto.vulnerabilities.map(\.id))
        #expect(!ids.contains("CVE-2024-6119"), "fixed in 3.3.2-r0, the installed version")
        #expect(!ids.contains("CVE-2022-1292"), "listed under \"0\": never affected")
        let v = libcrypto.vulnerabilities
        #expect(zip(v, v.dropFirst()).allSatisfy { APKVersion.compare($0.fixedIn, $1.fixedIn) != .greater })
        let libssl = try #require(findings.first { $0.package == "libssl3" })
        #expect(libssl.vulnerabilities == libcrypto.vulnerabilities)
        // Ids at one fix version sort numerically.
        let at336 = libcrypto.vulnerabilities.filter { $0.fixedIn == "3.3.6-r0" }.map(\.id)
        #expect(at336 == ["CVE-2025-15467", "CVE-2025-15468", "CVE-2025-66199", "CVE-2025-68160", "CVE-2025-69418", "CVE-2025-69419",
                          "CVE-2025-69420", "CVE-2025-69421", "CVE-2026-22795", "CVE-2026-22796"])
    }

    /// grype's alpine:3.18 record for CVE-2024-0727 agrees with vuln-list's openssl entry, and the rule applies it.
    @Test func grypeRecordAndVulnListAgree() throws {
        let record = Self.security + "/anchore+grype/grype/matcher/apk/testdata/alpine318/alpine/results/3.18/cve-2024-0727.json"
        let json = try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: record))) as? [String: Any])
        let vulnerability = try #require((json["item"] as? [String: Any])?["Vulnerability"] as? [String: Any])
        let fixed = try #require((vulnerability["FixedIn"] as? [[String: Any]])?.first)
        #expect(fixed["Name"] as? String == "openssl" && fixed["Version"] as? String == "3.1.4-r5")
        let openssl = try feed("aquasecurity+vuln-list/alpine/3.20/main/openssl.json")
        #expect(openssl.triples.contains { $0.package == "openssl" && $0.version == "3.1.4-r5" && $0.id == "CVE-2024-0727" })

        let database = SecurityDatabase([openssl])
        let before = try #require(database.finding(for: ScannedPackage(name: "libcrypto3", version: "3.1.4-r4", origin: "openssl")))
        #expect(before.vulnerabilities.contains(Vulnerability(id: "CVE-2024-0727", fixedIn: "3.1.4-r5")))
        let after = try #require(database.finding(for: ScannedPackage(name: "libcrypto3", version: "3.1.4-r5", origin: "openssl")))
        #expect(!after.vulnerabilities.contains { $0.id == "CVE-2024-0727" })
    }

    /// Wolfi's security.json (vunnel's input): the binutils chain, and `"0"` for coreutils.
    @Test func wolfiSecurityJSON() throws {
        let database = SecurityDatabase([try feed("anchore+vunnel/tests/unit/providers/wolfi/test-fixtures/input/secdb/security.json")])
        let binutils = try #require(database.finding(for: ScannedPackage(name: "binutils", version: "2.39-r1", origin: "binutils")))
        #expect(binutils.vulnerabilities == [
            Vulnerability(id: "CVE-2022-38533", fixedIn: "2.39-r2"), Vulnerability(id: "CVE-2022-38128", fixedIn: "2.39-r3"),
        ])
        #expect(binutils.fixedIn == "2.39-r3")
        #expect(database.finding(for: ScannedPackage(name: "binutils", version: "2.39-r3")) == nil)
        #expect(database.finding(for: ScannedPackage(name: "coreutils", version: "0.0.1-r0")) == nil, "\"0\" never matches")
        let busybox = try #require(database.finding(for: ScannedPackage(name: "busybox", version: "1.35.0-r2")))
        #expect(busybox.vulnerabilities.map(\.id) == ["CVE-2022-28391", "CVE-2022-30065"])
        #expect(busybox.vulnerabilities.allSatisfy { $0.fixedIn == "1.35.0-r3" })
    }

    /// trivy's detector fixture: suffixes (`_rc`, `_alpha_pre`), origin keys, and unusable fix versions.
    @Test func trivyDetectorFixtureRules() throws {
        let parsed = try trivyFeed("aquasecurity+trivy/pkg/detector/ospkg/alpine/testdata/fixtures/alpine.yaml", bucket: "alpine 3.10")
        // "" (no fix yet) and "invalid" are no apk versions: set aside.
        #expect(Set(parsed.skipped.map(\.version)) == ["", "invalid"])
        let database = SecurityDatabase([parsed])
        // 1.6_rc1-r0 < 1.6_rc2 < 1.6-r0 < 1.6-r1.
        let jq = try #require(database.finding(for: ScannedPackage(name: "jq", version: "1.6-r0", origin: "jq")))
        #expect(jq.vulnerabilities == [Vulnerability(id: "CVE-2020-1234", fixedIn: "1.6-r1")])
        let rc = try #require(database.finding(for: ScannedPackage(name: "jq", version: "1.6_rc1-r0", origin: "jq")))
        #expect(rc.vulnerabilities.map(\.id) == ["CVE-2019-9999", "CVE-2020-1234"])
        #expect(database.finding(for: ScannedPackage(name: "jq", version: "1.6-r1")) == nil)
        // Found through the origin only: the feed knows `test-src`, not `test`.
        let viaOrigin = try #require(database.finding(for: ScannedPackage(name: "test", version: "0.0.9-r0", origin: "test-src")))
        #expect(Set(viaOrigin.vulnerabilities.map(\.id)) == ["CVE-2030-0001", "CVE-2030-0002"])
        #expect(database.finding(for: ScannedPackage(name: "test", version: "0.0.9-r0", origin: nil)) == nil)
        // ansible 2.8.3: only the 2.8.4-r0 fix applies (2.6.3-r0 is older).
        let ansible = try #require(database.finding(for: ScannedPackage(name: "ansible", version: "2.8.3-r0")))
        #expect(ansible.vulnerabilities == [Vulnerability(id: "CVE-2019-10217", fixedIn: "2.8.4-r0")])
    }

    /// The same id under several fix versions, several feeds, name and origin: one row, the highest fix.
    @Test func idsAreDeduplicatedKeepingTheHighestFix() throws {
        let a = try SecurityFeed.parse(Array(#"""
            {"packages": [{"pkg": {"name": "openssl", "secfixes": {"1.0-r1": ["CVE-2020-0001"], "1.0-r3": ["CVE-2020-0001 (+ regression fix)"],
              "0": ["CVE-2020-0009"]}}}]}
            """#.utf8), source: "a.json")
        let b = try SecurityFeed.parse(Array(#"""
            {"name": "libssl", "secfixes": {"1.0-r2": ["CVE-2020-0001", "CVE-2020-0002"], "0.9-r0": ["CVE-2019-0001"]}}
            """#.utf8), source: "b.json")
        let database = SecurityDatabase([a, b, a])
        let finding = try #require(database.finding(for: ScannedPackage(name: "libssl", version: "1.0-r0", origin: "openssl")))
        #expect(finding.vulnerabilities == [
            Vulnerability(id: "CVE-2020-0002", fixedIn: "1.0-r2"), Vulnerability(id: "CVE-2020-0001", fixedIn: "1.0-r3"),
        ])
        #expect(finding.fixedIn == "1.0-r3")
        #expect(database.feeds.map(\.fixes) == [2, 2, 2])
        // Findings are sorted by package and a package listed twice is reported once.
        let all = database.findings(for: [
            ScannedPackage(name: "openssl", version: "1.0-r2"), ScannedPackage(name: "libssl", version: "1.0-r0", origin: "openssl"),
            ScannedPackage(name: "openssl", version: "1.0-r2"),
        ])
        #expect(all.map(\.package) == ["libssl", "openssl"])
        #expect(all.last?.vulnerabilities == [Vulnerability(id: "CVE-2020-0001", fixedIn: "1.0-r3")])
    }

    @Test func reportRendersTableAndStableJSON() throws {
        let database = SecurityDatabase([try feed("aquasecurity+vuln-list/alpine/3.20/main/busybox.json")])
        let installed = InstalledPackages(
            packages: [ScannedPackage(name: "busybox", version: "1.36.1-r25", origin: "busybox"), ScannedPackage(name: "zlib", version: "1")],
            location: "installed")
        let report = ScanReport(target: "t", installed: installed, database: database)
        #expect(report.table() == """
            PACKAGE  INSTALLED   FIXED-IN    IDS
            busybox  1.36.1-r25  1.36.1-r27  CVE-2023-42363
            busybox  1.36.1-r25  1.36.1-r29  CVE-2023-42364 CVE-2023-42365
            busybox  1.36.1-r25  1.36.1-r31  CVE-2024-58251 CVE-2025-46394
            1 of 2 packages vulnerable, 5 ids (1 feeds, 13 fixes)

            """)
        let json = try report.json()
        let object = try #require(try JSONSerialization.jsonObject(with: Data(json.utf8)) as? [String: Any])
        #expect(object.keys.sorted() == ["database", "feeds", "findings", "packages", "target"])
        #expect(try report.json() == json)
        let decoded = try JSONDecoder().decode(ScanReport.self, from: Data(json.utf8))
        #expect(decoded == report)
        let clean = ScanReport(target: "t", installed: InstalledPackages(packages: [], location: "x"), database: database)
        #expect(clean.table() == "no known vulnerabilities in 0 packages (1 feeds, 13 fixes)\n")
    }
}
