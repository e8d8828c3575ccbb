import APK

// Propagation and selection: how constraints flow down from the world and how each name gets its provider.
extension SolverRun {
    // MARK: - Discovery

    /// Visits a name and everything its providers may pull in (dependencies, provides, install_if
    /// dependents), initialising package state; numbers names in post-order.
    mutating func discover(_ name: Int) {
        if nameState[name].seen { return }
        nameState[name].seen = true
        nameState[name].noInstallIf = true
        let providers = graph.names[name].providers
        for provider in providers {
            let package = provider.package
            let p = graph.packages[package]
            if !packageState[package].seen {
                packageState[package].seen = true
                packageState[package].pinningAllowed = 1
                packageState[package].pinningPreferred = 1
                let available = p.repositories & graph.availableRepositories & ~SolverGraph.localRepositoryBit != 0
                packageState[package].available = available
                packageState[package].selectable =
                    p.repositories & graph.availableRepositories != 0 || p.cachedOnly || p.installedSize == 0
                    || p.isInstalled
                packageState[package].installIfFailed =
                    p.installIf.isEmpty || (inheritFlags.contains(.available) && !available)
                let repositories = graph.effectiveRepositories(package)
                let preferred = p.installedSize == 0 || repositories & defaultRepositories != 0
                packageState[package].tagPreferred = preferred
                packageState[package].tagOK = preferred || p.cachedOnly || p.isInstalled
                for dep in p.depends { discover(dep.name) }
            }
            nameState[name].noInstallIf = nameState[name].noInstallIf && packageState[package].installIfFailed
        }
        for provider in providers {
            let p = graph.packages[provider.package]
            for dependent in graph.names[p.name].reverseInstallIf { discover(dependent) }
            for provide in p.provides {
                if nameState[provide.name].seen { continue }
                discover(provide.name)
                for dependent in graph.names[provide.name].reverseInstallIf { discover(dependent) }
            }
        }
        orderCounter += 1
        nameState[name].orderID = orderCounter
    }

    // MARK: - Re-evaluation triggers

    mutating func reevaluateReverseDeps(_ name: Int) {
        for dependent in graph.names[name].reverseDepends where nameState[dependent].seen {
            nameState[dependent].reevaluateDeps = true
            queueDirty(dependent)
        }
    }

    mutating func reevaluateReverseInstallIf(_ name: Int) {
        for dependent in graph.names[name].reverseInstallIf {
            if !nameState[dependent].seen || nameState[dependent].noInstallIf { continue }
            nameState[dependent].reevaluateInstallIf = true
            queueDirty(dependent)
        }
    }

    mutating func reevaluateReverseInstallIf(package: Int) {
        let p = graph.packages[package]
        reevaluateReverseInstallIf(p.name)
        for provide in p.provides { reevaluateReverseInstallIf(provide.name) }
    }

    /// Takes a package out of the running; whoever depended on its names must look again.
    mutating func disqualify(_ package: Int) {
        packageState[package].selectable = false
        let p = graph.packages[package]
        reevaluateReverseDeps(p.name)
        for provide in p.provides { reevaluateReverseDeps(provide.name) }
        reevaluateReverseInstallIf(package: package)
    }

    func isSatisfiable(_ atom: Atom) -> Bool {
        if atom.isConflict && ignoreConflicts { return true }
        let s = nameState[atom.name]
        if s.locked { return isProvided(atom, by: s.chosen) }
        if s.requirers == 0 && isProvided(atom, by: nil) { return true }
        for provider in graph.names[atom.name].providers
        where packageState[provider.package].selectable && isProvided(atom, by: provider) {
            return true
        }
        return false
    }

    mutating func requirersChanged(_ name: Int) {
        queueUnresolved(name)
        reevaluateReverseInstallIf(name)
        queueDirty(name)
    }

    /// Passes flags and allowed repository tags down to a package from the one that pulls it in (nil: the
    /// world entry being applied).
    mutating func inherit(_ package: Int, from parent: Int?) {
        let repositories = graph.effectiveRepositories(package)
        if let parent {
            let parentState = packageState[parent]
            packageState[package].flags.formUnion(parentState.inheritableFlags)
            packageState[package].inheritableFlags.formUnion(parentState.inheritableFlags)
            packageState[package].pinningAllowed |= parentState.pinningAllowed
        } else {
            packageState[package].flags.formUnion(inheritFlags)
            packageState[package].inheritableFlags.formUnion(inheritFlags)
            packageState[package].pinningAllowed |= pinningInherit
            packageState[package].pinningPreferred = pinningInherit
            packageState[package].tagPreferred = repositories & graph.repositories(forPinning: pinningInherit) != 0
        }
        if repositories & graph.repositories(forPinning: packageState[package].pinningAllowed) != 0 {
            packageState[package].tagOK = true
        }
    }

