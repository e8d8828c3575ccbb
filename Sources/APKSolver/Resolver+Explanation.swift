import APK

// Explaining a failed solve: which constraint fails, who asked for it (the chain from the world), and why
// nothing can meet it.
extension SolverRun {
    /// Who pulled a package in: the world entry, or a package and its dependency.
    private struct Edge {
        var parent: Int?
        var atom: Atom
    }

    /// Problems in the order found, each text once.
    private struct ProblemList {
        var problems: [SolverProblem] = []
        var seenTexts = Set<String>()

        mutating func add(_ kind: SolverProblem.Kind, _ subject: String, _ text: String) {
            if seenTexts.insert(text).inserted {
                problems.append(SolverProblem(kind: kind, subject: subject, explanation: text))
            }
        }
    }

    func explain() -> [SolverProblem] {
        var marked: [Int] = []
        var isMarked = [Bool](repeating: false, count: graph.packages.count)
        for step in steps {
            if let new = step.new, !isMarked[new] {
                isMarked[new] = true
                marked.append(new)
            }
        }
        let edges = requirementEdges(isMarked: isMarked)
        var problems = ProblemList()
        explainUnmetRequirements(marked: marked, edges: edges, into: &problems)
        explainUnusable(marked: marked, edges: edges, into: &problems)
        explainSameNameConflicts(marked: marked, edges: edges, into: &problems)
        if problems.problems.isEmpty {
            problems.add(.breaksConstraint, "world", "the world \(world.map(\.source.description)) cannot be satisfied")
        }
        return problems.problems
    }

    /// Every requirement (of the world or of a package to be installed) that its name's choice misses.
    private func explainUnmetRequirements(marked: [Int], edges: [Int: Edge], into problems: inout ProblemList) {
        var requirers: [(parent: Int?, atom: Atom)] = world.enumerated().filter { !broken[$0.offset] }.map {
            (nil, $0.element)
        }
        for package in marked { requirers += graph.packages[package].depends.map { (package, $0) } }
        for (parent, atom) in requirers {
            let chosen = nameState[atom.name].chosen
            if isProvided(atom, by: chosen) { continue }
            let who = chain(to: parent, edges: edges)
            let wants = atom.isConflict ? "conflicts with \(describe(atom))" : "requires \(describe(atom))"
            let name = graph.names[atom.name].text
            guard let package = chosen?.package else {
                if atom.isConflict { continue }
                let providers = graph.names[atom.name].providers
                if providers.isEmpty {
                    var text = "\(who) \(wants), but no package provides '\(name)'"
                    if let arches = graph.otherArchitectures[name] {
                        text += " (only for \(arches.sorted().joined(separator: ", ")))"
                    }
                    problems.add(.missing, name, text)
                } else {
                    let owners = uniqueOwners(providers)
                    let text =
                        owners.count == 1
                        ? "\(who) \(wants), a virtual name provided only by \(owners[0]), which has no "
                            + "provider_priority to be chosen automatically: add it to the world"
                        : "\(who) \(wants), a virtual name provided by \(owners.joined(separator: ", ")) with no "
                            + "provider_priority to choose between them: add one of them to the world"
                    problems.add(.ambiguousVirtual, name, text)
                }
                continue
            }
            let satisfying = graph.names[atom.name].providers.filter { isProvided(atom, by: $0) }
            var text: String
            if !atom.isConflict && satisfying.isEmpty {
                var all: [String] = []
                for provider in graph.names[atom.name].providers where !all.contains(label(provider.package)) {
                    all.append(label(provider.package))
                }
                let verb = all.count == 1 ? "is" : "are"
                text = "\(who) \(wants), but only \(all.joined(separator: ", ")) \(verb) available"
            } else {
                text = "\(who) \(wants), but \(label(package)) is selected"
                let users = dependents(satisfiedBy: package, isMarked: marked)
                if !users.isEmpty { text += " (for \(users.joined(separator: ", ")))" }
                if !atom.isConflict && satisfying.allSatisfy({ !packageState[$0.package].tagOK }) {
                    let labels = satisfying.map { label($0.package) }
                    text += "; \(labels.joined(separator: ", ")) would need a repository tag"
                }
            }
            problems.add(.breaksConstraint, label(package), text)
        }
    }

