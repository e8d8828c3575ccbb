import Config
import ELF
import LaminaCore
import TestSupport
import Testing

@testable import PackageBuilder

struct EmitMetadataTests {
    static let package = Package(
        name: "foo", version: "1.2.3", epoch: 4, description: "Foo tools", url: "https://foo.example",
        commit: "abc123",
        copyright: [
            Copyright(attestation: "Copyright 2020 Foo", license: "MIT"),
            Copyright(license: "Apache-2.0 OR BSD-3-Clause"),
        ],
        dependencies: Dependencies(
            runtime: ["busybox", "so:libc.musl-x86_64.so.1"], provides: ["foo-any=1.2.3"], replaces: ["foo-old"],
            providerPriority: "10", replacesPriority: "5"),
        options: PackageOptions(noCommands: true),
        scriptlets: Scriptlets(
            trigger: Trigger(script: "#!/bin/sh\nupdate\n", paths: ["/usr/share/foo", "/usr/lib/foo"]),
            preInstall: "#!/bin/sh\npre\n", postUpgrade: "#!/bin/sh\npost\n"))

    @Test func mainPackage() throws {
        let metadata = try PackageMetadata(package: Self.package, architecture: Architecture("amd64"))
        #expect(metadata.name == "foo")
        #expect(metadata.fullVersion == "1.2.3-r4")
        #expect(metadata.fileName == "foo-1.2.3-r4.apk")
        #expect(metadata.sbomPath == "var/lib/db/sbom/foo-1.2.3-r4.spdx.json")
        #expect(metadata.architecture == "x86_64")
        #expect(metadata.origin == "foo")
        #expect(metadata.description == "Foo tools")
        #expect(metadata.url == "https://foo.example")
        #expect(metadata.commit == "abc123")
        #expect(metadata.license == "MIT AND (Apache-2.0 OR BSD-3-Clause)")
        #expect(metadata.copyrightText == "Copyright 2020 Foo")
        #expect(metadata.runtimeDependencies == ["busybox", "so:libc.musl-x86_64.so.1"])
        #expect(metadata.provides == ["foo-any=1.2.3"])
        #expect(metadata.replaces == ["foo-old"])
        #expect(metadata.providerPriority == 10)
        #expect(metadata.replacesPriority == 5)
        #expect(metadata.options == .init(noCommands: true))
        #expect(metadata.scripts.keys.sorted() == ["post-upgrade", "pre-install", "trigger"])
        #expect(metadata.triggers == ["/usr/share/foo", "/usr/lib/foo"])
        #expect(metadata.maintainer == nil)
    }

    @Test func subpackageInheritsFromItsOrigin() throws {
        let sub = Subpackage(
            name: "foo-dev", dependencies: Dependencies(runtime: ["foo"]), options: PackageOptions(noDepends: true),
            description: "Foo headers")
        let metadata = try PackageMetadata(subpackage: sub, of: Self.package, architecture: .aarch64)
        #expect(metadata.name == "foo-dev")
        #expect(metadata.origin == "foo")
        #expect(metadata.fullVersion == "1.2.3-r4")
        #expect(metadata.architecture == "aarch64")
        #expect(metadata.license == "MIT AND (Apache-2.0 OR BSD-3-Clause)")
        #expect(metadata.commit == "abc123")
        #expect(metadata.url == nil)
        #expect(metadata.description == "Foo headers")
        #expect(metadata.runtimeDependencies == ["foo"])
        #expect(metadata.provides.isEmpty)
        #expect(metadata.providerPriority == nil)
        #expect(metadata.options == .init(noDepends: true))
        #expect(metadata.scripts.isEmpty)
        var own = sub
        own.commit = "def456"
        #expect(try PackageMetadata(subpackage: own, of: Self.package, architecture: .aarch64).commit == "def456")
    }

