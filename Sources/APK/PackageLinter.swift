import Archive
import Foundation
import LaminaCore

/// melange's package linters that look only at a package's file list (names, kinds, modes): the same names,
/// the same rules and the same default severities as melange's `pkg/linter`. Linters that need the build
/// configuration or the file contents (`strip`, `lddcheck`, `pkgconf`, `python/*`, `binaryarch`, `nonlinux`,
/// `unsupportedarch`, `duplicate`) are not here; ``unimplemented`` names them.
public enum PackageLinter {
    public enum Severity: Sendable { case require, warn, ignore }

    public struct Rule: Sendable {
        public var name: String
        public var explain: String
        public var severity: Severity
        /// Package name → paths that break the rule (none: passes).
        let check: @Sendable (_ package: String, _ files: [TarEntry]) -> [String]
        /// The message for a failure.
        let message: @Sendable (_ package: String, _ paths: [String]) -> String
    }

    /// One broken rule in one package.
    public struct Finding: Sendable, Equatable {
        public var linter: String
        public var package: String
        public var message: String
        public var paths: [String]
        public var explain: String
    }

    /// Linters melange has that need more than the file list.
    public static let unimplemented: Set<String> = [
        "strip", "lddcheck", "pkgconf", "python/docs", "python/multiple", "python/test", "binaryarch", "nonlinux",
        "unsupportedarch",
        "duplicate",
    ]

    // melange's patterns (pkg/linter/linters/common.go), checked when compiled (Regex is not Sendable: made per use).
    static var manPattern: Regex<Substring> {
        #/^usr/(?:local/)?share/man(?:/man[0-9][^/]*)?(?:/[^/]+\.[0-9][^/]*(?:\.(?:gz|bz2|xz|lzma|Z))?)?$|^usr/man(?:/man[0-9][^/]*)?(?:/[^/]+\.[0-9][^/]*(?:\.(?:gz|bz2|xz|lzma|Z))?)?$/#
    }
    static var infoPattern: Regex<Substring> {
        #/^usr/(?:local/)?share/info/(?:dir|[^/]+\.info(?:\-[0-9]+)?(?:\.(?:gz|bz2|xz|lzma|Z))?)$/#
    }
    static var documentationPattern: Regex<Substring> {
        #/(?:READ(?:\.?ME)?|TODO|CREDITS|\.(?:md|docx?|rst|[0-9][a-z]))$/#
    }
    static var cudaDriverPattern: Regex<(Substring, Substring, Substring?)> {
        #/^usr/lib/lib(cuda|nvidia-ml)\.so(\.[0-9]+)*$/#
    }

    static func matches<Output>(_ pattern: Regex<Output>, _ path: String) -> Bool { path.contains(pattern) }

    /// Files (not directories) outside the SBOM folder, whose path `test` accepts.
    static func files(_ entries: [TarEntry], _ test: (String) -> Bool) -> [String] {
        entries.filter { $0.kind != .directory && !isIgnored($0.path) && test($0.path) }.map(\.path)
    }

    static func isIgnored(_ path: String) -> Bool { path.hasPrefix("var/lib/db/sbom/") }

    static func count(_ paths: [String], _ one: String, _ many: String) -> String {
        paths.count > 1 ? "\(paths.count) \(many)" : "1 \(one)"
    }

    /// Rules for files under `prefix` unless the package name ends with one of `exempt`.
    static func under(
        _ name: String, _ prefix: String, _ severity: Severity, exempt: [String] = [], explain: String, message: String
    ) -> Rule {
        Rule(
            name: name, explain: explain, severity: severity,
            check: { package, entries in
                exempt.contains { package.hasSuffix($0) } ? [] : files(entries) { $0.hasPrefix(prefix) }
            },
            message: { package, _ in "\(package) \(message)" })
    }