    /// Packages chosen although they cannot be used (repository unavailable, tag not asked for).
    private func explainUnusable(marked: [Int], edges: [Int: Edge], into problems: inout ProblemList) {
        for package in marked where packageState[package].hasError {
            let state = packageState[package]
            let p = graph.packages[package]
            let route = path(to: package, edges: edges)
            let lead = route.isEmpty ? "" : "\(route), but "
            if !state.selectable && p.repositories & graph.availableRepositories == 0 && !p.isInstalled && !p.cachedOnly
                && p.installedSize != 0
            {
                problems.add(
                    .unavailable, label(package),
                    "\(lead)\(label(package)) cannot be fetched: its repository is not available")
            } else if !state.tagOK {
                let tags = graph.tags.indices.filter { $0 != 0 && graph.tagRepositories[$0] & p.repositories != 0 }
                let name = graph.names[p.name].text
                let wanted = tags.count == 1 ? "\(name)@\(graph.tags[tags[0]])" : "\(name)@tag"
                problems.add(
                    .pinned, label(package),
                    "\(lead)\(label(package)) is only in \(tags.map { "@\(graph.tags[$0])" }.joined(separator: ", ")); "
                        + "ask for '\(wanted)' to allow it")
            }
        }
    }

    /// Two packages to be installed that own the same name.
    private func explainSameNameConflicts(marked: [Int], edges: [Int: Edge], into problems: inout ProblemList) {
        var owners: [Int: [(package: Int, versioned: Bool)]] = [:]
        for package in marked {
            let p = graph.packages[package]
            owners[p.name, default: []].append((package, true))
            for provide in p.provides { owners[provide.name, default: []].append((package, provide.version != nil)) }
        }
        for (name, list) in owners.sorted(by: { $0.key < $1.key }) where list.count > 1 {
            if list.allSatisfy({ !$0.versioned }) { continue }
            let packages = list.map(\.package)
            let text: String
            if Set(packages).count == 1 {
                text = "\(label(packages[0])) provides '\(graph.names[name].text)' more than once and conflicts with "
                    + "itself"
            } else {
                var distinct: [Int] = []
                for package in packages where !distinct.contains(package) { distinct.append(package) }
                let reasons = distinct.map { "\(label($0)): \(path(to: $0, edges: edges))" }
                let both = distinct.map { label($0) }.joined(separator: " and ")
                text = "cannot install both \(both): they own the same name '\(graph.names[name].text)' "
                    + "(\(reasons.joined(separator: "; ")))"
            }
            problems.add(.sameNameConflict, graph.names[name].text, text)
        }
    }

    /// For each marked package, the first requirement (breadth first from the world) that pulled it in.
    private func requirementEdges(isMarked: [Bool]) -> [Int: Edge] {
        var edges: [Int: Edge] = [:]
        var queue: [Int] = []
        for (index, atom) in world.enumerated() where !broken[index] && !atom.isConflict {
            if let package = nameState[atom.name].chosen?.package, isMarked[package], edges[package] == nil {
                edges[package] = Edge(parent: nil, atom: atom)
                queue.append(package)
            }
        }
        var head = 0
        while head < queue.count {
            let parent = queue[head]
            head += 1
            for atom in graph.packages[parent].depends where !atom.isConflict {
                if let package = nameState[atom.name].chosen?.package, isMarked[package], edges[package] == nil {
                    edges[package] = Edge(parent: parent, atom: atom)
                    queue.append(package)
                }
            }
        }
        return edges
    }

    /// `world requires a, a-3 requires b, b-1` — the path to `package` (nil: the world itself).
    private func chain(to package: Int?, edges: [Int: Edge]) -> String {
        guard let package else { return "world" }
        let steps = path(to: package, edges: edges)
        return steps.isEmpty ? label(package) : "\(steps), \(label(package))"
    }

    /// `world requires a, a-3 requires b`: the requirements that lead to `package`.
    private func path(to package: Int, edges: [Int: Edge]) -> String {
        var parts: [String] = []
        var current: Int? = package
        var guardCount = 0
        while let node = current, let edge = edges[node], guardCount < 64 {
            let owner = edge.parent.map { label($0) } ?? "world"
            parts.append("\(owner) requires \(describe(edge.atom))")
            current = edge.parent
            guardCount += 1
        }
        parts.reverse()
        return parts.joined(separator: ", ")
    }

    private func dependents(satisfiedBy package: Int, isMarked marked: [Int]) -> [String] {
        var result: [String] = []
        for (index, atom) in world.enumerated() where !broken[index] && !atom.isConflict {
            if relation(atom, package) == .satisfies { result.append("world[\(describe(atom))]") }
        }
        for other in marked where other != package {
            for atom in graph.packages[other].depends where !atom.isConflict && relation(atom, package) == .satisfies {
                result.append("\(label(other))[\(describe(atom))]")
            }
        }
        return result
    }

    private func uniqueOwners(_ providers: [Provider]) -> [String] {
        var result: [String] = []
        for provider in providers {
            let text = graph.names[graph.packages[provider.package].name].text
            if !result.contains(text) { result.append(text) }
        }
        return result
    }

    func label(_ package: Int) -> String { graph.infos[package].nameVersion }

    func describe(_ atom: Atom) -> String {
        var copy = atom.source
        copy.isConflict = false
        return copy.description
    }
}
