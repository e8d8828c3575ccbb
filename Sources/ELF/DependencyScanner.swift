import Foundation
import LaminaCore

/// Dependencies derived from a package's files, as melange's SCA (`pkg/sca/sca.go`) derives them.
///
/// Lists hold apk dependency atoms (`so:libc.so.6`, `cmd:ls=9.4-r0`), bytewise-sorted and deduplicated.
public struct AutoDependencies: Sendable, Hashable {
    /// Run-time dependencies (`depend =` in `.PKGINFO`).
    public var runtime: [String]
    /// What the package provides (`provides =`).
    public var provides: [String]
    /// Shared objects and pkg-config files found outside the standard directories: recorded as
    /// `# vendored =` comments by melange, and used to drop run-time dependencies the package satisfies itself.
    public var vendored: [String]

    public init(runtime: [String] = [], provides: [String] = [], vendored: [String] = []) {
        self.runtime = runtime
        self.provides = provides
        self.vendored = vendored
    }

    /// The final lists for `.PKGINFO`: declared and generated entries merged, then every run-time
    /// dependency the package provides itself removed (melange `GenerateDependencies`).
    ///
    /// Generated dependencies satisfied by a vendored library are dropped; declared ones are kept,
    /// so a config can still insist on an external provider.
    public func merged(declaredRuntime: [String] = [], declaredProvides: [String] = []) -> AutoDependencies {
        let unvendored = Self.removingSelfProvided(runtime, providedBy: vendored)
        let provides = sortedUnique(declaredProvides + self.provides)
        let runtime = Self.removingSelfProvided(sortedUnique(declaredRuntime + unvendored), providedBy: provides)
        return AutoDependencies(runtime: runtime, provides: provides, vendored: vendored)
    }

    /// Drops each dependency whose name (the part before any `=`, or before `>=` for `so-ver:`) is
    /// among the names in `provided`.
    public static func removingSelfProvided(_ dependencies: [String], providedBy provided: [String]) -> [String] {
        let names = Set(provided.map { String($0.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)[0]) })
        return dependencies.filter { dependency in
            var name = dependency
            if name.hasPrefix("so-ver:"), let range = name.range(of: ">=") { name = String(name[..<range.lowerBound]) }
            return !names.contains(name)
        }
    }
}

/// Scans a package's destdir for melange-style automatic provides and dependencies: shared objects
/// (`so:`), commands (`cmd:`), pkg-config files (`pc:`), script interpreters, and the Perl, Python,
/// Ruby and man/info runtimes that modules and documentation need.
///
/// Not covered: Go FIPS binaries (melange reads Go build info) and kernel modules (`linux:` deps).
public struct DependencyScanner: Sendable {
    /// The `package.options` switches of a melange config.
    public struct Options: Sendable, Hashable {
        /// `no-provides`: generate no provides.
        public var noProvides: Bool
        /// `no-depends`: generate no run-time dependencies.
        public var noDepends: Bool
        /// `no-commands`: generate no `cmd:` provides or dependencies.
        public var noCommands: Bool

        public init(noProvides: Bool = false, noDepends: Bool = false, noCommands: Bool = false) {
            self.noProvides = noProvides
            self.noDepends = noDepends
            self.noCommands = noCommands
        }
    }

    /// Directories whose shared objects are provided as `so:` (others are vendored).
    public var libraryDirectories = ["lib/", "usr/lib/", "lib64/", "usr/lib64/"]
    /// Directories whose executables are provided as `cmd:`.
    public var binaryDirectories = ["bin/", "sbin/", "usr/bin/", "usr/sbin/"]
    /// Directories whose `.pc` files are provided as `pc:` (others are vendored).
    public var pkgConfigDirectories = [
        "usr/local/lib/pkgconfig/", "usr/local/share/pkgconfig/", "usr/lib/pkgconfig/", "usr/lib64/pkgconfig/",
        "usr/share/pkgconfig/",
    ]
    /// Path prefixes whose scripts contribute `cmd:` dependencies for their `#!` interpreter.
    public var scriptPrefixes = ["usr/bin/", "usr/local/bin/", "usr/local/sbin/"]
    public var options: Options

