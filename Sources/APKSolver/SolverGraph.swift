import APK
import LaminaCore

/// The request turned into integer-indexed tables: names, packages, resolved dependency atoms, repository
/// and tag bit masks. Built once per solve; the solver never looks at strings except to compare versions.
struct SolverGraph {
    /// Bit masks of the orderings a constraint accepts, as apk encodes them.
    struct Mask {
        static let equal: UInt8 = 1
        static let less: UInt8 = 2
        static let greater: UInt8 = 4
        static let fuzzy: UInt8 = 8
        /// No constraint: anything goes.
        static let any: UInt8 = 15
        /// `><`: identity match.
        static let checksum: UInt8 = 6
    }

    /// A dependency atom with its name interned.
    struct Atom {
        var name: Int
        var mask: UInt8
        /// The constraint's version, nil without a constraint (and for unversioned provides).
        var version: String?
        var isConflict: Bool
        var isFuzzy: Bool
        var tag: Int
        /// For `><`: the identity the package must have.
        var identity: Digest?
        var source: Dependency
    }

    /// A package offering a name: its own name at its version, or a provides entry (version nil when the
    /// provide is unversioned).
    struct Provider: Equatable {
        var package: Int
        var version: String?
    }

    struct Name {
        var text: String
        var providers: [Provider] = []
        /// Names of packages (and their provides) that depend on this name.
        var reverseDepends: [Int] = []
        /// Names of packages (and their provides) whose install_if mentions this name.
        var reverseInstallIf: [Int] = []
        /// Whether the request gave this name its own flags.
        var hasFlags = false
    }

    struct Package {
        var name: Int
        var version: String
        var depends: [Atom]
        var provides: [Atom]
        var installIf: [Atom]
        var providerPriority: Int
        /// Bit 0: local (virtual) packages; bit i+1: `request.repositories[i]`.
        var repositories: UInt64
        var isInstalled: Bool
        var installedTag: Int
        var installedSize: Int64
        /// In a cache-only source: installable but not "available".
        var cachedOnly: Bool
        var identity: Digest?
        var flags: SolverFlags = []
        var inheritableFlags: SolverFlags = []
    }

    static let localRepositoryBit: UInt64 = 1

    var names: [Name] = []
    var nameIndex: [String: Int] = [:]
    var packages: [Package] = []
    /// The full metadata of each package (kept apart from the solver's hot data).
    var infos: [PackageInfo] = []
    /// Tag texts (without `@`); tag 0 is the default (untagged) one.
    var tags: [String] = [""]
    /// Per tag, the repositories it allows.
    var tagRepositories: [UInt64] = [0]
    var availableRepositories: UInt64 = localRepositoryBit
    /// Installed packages in database order.
    var installedOrder: [Int] = []
    var world: [Atom] = []
    /// Names of packages left out because of their architecture, with those architectures.
    var otherArchitectures: [String: Set<String>] = [:]

    private var reverseEdges = EdgeSet()
    private var identityIndex: [Digest: Int] = [:]
    private var fallbackIndex: [String: Int] = [:]