    /// Applies one dependency (of `parent`, or of the world): counts the requirer and rules out providers
    /// that do not satisfy it.
    mutating func applyConstraint(parent: Int?, _ atom: Atom) {
        if atom.isConflict && ignoreConflicts { return }
        let name = atom.name
        if !atom.isConflict {
            nameState[name].requirers += 1
            if nameState[name].requirers == 1 { requirersChanged(name) }
        }
        for provider in graph.names[name].providers {
            let package = provider.package
            let provided = isProvided(atom, by: provider)
            if !provided { packageState[package].conflicts += 1 }
            if packageState[package].selectable && packageState[package].conflicts > 0 {
                disqualify(package)
            }
            if provided { inherit(package, from: parent) }
        }
    }

    /// When every candidate of `requiredBy` owns `name`, whatever provides `name` must be one of them.
    mutating func excludeNonProviders(_ name: Int, mustProvide: Int, skipVirtuals: Bool) {
        if name == mustProvide || ignoreConflicts { return }
        providers: for provider in graph.names[name].providers {
            let p = graph.packages[provider.package]
            if p.name == mustProvide || !packageState[provider.package].selectable
                || (skipVirtuals && provider.version == nil)
            {
                continue
            }
            for provide in p.provides where provide.name == mustProvide || (skipVirtuals && provide.version == nil) {
                continue providers
            }
            disqualify(provider.package)
        }
    }

    /// Marks `index` as seen by candidate number `options`; true the first time in this round.
    static func merge(_ index: inout Int, _ options: Int) -> Bool {
        if index != options { return false }
        index = options + 1
        return true
    }

    /// Whether all `options` candidates marked `index`; resets it.
    static func mergeComplete(_ index: inout Int, _ options: Int) -> Bool {
        let complete = index == options
        index = 0
        return complete
    }

    /// Whether a provider may be chosen without the user naming it: real packages and versioned provides
    /// yes; unversioned (virtual) provides only with a provider priority or when their package is
    /// itself required.
    func isAutoSelectable(_ provider: Provider) -> Bool {
        if provider.version != nil { return true }
        let p = graph.packages[provider.package]
        if p.providerPriority != 0 { return true }
        return nameState[p.name].requirers > 0
    }

    // MARK: - Reconsidering a name

    mutating func reconsider(_ name: Int) {
        let reevaluateDeps = nameState[name].reevaluateDeps
        let reevaluateInstallIf = nameState[name].reevaluateInstallIf
        nameState[name].reevaluateDeps = false
        nameState[name].reevaluateInstallIf = false
        nameState[name].hasAutoSelectable = false

        var options = 0
        var tagNotOK = 0
        var hasInstallIf = false
        var noInstallIf = true
        var firstCandidate: Int?
        let providers = graph.names[name].providers

        for provider in providers {
            let package = provider.package
            let p = graph.packages[package]
            packageState[package].dependenciesMerged = false
            if reevaluateDeps {
                if !packageState[package].selectable { continue }
                for dep in p.depends where !isSatisfiable(dep) {
                    disqualify(package)
                    break
                }
            }
            if !packageState[package].selectable { continue }

            if reevaluateInstallIf && !packageState[package].installIfTriggered
                && !packageState[package].installIfFailed
            {
                evaluateInstallIf(package)
            }
            if reevaluateInstallIf && packageState[package].installIfTriggered {
                for dep in p.installIf { inherit(package, from: nameState[dep.name].chosen?.package) }
            }
            hasInstallIf = hasInstallIf || packageState[package].installIfTriggered
            noInstallIf = noInstallIf && packageState[package].installIfFailed
            if packageState[package].installIfTriggered { nameState[name].hasAutoSelectable = true }

            if nameState[name].requirers == 0 { continue }

            // Merge what the candidates have in common.
            packageState[package].dependenciesMerged = true
            if firstCandidate == nil { firstCandidate = package }
            for dep in p.depends where !dep.isConflict {
                _ = Self.merge(&nameState[dep.name].mergeDepends, options)
            }
            if Self.merge(&nameState[p.name].mergeProvides, options) && provider.version == nil {
                nameState[p.name].hasVirtualProvides = true
            }
            for provide in p.provides
            where Self.merge(&nameState[provide.name].mergeProvides, options) && provide.version == nil {
                nameState[provide.name].hasVirtualProvides = true
            }
            if !packageState[package].tagOK { tagNotOK += 1 }
            options += 1
            if !nameState[name].hasAutoSelectable && isAutoSelectable(provider) {
                nameState[name].hasAutoSelectable = true
            }
        }
        nameState[name].hasOptions = options > 1 || tagNotOK > 0
        nameState[name].hasInstallIf = hasInstallIf
        nameState[name].noInstallIf = noInstallIf
        queueUnresolved(name)

        if let candidate = firstCandidate { applyCommonGround(of: name, candidate: candidate, options: options) }

        nameState[name].reverseDepsDone = true
        for dependent in graph.names[name].reverseDepends
        where nameState[dependent].seen && !nameState[dependent].locked {
            nameState[name].reverseDepsDone = false
            break
        }
    }