    /// Libraries the host's GPU driver injects; never provided or depended upon.
    public static let hostProvidedLibraries: Set<String> = [
        "libEGL_nvidia.so.1", "libGLESv1_CM_nvidia.so.1", "libGLESv2_nvidia.so.1", "libGLX_nvidia.so.1",
        "libcuda.so.1", "libcudadebugger.so.1", "libnvcuvid.so.1", "libnvidia-allocator.so.1", "libnvidia-cfg.so.1",
        "libnvidia-eglcore.so.1", "libnvidia-encode.so.1", "libnvidia-fbc.so.1", "libnvidia-glcore.so.1",
        "libnvidia-glsi.so.1", "libnvidia-glvkspirv.so.1", "libnvidia-gpucomp.so.1", "libnvidia-ml.so.1",
        "libnvidia-ngx.so.1", "libnvidia-nvvm.so.1", "libnvidia-opencl.so.1", "libnvidia-opticalflow.so.1",
        "libnvidia-pkcs11-openssl3.so.1", "libnvidia-pkcs11.so.1", "libnvidia-ptxjitcompiler.so.1",
        "libnvidia-rtcore.so.1", "libnvidia-tls.so.1", "libnvoptix.so.1",
    ]

    public init(options: Options = Options()) { self.options = options }

    /// Scans `package`.
    ///
    /// - Parameters:
    ///   - package: the package to scan.
    ///   - version: its full version, `<version>-r<epoch>`, used for `cmd:`, `pc:` and `so-ver:` provides.
    ///   - relatives: the origin package and its subpackages in config order (default: just `package`);
    ///     symlinked libraries are looked up in their library directories, and their
    ///     `etc/ld.so.conf.d/*.conf` files add library directories.
    ///   - declaredRuntime: the config's `dependencies.runtime`; a declared `perl`, `python…` or
    ///     `ruby…` dependency suppresses the generated one.
    ///   - progress: receives `.warning` for files that look like ELF or pkg-config but do not parse.
    /// - Throws: `LaminaError(.io)` when a directory cannot be listed.
    public func scan(
        _ package: PackageTree, version: String, relatives: [PackageTree]? = nil, declaredRuntime: [String] = [],
        progress: ProgressHandler? = nil
    ) throws -> AutoDependencies {
        var context = ScanContext(
            scanner: self, package: package, version: version, relatives: relatives ?? [package],
            declaredRuntime: declaredRuntime, progress: progress)
        try context.run()
        var result = AutoDependencies(
            runtime: sortedUnique(context.runtime), provides: sortedUnique(context.provides),
            vendored: sortedUnique(context.vendored))
        if options.noCommands {
            result.provides.removeAll { $0.hasPrefix("cmd:") }
            result.runtime.removeAll { $0.hasPrefix("cmd:") }
        }
        if options.noDepends { result.runtime = [] }
        if options.noProvides { result.provides = [] }
        return result
    }

    /// melange's `sonameLibver`: the digits-and-dots after `.so.` in a soname, else `0`.
    public static func libraryVersion(ofSoname soname: String) -> String {
        guard let range = soname.range(of: ".so.") else { return "0" }
        var rest = soname[range.upperBound...]
        if let next = rest.range(of: ".so.") { rest = rest[..<next.lowerBound] }
        guard rest.allSatisfy({ $0 == "." || $0.isNumber }) else { return "0" }
        return String(rest)
    }

    /// The dependency a `PT_INTERP` path implies: `so:<basename>`, with musl's loader named after the
    /// library it is (`/lib/ld-musl-x86_64.so.1` → `so:libc.musl-x86_64.so.1`).
    public static func interpreterDependency(_ interpreter: String) -> String {
        let name = baseName(interpreter)
        if name.hasPrefix("ld-musl") { return "so:libc.musl" + name.dropFirst("ld-musl".count) }
        return "so:" + name
    }
}

/// The mutable state of one scan.
private struct ScanContext {
    let scanner: DependencyScanner
    let package: PackageTree
    let version: String
    let relatives: [PackageTree]
    let declaredRuntime: [String]
    let progress: ProgressHandler?
    let walker: PackageTreeWalker

    var runtime: [String] = []
    var provides: [String] = []
    var vendored: [String] = []
    var extraLibraryDirectories: [String] = []

    init(
        scanner: DependencyScanner, package: PackageTree, version: String, relatives: [PackageTree],
        declaredRuntime: [String], progress: ProgressHandler?
    ) {
        self.scanner = scanner
        self.package = package
        self.version = version
        self.relatives = relatives
        self.declaredRuntime = declaredRuntime
        self.progress = progress
        self.walker = PackageTreeWalker(root: package.root)
    }

    mutating func run() throws {
        extraLibraryDirectories = try ldSoConfDirectories()
        let entries = try walker.entries()
        scanSharedObjects(entries)
        scanCommands(entries)
        scanDocumentation(entries)
        scanPkgConfig(entries)
        scanPerl(entries)
        scanPython(entries)
        scanRuby(entries)
        scanShebangs(entries)
    }

    var libraryDirectories: [String] { scanner.libraryDirectories + extraLibraryDirectories }

    func warn(_ message: String) { progress?(.warning(message)) }

    // MARK: ld.so.conf.d

