// swift-tools-version:6.1
import PackageDescription

// `LAMINA_FUZZ=1` (scripts/fuzz): our own targets get libFuzzer's coverage and AddressSanitizer, and the
// `lamina-fuzz` executable (whose `main` is libFuzzer's) is added. Dependencies are built as usual.
let fuzzing = Context.environment["LAMINA_FUZZ"] == "1"
let fuzzFlags: [SwiftSetting] = fuzzing ? [.unsafeFlags(["-sanitize=fuzzer,address"])] : []
let strict: [SwiftSetting] = [.swiftLanguageMode(.v6)] + fuzzFlags

let package = Package(
    name: "Lamina",
    platforms: [.macOS(.v14)],
    products: [
        .executable(name: "lamina", targets: ["lamina"])
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-crypto", from: "4.5.2"),
        .package(url: "https://github.com/jpsim/Yams", from: "6.2.2"),
        .package(url: "https://github.com/swift-server/async-http-client", from: "1.37.0"),
        .package(url: "https://github.com/apple/swift-nio", from: "2.101.2"),
        .package(url: "https://github.com/swiftlang/swift-subprocess", from: "1.0.2"),
    ],
    targets: [
        .systemLibrary(name: "CZlib", pkgConfig: "zlib", providers: [.apt(["zlib1g-dev"])]),
        .systemLibrary(name: "CSodium", pkgConfig: "libsodium", providers: [.apt(["libsodium-dev"])]),
        .target(name: "LaminaCore", swiftSettings: strict),
        .target(name: "Archive", dependencies: ["LaminaCore", "CZlib"], swiftSettings: strict),
        .target(
            name: "APK",
            dependencies: [
                "LaminaCore", "Archive",
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "CryptoExtras", package: "swift-crypto"),
            ],
            swiftSettings: strict),
        .target(name: "APKSolver", dependencies: ["LaminaCore", "APK"], swiftSettings: strict),
        .target(
            name: "APKRepository", dependencies: ["LaminaCore", "Archive", "APK", "HTTPTransport"], swiftSettings: strict),
        .target(
            name: "ImageBuilder",
            dependencies: [
                "LaminaCore", "Archive", "APK", "APKSolver", "APKRepository", "RootFS", "Config", "OCI", "SBOM", "HTTPTransport",
            ],
            swiftSettings: strict),
        .target(name: "RootFS", dependencies: ["LaminaCore", "Archive", "APK"], swiftSettings: strict),
        .target(
            name: "Config",
            dependencies: ["LaminaCore", .product(name: "Yams", package: "Yams")],
            swiftSettings: strict),
        .target(
            name: "OCI",
            dependencies: ["LaminaCore", "Archive", .product(name: "Crypto", package: "swift-crypto")],
            swiftSettings: strict),
        .target(name: "SBOM", dependencies: ["LaminaCore"], swiftSettings: strict),
        .target(
            name: "Signing",
            dependencies: [
                "LaminaCore", "OCI", "CSodium",
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "CryptoExtras", package: "swift-crypto"),
            ],
            swiftSettings: strict),
        .target(name: "Registry", dependencies: ["LaminaCore", "OCI", "HTTPTransport"], swiftSettings: strict),
        .target(name: "ELF", dependencies: ["LaminaCore", "Archive"], swiftSettings: strict),
        .target(
            name: "Scan", dependencies: ["LaminaCore", "APK", "Archive", "Config", "OCI", .product(name: "Yams", package: "Yams")],
            swiftSettings: strict),
        .target(
            name: "Sandbox",
            dependencies: ["LaminaCore", .product(name: "Subprocess", package: "swift-subprocess")],
            swiftSettings: strict),
        .target(
            name: "PackageBuilder",
            dependencies: [
                "LaminaCore", "Archive", "APK", "APKRepository", "HTTPTransport", "Config", "SBOM", "ELF", "Sandbox",
                "ImageBuilder",
            ],
            // Built-in pipelines: YAML compiled into the binary (no resource bundle to ship next to it).
            resources: [
                .embedInCode("Pipelines/Builtin/R.build.yaml"),
                .embedInCode("Pipelines/Builtin/autoconf.configure.yaml"),
                .embedInCode("Pipelines/Builtin/autoconf.make-install.yaml"),
                .embedInCode("Pipelines/Builtin/autoconf.make.yaml"),
                .embedInCode("Pipelines/Builtin/cargo.build.yaml"),
                .embedInCode("Pipelines/Builtin/cmake.build.yaml"),
                .embedInCode("Pipelines/Builtin/cmake.configure.yaml"),
                .embedInCode("Pipelines/Builtin/cmake.install.yaml"),
                .embedInCode("Pipelines/Builtin/fetch.yaml"),
                .embedInCode("Pipelines/Builtin/git-am.yaml"),
                .embedInCode("Pipelines/Builtin/git-checkout.yaml"),
                .embedInCode("Pipelines/Builtin/go.build.v2.yaml"),
                .embedInCode("Pipelines/Builtin/go.build.yaml"),
                .embedInCode("Pipelines/Builtin/go.bump.yaml"),
                .embedInCode("Pipelines/Builtin/go.covdata.yaml"),
                .embedInCode("Pipelines/Builtin/go.install.yaml"),
                .embedInCode("Pipelines/Builtin/llvm.covreport.yaml"),
                .embedInCode("Pipelines/Builtin/make.yaml"),
                .embedInCode("Pipelines/Builtin/maven.configure-mirror.yaml"),
                .embedInCode("Pipelines/Builtin/maven.pombump.yaml"),
                .embedInCode("Pipelines/Builtin/meson.compile.yaml"),
                .embedInCode("Pipelines/Builtin/meson.configure.yaml"),
                .embedInCode("Pipelines/Builtin/meson.install.yaml"),
                .embedInCode("Pipelines/Builtin/npm.install.yaml"),
                .embedInCode("Pipelines/Builtin/patch.yaml"),
                .embedInCode("Pipelines/Builtin/pecl.install.yaml"),
                .embedInCode("Pipelines/Builtin/pecl.phpize.yaml"),
                .embedInCode("Pipelines/Builtin/perl.cleanup.yaml"),
                .embedInCode("Pipelines/Builtin/perl.make.yaml"),
                .embedInCode("Pipelines/Builtin/python.build-wheel.yaml"),
                .embedInCode("Pipelines/Builtin/python.build.yaml"),
                .embedInCode("Pipelines/Builtin/python.import.yaml"),
                .embedInCode("Pipelines/Builtin/python.install.yaml"),
                .embedInCode("Pipelines/Builtin/python.test.yaml"),
                .embedInCode("Pipelines/Builtin/ruby.build.yaml"),
                .embedInCode("Pipelines/Builtin/ruby.clean.yaml"),
                .embedInCode("Pipelines/Builtin/ruby.install.yaml"),
                .embedInCode("Pipelines/Builtin/split.alldocs.yaml"),
                .embedInCode("Pipelines/Builtin/split.bin.yaml"),
                .embedInCode("Pipelines/Builtin/split.debug.yaml"),
                .embedInCode("Pipelines/Builtin/split.dev.yaml"),
                .embedInCode("Pipelines/Builtin/split.infodir.yaml"),
                .embedInCode("Pipelines/Builtin/split.lib.yaml"),
                .embedInCode("Pipelines/Builtin/split.locales.yaml"),
                .embedInCode("Pipelines/Builtin/split.manpages.yaml"),
                .embedInCode("Pipelines/Builtin/split.static.yaml"),
                .embedInCode("Pipelines/Builtin/strip.yaml"),
                .embedInCode("Pipelines/Builtin/xcover.ensure.yaml"),
                .embedInCode("Pipelines/Builtin/xcover.profile.yaml"),
                .embedInCode("Pipelines/Builtin/xcover.status.yaml"),
                .embedInCode("Pipelines/Builtin/xcover.stop.yaml"),
                .embedInCode("Pipelines/Builtin/xcover.wait.yaml"),
            ],
            swiftSettings: strict),
        .target(
            name: "Commands",
            dependencies: [
                "LaminaCore", "Archive", "APK", "APKRepository", "Config", "OCI", "ImageBuilder", "PackageBuilder", "Sandbox",
                "Scan", "HTTPTransport", "Registry", "Signing",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            swiftSettings: strict),
        .executableTarget(name: "lamina", dependencies: ["Commands"], swiftSettings: strict),
        .executableTarget(
            name: "lamina-bench", dependencies: ["Archive", "LaminaCore", "TestSupport"], swiftSettings: strict),
        .target(
            name: "FuzzTargets",
            dependencies: ["APK", "Archive", "Config", "ELF", "LaminaCore", "OCI", "Registry", "SBOM", "Scan", "Signing"],
            swiftSettings: strict),
        .target(
            name: "HTTPTransport",
            dependencies: [
                "LaminaCore",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "Crypto", package: "swift-crypto"),
            ],
            swiftSettings: strict),
        .target(
            name: "TestSupport",
            dependencies: [
                "LaminaCore", "APK", "Archive",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
            ],
            swiftSettings: strict),

        .testTarget(name: "LaminaCoreTests", dependencies: ["LaminaCore"], swiftSettings: strict),
        .testTarget(name: "ArchiveTests", dependencies: ["Archive", "LaminaCore", "TestSupport"], swiftSettings: strict),
        .testTarget(name: "APKTests", dependencies: ["APK", "Archive", "LaminaCore", "TestSupport"], swiftSettings: strict),
        .testTarget(name: "APKSolverTests", dependencies: ["APKSolver", "APK", "LaminaCore", "TestSupport"], swiftSettings: strict),
        .testTarget(
            name: "APKRepositoryTests", dependencies: ["APKRepository", "APK", "Archive", "HTTPTransport", "LaminaCore", "TestSupport"],
            swiftSettings: strict),
        .testTarget(
            name: "RootFSTests", dependencies: ["RootFS", "APK", "Archive", "LaminaCore", "Sandbox", "TestSupport"], swiftSettings: strict),
        .testTarget(name: "ConfigTests", dependencies: ["Config", "LaminaCore", "TestSupport"], swiftSettings: strict),
        .testTarget(
            name: "FuzzRegressionTests",
            dependencies: ["FuzzTargets", "APK", "Archive", "Config", "LaminaCore", "Scan", "Signing", "TestSupport"],
            exclude: ["Inputs"], swiftSettings: strict),
        .testTarget(name: "OCITests", dependencies: ["OCI", "LaminaCore", "TestSupport"], swiftSettings: strict),
        .testTarget(
            name: "RegistryTests", dependencies: ["Registry", "OCI", "HTTPTransport", "LaminaCore", "TestSupport"],
            swiftSettings: strict),
        .testTarget(
            name: "SigningTests",
            dependencies: ["Signing", "OCI", "LaminaCore", "TestSupport"],
            swiftSettings: strict),
        .testTarget(name: "SBOMTests", dependencies: ["SBOM", "LaminaCore", "TestSupport"], swiftSettings: strict),
        .testTarget(name: "ELFTests", dependencies: ["ELF", "LaminaCore", "TestSupport"], swiftSettings: strict),
        .testTarget(
            name: "ScanTests", dependencies: ["Scan", "APK", "LaminaCore", "TestSupport", .product(name: "Yams", package: "Yams")],
            swiftSettings: strict),
        .testTarget(
            name: "SandboxTests", dependencies: ["Sandbox", "LaminaCore", "TestSupport"], swiftSettings: strict),
        .testTarget(
            name: "HTTPTransportTests",
            dependencies: [
                "HTTPTransport", "LaminaCore", "TestSupport", .product(name: "Crypto", package: "swift-crypto"),
            ],
            swiftSettings: strict),
        .testTarget(
            name: "PackageBuilderTests",
            dependencies: ["PackageBuilder", "APK", "Archive", "Config", "ELF", "LaminaCore", "SBOM", "Sandbox", "TestSupport"],
            swiftSettings: strict),
        .testTarget(name: "EndToEndTests", dependencies: ["TestSupport"], swiftSettings: strict),
        .testTarget(
            name: "ImageBuilderTests", dependencies: ["ImageBuilder", "RootFS", "APK", "Archive", "Config", "LaminaCore", "TestSupport"],
            swiftSettings: strict),
        .testTarget(
            name: "CommandsTests", dependencies: ["APK", "Archive", "LaminaCore", "TestSupport"],
            swiftSettings: strict),
    ]
)

if fuzzing {
    package.products.append(.executable(name: "lamina-fuzz", targets: ["lamina-fuzz"]))
    package.targets.append(
        .executableTarget(
            name: "lamina-fuzz", dependencies: ["FuzzTargets"], path: "Fuzz/lamina-fuzz",
            swiftSettings: strict + [.unsafeFlags(["-parse-as-library"])],
            // libFuzzer without its `main` (scripts/fuzz finds the toolchain's copy): SwiftPM names ours.
            linkerSettings: [
                .unsafeFlags(["-sanitize=address", "-Xlinker", Context.environment["LAMINA_FUZZ_RUNTIME"] ?? "libclang_rt.fuzzer_no_main.a"])
            ]))
}