    init(_ request: SolverRequest) throws {
        guard request.repositories.count <= 62 else {
            throw LaminaError(.limitExceeded, "too many repositories (\(request.repositories.count)); the limit is 62")
        }
        // Tags in the order apk creates them: installed database, repositories, world.
        for installed in request.installed { _ = tagID(installed.repositoryTag) }
        let total = request.installed.count + request.repositories.reduce(0) { $0 + $1.packages.count }
        packages.reserveCapacity(total)
        infos.reserveCapacity(total)
        identityIndex.reserveCapacity(total)
        // Each package records (depends + install_if) x (1 + provides) reverse edges at most, many of them the
        // same as another version's: room for half that bound means growing once at most.
        var edges = 0
        for repository in request.repositories {
            for info in repository.packages { edges += (info.depends.count + info.installIf.count) * (1 + info.provides.count) }
        }
        reverseEdges = EdgeSet(capacity: edges / 2)
        names.reserveCapacity(total * 2)
        nameIndex.reserveCapacity(total * 2)
        for (index, repository) in request.repositories.enumerated() where repository.kind == .repository {
            let bit = UInt64(1) << UInt64(index + 1)
            let tag = tagID(repository.tag)
            tagRepositories[tag] |= bit
            if repository.isAvailable { availableRepositories |= bit }
        }
        guard tags.count <= 64 else { throw LaminaError(.limitExceeded, "too many repository tags (limit 64)") }

        for installed in request.installed {
            let tag = tagID(installed.repositoryTag)
            add(installed.info, repositories: 0, installed: true, installedTag: tag, cachedOnly: false)
        }
        for (index, repository) in request.repositories.enumerated() {
            let isCache = repository.kind == .cache
            let bit: UInt64 = isCache ? 0 : UInt64(1) << UInt64(index + 1)
            for info in repository.packages {
                if let wanted = request.architecture, let arch = info.arch, arch != "noarch", arch != wanted.apk {
                    otherArchitectures[info.name, default: []].insert(arch)
                    continue
                }
                add(info, repositories: bit, installed: false, installedTag: 0, cachedOnly: isCache)
            }
        }
        for info in request.localPackages {
            add(info, repositories: Self.localRepositoryBit, installed: false, installedTag: 0, cachedOnly: false)
        }
        world = request.world.map { atom($0) }
        guard tags.count <= 64 else { throw LaminaError(.limitExceeded, "too many repository tags (limit 64)") }

        for (text, nameFlags) in request.nameFlags.sorted(by: { $0.key < $1.key }) {
            guard let name = nameIndex[text] else { continue }
            names[name].hasFlags = true
            for provider in names[name].providers {
                packages[provider.package].flags.formUnion(nameFlags.flags)
                packages[provider.package].inheritableFlags.formUnion(nameFlags.inheritable)
            }
        }
    }

    mutating func nameID(_ text: String) -> Int {
        if let id = nameIndex[text] { return id }
        let id = names.count
        names.append(Name(text: text))
        nameIndex[text] = id
        return id
    }

    mutating func tagID(_ tag: String?) -> Int {
        guard let tag, !tag.isEmpty else { return 0 }
        let plain = tag.hasPrefix("@") ? String(tag.dropFirst()) : tag
        if let id = tags.firstIndex(of: plain) { return id }
        tags.append(plain)
        tagRepositories.append(0)
        return tags.count - 1
    }

    mutating func atom(_ dependency: Dependency) -> Atom {
        var mask = Mask.any
        var fuzzy = false
        var identity: Digest?
        if let constraint = dependency.constraint {
            switch constraint.op {
            case .equal: mask = Mask.equal
            case .less: mask = Mask.less
            case .lessOrEqual: mask = Mask.less | Mask.equal
            case .greater: mask = Mask.greater
            case .greaterOrEqual: mask = Mask.greater | Mask.equal
            case .fuzzy: mask = Mask.fuzzy | Mask.equal
            case .greaterOrFuzzy: mask = Mask.greater | Mask.fuzzy | Mask.equal
            case .lessOrFuzzy: mask = Mask.less | Mask.fuzzy | Mask.equal
            case .checksum:
                mask = Mask.checksum
                identity = try? Digest(apkIdentity: constraint.version)
            }
            fuzzy = constraint.op.isFuzzy
        }
        return Atom(
            name: nameID(dependency.name), mask: mask, version: dependency.constraint?.version,
            isConflict: dependency.isConflict, isFuzzy: fuzzy, tag: tagID(dependency.tag), identity: identity,
            source: dependency)
    }

