// Source: melange `pkg/build/package.go` (the `.PKGINFO` template and how a subpackage inherits from its
// origin), `pkg/config/config.go` (`LicenseExpression`, a subpackage's commit defaulting to the origin's).

import APK
import Config
import ELF
import LaminaCore

/// Everything a built package's `.PKGINFO` and control members say, before the files are scanned.
///
/// Values are taken as given: `${{…}}` substitution happened earlier (in the pipeline compiler).
/// Generated dependencies (`so:`, `cmd:`, `pc:`) are added by ``PackageEmitter`` when it scans the files.
public struct PackageMetadata: Sendable, Hashable {
    /// `pkgname`.
    public var name: String
    /// The upstream version, without the release (`1.0.0`).
    public var version: String
    /// The apk release number: the package version is `<version>-r<epoch>`.
    public var epoch: UInt64
    /// `pkgdesc`.
    public var description: String?
    /// `url`.
    public var url: String?
    /// `commit`: the commit of the build configuration.
    public var commit: String?
    /// `license`: an SPDX license expression (`copyright[].license` joined with `AND`).
    public var license: String?
    /// The copyright attestations of `copyright[]`, for the SBOM's `copyrightText`.
    public var copyrightText: String?
    /// `arch`, apk spelling (`x86_64`, `aarch64`, `noarch`).
    public var architecture: String
    /// `origin`: the name of the main package of the build.
    public var origin: String
    /// `maintainer`, if any (melange configs have none; callers may set it).
    public var maintainer: String?
    /// Declared `dependencies.runtime` (`depend =`), before generated ones are merged in.
    public var runtimeDependencies: [String]
    /// Declared `dependencies.provides` (`provides =`).
    public var provides: [String]
    /// Declared `dependencies.replaces` (`replaces =`).
    public var replaces: [String]
    /// `provider_priority`.
    public var providerPriority: Int?
    /// `replaces_priority`.
    public var replacesPriority: Int?
    /// `options`: which dependencies the file scan may generate.
    public var options: DependencyScanner.Options
    /// Scriptlets by action (`pre-install`, `post-install`, `pre-deinstall`, `post-deinstall`,
    /// `pre-upgrade`, `post-upgrade`, `trigger`), stored in the control member as `.<action>`.
    public var scripts: [String: String]
    /// `triggers`: the path globs the `trigger` scriptlet watches.
    public var triggers: [String]
    /// Extended attributes given to files of the package (path without leading `/` → name → value): the
    /// `security.capability` of `setcap`.
    public var xattrs: [String: [String: [UInt8]]] = [:]
    /// The CPE 2.3 name the package's SBOM carries as a `SECURITY`/`cpe23Type` reference (melange's
    /// `Package.CPEString`, the origin package's for subpackages too); nil without `package.cpe`.
    public var cpe: String?

    public init(
        name: String, version: String, epoch: UInt64 = 0, description: String? = nil, url: String? = nil,
        commit: String? = nil, license: String? = nil, copyrightText: String? = nil, architecture: String,
        origin: String? = nil, maintainer: String? = nil, runtimeDependencies: [String] = [], provides: [String] = [],
        replaces: [String] = [], providerPriority: Int? = nil, replacesPriority: Int? = nil,
        options: DependencyScanner.Options = DependencyScanner.Options(), scripts: [String: String] = [:],
        triggers: [String] = []
    ) {
        self.name = name
        self.version = version
        self.epoch = epoch
        self.description = description
        self.url = url
        self.commit = commit
        self.license = license
        self.copyrightText = copyrightText
        self.architecture = architecture
        self.origin = origin ?? name
        self.maintainer = maintainer
        self.runtimeDependencies = runtimeDependencies
        self.provides = provides
        self.replaces = replaces
        self.providerPriority = providerPriority
        self.replacesPriority = replacesPriority
        self.options = options
        self.scripts = scripts
        self.triggers = triggers
    }

    /// `<version>-r<epoch>`, the apk package version.
    public var fullVersion: String { "\(version)-r\(epoch)" }

