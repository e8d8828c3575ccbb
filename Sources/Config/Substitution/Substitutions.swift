import Foundation
import LaminaCore

/// melange's `${{name}}` variables: a table from variable name (`package.version`, `vars.foo`,
/// `inputs.uri`, `targets.destdir`, …) to value, and the operations that apply it.
///
/// Values may themselves refer to other variables; they are resolved when used (a cycle is an error).
/// Names inside `${{ }}` may be surrounded by spaces and use letters, digits, `.`, `-` and `_`.
public struct Substitutions: Sendable, Equatable {
    /// Variable name (without `${{ }}`) → value as written.
    public var values: [String: String]

    public init(_ values: [String: String] = [:]) { self.values = values }

    public subscript(name: String) -> String? {
        get { values[name] }
        set { values[name] = newValue }
    }

    /// Where a string being substituted came from, for error messages.
    public struct Site: Sendable {
        public var path: ConfigPath
        public var sourceMap: SourceMap?

        public init(path: ConfigPath, sourceMap: SourceMap? = nil) {
            self.path = path
            self.sourceMap = sourceMap
        }

        func error(_ message: String) -> LaminaError {
            if let sourceMap { return sourceMap.error(at: path, message) }
            return LaminaError(.invalidInput, path.isEmpty ? message : "\(path): \(message)")
        }
    }

    // MARK: Applying

    /// Replaces every `${{name}}` in `text` with its value.
    /// - Throws: `LaminaError(.invalidInput)` naming the unknown variable (and `site`, when given).
    public func apply(_ text: String, at site: Site? = nil) throws -> String {
        try substitute(text, at: site, quote: false, stack: [])
    }

    /// Like `apply`, but each value is written as a Go double-quoted string literal: how melange prepares
    /// an `if:` condition before evaluating it (`${{build.arch}} == 'x86_64'` → `"x86_64" == 'x86_64'`).
    public func applyQuoted(_ text: String, at site: Site? = nil) throws -> String {
        try substitute(text, at: site, quote: true, stack: [])
    }

    /// Substitutes and evaluates an `if:` condition; an empty condition is true.
    /// - Throws: `LaminaError(.invalidInput)` for unknown variables and syntax errors.
    public func evaluate(condition: String, at site: Site? = nil) throws -> Bool {
        if condition.trimmingSpaces.isEmpty { return true }
        let prepared = try applyQuoted(condition, at: site)
        do {
            return try Condition.evaluate(prepared)
        } catch let error as LaminaError {
            throw site?.error(error.message) ?? error
        }
    }

    /// melange's load-time replacement (a Go `strings.Replacer`): exact `${{name}}` tokens whose name is known
    /// are replaced by the value as written (or Go-quoted, for `if:` conditions, so that the condition stays
    /// valid); everything else is left for later.
    public func replacingKnown(_ text: String, quoted: Bool = false) -> String {
        guard text.contains("${{") else { return text }
        var out = ""
        var rest = Substring(text)
        while let start = rest.range(of: "${{") {
            out += rest[..<start.lowerBound]
            let afterOpen = rest[start.upperBound...]
            if let close = afterOpen.range(of: "}}"), let value = values[String(afterOpen[..<close.lowerBound])] {
                out += quoted ? Self.goQuote(value) : value
                rest = afterOpen[close.upperBound...]
            } else {
                out += "${{"
                rest = afterOpen
            }
        }
        out += rest
        return out
    }

    /// The names referenced by `${{…}}` in `text`.
    public static func references(in text: String) -> [String] {
        var names: [String] = []
        var rest = Substring(text)
        while let start = rest.range(of: "${{") {
            let afterOpen = rest[start.upperBound...]
            guard let close = afterOpen.range(of: "}}") else { break }
            names.append(String(afterOpen[..<close.lowerBound]).trimmingSpaces)
            rest = afterOpen[close.upperBound...]
        }
        return names
    }

    private static func isNameCharacter(_ c: Character) -> Bool {
        c.isASCII && (c.isLetter || c.isNumber || c == "." || c == "-" || c == "_")
    }