    /// Absolute directories listed in `etc/ld.so.conf.d/*.conf` of every relative, made relative.
    func ldSoConfDirectories() throws -> [String] {
        var result: [String] = []
        for relative in relatives {
            guard let base = PackageTreeWalker(root: relative.root).lstat("etc/ld.so.conf.d"), base.kind == .directory
            else { continue }
            let walker = PackageTreeWalker(root: relative.root.appendingPathComponent("etc/ld.so.conf.d"))
            for entry in try walker.entries() where entry.kind == .regular && entry.path.hasSuffix(".conf") {
                guard let bytes = walker.readPrefix(entry.path, limit: 1 << 20) else { continue }
                for line in String(decoding: bytes, as: UTF8.self).split(separator: "\n") where line.hasPrefix("/") {
                    let directory = line.dropFirst().trimmingWhitespace
                    if !directory.isEmpty { result.append(directory) }
                }
            }
        }
        return result
    }

    // MARK: Shared objects

    mutating func scanSharedObjects(_ entries: [TreeEntry]) {
        for entry in entries {
            var target = entry
            if entry.kind == .symlink {
                addSymlinkedLibrary(entry.path)
                // Like os.Root, follow the link only while it stays inside the package.
                guard let resolved = walker.resolve(entry.path), resolved.kind == .regular else { continue }
                target = resolved
            }
            guard target.kind == .regular else { continue }
            let elf: ELFFile
            do {
                guard let parsed = try ELFFile.parseIfELF(path: walker.absolute(target.path)) else { continue }
                elf = parsed
            } catch {
                warn("\(entry.path): skipped for shared-object dependencies: \(error)")
                continue
            }
            addDependencies(of: elf, at: entry.path)
        }
    }

    mutating func addDependencies(of elf: ELFFile, at path: String) {
        if let interpreter = elf.interpreter, !interpreter.isEmpty {
            runtime.append(DependencyScanner.interpreterDependency(interpreter))
        }
        for library in elf.needed where !DependencyScanner.hostProvidedLibraries.contains(library) {
            if library.contains(".so.") { runtime.append("so:" + library) }
        }
        // Executables normally carry no SONAME; files named like libraries are libraries even when
        // they also have an interpreter (libc, libcap).
        let name = baseName(path)
        guard elf.interpreter == nil || name.contains(".so.") || name.hasSuffix(".so") else { return }
        guard let dynamic = elf.dynamic else { return }
        guard let soname = dynamic.soname, !DependencyScanner.hostProvidedLibraries.contains(soname) else { return }
        let libraryVersion = DependencyScanner.libraryVersion(ofSoname: soname)
        let atoms = ["so:\(soname)=\(libraryVersion)", "so-ver:\(soname)=\(version)"]
        if isInDirectory(path, libraryDirectories) {
            provides += atoms
        } else {
            vendored += atoms
        }
    }

    /// A symlink named like a library depends on the SONAME of the library it points to, searched by
    /// file name in the library directories of the package and its relatives (melange
    /// `processSymlinkSo`): `usr/lib/libfoo.so` in `foo-dev` → `so:libfoo.so.1` from `foo`.
    mutating func addSymlinkedLibrary(_ path: String) {
        guard path.contains(".so"), let target = walker.readLink(path) else { return }
        let name = baseName(target)
        for relative in relatives {
            let relativeWalker = PackageTreeWalker(root: relative.root)
            for directory in libraryDirectories {
                let candidate = joinPath(directory, name)
                guard let resolved = relativeWalker.resolve(candidate) else { continue }
                guard resolved.kind == .regular,
                    let elf = try? ELFFile.parseIfELF(path: relativeWalker.absolute(resolved.path)),
                    let soname = elf.soname
                else { return }
                if !DependencyScanner.hostProvidedLibraries.contains(soname) { runtime.append("so:" + soname) }
                return
            }
        }
    }

    // MARK: Commands

    mutating func scanCommands(_ entries: [TreeEntry]) {
        for entry in entries where entry.kind == .regular && entry.permissions & 0o555 == 0o555 {
            if isInDirectory(entry.path, scanner.binaryDirectories) {
                provides.append("cmd:\(baseName(entry.path))=\(version)")
            }
        }
    }

    // MARK: Documentation

    mutating func scanDocumentation(_ entries: [TreeEntry]) {
        guard package.name.hasSuffix("-doc") else { return }
        for entry in entries {
            if isInDirectory(entry.path, ["usr/share/man"]) { runtime.append("man-db") }
            if isInDirectory(entry.path, ["usr/share/info"]) { runtime.append("texinfo") }
        }
    }

    // MARK: pkg-config

