import APK
import APKSolver
import LaminaCore
import Testing

/// A package for tests: `pkg("foo", "1.0-r0", depends: "bar>=2", provides: "so:libfoo.so.1=1")`.
func pkg(
    _ name: String, _ version: String, arch: String? = nil, depends: String = "", provides: String = "",
    installIf: String = "", priority: Int? = nil
) -> PackageInfo {
    PackageInfo(
        name: name, version: version, arch: arch, installedSize: 1, depends: (try? Dependency.parseList(depends)) ?? [],
        provides: (try? Dependency.parseList(provides)) ?? [], installIf: (try? Dependency.parseList(installIf)) ?? [],
        providerPriority: priority)
}

func world(_ text: String) -> [Dependency] { (try? Dependency.parseList(text)) ?? [] }

func installed(_ plan: InstallPlan) -> [String] { plan.packages.map(\.info.nameVersion) }

/// Resolves and returns the failure, or records an issue when it succeeds.
func failure(_ request: SolverRequest, sourceLocation: SourceLocation = #_sourceLocation) -> LaminaError? {
    do {
        let plan = try Resolver.solve(request)
        Issue.record("expected a failure, got \(installed(plan))", sourceLocation: sourceLocation)
        return nil
    } catch let error as LaminaError {
        return error
    } catch {
        Issue.record("unexpected error \(error)", sourceLocation: sourceLocation)
        return nil
    }
}

@Suite("Resolver semantics")
struct ResolverTests {
    let main = SolverRepository(
        name: "main",
        packages: [
            pkg("foo", "1.0-r0", depends: "bar"), pkg("foo", "1.2-r0", depends: "bar>=2"),
            pkg("bar", "1.0-r0"), pkg("bar", "2.1-r0", depends: "so:libc.musl-x86_64.so.1"),
            pkg("musl", "1.2.3-r0", provides: "so:libc.musl-x86_64.so.1=1"),
            pkg("baz", "3.6.9-r0"), pkg("baz", "3.7.0-r0"), pkg("baz", "3.6.2-r0"),
        ])

    @Test("highest version, dependencies first")
    func highestVersion() throws {
        let plan = try Resolver.solve(SolverRequest(world: world("foo"), repositories: [main]))
        #expect(installed(plan) == ["musl-1.2.3-r0", "bar-2.1-r0", "foo-1.2-r0"])
        #expect(plan.changes.map(\.kind) == [.install, .install, .install])
        #expect(plan.packages.allSatisfy { $0.source.repository == 0 && $0.source.tag == nil })
    }

    @Test("version constraints in the world: =, <, ~")
    func constraints() throws {
        var plan = try Resolver.solve(SolverRequest(world: world("foo=1.0-r0"), repositories: [main]))
        #expect(installed(plan) == ["musl-1.2.3-r0", "bar-2.1-r0", "foo-1.0-r0"])
        plan = try Resolver.solve(SolverRequest(world: world("foo bar<2"), repositories: [main]))
        #expect(installed(plan) == ["bar-1.0-r0", "foo-1.0-r0"], "foo-1.2 needs bar>=2, so the older foo is taken")
        plan = try Resolver.solve(SolverRequest(world: world("baz~3.6"), repositories: [main]))
        #expect(installed(plan) == ["baz-3.6.9-r0"])
    }

