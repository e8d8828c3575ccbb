import APK
import APKSolver
import Foundation
import LaminaCore
import Testing
import TestSupport

/// Resolving against a real repository: Alpine 3.16 main, x86_64 (4,929 packages).
@Suite("Alpine 3.16 index")
struct AlpineIndexTests {
    static let indexPath = "chainguard-dev+apko/pkg/apk/apk/testdata/alpine-316/APKINDEX.tar.gz"
    static let available = SharedTestData.isAvailable

    static let world = [
        "alpine-base", "bash", "curl", "git", "openssh", "python3", "nginx", "tzdata", "ca-certificates", "openssl",
        "sqlite", "postgresql14", "redis", "nodejs", "make", "gcc", "musl-dev", "vim", "perl", "py3-setuptools",
    ]

    /// What apk-tools 2.14.10 installs for `world`, in its order (`apk-test --test-repo <the unpacked APKINDEX>
    /// add <world>`, run once with apk-tools built from its v2.14.10 tag).
    static let apkToolsOrder = [
        "alpine-baselayout-data-3.2.0-r23", "musl-1.2.3-r2", "busybox-1.35.0-r17", "alpine-baselayout-3.2.0-r23",
        "ifupdown-ng-0.12.1-r0", "openrc-0.44.10-r7", "alpine-conf-3.14.6-r1", "ca-certificates-bundle-20220614-r0",
        "libcrypto1.1-1.1.1s-r0", "libssl1.1-1.1.1s-r0", "ssl_client-1.35.0-r17", "zlib-1.2.12-r3",
        "apk-tools-2.12.9-r3", "busybox-suid-1.35.0-r17", "mdev-conf-4.2-r0", "busybox-initscripts-4.2-r0",
        "scanelf-1.3.4-r0", "musl-utils-1.2.3-r2", "libc-utils-0.7.2-r3", "alpine-keys-2.4-r1",
        "alpine-base-3.16.3-r0", "ncurses-terminfo-base-6.3_p20220521-r0", "ncurses-libs-6.3_p20220521-r0",
        "readline-8.1.2-r0", "bash-5.1.16-r2", "ca-certificates-20220614-r0", "brotli-libs-1.0.9-r6",
        "nghttp2-libs-1.47.0-r0", "libcurl-7.83.1-r4", "curl-7.83.1-r4", "libgcc-11.2.1_git20220219-r2",
        "libstdc++-11.2.1_git20220219-r2", "binutils-2.38-r3", "libgomp-11.2.1_git20220219-r2",
        "libatomic-11.2.1_git20220219-r2", "gmp-6.2.1-r2", "isl22-0.22-r0", "mpfr4-4.1.0-r0", "mpc1-1.2.1-r0",
        "gcc-11.2.1_git20220219-r2", "expat-2.5.0-r0", "pcre2-10.40-r0", "git-2.36.3-r0", "make-4.3-r0",
        "musl-dev-1.2.3-r2", "pcre-8.45-r2", "nginx-1.22.1-r0", "nginx-openrc-1.22.1-r0", "c-ares-1.18.1-r0",
        "icu-data-en-71.1-r2", "icu-libs-71.1-r2", "nodejs-16.17.1-r0", "openssh-keygen-9.0_p1-r2",
        "libedit-20210910.3.1-r0", "openssh-client-common-9.0_p1-r2", "openssh-client-default-9.0_p1-r2",
        "openssh-sftp-server-9.0_p1-r2", "openssh-server-common-9.0_p1-r2", "openssh-server-9.0_p1-r2",
        "openssh-9.0_p1-r2", "openssl-1.1.1s-r0", "libbz2-1.0.8-r1", "perl-5.34.1-r0", "perl-error-0.17029-r1",
        "perl-git-2.36.3-r0", "git-perl-2.36.3-r0", "postgresql-common-1.1-r2", "libpq-14.5-r0",
        "postgresql14-client-14.5-r0", "tzdata-2022f-r1", "gdbm-1.23-r0", "libsasl-2.1.28-r1", "libldap-2.6.3-r3",
        "xz-libs-5.2.5-r1", "libxml2-2.9.14-r2", "postgresql14-14.5-r0", "postgresql-common-openrc-1.1-r2",
        "postgresql14-openrc-14.5-r0", "libffi-3.4.2-r1", "mpdecimal-2.5.1-r1", "sqlite-libs-3.38.5-r0",
        "python3-3.10.8-r0", "py3-appdirs-1.4.4-r3", "py3-more-itertools-8.13.0-r0", "py3-ordered-set-4.0.2-r3",
        "py3-parsing-2.4.7-r3", "py3-six-1.16.0-r1", "py3-packaging-21.3-r0", "py3-setuptools-59.4.0-r0",
        "redis-7.0.5-r0", "redis-openrc-7.0.5-r0", "sqlite-3.38.5-r0", "xxd-8.2.5000-r0", "lua5.4-libs-5.4.4-r5",
        "vim-8.2.5000-r0", "nginx-vim-1.22.1-r0",
    ]

