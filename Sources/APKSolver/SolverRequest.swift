import APK
import LaminaCore

/// One package source as the solver sees it: an index's packages, the repository tag it is known by (if any)
/// and whether its packages can be fetched.
public struct SolverRepository: Sendable {
    /// How the repository's packages can be obtained.
    public enum Kind: Sendable, Hashable {
        /// A normal repository (an `APKINDEX`): packages are fetched from it.
        case repository
        /// Packages present only in a local cache (apk's "cached, not in any repository"): installable,
        /// but they never count as "available from a repository".
        case cache
    }

    /// A label for messages: the URL or path of the repository.
    public var name: String
    /// The tag (without `@`) from `@tag https://…` in `/etc/apk/repositories`; nil for an untagged
    /// repository, whose packages anyone may use. A tagged repository's packages are used only for names asked
    /// for with `name@tag`, and for their dependencies.
    public var tag: String?
    /// The packages of the index, in index order.
    public var packages: [PackageInfo]
    /// False when the index is known but its packages cannot be downloaded (apk's `--no-network`).
    public var isAvailable: Bool
    public var kind: Kind

    public init(
        name: String, tag: String? = nil, packages: [PackageInfo], isAvailable: Bool = true, kind: Kind = .repository
    ) {
        self.name = name
        self.tag = tag
        self.packages = packages
        self.isAvailable = isAvailable
        self.kind = kind
    }
}

/// Preferences that steer which provider the solver picks, as apk's solver flags.
public struct SolverFlags: OptionSet, Sendable, Hashable {
    public let rawValue: UInt16
    public init(rawValue: UInt16) { self.rawValue = rawValue }

    /// Prefer the newest version over the installed one (`apk upgrade`, `apk add -u`).
    public static let upgrade = SolverFlags(rawValue: 0x0001)
    /// Prefer packages that can be fetched from a repository over installed-only ones (`apk upgrade -a`).
    public static let available = SolverFlags(rawValue: 0x0002)
    /// Reinstall the package even if unchanged (`apk fix`).
    public static let reinstall = SolverFlags(rawValue: 0x0004)
    /// Insist on the newest version (`--latest`).
    public static let latest = SolverFlags(rawValue: 0x0008)
    /// Ignore `!conflict` dependencies and same-name conflicts.
    public static let ignoreConflicts = SolverFlags(rawValue: 0x0010)
    /// Keep the installed version (`apk upgrade --ignore name`).
    public static let keepInstalled = SolverFlags(rawValue: 0x0020)
    /// Prefer to remove the package (`apk del`).
    public static let remove = SolverFlags(rawValue: 0x0040)
}

/// Flags given to one name (every package providing it), as `apk add -u name`, `apk del name` or
/// `apk fix name` do; `inheritable` flags also pass to the dependencies of the chosen package.
public struct NameFlags: Sendable, Hashable {
    public var flags: SolverFlags
    public var inheritable: SolverFlags

    public init(_ flags: SolverFlags, inheritable: SolverFlags = []) {
        self.flags = flags
        self.inheritable = inheritable
    }
}

/// Everything the resolver needs: what is wanted (the world), what exists (repositories, installed
/// packages) and how to choose.
public struct SolverRequest: Sendable {
    /// The wanted constraints (`/etc/apk/world`, apko's `contents.packages`).
    public var world: [Dependency]
    /// Package sources; earlier repositories win ties between equal packages.
    public var repositories: [SolverRepository]
    /// The installed database (`InstalledPackage.repositoryTag` is its `s:` pin), in file order; empty when
    /// building a new image.
    public var installed: [InstalledPackage]
    /// Packages that exist only locally, outside any repository (apk's `add --virtual` meta packages).
    public var localPackages: [PackageInfo]
    /// The target architecture: repository packages for other architectures are ignored (`noarch` and
    /// packages without `A:` always qualify). Nil keeps every package.
    public var architecture: Architecture?
    /// Flags for the world's dependencies, inherited by everything they pull in.
    public var flags: SolverFlags
    /// Flags for particular names.
    public var nameFlags: [String: NameFlags]
    /// Drop world entries that cannot be satisfied instead of failing (apk `--force-broken-world`); they are
    /// reported in `InstallPlan.brokenWorld`.
    public var forceBrokenWorld: Bool
    /// Prefer installed versions for names without the upgrade flag (apk's self-upgrade transaction).
    public var preferInstalled: Bool

    public init(
        world: [Dependency], repositories: [SolverRepository], installed: [InstalledPackage] = [],
        localPackages: [PackageInfo] = [], architecture: Architecture? = nil, flags: SolverFlags = [],
        nameFlags: [String: NameFlags] = [:], forceBrokenWorld: Bool = false, preferInstalled: Bool = false
    ) {
        self.world = world
        self.repositories = repositories
        self.installed = installed
        self.localPackages = localPackages
        self.architecture = architecture
        self.flags = flags
        self.nameFlags = nameFlags
        self.forceBrokenWorld = forceBrokenWorld
        self.preferInstalled = preferInstalled
    }
}