    /// Adds a package, merging it into an earlier one with the same identity (apk identifies packages by
    /// their control checksum; without one, by name and version).
    mutating func add(_ info: PackageInfo, repositories: UInt64, installed: Bool, installedTag: Int, cachedOnly: Bool) {
        let existing: Int?
        if let checksum = info.checksum {
            existing = identityIndex[checksum]
        } else {
            existing = fallbackIndex[info.nameVersion]
        }
        if let existing {
            packages[existing].repositories |= repositories
            packages[existing].cachedOnly = packages[existing].cachedOnly || cachedOnly
            if installed && !packages[existing].isInstalled {
                packages[existing].isInstalled = true
                packages[existing].installedTag = installedTag
                installedOrder.append(existing)
            }
            return
        }
        let id = packages.count
        let name = nameID(info.name)
        let package = Package(
            name: name, version: info.version, depends: info.depends.map { atom($0) },
            provides: info.provides.map { atom($0) }, installIf: info.installIf.map { atom($0) },
            providerPriority: info.providerPriority ?? 0, repositories: repositories, isInstalled: installed, installedTag: installedTag,
            installedSize: info.installedSize ?? 0, cachedOnly: cachedOnly, identity: info.checksum)
        packages.append(package)
        infos.append(info)
        if let checksum = info.checksum { identityIndex[checksum] = id } else { fallbackIndex[info.nameVersion] = id }
        if installed { installedOrder.append(id) }

        names[name].providers.append(Provider(package: id, version: info.version))
        for provide in package.provides {
            names[provide.name].providers.append(Provider(package: id, version: provide.version))
        }
        for dep in package.depends {
            addReverse(dep.name, name, installIf: false)
            for provide in package.provides { addReverse(dep.name, provide.name, installIf: false) }
        }
        for dep in package.installIf {
            addReverse(dep.name, name, installIf: true)
            for provide in package.provides { addReverse(dep.name, provide.name, installIf: true) }
        }
    }

    /// The reverse edges recorded so far, each packed into one integer: an open-addressing set, because a
    /// package's dependencies times its provides make hundreds of thousands of insertions for a real index
    /// (busybox alone provides ~400 names), too many for `Set`'s seeded hashing of a struct.
    struct EdgeSet {
        private var slots: [UInt64]
        private var count = 0

        /// Room for `capacity` keys before growing (at most half the slots are used).
        init(capacity: Int = 1 << 11) {
            var size = 1 << 12
            while size < capacity * 2 { size <<= 1 }
            slots = [UInt64](repeating: 0, count: size)
        }

        /// Inserts `key` (never 0); whether it was new.
        mutating func insert(_ key: UInt64) -> Bool {
            var mask = slots.count - 1
            if (count + 1) * 2 > slots.count {
                grow()
                mask = slots.count - 1
            }
            var slot = Int(truncatingIfNeeded: (key &* 0x9E37_79B9_7F4A_7C15) >> 20) & mask
            while true {
                let existing = slots[slot]
                if existing == key { return false }
                if existing == 0 { break }
                slot = (slot + 1) & mask
            }
            slots[slot] = key
            count += 1
            return true
        }

        private mutating func grow() {
            let old = slots
            slots = [UInt64](repeating: 0, count: old.count * 2)
            let mask = slots.count - 1
            for key in old where key != 0 {
                var slot = Int(truncatingIfNeeded: (key &* 0x9E37_79B9_7F4A_7C15) >> 20) & mask
                while slots[slot] != 0 { slot = (slot + 1) & mask }
                slots[slot] = key
            }
        }
    }

    /// Records that `dependent` depends on (or is installed if) `target`, once.
    private mutating func addReverse(_ target: Int, _ dependent: Int, installIf: Bool) {
        let key = UInt64(target) << 32 | UInt64(dependent) << 1 | (installIf ? 1 : 0) | 1 << 63
        guard reverseEdges.insert(key) else { return }
        if installIf {
            names[target].reverseInstallIf.append(dependent)
        } else {
            names[target].reverseDepends.append(dependent)
        }
    }

    /// The repositories allowed by a set of tags (bit i = tag i).
    func repositories(forPinning mask: UInt64) -> UInt64 {
        var result: UInt64 = 0
        var remaining = mask
        var tag = 0
        while remaining != 0 && tag < tags.count {
            if remaining & (1 << UInt64(tag)) != 0 {
                result |= tagRepositories[tag]
                remaining &= ~(1 << UInt64(tag))
            }
            tag += 1
        }
        return result
    }

    /// The repositories a package counts as coming from: where it is, plus, when installed, the
    /// repositories of the tag it was installed with.
    func effectiveRepositories(_ package: Int) -> UInt64 {
        let p = packages[package]
        return p.repositories | (p.isInstalled ? tagRepositories[p.installedTag] : 0)
    }

    /// The apk display order of names: case-insensitive, then byte order.
    static func displayOrder(_ a: String, _ b: String) -> Bool {
        let la = a.lowercased()
        let lb = b.lowercased()
        if la != lb { return la.utf8.lexicographicallyPrecedes(lb.utf8) }
        return a.utf8.lexicographicallyPrecedes(b.utf8)
    }
}