    static func loadRepository() throws -> SolverRepository {
        let index = try APKIndex.read(path: SharedTestData.path(indexPath))
        return SolverRepository(name: "alpine-316", packages: index.packages)
    }

    @Test("a 20-name world resolves to exactly what apk-tools installs, fast", .enabled(if: available, "needs ../shared/testdata"))
    func resolvesLikeApkTools() throws {
        let repository = try Self.loadRepository()
        #expect(repository.packages.count == 4929)
        let world = try Self.world.map { try Dependency(parsing: $0) }
        let clock = ContinuousClock()
        let start = clock.now
        let plan = try Resolver.resolve(world: world, repositories: [repository], architecture: .x86_64)
        let elapsed = clock.now - start
        print("resolved \(plan.packages.count) packages from \(repository.packages.count) in \(elapsed)")
        #expect(plan.packages.map(\.info.nameVersion) == Self.apkToolsOrder)
        #expect(plan.changes.allSatisfy { $0.kind == .install })
        #if DEBUG
            #expect(elapsed < .seconds(5), "debug build: \(elapsed)")
        #else
            #expect(elapsed < .seconds(1), "release build: \(elapsed)")
        #endif

        // Every dependency is met inside the set, by a package that comes earlier (no cycles here).
        var seen: [PackageInfo] = []
        for package in plan.packages {
            for dep in package.info.depends where !dep.isConflict {
                #expect(seen.contains { dep.matches($0) }, "\(package.info.nameVersion): \(dep) not met before it")
            }
            seen.append(package.info)
        }
        #expect(Set(plan.packages.map(\.info.name)).count == plan.packages.count)
        // Deterministic.
        let again = try Resolver.resolve(world: world.reversed(), repositories: [repository], architecture: .x86_64)
        #expect(again.packages.map(\.info.nameVersion) == Self.apkToolsOrder)
    }

    @Test("explains a real failure: a virtual name nobody prioritises", .enabled(if: available, "needs ../shared/testdata"))
    func realFailure() throws {
        let repository = try Self.loadRepository()
        // Many packages need /bin/sh, which Alpine 3.16 offers only as an unversioned provide of busybox.
        do {
            _ = try Resolver.resolve(
                world: [try Dependency(parsing: "bash")], repositories: [repository], architecture: .x86_64)
            Issue.record("expected a failure")
        } catch let error as LaminaError {
            #expect(error.code == .unsatisfiable)
            #expect(error.message.contains("requires /bin/sh, a virtual name provided only by busybox"), "\(error)")
        }
        // For another architecture nothing matches.
        do {
            _ = try Resolver.resolve(
                world: [try Dependency(parsing: "busybox")], repositories: [repository], architecture: .aarch64)
            Issue.record("expected a failure")
        } catch let error as LaminaError {
            #expect(error.message.contains("no package provides 'busybox' (only for x86_64)"), "\(error)")
        }
    }
}