    private func resolve(_ name: String, at site: Site?, stack: [String]) throws -> String {
        guard let raw = values[name] else {
            throw site?.error("unknown variable '${{\(name)}}'") ?? LaminaError(
                .invalidInput, "unknown variable '${{\(name)}}'")
        }
        if stack.contains(name) {
            let cycle = (stack + [name]).map { "${{\($0)}}" }.joined(separator: " -> ")
            throw site?.error("variables refer to each other: \(cycle)") ?? LaminaError(
                .invalidInput, "variables refer to each other: \(cycle)")
        }
        guard raw.contains("${{") else { return raw }
        return try substitute(raw, at: site, quote: false, stack: stack + [name])
    }

    private func substitute(_ text: String, at site: Site?, quote: Bool, stack: [String]) throws -> String {
        guard text.contains("${{") else { return text }
        var out = ""
        var rest = Substring(text)
        while let start = rest.range(of: "${{") {
            out += rest[..<start.lowerBound]
            var cursor = rest[start.upperBound...]
            cursor = cursor.drop { $0 == " " || $0 == "\t" || $0 == "\n" || $0 == "\r" }
            let name = String(cursor.prefix { Self.isNameCharacter($0) })
            cursor = cursor.dropFirst(name.count)
            cursor = cursor.drop { $0 == " " || $0 == "\t" || $0 == "\n" || $0 == "\r" }
            guard !name.isEmpty else {
                throw site?.error("empty variable name in '${{'") ?? LaminaError(
                    .invalidInput, "empty variable name in '${{'")
            }
            guard cursor.hasPrefix("}}") else {
                throw site?.error("unterminated variable reference '${{\(name)'") ?? LaminaError(
                    .invalidInput, "unterminated variable reference '${{\(name)'")
            }
            rest = cursor.dropFirst(2)
            let value = try resolve(name, at: site, stack: stack)
            out += quote ? Self.goQuote(value) : value
        }
        out += rest
        return out
    }

    /// Go's `strconv.Quote`.
    static func goQuote(_ text: String) -> String {
        var out = "\""
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\t": out += "\\t"
            case "\r": out += "\\r"
            case "\u{07}": out += "\\a"
            case "\u{08}": out += "\\b"
            case "\u{0C}": out += "\\f"
            case "\u{0B}": out += "\\v"
            default:
                if scalar.value < 0x20 || scalar.value == 0x7f {
                    let hex = String(scalar.value, radix: 16)
                    out += "\\x" + (hex.count < 2 ? "0" + hex : hex)
                } else {
                    out.unicodeScalars.append(scalar)
                }
            }
        }
        return out + "\""
    }
}

// MARK: - The variables melange defines

extension Substitutions {
    /// The guest directory builds run in (`${{package.srcdir}}`).
    public static let workspace = "/home/build"
    /// Where package contents are staged (`${{targets.outdir}}`).
    public static let outputDirectory = "/home/build/melange-out"

    /// The package-level variables known when a configuration is loaded: `package.name`, `package.version`,
    /// `package.epoch`, `package.full-version`, `package.description` and `vars.*` (values as written).
    public static func packageVariables(of configuration: BuildConfiguration) -> Substitutions {
        var values: [String: String] = [
            "package.name": configuration.package.name,
            "package.version": configuration.package.version,
            "package.description": configuration.package.description,
            "package.epoch": String(configuration.package.epoch),
            "package.full-version": configuration.package.fullVersion,
        ]
        for (name, value) in configuration.vars { values["vars.\(name)"] = value }
        return Substitutions(values)
    }

    /// Applies `var-transforms` in order: each `from` is substituted with the variables so far, rewritten by
    /// its regex, and stored as `vars.<to>`.
    /// - Throws: `LaminaError(.invalidInput)` for an unknown variable in `from` or an invalid regex, naming the
    ///   transform.
    public mutating func applyVarTransforms(_ transforms: [VarTransform], sourceMap: SourceMap? = nil) throws {
        for (index, transform) in transforms.enumerated() {
            let path = ConfigPath([.key("var-transforms"), .index(index)])
            let from = try apply(transform.from, at: Site(path: path.appending("from"), sourceMap: sourceMap))
            let result: String
            do {
                result = try GoRegex.replaceAll(in: from, pattern: transform.match, with: transform.replace)
            } catch let error as LaminaError {
                throw Site(path: path.appending("match"), sourceMap: sourceMap).error(error.message)
            }
            values["vars.\(transform.to)"] = result
        }
    }

