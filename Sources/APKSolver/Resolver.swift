import APK
import LaminaCore

/// The apk dependency resolver: world + repositories (+ installed set) → `InstallPlan`.
///
/// It follows the behaviour of apk-tools 2.14's solver, a deductive solver that works name by name: constraints
/// propagate down from the world, a name whose candidates all agree on something passes that down before
/// anything is chosen, and names are then decided one at a time (those without alternatives first), each
/// decision excluding what conflicts with it. Among candidates it prefers, in order: packages without
/// errors, packages from an allowed repository tag, the installed version (unless upgrading), the highest
/// version, the highest `provider_priority`, and the earliest repository. The result is deterministic.
///
/// `replaces` and `replaces_priority` play no part here, as in apk-tools: they only decide who owns a file
/// when packages are unpacked.
///
/// Pure: no I/O. Checked against apk-tools' own solver test cases and, on the real Alpine indexes, against
/// apk-tools 2.14.10's output (see APKSolverTests).
public enum Resolver {
    /// Resolves `request`.
    ///
    /// - Throws: `LaminaError(.unsatisfiable)` with a `SolverFailure` cause listing every problem (who
    ///   requires what and why it cannot be met); `LaminaError(.invalidInput)` for a world entry whose
    ///   repository tag no repository has.
    public static func solve(_ request: SolverRequest) throws -> InstallPlan {
        let graph = try SolverGraph(request)
        var world = graph.world
        world.sort { SolverGraph.displayOrder(graph.names[$0.name].text, graph.names[$1.name].text) }

        if !request.forceBrokenWorld {
            for atom in world where atom.tag != 0 && graph.tagRepositories[atom.tag] == 0 {
                let problem = SolverProblem(
                    kind: .unknownTag, subject: atom.source.description,
                    explanation: "the repository tag '@\(graph.tags[atom.tag])' of world entry '\(atom.source)' "
                        + "does not exist (no repository is tagged with it)")
                throw LaminaError(
                    .invalidInput, problem.explanation, cause: SolverFailure(problems: [problem]))
            }
        }

        var broken = [Bool](repeating: false, count: world.count)
        var run = SolverRun(graph: graph, world: world, broken: broken, request: request)
        run.solve()
        while run.errors > 0 && request.forceBrokenWorld {
            var changed = false
            for (index, atom) in world.enumerated() where !broken[index] {
                let chosen = run.nameState[atom.name].chosen?.package
                if chosen.map({ run.packageState[$0].hasError }) ?? true {
                    broken[index] = true
                    changed = true
                }
            }
            if !changed { break }
            // apk restarts from scratch, and the restart forgets per-name flags.
            var cleared = graph
            for index in cleared.packages.indices {
                cleared.packages[index].flags = []
                cleared.packages[index].inheritableFlags = []
            }
            run = SolverRun(graph: cleared, world: world, broken: broken, request: request)
            run.solve()
        }
        if run.errors > 0 {
            let problems = run.explain()
            let failure = SolverFailure(problems: problems)
            throw LaminaError(.unsatisfiable, "unable to select packages: \(failure.description)", cause: failure)
        }
        return run.plan(request: request, brokenWorld: zip(world, broken).filter(\.1).map(\.0.source))
    }

    /// Resolves `world` against `repositories` for `architecture`, with nothing installed: what an image
    /// build needs.
    ///
    /// - Throws: as `solve(_:)`.
    public static func resolve(
        world: [Dependency], repositories: [SolverRepository], architecture: Architecture
    ) throws -> InstallPlan {
        try solve(SolverRequest(world: world, repositories: repositories, architecture: architecture))
    }
}

/// The state of one solve. Mirrors apk's per-name and per-package solver state.
struct SolverRun {
    typealias Atom = SolverGraph.Atom
    typealias Provider = SolverGraph.Provider
    typealias Mask = SolverGraph.Mask