    /// Rules for files with an extension, unless the package name ends with one of `exempt`.
    static func withExtension(
        _ name: String, _ ext: String, _ severity: Severity, exempt: [String], explain: String,
        message: @escaping @Sendable (String, [String]) -> String
    ) -> Rule {
        Rule(
            name: name, explain: explain, severity: severity,
            check: { package, entries in
                exempt.contains { package.hasSuffix($0) }
                    ? [] : files(entries) { ($0 as NSString).pathExtension == ext }
            },
            message: message)
    }

    public static let rules: [Rule] = [
        under(
            "dev", "dev/", .require,
            explain:
                "If this package is creating /dev nodes, it should use udev instead; otherwise, remove any files in /dev",
            message: "writes to /dev"),
        Rule(
            name: "documentation", explain: "Place documentation into a separate package or remove it",
            severity: .ignore,
            check: { package, entries in
                package.hasSuffix("-doc") ? [] : files(entries) { matches(documentationPattern, $0) }
            },
            message: { package, _ in "\(package) contains documentation but is not a documentation package" }),
        under(
            "opt", "opt/", .warn, exempt: ["-compat"], explain: "This package should be a -compat package",
            message: "writes to /opt"),
        withExtension(
            "object", "o", .warn, exempt: [], explain: "This package contains intermediate object files (.o files)"
        ) { package, paths in
            "\(package) contains \(count(paths, "intermediate object file", "intermediate object files")). This is usually wrong. In most cases they should be removed"
        },
        Rule(
            name: "maninfo", explain: "Place documentation into a separate package or remove it", severity: .warn,
            check: { package, entries in
                package.hasSuffix("-doc") ? [] : files(entries) { matches(manPattern, $0) || matches(infoPattern, $0) }
            },
            message: { package, paths in
                "\(package) contains \(count(paths, "man/info file", "man/info files")) but is not a documentation package"
            }),
        Rule(
            name: "sbom", explain: "Remove any files in /var/lib/db/sbom from the package", severity: .warn,
            check: { _, entries in entries.filter { $0.kind != .directory && isIgnored($0.path) }.map(\.path) },
            message: { package, _ in "\(package) writes to /var/lib/db/sbom" }),
        Rule(
            name: "setuidgid", explain: "Unset the setuid/setgid bit on the relevant files, or remove this linter",
            severity: .require,
            check: { _, entries in
                entries.filter { !isIgnored($0.path) && $0.kind != .symbolicLink && $0.mode & 0o6000 != 0 }.map(\.path)
            },
            message: { package, paths in "\(package) has setuid/setgid files: \(paths.joined(separator: ", "))" }),
        under(
            "srv", "srv/", .warn, exempt: ["-compat"], explain: "This package should be a -compat package",
            message: "writes to /srv"),
        Rule(
            name: "tempdir",
            explain:
                "Remove any offending files in temporary dirs in the pipeline, or add a /usr/lib/tmpfiles.d/ snippet in the case of dirs under /run/",
            severity: .require,
            check: { _, entries in
                files(entries) {
                    $0.hasPrefix("tmp/") || $0.hasPrefix("var/tmp/") || $0.hasPrefix("run/") || $0.hasPrefix("var/run/")
                }
            },
            message: { package, _ in "\(package) writes to a temp dir" }),
        under(
            "usrlocal", "usr/local/", .warn, exempt: ["-compat"], explain: "This package should be a -compat package",
            message: "contains /usr/local path in non-compat package"),
        under(
            "varempty", "var/empty/", .require, explain: "Remove any offending files in /var/empty in the pipeline",
            message: "writes to /var/empty"),
        Rule(
            name: "worldwrite",
            explain:
                "Change the permissions of any permissive files in the package, disable the linter, or make this a -compat package",
            severity: .require,
            check: { package, entries in
                package.hasSuffix("-compat")
                    ? []
                    : entries.filter { !isIgnored($0.path) && $0.kind == .regular && $0.mode & 0o002 != 0 }.map(\.path)
            },
            message: { package, paths in "\(package) has world-writable files: \(paths.joined(separator: ", "))" }),
        Rule(
            name: "infodir", explain: "Remove /usr/share/info/dir from the package (run split/infodir)",
            severity: .require,
            check: { _, entries in files(entries) { $0 == "usr/share/info/dir" || $0.hasPrefix("usr/share/info/dir/") }
            },
            message: { package, _ in "\(package) writes to /usr/share/info/dir/" }),
        Rule(
            name: "empty",
            explain:
                "Verify that this package is supposed to be empty; if it is, disable this linter; otherwise check the build",
            severity: .ignore,
            check: { _, entries in files(entries) { _ in true }.isEmpty ? ["."] : [] },
            message: { package, _ in "\(package) is empty" }),
        Rule(
            name: "usrmerge", explain: "Move binary to /usr/bin", severity: .require,
            check: { _, entries in
                let roots = ["sbin", "bin", "usr/sbin", "lib", "lib64"]
                return entries.filter { entry in
                    roots.contains { entry.path == $0 ? entry.kind != .symbolicLink : entry.path.hasPrefix($0 + "/") }
                }.map(\.path)
            },
            message: { package, paths in "\(package) has files in non-usrmerged paths: \(paths.joined(separator: ", "))"
            }),
        Rule(
            name: "cudaruntimelib",
            explain:
                "CUDA driver-specific libraries should be passed into the container by the host; use a stub library package instead",
            severity: .warn, check: { _, entries in files(entries) { matches(cudaDriverPattern, $0) } },
            message: { package, paths in "\(package) contains CUDA driver libraries: \(paths.joined(separator: ", "))" }
        ),
        withExtension("dll", "dll", .warn, exempt: ["-dev"], explain: "This package contains Windows libraries") {
            package, paths in
            "\(package) contains \(count(paths, "DLL file", "DLL files"))"
        },
        withExtension("dylib", "dylib", .warn, exempt: ["-dev"], explain: "This package contains macOS libraries") {
            package, paths in
            "\(package) contains \(count(paths, "dylib file", "dylib files"))"
        },
        withExtension(
            "staticarchive", "a", .warn, exempt: ["-dev", "-static"],
            explain: "This package contains static archives (.a files)"
        ) { package, paths in
            "\(package) contains \(count(paths, "static archive", "static archives")). Static archives bloat packages and should typically be in -dev packages or removed"
        },
        withExtension(
            "libtool/la-files", "la", .require, exempt: [],
            explain: "Remove libtool archive (.la) files from the package, or disable this linter if they are required"
        ) { package, paths in
            "\(package) contains \(count(paths, "libtool archive (.la) file", "libtool archive (.la) files")). Remove them in the build pipeline"
        },
    ]