    /// Every variable of a build for one architecture, melange's `NewSubstitutionMap`: package fields, the
    /// `/home/build` directories, `host.triplet.*`, `cross.triplet.*`, `build.arch` (apk name),
    /// `build.goarch` (apko's OCI name: `amd64`, `arm/v7`), `vars.*` with `var-transforms` applied,
    /// `targets.package.<name>` for the package and each subpackage, and `options.<name>.enabled`.
    /// - Parameters:
    ///   - libc: `gnu` (default) or `musl`, used for `host.triplet.*`.
    ///   - buildOptions: the enabled `--build-option` names.
    /// - Throws: `LaminaError(.invalidInput)` for var-transform failures.
    public static func forBuild(
        _ configuration: BuildConfiguration, architecture: Architecture, libc: String = "gnu",
        buildOptions: [String] = [], sourceMap: SourceMap? = nil
    ) throws -> Substitutions {
        var result = packageVariables(of: configuration)
        let name = configuration.package.name
        result["package.srcdir"] = workspace
        result["targets.outdir"] = outputDirectory
        result["targets.destdir"] = "\(outputDirectory)/\(name)"
        result["targets.contextdir"] = "\(outputDirectory)/\(name)"
        result["context.name"] = name
        let triplets = Triplets(architecture)
        result["host.triplet.gnu"] = triplets.gnu(libc)
        result["host.triplet.rust"] = triplets.rust(libc)
        result["cross.triplet.gnu.glibc"] = triplets.gnu("gnu")
        result["cross.triplet.gnu.musl"] = triplets.gnu("musl")
        result["cross.triplet.rust.glibc"] = triplets.rust("gnu")
        result["cross.triplet.rust.musl"] = triplets.rust("musl")
        result["build.arch"] = architecture.apk
        result["build.goarch"] = architecture.ociPlatform
        for optionName in buildOptions {
            for (variable, value) in configuration.options[optionName]?.vars ?? [:] { result["vars.\(variable)"] = value }
        }
        try result.applyVarTransforms(configuration.varTransforms, sourceMap: sourceMap)
        for packageName in [name] + configuration.subpackages.map(\.name) {
            result["targets.package.\(packageName)"] = "\(outputDirectory)/\(packageName)"
        }
        for optionName in configuration.options.keys { result["options.\(optionName).enabled"] = "false" }
        for optionName in buildOptions { result["options.\(optionName).enabled"] = "true" }
        return result
    }

    /// `forBuild` for an architecture name in any spelling (`amd64`, `x86_64`, `arm/v7`, `armv7`, …).
    /// - Throws: `LaminaError(.invalidInput)` for an unknown architecture or a var-transform failure.
    public static func forBuild(
        _ configuration: BuildConfiguration, architectureName: String, libc: String = "gnu",
        buildOptions: [String] = [], sourceMap: SourceMap? = nil
    ) throws -> Substitutions {
        try forBuild(
            configuration, architecture: try Architecture(architectureName), libc: libc, buildOptions: buildOptions,
            sourceMap: sourceMap)
    }

    /// The variables inside one subpackage (melange `SubstitutionMap.Subpackage`): `subpkg.name`,
    /// `context.name`, `targets.subpkgdir` and `targets.contextdir`.
    public func forSubpackage(named name: String) -> Substitutions {
        var result = self
        result["subpkg.name"] = name
        result["context.name"] = name
        result["targets.subpkgdir"] = "\(Self.outputDirectory)/\(name)"
        result["targets.contextdir"] = "\(Self.outputDirectory)/\(name)"
        return result
    }

    /// The variables of one `range:` item: `range.key` and `range.value`.
    public func forRangeItem(key: String, value: String) -> Substitutions {
        var result = self
        result["range.key"] = key
        result["range.value"] = value
        return result
    }