    struct NameState {
        var chosen: Provider?
        var orderID = 0
        var requirers = 0
        var mergeDepends = 0
        var mergeProvides = 0
        var seen = false
        var locked = false
        var inChangeset = false
        var reevaluateDeps = false
        var reevaluateInstallIf = false
        var hasInstallIf = false
        var noInstallIf = false
        var hasOptions = false
        var reverseDepsDone = false
        var hasVirtualProvides = false
        var hasAutoSelectable = false
        var inDirtyQueue = false
        // Changeset generation.
        var installedName: Int?
        var installedPackage: Int?
    }

    struct PackageState {
        var conflicts = 0
        var pinningAllowed: UInt64 = 1
        var pinningPreferred: UInt64 = 1
        var flags: SolverFlags = []
        var inheritableFlags: SolverFlags = []
        var seen = false
        var available = false
        var selectable = false
        var tagOK = false
        var tagPreferred = false
        var dependenciesUsed = false
        var dependenciesMerged = false
        var inChangeset = false
        var installIfTriggered = false
        var installIfFailed = false
        var hasError = false
    }

    /// A recorded transaction step (`old` → `new`), including steps that change nothing.
    struct Step {
        var old: Int?
        var new: Int?
        var oldTag: Int
        var newTag: Int
        var reinstall: Bool
    }

    let graph: SolverGraph
    let world: [Atom]
    let broken: [Bool]
    let ignoreConflicts: Bool
    let preferInstalled: Bool
    let globalFlags: SolverFlags
    let defaultRepositories: UInt64

    var nameState: [NameState]
    var packageState: [PackageState]
    var errors = 0
    var orderCounter = 0
    var inheritFlags: SolverFlags = []
    var pinningInherit: UInt64 = 0
    var dirtyQueue: [Int] = []
    var dirtyHead = 0
    var unresolved: UnresolvedList
    var steps: [Step] = []
    /// Names that were required but got no provider.
    var unprovided: [Int] = []

    init(graph: SolverGraph, world: [Atom], broken: [Bool], request: SolverRequest) {
        self.graph = graph
        self.world = world
        self.broken = broken
        self.ignoreConflicts = request.flags.contains(.ignoreConflicts)
        self.preferInstalled = request.preferInstalled
        self.globalFlags = request.flags
        self.defaultRepositories = graph.repositories(forPinning: 1)
        nameState = Array(repeating: NameState(), count: graph.names.count)
        packageState = graph.packages.map { PackageState(flags: $0.flags, inheritableFlags: $0.inheritableFlags) }
        unresolved = UnresolvedList(count: graph.names.count)
    }

    // MARK: - Matching

    /// Whether `provider` (nil: nothing chosen) satisfies `atom`; for conflicts, whether it is allowed.
    func isProvided(_ atom: Atom, by provider: Provider?) -> Bool {
        guard let provider else { return atom.isConflict }
        switch atom.mask {
        case Mask.checksum:
            return atom.identity != nil && graph.packages[provider.package].identity == atom.identity
        case Mask.any:
            return !atom.isConflict
        default:
            guard let version = provider.version, let wanted = atom.version else { return atom.isConflict }
            let accepted = Self.accepts(atom.mask, APKVersion.compare(version, wanted, fuzzy: atom.isFuzzy))
            return accepted != atom.isConflict
        }
    }

    static func accepts(_ mask: UInt8, _ ordering: VersionOrdering) -> Bool {
        switch ordering {
        case .less: return mask & Mask.less != 0
        case .equal: return mask & Mask.equal != 0
        case .greater: return mask & Mask.greater != 0
        }
    }

    enum Relation { case irrelevant, satisfies, conflicts }

    /// How `package` relates to `atom`: by its own name, or the first of its provides with that name.
    func relation(_ atom: Atom, _ package: Int) -> Relation {
        let p = graph.packages[package]
        if atom.name == p.name {
            return isProvided(atom, by: Provider(package: package, version: p.version)) ? .satisfies : .conflicts
        }
        for provide in p.provides where provide.name == atom.name {
            return isProvided(atom, by: Provider(package: package, version: provide.version)) ? .satisfies : .conflicts
        }
        return .irrelevant
    }