    /// `NAME-VERSION-rEPOCH.apk`.
    public var fileName: String { "\(name)-\(fullVersion).apk" }

    /// Where the package's own SBOM goes inside it (no leading `/`), the first path apko looks at:
    /// `var/lib/db/sbom/NAME-VERSION-rEPOCH.spdx.json`.
    public var sbomPath: String { "var/lib/db/sbom/\(name)-\(fullVersion).spdx.json" }
}

// MARK: - From a melange configuration

extension PackageMetadata {
    /// The metadata of the main package of a build.
    ///
    /// - Parameters:
    ///   - package: the configuration's `package:` (already substituted).
    ///   - architecture: the architecture being built (`noarch` is allowed).
    /// - Throws: `LaminaError(.invalidInput)` naming the key for a provider/replaces priority that is not an
    ///   integer, a dependency that does not parse, an invalid version, or an unknown scriptlet.
    public init(package: Package, architecture: Architecture) throws {
        try self.init(
            name: package.name, package: package, dependencies: package.dependencies, options: package.options,
            scriptlets: package.scriptlets, description: package.description, url: package.url,
            commit: package.commit, architecture: architecture, keyPrefix: "package")
        xattrs = try FileCapabilities.xattrs(package.setcap, keyPrefix: "package")
        cpe = try Self.cpeName(package)
    }

    /// The metadata of a subpackage: version, epoch and license come from the origin package, `origin` is
    /// the origin's name, and an empty `commit` is the origin's (as melange does).
    ///
    /// - Throws: as ``init(package:architecture:)``, naming `subpackages[NAME]` keys.
    public init(subpackage: Subpackage, of package: Package, architecture: Architecture) throws {
        try self.init(
            name: subpackage.name, package: package, dependencies: subpackage.dependencies,
            options: subpackage.options, scriptlets: subpackage.scriptlets, description: subpackage.description,
            url: subpackage.url, commit: subpackage.commit.isEmpty ? package.commit : subpackage.commit,
            architecture: architecture, keyPrefix: "subpackages[\(subpackage.name)]")
        // melange parses a subpackage's `setcap` but applies only the main package's; Lamina applies both.
        xattrs = try FileCapabilities.xattrs(subpackage.setcap, keyPrefix: "subpackages[\(subpackage.name)]")
        cpe = try Self.cpeName(package)
    }

    private init(
        name: String, package: Package, dependencies: Dependencies, options: PackageOptions?,
        scriptlets: Scriptlets?, description: String, url: String, commit: String, architecture: Architecture,
        keyPrefix: String
    ) throws {
        func nonEmpty(_ text: String) -> String? { text.isEmpty ? nil : text }
        func priority(_ text: String, _ key: String) throws -> Int? {
            let trimmed = text.trimmingSpaces
            if trimmed.isEmpty { return nil }
            guard let value = Int(trimmed) else {
                throw LaminaError(
                    .invalidInput, "\(keyPrefix).dependencies.\(key) must be an integer, not '\(text)'")
            }
            return value
        }
        guard !name.isEmpty else { throw LaminaError(.invalidInput, "\(keyPrefix).name is empty") }
        self.init(
            name: name, version: package.version, epoch: package.epoch, description: nonEmpty(description),
            url: nonEmpty(url), commit: nonEmpty(commit), license: Self.licenseExpression(package.copyright),
            copyrightText: nonEmpty(
                package.copyright.map(\.attestation).filter { !$0.isEmpty }.joined(separator: "\n")),
            architecture: architecture.apk, origin: package.name, runtimeDependencies: dependencies.runtime,
            provides: dependencies.provides, replaces: dependencies.replaces,
            providerPriority: try priority(dependencies.providerPriority, "provider-priority"),
            replacesPriority: try priority(dependencies.replacesPriority, "replaces-priority"),
            options: DependencyScanner.Options(
                noProvides: options?.noProvides ?? false, noDepends: options?.noDepends ?? false,
                noCommands: options?.noCommands ?? false))
        if let scriptlets {
            let actions: [(String, String)] = [
                ("pre-install", scriptlets.preInstall), ("post-install", scriptlets.postInstall),
                ("pre-deinstall", scriptlets.preDeinstall), ("post-deinstall", scriptlets.postDeinstall),
                ("pre-upgrade", scriptlets.preUpgrade), ("post-upgrade", scriptlets.postUpgrade),
                ("trigger", scriptlets.trigger.script),
            ]
            for (action, script) in actions where !script.isEmpty { scripts[action] = script }
            triggers = scriptlets.trigger.paths
        }
        try validate(keyPrefix: keyPrefix)
    }

