import APK

// Turning the chosen providers into an ordered transaction relative to the installed set.
extension SolverRun {
    mutating func generateChangeset() {
        steps.removeAll()
        for index in nameState.indices {
            nameState[index].installedPackage = nil
            nameState[index].installedName = nil
            nameState[index].requirers = 0
        }
        for package in graph.installedOrder {
            let p = graph.packages[package]
            nameState[p.name].installedPackage = package
            nameState[p.name].installedName = p.name
            for provide in p.provides where provide.version != nil {
                nameState[provide.name].installedName = p.name
            }
        }
        for package in graph.installedOrder { trackDependenciesAdded(package) }
        for package in graph.installedOrder { checkRemovalByDependencies(package) }
        for atom in world { generate(dependency: atom, of: nil) }
        for package in graph.installedOrder { generateChange(graph.packages[package].name) }
    }

    mutating func trackDependenciesAdded(_ package: Int) {
        for dep in graph.packages[package].depends where !dep.isConflict {
            if let owner = nameState[dep.name].installedName { nameState[owner].requirers += 1 }
        }
    }

    mutating func trackDependenciesRemoved(_ package: Int) {
        for dep in graph.packages[package].depends where !dep.isConflict {
            guard let owner = nameState[dep.name].installedName else { continue }
            nameState[owner].requirers -= 1
            if nameState[owner].requirers > 0 { continue }
            if let installed = nameState[dep.name].installedPackage { generateRemoval(installed) }
        }
    }

    /// An installed package nobody needs any more, whose name nothing provides now, goes away.
    mutating func checkRemovalByDependencies(_ package: Int) {
        let name = graph.packages[package].name
        if nameState[name].requirers == 0 && nameState[name].chosen == nil { generateRemoval(package) }
    }

    mutating func checkInstallByInstallIf(_ name: Int) {
        guard let package = nameState[name].chosen?.package, nameState[name].seen, !nameState[name].inChangeset
        else { return }
        for dep in graph.packages[package].installIf {
            if !nameState[dep.name].inChangeset { return }
            if !isProvided(dep, by: nameState[dep.name].chosen) { return }
        }
        generateChange(name)
    }

    mutating func checkRemovalByInstallIf(_ name: Int) {
        guard let package = nameState[name].installedPackage, !nameState[name].inChangeset,
            nameState[name].chosen == nil
        else { return }
        for dep in graph.packages[package].installIf
        where nameState[dep.name].inChangeset && nameState[dep.name].chosen == nil {
            checkRemovalByDependencies(package)
            return
        }
    }

    enum InstallIfCheck { case install, removal }

    mutating func checkReverseInstallIf(of package: Int?, _ check: InstallIfCheck) {
        guard let package else { return }
        let p = graph.packages[package]
        var dependents = graph.names[p.name].reverseInstallIf
        for provide in p.provides { dependents += graph.names[provide.name].reverseInstallIf }
        for dependent in dependents {
            switch check {
            case .install: checkInstallByInstallIf(dependent)
            case .removal: checkRemovalByInstallIf(dependent)
            }
        }
    }

    /// Removes what used to provide `name` if something else (or nothing) provides it now.
    mutating func removeOrphans(_ name: Int) {
        if nameState[name].inChangeset { return }
        nameState[name].inChangeset = true
        if let installed = nameState[name].installedPackage {
            if nameState[name].chosen.map({ graph.packages[$0.package].name != name }) ?? true {
                generateRemoval(installed)
            }
        }
        for provider in graph.names[name].providers {
            let owner = graph.packages[provider.package].name
            if nameState[owner].installedPackage == provider.package && nameState[owner].chosen == nil {
                generateRemoval(provider.package)
            }
        }
    }

    /// Records the chosen package of `name`, after its dependencies.
    mutating func generateChange(_ name: Int) {
        if nameState[name].inChangeset { return }
        removeOrphans(name)
        guard let package = nameState[name].chosen?.package, !packageState[package].inChangeset else { return }
        packageState[package].inChangeset = true
        let p = graph.packages[package]
        removeOrphans(p.name)
        for provide in p.provides { removeOrphans(provide.name) }
        let old = nameState[p.name].installedPackage
        checkReverseInstallIf(of: old, .removal)
        for dep in p.depends { generate(dependency: dep, of: package) }
        record(old: old, new: package)
        checkReverseInstallIf(of: package, .install)
        trackDependenciesAdded(package)
        if let old { trackDependenciesRemoved(old) }
    }