    // MARK: - Main loop

    mutating func solve() {
        inheritFlags = globalFlags
        for (index, atom) in world.enumerated() where !broken[index] {
            discover(atom.name)
        }
        for (index, atom) in world.enumerated() where !broken[index] {
            pinningInherit = 1 << UInt64(atom.tag)
            applyConstraint(parent: nil, atom)
        }
        inheritFlags = []
        pinningInherit = 0

        while true {
            while let name = popDirty() {
                reconsider(name)
            }
            var best: Int?
            var cursor = unresolved.head
            while cursor >= 0 {
                let s = nameState[cursor]
                if s.reverseDepsDone && s.requirers > 0 && s.hasAutoSelectable && !s.hasOptions {
                    best = cursor
                    break
                }
                if best.map({ dequeueOrder(cursor, $0) < 0 }) ?? true { best = cursor }
                cursor = unresolved.next[cursor]
            }
            guard let name = best else { break }
            select(name)
        }
        generateChangeset()
    }

    /// Which unresolved name to decide first: names with an auto-selectable candidate, then names the
    /// request gave flags to, then the most recently discovered.
    func dequeueOrder(_ a: Int, _ b: Int) -> Int {
        let sa = nameState[a]
        let sb = nameState[b]
        if sa.hasAutoSelectable != sb.hasAutoSelectable { return sa.hasAutoSelectable ? -1 : 1 }
        let fa = graph.names[a].hasFlags
        let fb = graph.names[b].hasFlags
        if fa != fb { return fa ? -1 : 1 }
        return sb.orderID - sa.orderID
    }

    // MARK: - Queues

    mutating func queueDirty(_ name: Int) {
        let s = nameState[name]
        if s.inDirtyQueue || s.locked || (s.requirers == 0 && !s.reevaluateInstallIf) { return }
        nameState[name].inDirtyQueue = true
        dirtyQueue.append(name)
    }

    mutating func popDirty() -> Int? {
        while dirtyHead < dirtyQueue.count {
            let name = dirtyQueue[dirtyHead]
            dirtyHead += 1
            if nameState[name].inDirtyQueue {
                nameState[name].inDirtyQueue = false
                return name
            }
        }
        dirtyQueue.removeAll(keepingCapacity: true)
        dirtyHead = 0
        return nil
    }

    mutating func queueUnresolved(_ name: Int) {
        if nameState[name].locked { return }
        let wanted = nameState[name].requirers > 0 || nameState[name].hasInstallIf
        if wanted && !unresolved.contains(name) {
            unresolved.pushFront(name)
        } else if !wanted && unresolved.contains(name) {
            unresolved.remove(name)
        }
    }

    mutating func markError(_ package: Int?) {
        guard let package, !packageState[package].hasError else { return }
        packageState[package].hasError = true
        errors += 1
    }
}

/// An intrusive doubly linked list of names (apk's "unresolved" list): push at the front, remove anywhere.
struct UnresolvedList {
    var next: [Int]
    var previous: [Int]
    var member: [Bool]
    var head = -1

    init(count: Int) {
        next = Array(repeating: -1, count: count)
        previous = Array(repeating: -1, count: count)
        member = Array(repeating: false, count: count)
    }

    func contains(_ name: Int) -> Bool { member[name] }

    mutating func pushFront(_ name: Int) {
        member[name] = true
        previous[name] = -1
        next[name] = head
        if head >= 0 { previous[head] = name }
        head = name
    }

    mutating func remove(_ name: Int) {
        guard member[name] else { return }
        member[name] = false
        let p = previous[name]
        let n = next[name]
        if p >= 0 { next[p] = n } else { head = n }
        if n >= 0 { previous[n] = p }
        next[name] = -1
        previous[name] = -1
    }
}