    mutating func scanPkgConfig(_ entries: [TreeEntry]) {
        for entry in entries where entry.path.hasSuffix(".pc") && entry.kind == .regular {
            guard let bytes = walker.readPrefix(entry.path, limit: 1 << 20) else { continue }
            let file = PkgConfigFile(parsing: String(decoding: bytes, as: UTF8.self))
            let name = String(baseName(entry.path).dropLast(3))
            if isInDirectory(entry.path, scanner.pkgConfigDirectories) {
                provides.append("pc:\(name)=\(version)")
                for requirement in file.requires + file.requiresPrivate + file.requiresInternal {
                    runtime.append("pc:" + requirement.name)
                }
            } else {
                vendored.append("pc:\(name)=\(version)")
            }
        }
    }

    // MARK: Language runtimes

    mutating func scanPerl(_ entries: [TreeEntry]) {
        // usr/lib/perl5/vendor_perl, lib/perl5/site_perl, …
        let modules = entries.filter { entry in
            let parts = entry.path.split(separator: "/").map(String.init)
            if parts.count == 4, parts[0] == "usr", parts[1] == "lib" {
                return isPerlDirectory(parts[2]) && parts[3].hasSuffix("_perl")
            }
            return false
        } + entries.filter { entry in
            let parts = entry.path.split(separator: "/").map(String.init)
            return parts.count == 3 && parts[0] == "lib" && isPerlDirectory(parts[1]) && parts[2].hasSuffix("_perl")
        }
        guard let first = modules.first else { return }
        if declaredRuntime.contains("perl") {
            warn("\(package.name): 'perl' is declared; the generated perl dependency is left out")
            return
        }
        let perlDirectory = first.path.split(separator: "/").map(String.init).first(where: isPerlDirectory) ?? "perl"
        runtime.append("perl~" + perlDirectory.dropFirst("perl".count))
    }

    func isPerlDirectory(_ name: String) -> Bool {
        name.hasPrefix("perl") && name.dropFirst(4).first?.isASCIIDigit == true
    }

    mutating func scanPython(_ entries: [TreeEntry]) {
        var moduleVersion = ""
        for entry in entries where baseName(entry.path) == "site-packages" && entry.kind == .directory {
            let parent = baseName(parentDirectory(entry.path))
            guard parent.hasPrefix("python") else { continue }
            moduleVersion = String(parent.dropFirst("python".count))
        }
        guard !moduleVersion.isEmpty else { return }
        if let declared = declaredRuntime.first(where: { $0.hasPrefix("python") }) {
            warn("\(package.name): '\(declared)' is declared; the generated python dependency is left out")
            return
        }
        runtime.append("python-\(moduleVersion)-base")
    }

    mutating func scanRuby(_ entries: [TreeEntry]) {
        func gemVersion(_ prefix: String) -> String? {
            let depth = prefix.split(separator: "/").count
            for entry in entries where entry.path.hasPrefix(prefix) {
                let parts = entry.path.split(separator: "/").map(String.init)
                guard parts.count == depth + 2, parts[depth + 1] == "gems", isRubyABIVersion(parts[depth]) else {
                    continue
                }
                return parts[depth]
            }
            return nil
        }
        guard let directory = gemVersion("usr/lib/ruby/gems/") ?? gemVersion("lib/ruby/gems/") else { return }
        // 3.2.0 → 3.2
        let rubyVersion = directory.lastIndex(of: ".").map { String(directory[..<$0]) } ?? directory
        guard !rubyVersion.isEmpty else { return }
        if let declared = declaredRuntime.first(where: { $0.hasPrefix("ruby-") || $0 == "ruby" }) {
            warn("\(package.name): '\(declared)' is declared; the generated ruby dependency is left out")
            return
        }
        runtime.append("ruby-" + rubyVersion)
    }

    /// `X.Y.Z` where each part starts with a digit.
    func isRubyABIVersion(_ name: String) -> Bool {
        let parts = name.split(separator: ".", omittingEmptySubsequences: false)
        return parts.count >= 3 && parts.allSatisfy { $0.first?.isASCIIDigit == true }
    }

    // MARK: Scripts

    mutating func scanShebangs(_ entries: [TreeEntry]) {
        var commands = Set<String>()
        for entry in entries where entry.kind == .regular {
            guard scanner.scriptPrefixes.contains(where: { entry.path.hasPrefix($0) }) else { continue }
            guard let prefix = walker.readPrefix(entry.path, limit: Shebang.prefixLength) else { continue }
            do {
                if let interpreter = try Shebang.interpreter(in: prefix) { commands.insert(baseName(interpreter)) }
            } catch {
                warn("\(entry.path): \(error)")
            }
        }
        runtime += commands.map { "cmd:" + $0 }
    }
}

func joinPath(_ directory: String, _ name: String) -> String {
    directory.hasSuffix("/") ? directory + name : directory + "/" + name
}

extension Character {
    var isASCIIDigit: Bool { isASCII && isNumber }
}