    @Test(arguments: [
        ([], nil), (["MIT"], "MIT"), (["MIT", "GPL-2.0-only"], "MIT AND GPL-2.0-only"),
        (["MIT OR Apache-2.0"], "MIT OR Apache-2.0"), (["(MIT OR Apache-2.0)", "Zlib"], "(MIT OR Apache-2.0) AND Zlib"),
        (["", "BSD-2-Clause"], "BSD-2-Clause"),
    ] as [([String], String?)])
    func licenseExpression(_ licenses: [String], _ expected: String?) {
        #expect(PackageMetadata.licenseExpression(licenses.map { Copyright(license: $0) }) == expected)
    }

    @Test func badPriorityNamesTheKey() {
        var package = Self.package
        package.dependencies.providerPriority = "high"
        #expect {
            _ = try PackageMetadata(package: package, architecture: .x86_64)
        } throws: { error in
            (error as? LaminaError)?.message.contains("package.dependencies.provider-priority") == true
        }
        let sub = Subpackage(name: "foo-x", dependencies: Dependencies(replacesPriority: "1.5"))
        #expect {
            _ = try PackageMetadata(subpackage: sub, of: Self.package, architecture: .x86_64)
        } throws: { error in
            (error as? LaminaError)?.message.contains("subpackages[foo-x].dependencies.replaces-priority") == true
        }
    }

    @Test func badDependencyNamesTheEntry() {
        var package = Self.package
        package.dependencies.provides = ["ok", "bad=="]
        #expect {
            _ = try PackageMetadata(package: package, architecture: .x86_64)
        } throws: { error in
            (error as? LaminaError)?.message.contains("package.dependencies.provides[1]") == true
        }
    }

    /// Real configurations: every Wolfi config in the test data gives metadata for each package.
    @Test(.enabled(if: SharedTestData.isAvailable, "needs ../shared/testdata"))
    func wolfiConfigurations() throws {
        let zlib = try BuildConfiguration.load(path: SharedTestData.path("wolfi-dev+os/zlib.yaml")).configuration
        let main = try PackageMetadata(package: zlib.package, architecture: .x86_64)
        #expect(main.name == "zlib")
        #expect(main.license == "MPL-2.0 AND MIT")
        for subpackage in zlib.subpackages where subpackage.range.isEmpty && !subpackage.name.contains("${{") {
            let metadata = try PackageMetadata(subpackage: subpackage, of: zlib.package, architecture: .x86_64)
            #expect(metadata.origin == "zlib")
            #expect(metadata.fullVersion == main.fullVersion)
        }
    }
}

extension EmitMetadataTests {
    /// `package.cpe` becomes melange's CPE 2.3 name (package version, `*` for the rest) for the package and its
    /// subpackages, and a `SECURITY`/`cpe23Type` reference in the package's SBOM.
    @Test func cpeNameAndSBOMReference() throws {
        var package = Self.package
        package.cpe = CPE(vendor: "foo_project", product: "foo", targetSW: "linux")
        let metadata = try PackageMetadata(package: package, architecture: .x86_64)
        #expect(metadata.cpe == "cpe:2.3:a:foo_project:foo:1.2.3:*:*:*:*:linux:*:*")
        let sub = try PackageMetadata(subpackage: Subpackage(name: "foo-dev"), of: package, architecture: .x86_64)
        #expect(sub.cpe == metadata.cpe)
        #expect(try PackageMetadata(package: Self.package, architecture: .x86_64).cpe == nil)
        let reference = PackageSBOM.document(for: metadata, namespace: "wolfi", clock: BuildClock(epoch: 0)).packages
            .flatMap(\.externalReferences).first { $0.type == "cpe23Type" }
        #expect(reference?.category == "SECURITY")
        #expect(reference?.locator == metadata.cpe)
        package.cpe = CPE(product: "foo")
        #expect(throws: LaminaError.self) { _ = try PackageMetadata(package: package, architecture: .x86_64) }
    }
}