    /// melange's default lists (its `DefaultRequiredLinters` / `DefaultWarnLinters`), including the linters
    /// Lamina does not implement.
    public static let defaultRequired = [
        "dev", "infodir", "libtool/la-files", "setuidgid", "tempdir", "usrmerge", "varempty", "worldwrite",
    ]
    public static let defaultWarn = [
        "binaryarch", "cudaruntimelib", "dll", "duplicate", "dylib", "lddcheck", "maninfo", "nonlinux", "object", "opt",
        "pkgconf",
        "python/docs", "python/multiple", "python/test", "sbom", "srv", "staticarchive", "strip", "unsupportedarch",
        "usrlocal",
    ]

    /// The findings of the linters named in `linters` for the package at `path`.
    /// - Throws: `LaminaError(.usage)` for a linter name melange does not have; whatever reading the package throws.
    public static func lint(path: String, linters: [String]) throws -> [Finding] {
        for name in linters where !unimplemented.contains(name) && !rules.contains(where: { $0.name == name }) {
            throw LaminaError(.usage, "unknown linter '\(name)'", subject: "--lint-require/--lint-warn")
        }
        let archive = try PackageReader().read(path: path, listFiles: true)
        let entries = archive.files.map(\.entry)
        let package = archive.info.name
        return rules.filter { linters.contains($0.name) }.compactMap { rule in
            let paths = rule.check(package, entries)
            return paths.isEmpty
                ? nil
                : Finding(
                    linter: rule.name, package: package, message: rule.message(package, paths), paths: paths,
                    explain: rule.explain)
        }
    }
}
