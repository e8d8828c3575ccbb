import APK
import APKSolver
import Foundation
import LaminaCore
import TestSupport

/// One of apk-tools' solver test cases (`test/*.test`): an `apk` command line run against test
/// repositories, an installed database and a world, and the exact output apk-tools 2.14 prints.
///
/// The runner here plays the part of apk-tools' `apk-test` binary: it turns the `add`/`del`/`upgrade`/`fix`
/// applet and its options into a `SolverRequest` the way those applets do, runs our resolver and prints
/// the result the way apk does (`(1/2) Installing b (2)`, `OK: 0 MiB in 2 packages`).
struct ApkToolsCase: Sendable, CustomStringConvertible {
    let name: String
    let arguments: [String]
    let expected: [String]

    var description: String { name }

    static let directory = SharedTestData.path("alpinelinux+apk-tools/test")

    /// A file named by the case, relative to apk-tools' test folder (or absolute).
    static func path(_ file: String) -> String { file.hasPrefix("/") ? file : directory + "/" + file }

    static func loadAll() -> [ApkToolsCase] {
        guard let files = try? FileManager.default.contentsOfDirectory(atPath: directory) else { return [] }
        return files.filter { $0.hasSuffix(".test") }.sorted().compactMap { try? load($0) }
    }

    static func load(_ file: String) throws -> ApkToolsCase {
        let text = try String(contentsOfFile: directory + "/" + file, encoding: .utf8)
        var section = ""
        var argumentText = ""
        var expected: [String] = []
        for line in text.split(separator: "\n", omittingEmptySubsequences: false) {
            if line.hasPrefix("@") {
                section = String(line)
                continue
            }
            switch section {
            case "@ARGS": argumentText += line + " "
            case "@EXPECT": expected.append(String(line))
            default: break
            }
        }
        while expected.last == "" { expected.removeLast() }
        return ApkToolsCase(
            name: String(file.dropLast(".test".count)), arguments: shellWords(argumentText), expected: expected)
    }

    /// Splits like `xargs`: whitespace separates, double quotes group.
    static func shellWords(_ text: String) -> [String] {
        var words: [String] = []
        var current = ""
        var quoted = false
        var hasWord = false
        for c in text {
            if c == "\"" {
                quoted.toggle()
                hasWord = true
            } else if !quoted && (c == " " || c == "\n" || c == "\t") {
                if hasWord { words.append(current) }
                current = ""
                hasWord = false
            } else {
                current.append(c)
                hasWord = true
            }
        }
        if hasWord { words.append(current) }
        return words
    }

    /// For solver failures, the first package or name apk's report is about (`d-2.0`, `nonexistant`).
    var firstErrorSubject: String? {
        guard expected.first == "ERROR: unable to select packages:", expected.count > 1 else { return nil }
        var subject = expected[1].trimmingCharacters(in: .whitespaces)
        if subject.hasSuffix(":") { subject.removeLast() }
        if let space = subject.firstIndex(of: " ") { subject = String(subject[..<space]) }
        return subject
    }

    /// Whether apk-tools failed (the output starts with `ERROR:`).
    var expectsError: Bool { expected.first?.hasPrefix("ERROR:") ?? false }

    // MARK: - Running

    struct Outcome {
        var lines: [String]
        var failed: Bool
        /// For a solver failure, our explanation.
        var error: LaminaError?
    }

    /// The parsed command line.
    struct CommandLine {
        var repositories: [(file: String, tag: String?, cache: Bool)] = []
        var installedFile: String?
        var world: String?
        var applet = ""
        var arguments: [String] = []
        var options: Set<String> = []
        var virtualPackage: String?
    }

    func parseCommandLine() -> CommandLine {
        var line = CommandLine()
        var index = 0
        let withValue: Set<String> = ["--test-repo", "--test-instdb", "--test-world", "-t", "--virtual"]
        while index < arguments.count {
            let word = arguments[index]
            index += 1
            if withValue.contains(word) {
                guard index < arguments.count else { break }
                let value = arguments[index]
                index += 1
                switch word {
                case "--test-repo":
                    var spec = Substring(value)
                    let cache = spec.first == "!"
                    if cache { spec = spec.dropFirst() }
                    if let colon = spec.firstIndex(of: ":") {
                        line.repositories.append(
                            (String(spec[spec.index(after: colon)...]), String(spec[..<colon]), cache))
                    } else {
                        line.repositories.append((String(spec), nil, cache))
                    }
                case "--test-instdb": line.installedFile = value
                case "--test-world": line.world = value
                default: line.virtualPackage = value
                }
            } else if word.hasPrefix("-") {
                line.options.insert(word)
            } else if line.applet.isEmpty {
                line.applet = word
            } else {
                line.arguments.append(word)
            }
        }
        return line
    }