    /// `cpe:2.3:<part>:<vendor>:<product>:<version>:*:<edition>:<language>:<sw_edition>:<target_sw>:<target_hw>:<other>`
    /// with `*` for what is not given and part `a` by default; nil when `package.cpe` is empty.
    /// - Throws: `.invalidInput` when vendor or product is missing or the part is not `a`, `h` or `o`.
    static func cpeName(_ package: Package) throws -> String? {
        let cpe = package.cpe
        guard !cpe.isEmpty else { return nil }
        func field(_ value: String) -> String { value.isEmpty ? "*" : value }
        let part = cpe.part.isEmpty ? "a" : cpe.part
        guard ["a", "h", "o"].contains(part) else {
            throw LaminaError(.invalidInput, "package.cpe.part must be one of a, h, o (not '\(part)')")
        }
        guard !cpe.vendor.isEmpty, !cpe.product.isEmpty else {
            throw LaminaError(.invalidInput, "package.cpe needs both vendor and product")
        }
        return ["cpe:2.3", part, cpe.vendor, cpe.product, package.version, "*", field(cpe.edition), field(cpe.language),
            field(cpe.swEdition), field(cpe.targetSW), field(cpe.targetHW), field(cpe.other)].joined(separator: ":")
    }

    /// melange's license expression: every `copyright[].license` joined with ` AND `; a compound entry
    /// holding `OR` is parenthesised so the conjunction keeps its meaning. Nil when none is given.
    public static func licenseExpression(_ copyright: [Copyright]) -> String? {
        let licenses = copyright.map { $0.license.trimmingSpaces }.filter { !$0.isEmpty }
        if licenses.isEmpty { return nil }
        if licenses.count == 1 { return licenses[0] }
        return licenses.map { license in
            let words = license.split(separator: " ").map { $0.uppercased() }
            let compound = words.contains("OR") && !(license.hasPrefix("(") && license.hasSuffix(")"))
            return compound ? "(\(license))" : license
        }.joined(separator: " AND ")
    }

    /// Checks what apk would reject: the version, every declared dependency atom, the scriptlet names.
    /// - Parameter keyPrefix: names the configuration section in errors (`package`, `subpackages[foo-dev]`).
    /// - Throws: `LaminaError(.invalidInput)` naming the key and the bad value.
    public func validate(keyPrefix: String = "package") throws {
        guard !name.isEmpty else { throw LaminaError(.invalidInput, "\(keyPrefix).name is empty") }
        guard APKVersion.isValid(fullVersion) else {
            throw LaminaError(.invalidInput, "\(keyPrefix): '\(fullVersion)' is not a valid apk version")
        }
        for (key, list) in [("runtime", runtimeDependencies), ("provides", provides), ("replaces", replaces)] {
            for (index, atom) in list.enumerated() {
                do { _ = try Dependency(parsing: atom) } catch let error as LaminaError {
                    throw LaminaError(
                        .invalidInput, "\(keyPrefix).dependencies.\(key)[\(index)] '\(atom)': \(error.message)")
                }
            }
        }
        for action in scripts.keys where !PackageWriter.scriptActions.contains(action) {
            throw LaminaError(.invalidInput, "\(keyPrefix).scriptlets: unknown scriptlet '\(action)'")
        }
    }
}