    @Test("explains an unsatisfiable version with the chain that required it")
    func explainsChain() {
        let repository = SolverRepository(
            name: "r", packages: [pkg("foo", "1.0-r0", depends: "bar>=2"), pkg("bar", "1.0-r0")])
        let error = failure(SolverRequest(world: world("foo"), repositories: [repository]))
        #expect(error?.code == .unsatisfiable)
        #expect(
            error?.message.contains("world requires foo, foo-1.0-r0 requires bar>=2, but only bar-1.0-r0 is available")
                == true, "\(error?.message ?? "")")
        let problems = (error?.cause as? SolverFailure)?.problems ?? []
        #expect(problems.map(\.kind) == [.breaksConstraint])
    }

    @Test("a missing name is reported with who requires it")
    func missing() {
        let error = failure(SolverRequest(world: world("foo nothere"), repositories: [main]))
        #expect(error?.message.contains("world requires nothere, but no package provides 'nothere'") == true)
    }

    @Test("architecture filtering keeps noarch and the target architecture")
    func architecture() throws {
        let repository = SolverRepository(
            name: "r",
            packages: [
                pkg("tool", "2.0-r0", arch: "aarch64"), pkg("tool", "1.0-r0", arch: "x86_64"),
                pkg("data", "1-r0", arch: "noarch"), pkg("armonly", "1-r0", arch: "aarch64"),
            ])
        let plan = try Resolver.resolve(world: world("tool data"), repositories: [repository], architecture: .x86_64)
        #expect(installed(plan) == ["data-1-r0", "tool-1.0-r0"])
        let arm = try Resolver.resolve(world: world("tool"), repositories: [repository], architecture: .aarch64)
        #expect(installed(arm) == ["tool-2.0-r0"])
        let error = failure(SolverRequest(world: world("armonly"), repositories: [repository], architecture: .x86_64))
        #expect(error?.message.contains("only for aarch64") == true)
    }

    @Test("tags: untagged names never come from a tagged repository; @tag allows it and passes to dependencies")
    func tags() throws {
        let stable = SolverRepository(name: "stable", packages: [pkg("app", "1-r0", depends: "lib")])
        let testing = SolverRepository(
            name: "testing", tag: "testing",
            packages: [pkg("app", "2-r0", depends: "lib newdep"), pkg("lib", "5-r0"), pkg("newdep", "1-r0")])
        let base = SolverRepository(name: "base", packages: [pkg("lib", "1-r0")])

        var plan = try Resolver.solve(SolverRequest(world: world("app"), repositories: [stable, testing, base]))
        #expect(installed(plan) == ["lib-1-r0", "app-1-r0"])

        // app@testing may take app (and what it needs) from @testing, but untagged repositories stay preferred
        // for dependencies (apk's pinning semantics: a tag allows, it does not force).
        plan = try Resolver.solve(SolverRequest(world: world("app@testing"), repositories: [stable, testing, base]))
        #expect(installed(plan) == ["lib-1-r0", "newdep-1-r0", "app-2-r0"])
        #expect(plan.packages.map(\.displayName) == ["lib", "newdep@testing", "app@testing"])
        #expect(plan.packages.map(\.source.repository) == [2, 1, 1])
        plan = try Resolver.solve(SolverRequest(world: world("app@testing lib@testing"), repositories: [stable, testing, base]))
        #expect(installed(plan) == ["lib-5-r0", "newdep-1-r0", "app-2-r0"])

        let error = failure(SolverRequest(world: world("newdep"), repositories: [stable, testing, base]))
        #expect(error?.message.contains("newdep-1-r0 is only in @testing; ask for 'newdep@testing'") == true)

        #expect(throws: LaminaError.self) {
            try Resolver.solve(SolverRequest(world: world("app@nosuchtag"), repositories: [stable, testing]))
        }
    }

    @Test("unversioned provides need provider_priority or an explicit name")
    func virtualProviders() throws {
        let repository = SolverRepository(
            name: "r",
            packages: [
                pkg("busybox", "1.36-r0", provides: "/bin/sh cmd:sh"), pkg("dash", "0.5-r0", provides: "/bin/sh cmd:sh"),
                pkg("script", "1-r0", depends: "/bin/sh"),
            ])
        let error = failure(SolverRequest(world: world("script"), repositories: [repository]))
        #expect(
            error?.message.contains("a virtual name provided by busybox, dash with no provider_priority") == true,
            "\(error?.message ?? "")")
        // Naming one provider explicitly settles it.
        var plan = try Resolver.solve(SolverRequest(world: world("script dash"), repositories: [repository]))
        #expect(installed(plan) == ["dash-0.5-r0", "script-1-r0"])

        let prioritised = SolverRepository(
            name: "r",
            packages: [
                pkg("busybox", "1.36-r0", provides: "/bin/sh", priority: 100),
                pkg("dash", "0.5-r0", provides: "/bin/sh", priority: 200), pkg("script", "1-r0", depends: "/bin/sh"),
            ])
        plan = try Resolver.solve(SolverRequest(world: world("script"), repositories: [prioritised]))
        #expect(installed(plan) == ["dash-0.5-r0", "script-1-r0"])
    }

    @Test("versioned provides are selected automatically, the highest provided version first")
    func versionedProvides() throws {
        let repository = SolverRepository(
            name: "r",
            packages: [
                pkg("libfoo1", "1.0-r0", provides: "so:libfoo.so=1.0"),
                pkg("libfoo2", "2.0-r0", provides: "so:libfoo.so=2.0"),
                pkg("app", "1-r0", depends: "so:libfoo.so"), pkg("old", "1-r0", depends: "so:libfoo.so<2"),
            ])
        var plan = try Resolver.solve(SolverRequest(world: world("app"), repositories: [repository]))
        #expect(installed(plan) == ["libfoo2-2.0-r0", "app-1-r0"])
        plan = try Resolver.solve(SolverRequest(world: world("app old"), repositories: [repository]))
        #expect(installed(plan) == ["libfoo1-1.0-r0", "app-1-r0", "old-1-r0"])
    }

    @Test("a package with two provides, one of them versioned (apk-tools provides22)")
    func providesOnSeparateLines() throws {
        let repository = SolverRepository(
            name: "r",
            packages: [
                pkg("openjdk8-jdk", "1.0", depends: "so:openjdk8:libawt.so=0"),
                pkg("openjdk8-jre-base", "1.0", provides: "java-jre-headless so:openjdk8:libawt.so=0"),
            ])
        let plan = try Resolver.solve(
            SolverRequest(world: world("openjdk8-jdk java-jre-headless"), repositories: [repository]))
        #expect(plan.changes.map(\.summary) == ["Installing openjdk8-jre-base (1.0)", "Installing openjdk8-jdk (1.0)"])
    }

    @Test("a package providing one name twice conflicts with itself (apk-tools provides7)")
    func selfConflictingProvides() {
        let repository = SolverRepository(
            name: "r", packages: [pkg("selfconflicting", "1", provides: "selfprovided=2 selfprovided=3")])
        let error = failure(SolverRequest(world: world("selfconflicting"), repositories: [repository]))
        #expect(error?.message.contains("selfconflicting-1 provides 'selfprovided' more than once") == true)
    }

    @Test("install_if pulls a package in when all its conditions are installed")
    func installIf() throws {
        let repository = SolverRepository(
            name: "r",
            packages: [
                pkg("app", "1"), pkg("lang", "1"), pkg("app-lang", "1", depends: "app", installIf: "app lang"),
                pkg("app-doc", "1", installIf: "app docs"),
            ])
        var plan = try Resolver.solve(SolverRequest(world: world("app lang"), repositories: [repository]))
        #expect(installed(plan) == ["app-1", "lang-1", "app-lang-1"])
        plan = try Resolver.solve(SolverRequest(world: world("app"), repositories: [repository]))
        #expect(installed(plan) == ["app-1"])
    }

    @Test("conflicts: !name in the world and in dependencies")
    func conflicts() throws {
        let repository = SolverRepository(
            name: "r",
            packages: [
                pkg("a", "1", depends: "!b>1"), pkg("b", "1"), pkg("b", "2"), pkg("c", "1", depends: "b"),
            ])
        var plan = try Resolver.solve(SolverRequest(world: world("a b"), repositories: [repository]))
        #expect(installed(plan) == ["b-1", "a-1"])
        plan = try Resolver.solve(SolverRequest(world: world("a"), repositories: [repository]))
        #expect(installed(plan) == ["a-1"])
        let error = failure(SolverRequest(world: world("c !b"), repositories: [repository]))
        #expect(error?.message.contains("world conflicts with b, but b-2 is selected (for c-1[b])") == true)
    }

    @Test("identity (><) dependencies")
    func identity() throws {
        var one = pkg("lib", "1.0-r0")
        one.checksum = try Digest(apkIdentity: "Q1EyN5AdpAOBJWKMR89pp/C66o+OE=")
        var two = pkg("lib", "2.0-r0")
        two.checksum = try Digest(apkIdentity: "Q1eVpkasfqZAukAXFYbgwt4xAMZWU=")
        let repository = SolverRepository(name: "r", packages: [one, two])
        let plan = try Resolver.solve(
            SolverRequest(world: world("lib><Q1EyN5AdpAOBJWKMR89pp/C66o+OE="), repositories: [repository]))
        #expect(installed(plan) == ["lib-1.0-r0"])
    }

    @Test("installed packages: kept unless upgrading; unneeded ones purged")
    func installedSet() throws {
        let repository = SolverRepository(name: "r", packages: [pkg("foo", "1"), pkg("foo", "2"), pkg("extra", "1")])
        let current = [InstalledPackage(info: pkg("foo", "1")), InstalledPackage(info: pkg("extra", "1"))]
        var plan = try Resolver.solve(
            SolverRequest(world: world("foo extra"), repositories: [repository], installed: current))
        #expect(plan.changes.isEmpty)
        #expect(plan.packagesToFetch.isEmpty)
        plan = try Resolver.solve(
            SolverRequest(world: world("foo extra"), repositories: [repository], installed: current, flags: .upgrade))
        #expect(plan.changes.map(\.summary) == ["Upgrading foo (1 -> 2)"])
        plan = try Resolver.solve(SolverRequest(world: world("foo"), repositories: [repository], installed: current))
        #expect(plan.changes.map(\.summary) == ["Purging extra (1)"])
        plan = try Resolver.solve(
            SolverRequest(
                world: world("foo=1"), repositories: [repository], installed: [InstalledPackage(info: pkg("foo", "2"))]))
        #expect(plan.changes.map(\.kind) == [.downgrade])
    }

    @Test("forceBrokenWorld drops what cannot be satisfied")
    func brokenWorld() throws {
        let plan = try Resolver.solve(
            SolverRequest(world: world("foo nothere"), repositories: [main], forceBrokenWorld: true))
        #expect(plan.brokenWorld.map(\.name) == ["nothere"])
        #expect(installed(plan).contains("foo-1.2-r0"))
    }

    @Test("deterministic: the same plan whatever the world order")
    func deterministic() throws {
        let a = try Resolver.solve(SolverRequest(world: world("foo baz bar"), repositories: [main]))
        let b = try Resolver.solve(SolverRequest(world: world("bar foo baz"), repositories: [main]))
        #expect(installed(a) == installed(b))
        #expect(a.changes == b.changes)
    }

    @Test("earlier repositories win between identical versions")
    func repositoryOrder() throws {
        let first = SolverRepository(name: "first", packages: [pkg("x", "1")])
        let second = SolverRepository(name: "second", packages: [pkg("x", "1", depends: "y"), pkg("y", "1")])
        let plan = try Resolver.solve(SolverRequest(world: world("x"), repositories: [first, second]))
        #expect(installed(plan) == ["x-1"])
        #expect(plan.packages.first?.source.repository == 0)
    }
}
