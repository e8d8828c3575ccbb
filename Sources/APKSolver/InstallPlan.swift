import APK
import LaminaCore

/// Where a resolved package comes from.
public struct PackageSource: Sendable, Hashable {
    /// Index into `SolverRequest.repositories` of the first available repository holding the package, or nil
    /// when it is only installed or local.
    public var repository: Int?
    /// The repository tag it is pinned to (`a@testing`), nil for the default.
    public var tag: String?

    public init(repository: Int?, tag: String?) {
        self.repository = repository
        self.tag = tag
    }
}

/// A package of the resolved set.
public struct ResolvedPackage: Sendable, Hashable {
    public var info: PackageInfo
    public var source: PackageSource
    /// Whether the package is already installed (the very same package, not just the same name).
    public var isInstalled: Bool

    /// `name@tag`, as apk prints it.
    public var displayName: String { source.tag.map { "\(info.name)@\($0)" } ?? info.name }
}

/// The outcome of resolving: the changes to make, in order, and the resulting package set.
public struct InstallPlan: Sendable {
    /// One step of the transaction.
    public struct Change: Sendable, Hashable {
        public enum Kind: Sendable, Hashable {
            case install, remove, upgrade, downgrade
            /// Another package with the same version (rebuilt, or from another source).
            case replace
            /// The same package again (apk fix).
            case reinstall
            /// Same package, now pinned to another repository tag.
            case updatePinning
        }

        public var kind: Kind
        /// The installed package that goes away or is replaced.
        public var old: PackageInfo?
        /// The package that is installed.
        public var new: PackageInfo?
        /// Where `new` comes from.
        public var source: PackageSource?

        /// The line apk prints for it, without the `(i/n)` counter: `Installing b (2)`,
        /// `Upgrading a@testing (3 -> 3.1)`, `Purging c (3)`.
        public var summary: String {
            let name = (new ?? old)?.name ?? "?"
            let tag = source?.tag.map { "@\($0)" } ?? ""
            let verb: String
            switch kind {
            case .install: verb = "Installing"
            case .remove: verb = "Purging"
            case .upgrade: verb = "Upgrading"
            case .downgrade: verb = "Downgrading"
            case .replace: verb = "Replacing"
            case .reinstall: verb = "Reinstalling"
            case .updatePinning: verb = "Updating pinning"
            }
            switch kind {
            case .install, .reinstall, .updatePinning:
                return "\(verb) \(name)\(tag) (\(new?.version ?? "?"))"
            case .remove:
                return "\(verb) \(name) (\(old?.version ?? "?"))"
            case .upgrade, .downgrade, .replace:
                return "\(verb) \(name)\(tag) (\(old?.version ?? "?") -> \(new?.version ?? "?"))"
            }
        }
    }

    /// The changes relative to the installed set, in the order apk applies them (a package's dependencies
    /// before it; removals where they become due).
    public var changes: [Change]
    /// The full resulting set: every package that will be installed afterwards, dependencies before
    /// dependents, deterministic for the same input.
    public var packages: [ResolvedPackage]
    /// The world as the solver used it: sorted by name (apk's display order).
    public var world: [Dependency]
    /// World entries dropped because they could not be satisfied (only with `forceBrokenWorld`).
    public var brokenWorld: [Dependency]

    /// The packages to fetch: new or changed packages, in installation order.
    public var packagesToFetch: [ResolvedPackage] {
        packages.filter { !$0.isInstalled }
    }
}

/// One reason why a request cannot be satisfied.
public struct SolverProblem: Sendable, Hashable, CustomStringConvertible {
    public enum Kind: Sendable, Hashable {
        /// No package has or provides the name.
        case missing
        /// Only unversioned providers exist and none has a provider priority: the user must choose.
        case ambiguousVirtual
        /// A selected package violates a version constraint or conflict of another selected package.
        case breaksConstraint
        /// Two selected packages own the same name.
        case sameNameConflict
        /// The package is only in a tagged repository the chain did not ask for.
        case pinned
        /// The package's repository cannot be fetched from.
        case unavailable
        /// A world entry names a repository tag no repository has.
        case unknownTag
    }

    public var kind: Kind
    /// The name or `name-version` the problem is about.
    public var subject: String
    /// One sentence: who requires what, and why it cannot be met.
    public var explanation: String

    public var description: String { explanation }
}

/// The error payload (`LaminaError.cause`) of an unsatisfiable request.
public struct SolverFailure: Error, Sendable, CustomStringConvertible {
    public var problems: [SolverProblem]
    public var description: String { problems.map(\.explanation).joined(separator: "; ") }
}