    /// Whether `package`'s `install_if` has fired (every name locked to a provider that satisfies it) or can
    /// no longer fire.
    private mutating func evaluateInstallIf(_ package: Int) {
        var triggered = true
        var failed = false
        for dep in graph.packages[package].installIf {
            if !nameState[dep.name].locked {
                triggered = false
                break
            }
            if !isProvided(dep, by: nameState[dep.name].chosen) {
                triggered = false
                failed = true
                break
            }
        }
        packageState[package].installIfTriggered = triggered
        packageState[package].installIfFailed = failed
    }

    /// What every remaining candidate of `name` has in common (merged while reconsidering, `candidate` the
    /// first of `options`): a dependency they all have is required whichever wins, and a name they all
    /// provide excludes the packages that do not.
    private mutating func applyCommonGround(of name: Int, candidate: Int, options: Int) {
        for provider in graph.names[name].providers {
            packageState[provider.package].dependenciesUsed = packageState[provider.package].dependenciesMerged
        }
        let p = graph.packages[candidate]
        if options == 1 {
            for dep in p.depends where Self.mergeComplete(&nameState[dep.name].mergeDepends, options) {
                applyConstraint(parent: candidate, dep)
            }
        } else {
            for dep in p.depends {
                let common = dep.name
                if Self.mergeComplete(&nameState[common].mergeDepends, options)
                    && nameState[common].requirers == 0
                {
                    // Every candidate needs this name: it is needed whichever wins.
                    nameState[common].requirers += 1
                    requirersChanged(common)
                    for provider in graph.names[common].providers { inherit(provider.package, from: candidate) }
                }
            }
        }
        if Self.mergeComplete(&nameState[p.name].mergeProvides, options) {
            excludeNonProviders(p.name, mustProvide: name, skipVirtuals: nameState[p.name].hasVirtualProvides)
        }
        for provide in p.provides where Self.mergeComplete(&nameState[provide.name].mergeProvides, options) {
            excludeNonProviders(
                provide.name, mustProvide: name, skipVirtuals: nameState[provide.name].hasVirtualProvides)
        }
        nameState[p.name].hasVirtualProvides = false
        for provide in p.provides { nameState[provide.name].hasVirtualProvides = false }
    }

    // MARK: - Choosing