    /// The scope of a `uses:` pipeline step (melange `validateWith` + `MutateWith`): declared inputs take their
    /// defaults when `with` leaves them empty, required inputs must be set, `expected-sha256`/`-sha512`/
    /// `expected-commit` must be hex of the right length; each `with` value becomes `inputs.<name>`, resolved
    /// against the enclosing scope first (so `foo: ${{inputs.foo}}` forwards the parent's value).
    /// - Parameter rejectUndeclared: refuse `with` keys the definition does not declare (melange does so for
    ///   the step that names the `uses:` pipeline, not for the steps nested in it).
    /// - Returns: the new scope and the effective `with` values.
    /// - Throws: `LaminaError(.invalidInput)` naming the input.
    public func forPipeline(
        with: [String: String], inputs: [String: PipelineInput], rejectUndeclared: Bool = false, at site: Site? = nil
    ) throws -> (scope: Substitutions, with: [String: String]) {
        if rejectUndeclared, let undeclared = with.keys.sorted().first(where: { inputs[$0] == nil }) {
            let declared = inputs.keys.sorted().joined(separator: ", ")
            let message = "undefined input '\(undeclared)' (declared: \(declared.isEmpty ? "none" : declared))"
            throw site?.error(message) ?? LaminaError(.invalidInput, message)
        }
        var effective = with
        for name in inputs.keys.sorted() {
            let input = inputs[name] ?? PipelineInput()
            if effective[name, default: ""].isEmpty { effective[name] = input.defaultValue }
            let value = effective[name, default: ""]
            if !value.isEmpty {
                let expectedLength = ["expected-sha256": 64, "expected-sha512": 128, "expected-commit": 40][name]
                if let expectedLength,
                    value.count != expectedLength || !value.allSatisfy({ $0.isASCII && $0.isHexDigit })
                {
                    throw site?.error("input '\(name)' must be \(expectedLength) hexadecimal digits, got '\(value)'")
                        ?? LaminaError(.invalidInput, "input '\(name)' must be \(expectedLength) hexadecimal digits")
                }
            }
            if input.required, value.isEmpty {
                throw site?.error("required input \"\(name)\" for pipeline is missing") ?? LaminaError(
                    .invalidInput, "required input \"\(name)\" for pipeline is missing")
            }
        }
        var scope = self
        for (name, value) in effective {
            scope["inputs.\(name)"] = (try? apply(value, at: site)) ?? value
        }
        return (scope, effective)
    }
}

/// GNU and Rust target triplets as melange computes them (apko `ToTriplet` / `ToRustTriplet`).
struct Triplets {
    let architecture: Architecture

    init(_ architecture: Architecture) { self.architecture = architecture }

    func gnu(_ libc: String) -> String {
        switch architecture.apk {
        case "x86": return "i486-pc-linux-\(libc)"
        case "x86_64": return "x86_64-pc-linux-\(libc)"
        case "aarch64": return "aarch64-unknown-linux-\(libc)"
        case "armhf": return "arm-unknown-linux-\(libc)eabihf"
        case "armv7": return "armv7l-unknown-linux-\(libc)eabihf"
        case "ppc64le": return "powerpc64le-unknown-linux-\(libc)"
        case "s390x": return "s390x-ibm-linux-\(libc)"
        default: return "\(fallbackName)-unknown-linux-\(libc)"
        }
    }

    func rust(_ libc: String) -> String {
        switch architecture.apk {
        case "x86": return "i686-unknown-linux-\(libc)"
        case "x86_64": return "x86_64-unknown-linux-\(libc)"
        case "aarch64": return "aarch64-unknown-linux-\(libc)"
        case "armhf": return "armv6-unknown-linux-\(libc)eabihf"
        case "armv7": return "armv7-unknown-linux-\(libc)eabihf"
        case "ppc64le": return "powerpc64le-unknown-linux-\(libc)"
        case "s390x": return "s390x-unknown-linux-\(libc)"
        default: return "\(fallbackName)-unknown-linux-\(libc)"
        }
    }

    /// apko's `ToQEmu` default: the OCI name (`riscv64`, `loong64`).
    private var fallbackName: String { architecture.ociPlatform }
}
