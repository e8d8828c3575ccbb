// The pipelines Lamina ships, for `uses:`.
//
// Each is a YAML file in `Builtin/`, in melange's pipeline schema (`name`, `needs.packages`, `inputs` with
// `description`/`default`/`required`, `pipeline`), compiled into the binary with SwiftPM's
// `resources: [.embedInCode(...)]` (see Package.swift), so a single `lamina` executable needs no resource
// bundle beside it. SwiftPM names the embedded constants after the file name only, so `autoconf/make` and
// `make` cannot both be `make.yaml`: the files are stored flat, with `/` written as `.`
// (`autoconf/make` → `Builtin/autoconf.make.yaml`). Adding a pipeline: add the file, list it in Package.swift,
// and add it to `BuiltinPipelines.definitions`; a test checks that the three agree.

import Config
import Foundation

/// The built-in pipelines, by `uses:` name.
public enum BuiltinPipelines {
    /// `uses:` name → YAML text of the definition.
    public static let definitions: [String: String] = [
        "R/build": text(PackageResources.R_build_yaml),
        "autoconf/configure": text(PackageResources.autoconf_configure_yaml),
        "autoconf/make-install": text(PackageResources.autoconf_make_install_yaml),
        "autoconf/make": text(PackageResources.autoconf_make_yaml),
        "cargo/build": text(PackageResources.cargo_build_yaml),
        "cmake/build": text(PackageResources.cmake_build_yaml),
        "cmake/configure": text(PackageResources.cmake_configure_yaml),
        "cmake/install": text(PackageResources.cmake_install_yaml),
        "fetch": text(PackageResources.fetch_yaml),
        "git-am": text(PackageResources.git_am_yaml),
        "git-checkout": text(PackageResources.git_checkout_yaml),
        "go/build/v2": text(PackageResources.go_build_v2_yaml),
        "go/build": text(PackageResources.go_build_yaml),
        "go/bump": text(PackageResources.go_bump_yaml),
        "go/covdata": text(PackageResources.go_covdata_yaml),
        "go/install": text(PackageResources.go_install_yaml),
        "llvm/covreport": text(PackageResources.llvm_covreport_yaml),
        "make": text(PackageResources.make_yaml),
        "maven/configure-mirror": text(PackageResources.maven_configure_mirror_yaml),
        "maven/pombump": text(PackageResources.maven_pombump_yaml),
        "meson/compile": text(PackageResources.meson_compile_yaml),
        "meson/configure": text(PackageResources.meson_configure_yaml),
        "meson/install": text(PackageResources.meson_install_yaml),
        "npm/install": text(PackageResources.npm_install_yaml),
        "patch": text(PackageResources.patch_yaml),
        "pecl/install": text(PackageResources.pecl_install_yaml),
        "pecl/phpize": text(PackageResources.pecl_phpize_yaml),
        "perl/cleanup": text(PackageResources.perl_cleanup_yaml),
        "perl/make": text(PackageResources.perl_make_yaml),
        "python/build-wheel": text(PackageResources.python_build_wheel_yaml),
        "python/build": text(PackageResources.python_build_yaml),
        "python/import": text(PackageResources.python_import_yaml),
        "python/install": text(PackageResources.python_install_yaml),
        "python/test": text(PackageResources.python_test_yaml),
        "ruby/build": text(PackageResources.ruby_build_yaml),
        "ruby/clean": text(PackageResources.ruby_clean_yaml),
        "ruby/install": text(PackageResources.ruby_install_yaml),
        "split/alldocs": text(PackageResources.split_alldocs_yaml),
        "split/bin": text(PackageResources.split_bin_yaml),
        "split/debug": text(PackageResources.split_debug_yaml),
        "split/dev": text(PackageResources.split_dev_yaml),
        "split/infodir": text(PackageResources.split_infodir_yaml),
        "split/lib": text(PackageResources.split_lib_yaml),
        "split/locales": text(PackageResources.split_locales_yaml),
        "split/manpages": text(PackageResources.split_manpages_yaml),
        "split/static": text(PackageResources.split_static_yaml),
        "strip": text(PackageResources.strip_yaml),
        "xcover/ensure": text(PackageResources.xcover_ensure_yaml),
        "xcover/profile": text(PackageResources.xcover_profile_yaml),
        "xcover/status": text(PackageResources.xcover_status_yaml),
        "xcover/stop": text(PackageResources.xcover_stop_yaml),
        "xcover/wait": text(PackageResources.xcover_wait_yaml),
    ]

    /// The definitions decoded, for `PipelineLoader` (one that does not decode is left out, so that loading it
    /// reports the error).
    static let decoded: [String: Pipeline] = definitions.reduce(into: [:]) { result, entry in
        result[entry.key] = try? Pipeline.decodeDefinition(yaml: entry.value, file: "builtin:\(entry.key).yaml")
    }

    /// Every built-in name, sorted.
    public static var names: [String] { definitions.keys.sorted() }

    /// The file in `Sources/PackageBuilder/Pipelines/Builtin/` holding `name` (`autoconf/make` →
    /// `autoconf.make.yaml`).
    public static func fileName(of name: String) -> String {
        name.replacingOccurrences(of: "/", with: ".") + ".yaml"
    }

    private static func text(_ bytes: [UInt8]) -> String { String(decoding: bytes, as: UTF8.self) }
}