    /// Positive when `a` is the better provider, negative when `b` is, zero when equal.
    func compareProviders(_ a: Provider?, _ b: Provider?) -> Int {
        guard let a, let b else { return (a != nil ? 1 : 0) - (b != nil ? 1 : 0) }
        let sa = packageState[a.package]
        let sb = packageState[b.package]
        let pa = graph.packages[a.package]
        let pb = graph.packages[b.package]
        let flags = sa.flags.union(sb.flags)
        func order(_ x: Bool, _ y: Bool) -> Int { (x ? 1 : 0) - (y ? 1 : 0) }

        if flags.contains(.remove) {
            let r = order(sb.flags.contains(.remove), sa.flags.contains(.remove))
            if r != 0 { return r }
        }
        if flags.contains(.latest) && sa.pinningAllowed == 1 && sb.pinningAllowed == 1 {
            var r = order(sa.tagOK, sb.tagOK)
            if r != 0 { return r }
            if flags.contains(.available) {
                r = order(sa.available, sb.available)
                if r != 0 { return r }
            } else if flags.contains(.reinstall) {
                r = order(sa.selectable, sb.selectable)
                if r != 0 { return r }
            }
        } else {
            var r = order(sa.selectable, sb.selectable)
            if r != 0 { return r }
            r = order(sa.dependenciesUsed, sb.dependenciesUsed)
            if r != 0 { return r }
            r = sb.conflicts - sa.conflicts
            if r != 0 { return r }
            if (preferInstalled && !flags.contains(.upgrade)) || flags.contains(.keepInstalled) {
                r = order(pa.isInstalled, pb.isInstalled)
                if r != 0 { return r }
            }
            r = order(sa.tagOK, sb.tagOK)
            if r != 0 { return r }
            if flags.contains(.available) {
                r = order(sa.available, sb.available)
                if r != 0 { return r }
            }
            r = order(sa.tagPreferred, sb.tagPreferred)
            if r != 0 { return r }
            if !flags.contains(.upgrade) {
                r = order(pa.isInstalled, pb.isInstalled)
                if r != 0 { return r }
            }
        }
        if let va = a.version, let vb = b.version {
            switch APKVersion.compare(va, vb) {
            case .less: return -1
            case .greater: return 1
            case .equal: break
            }
        }
        if pa.name == pb.name {
            switch APKVersion.compare(pa.version, pb.version) {
            case .less: return -1
            case .greater: return 1
            case .equal: break
            }
        }
        var r = order(pa.isInstalled, pb.isInstalled)
        if r != 0 { return r }
        r = pa.providerPriority - pb.providerPriority
        if r != 0 { return r }
        r = order(sa.selectable, sb.selectable)
        if r != 0 { return r }
        return Self.lowestRepository(pb.repositories) - Self.lowestRepository(pa.repositories)
    }

    /// 1 + the index of the lowest set bit, 0 for none (C's `ffs`).
    static func lowestRepository(_ mask: UInt64) -> Int {
        mask == 0 ? 0 : mask.trailingZeroBitCount + 1
    }

    /// Gives `name` to `provider` (nil: to nothing) and excludes the other providers that conflict with it.
    mutating func assign(_ name: Int, _ provider: Provider?) {
        if nameState[name].locked {
            // Two unversioned provides of the same name may coexist.
            let chosen = nameState[name].chosen
            if (provider?.version == nil) && (chosen?.version == nil) { return }
            if ignoreConflicts { return }
            markError(provider?.package)
            markError(chosen?.package)
            return
        }
        nameState[name].locked = true
        nameState[name].chosen = provider
        unresolved.remove(name)
        nameState[name].inDirtyQueue = false

        if !ignoreConflicts {
            for other in graph.names[name].providers {
                if other.package == provider?.package { continue }
                if provider?.version == nil && other.version == nil { continue }
                disqualify(other.package)
            }
        }
        reevaluateReverseDeps(name)
        if let package = provider?.package {
            reevaluateReverseInstallIf(package: package)
        } else {
            reevaluateReverseInstallIf(name)
        }
    }

    /// Decides `name`: picks its best provider and locks every name that provider owns.
    mutating func select(_ name: Int) {
        var chosen: Provider?
        let s = nameState[name]
        if s.requirers > 0 || s.hasInstallIf {
            for provider in graph.names[name].providers {
                let ps = packageState[provider.package]
                if s.requirers == 0 && (!ps.installIfTriggered || !ps.tagOK || !ps.selectable) { continue }
                if !isAutoSelectable(provider) { continue }
                if compareProviders(provider, chosen) > 0 { chosen = provider }
            }
        }
        if let package = chosen?.package {
            if !packageState[package].selectable || !packageState[package].tagOK { markError(package) }
            let p = graph.packages[package]
            assign(p.name, Provider(package: package, version: p.version))
            for provide in p.provides { assign(provide.name, Provider(package: package, version: provide.version)) }
            for dep in p.depends { applyConstraint(parent: package, dep) }
        } else {
            assign(name, nil)
            if nameState[name].requirers > 0 {
                errors += 1
                unprovided.append(name)
            }
        }
    }
}