    /// Reads an APKINDEX-format text file of the case.
    static func readIndex(_ file: String) throws -> [PackageInfo] {
        try APKIndex.parseText(try String(contentsOfFile: path(file), encoding: .utf8), source: file)
    }

    /// Runs the case with our resolver; the output lines follow apk's format. `readIndex` reads a
    /// repository file (tests that run many cases over the same files may cache it).
    func run(readIndex: (String) throws -> [PackageInfo] = ApkToolsCase.readIndex) throws -> Outcome {
        let command = parseCommandLine()
        let options = command.options
        let noNetwork = options.contains("--no-network")

        // The database: installed packages first, then the repositories, as apk-test loads them.
        var installed: [InstalledPackage] = []
        if let file = command.installedFile {
            let text = try String(contentsOfFile: Self.path(file), encoding: .utf8)
            installed = try InstalledDatabase.parse(text, source: file).packages
        }
        var repositories: [SolverRepository] = []
        for spec in command.repositories {
            let packages = try readIndex(spec.file)
            repositories.append(
                SolverRepository(
                    name: spec.file, tag: spec.tag, packages: packages, isAvailable: !noNetwork,
                    kind: spec.cache ? .cache : .repository))
        }
        let everything = installed.map(\.info) + repositories.flatMap(\.packages)
        // apk knows every name a package, a dependency or the world mentions.
        var knownNames = Set(
            everything.flatMap { info in
                [info.name] + info.depends.map(\.name) + info.provides.map(\.name) + info.installIf.map(\.name)
            })

        func error(_ text: String) -> Outcome { Outcome(lines: ["ERROR: \(text)"], failed: true) }

        var world: [Dependency] = []
        if let text = command.world {
            // apk_blob_pull_deps stops at the first atom it cannot read.
            for word in text.split(separator: " ") {
                guard let dep = try? Dependency(parsing: String(word)) else { break }
                world.append(dep)
            }
        }
        knownNames.formUnion(world.map(\.name))
        var request = SolverRequest(
            world: world, repositories: repositories, installed: installed,
            forceBrokenWorld: options.contains("--force"))
        var prefix: [String] = []

        func addToWorld(_ dep: Dependency) {
            if let index = request.world.firstIndex(where: { $0.name == dep.name }) {
                request.world[index] = dep
            } else {
                request.world.append(dep)
            }
        }
        func removeFromWorld(_ name: String) {
            if let index = request.world.firstIndex(where: { $0.name == name }) {
                request.world[index] = request.world[request.world.count - 1]
                request.world.removeLast()
            }
        }
        func setFlags(_ name: String, _ flags: SolverFlags, _ inheritable: SolverFlags = []) {
            var current = request.nameFlags[name] ?? NameFlags([])
            current.flags.formUnion(flags)
            current.inheritable.formUnion(inheritable)
            request.nameFlags[name] = current
        }

        switch command.applet {
        case "add":
            var flags: SolverFlags = []
            if options.contains("--upgrade") || options.contains("-u") { flags.insert(.upgrade) }
            if options.contains("--latest") || options.contains("-l") { flags.insert(.latest) }
            var virtual: (dep: Dependency, package: PackageInfo)?
            if let spec = command.virtualPackage {
                guard var dep = try? Dependency(parsing: spec), !dep.isConflict else {
                    return error("\(spec): bad package specifier")
                }
                switch dep.constraint?.op {
                case nil: dep.constraint = VersionConstraint(.equal, "20190603.131426")
                case .equal: break
                default: return error("\(spec): bad package specifier")
                }
                let version = dep.constraint?.version ?? ""
                virtual = (dep, PackageInfo(name: dep.name, version: version, arch: "noarch", installedSize: 0))
                if command.arguments.isEmpty { prefix.append("WARNING: creating empty virtual package") }
            }
            for argument in command.arguments {
                guard let dep = try? Dependency(parsing: argument), virtual == nil || dep.tag == nil else {
                    return virtual == nil
                        ? error("'\(argument)' is not a valid world dependency, format is name(@tag)([<>~=]version)")
                        : error("'\(argument)' is not a valid child dependency, format is name([<>~=]version)")
                }
                if virtual != nil {
                    virtual!.package.depends.removeAll { $0.name == dep.name }
                    virtual!.package.depends.append(dep)
                } else {
                    addToWorld(dep)
                    setFlags(dep.name, flags, flags)
                }
            }
            if let virtual {
                request.localPackages.append(virtual.package)
                addToWorld(virtual.dep)
                setFlags(virtual.dep.name, flags, flags)
            }

        case "del":
            for argument in command.arguments {
                guard knownNames.contains(argument) else { return error("No such package: \(argument)") }
                if installed.contains(where: { $0.info.name == argument }) {
                    removeFromWorld(argument)
                    setFlags(argument, .remove)
                } else {
                    removeFromWorld(argument)
                }
            }

        case "upgrade":
            var flags: SolverFlags = [.upgrade]
            if options.contains("--available") || options.contains("-a") { flags.insert(.available) }
            if options.contains("--latest") || options.contains("-l") { flags.insert(.latest) }
            let ignore = options.contains("--ignore")
            if command.arguments.isEmpty && !options.contains("--no-self-upgrade") {
                // apk first upgrades itself, alone, when a newer apk-tools exists.
                if let current = installed.first(where: { $0.info.name == "apk-tools" }),
                    repositories.flatMap(\.packages).contains(where: {
                        $0.name == "apk-tools" && APKVersion.compare($0.version, current.info.version) == .greater
                    })
                {
                    var selfUpgrade = request
                    selfUpgrade.preferInstalled = true
                    selfUpgrade.nameFlags["apk-tools", default: NameFlags([])].flags.formUnion(flags)
                    // apk forgets the flags after this solve, but apk-tools stays marked as a flagged name.
                    setFlags("apk-tools", [])
                    if let plan = try? Resolver.solve(selfUpgrade), !plan.changes.isEmpty {
                        if options.contains("--self-upgrade-only") {
                            return Outcome(
                                lines: ["Upgrading critical system libraries and apk-tools:"]
                                    + Self.render(plan.changes), failed: false)
                        }
                        prefix.append("WARNING: This simulation is not reliable as apk-tools upgrade is available.")
                    }
                }
            }
            if options.contains("--self-upgrade-only") { return Outcome(lines: [], failed: false) }
            if options.contains("--prune") {
                let inRepositories = Set(
                    repositories.flatMap(\.packages).flatMap { [$0.name] + $0.provides.map(\.name) })
                request.world.removeAll { !inRepositories.contains($0.name) }
            }
            if !command.arguments.isEmpty {
                if !ignore { flags.remove(.upgrade) }
                for argument in command.arguments {
                    guard knownNames.contains(argument) else { return error("Package '\(argument)' not found") }
                    setFlags(argument, ignore ? .keepInstalled : .upgrade)
                }
            }
            request.flags = flags

        case "fix":
            var flags: SolverFlags = []
            if options.contains("--upgrade") || options.contains("-u") { flags.insert(.upgrade) }
            if options.contains("--reinstall") || options.contains("-r") { flags.insert(.reinstall) }
            if flags.isEmpty { flags = .reinstall }
            let depends = options.contains("--depends") || options.contains("-d")
            for argument in command.arguments {
                guard knownNames.contains(argument) else { return error("Package '\(argument)' not found") }
                setFlags(argument, flags, depends ? flags : [])
            }

        default:
            return error("unknown applet '\(command.applet)'")
        }

        let plan: InstallPlan
        do {
            plan = try Resolver.solve(request)
        } catch let failure as LaminaError {
            return Outcome(lines: prefix + ["ERROR: \(failure.message)"], failed: true, error: failure)
        }
        // apk's summary counts the installed packages after the transaction.
        let installs = plan.changes.filter { $0.old == nil }.count
        let removals = plan.changes.filter { $0.new == nil }.count
        let before = Set(installed.map { $0.info.checksum?.apkIdentity ?? $0.info.nameVersion }).count
        let summary = "OK: 0 MiB in \(before + installs - removals) packages"
        return Outcome(lines: prefix + Self.render(plan.changes) + [summary], failed: false)
    }

    static func render(_ changes: [InstallPlan.Change]) -> [String] {
        changes.enumerated().map { index, change in
            // apk cannot reinstall what no repository has.
            let skipped = change.kind == .reinstall && change.source?.repository == nil
            return "(\(index + 1)/\(changes.count)) \(skipped ? "[APK unavailable, skipped] " : "")\(change.summary)"
        }
    }
}