    /// Records the removal of an installed package, and of the installed packages that depend on it.
    mutating func generateRemoval(_ package: Int) {
        let name = graph.packages[package].name
        if packageState[package].inChangeset { return }
        if let chosen = nameState[name].chosen?.package, graph.packages[chosen].name == name { return }
        nameState[name].inChangeset = true
        packageState[package].inChangeset = true
        for dependent in installedDependents(of: package) { generateRemoval(dependent) }
        checkReverseInstallIf(of: package, .removal)
        record(old: package, new: nil)
        trackDependenciesRemoved(package)
    }

    /// Installed packages with a dependency that `package` satisfies, once for each such dependency.
    func installedDependents(of package: Int) -> [Int] {
        let p = graph.packages[package]
        var result: [Int] = []
        var names = [p.name]
        names += p.provides.map(\.name)
        for name in names {
            for dependentName in graph.names[name].reverseDepends {
                for provider in graph.names[dependentName].providers {
                    let dependent = provider.package
                    guard graph.packages[dependent].isInstalled else { continue }
                    for dep in graph.packages[dependent].depends where relation(dep, package) == .satisfies {
                        result.append(dependent)
                    }
                }
            }
        }
        return result
    }

    mutating func generate(dependency atom: Atom, of parent: Int?) {
        if atom.isConflict && ignoreConflicts { return }
        let chosen = nameState[atom.name].chosen?.package
        if !isProvided(atom, by: nameState[atom.name].chosen) { markError(parent) }
        generateChange(atom.name)
        if let chosen, packageState[chosen].hasError { markError(parent) }
    }

    mutating func record(old: Int?, new: Int?) {
        var newTag = 0
        if let new {
            let repositories = graph.effectiveRepositories(new)
            let allowed = packageState[new].pinningAllowed
            for tag in graph.tags.indices
            where allowed & (1 << UInt64(tag)) != 0 && graph.tagRepositories[tag] & repositories != 0 {
                newTag = tag
                break
            }
        }
        steps.append(
            Step(
                old: old, new: new, oldTag: old.map { graph.packages[$0].installedTag } ?? 0, newTag: newTag,
                reinstall: new.map { packageState[$0].flags.contains(.reinstall) } ?? false))
    }

    // MARK: - The plan

    func plan(request: SolverRequest, brokenWorld: [Dependency]) -> InstallPlan {
        var changes: [InstallPlan.Change] = []
        var packages: [ResolvedPackage] = []
        for step in steps {
            let source = step.new.map { self.source(of: $0, tag: step.newTag) }
            if let new = step.new, let source {
                packages.append(
                    ResolvedPackage(
                        info: graph.infos[new], source: source, isInstalled: graph.packages[new].isInstalled))
            }
            let kind: InstallPlan.Change.Kind
            switch (step.old, step.new) {
            case (nil, nil):
                continue
            case (nil, .some):
                kind = .install
            case (.some, nil):
                kind = .remove
            case (.some(let old), .some(let new)) where old == new:
                if step.reinstall {
                    kind = .reinstall
                } else if step.oldTag != step.newTag {
                    kind = .updatePinning
                } else {
                    continue
                }
            case (.some(let old), .some(let new)):
                switch APKVersion.compare(graph.packages[new].version, graph.packages[old].version) {
                case .less: kind = .downgrade
                case .equal: kind = .replace
                case .greater: kind = .upgrade
                }
            }
            changes.append(
                InstallPlan.Change(
                    kind: kind, old: step.old.map { graph.infos[$0] },
                    new: step.new.map { graph.infos[$0] }, source: source))
        }
        return InstallPlan(changes: changes, packages: packages, world: world.map(\.source), brokenWorld: brokenWorld)
    }

    /// The first available repository holding the package, and its tag.
    func source(of package: Int, tag: Int) -> PackageSource {
        let bits = graph.packages[package].repositories & graph.availableRepositories
        let repository = bits >> 1 == 0 ? nil : (bits >> 1).trailingZeroBitCount
        return PackageSource(repository: repository, tag: tag == 0 ? nil : graph.tags[tag])
    }
}
