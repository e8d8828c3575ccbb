import Foundation
import LaminaCore

extension BuildConfiguration {
    /// Whether `text` looks like a `melange.yaml`: a top-level `package:` key (pipeline definitions and apko
    /// configurations have none) and no top-level `advisories:` (Wolfi advisory documents also name a package).
    public static func looksLikeBuildConfiguration(_ text: String) -> Bool {
        var package = false
        for line in text.split(separator: "\n", omittingEmptySubsequences: true) {
            guard let first = line.first, first != " ", first != "\t", first != "#", first != "-" else { continue }
            let key = line.prefix { $0 != ":" }
            if key == "advisories" { return false }
            if key == "package", line.dropFirst(key.count).hasPrefix(":") { package = true }
        }
        return package
    }

    /// Every `melange.yaml` under `directory`, recursively: `*.yaml` / `*.yml` files that
    /// `looksLikeBuildConfiguration`, as sorted paths (`directory` + relative path). Hidden folders are skipped.
    /// - Throws: `LaminaError(.notFound)` when `directory` is not a folder.
    public static func findConfigurations(under directory: String) throws -> [String] {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: directory, isDirectory: &isDirectory), isDirectory.boolValue else {
            throw LaminaError(.notFound, "no such folder", subject: directory)
        }
        let base = directory.hasSuffix("/") ? String(directory.dropLast()) : directory
        guard let walker = FileManager.default.enumerator(atPath: base) else {
            throw LaminaError(.io, "cannot list the folder", subject: directory)
        }
        var found: [String] = []
        while let relative = walker.nextObject() as? String {
            if relative.split(separator: "/").contains(where: { $0.hasPrefix(".") }) { continue }
            guard relative.hasSuffix(".yaml") || relative.hasSuffix(".yml") else { continue }
            let path = base + "/" + relative
            guard let data = FileManager.default.contents(atPath: path) else { continue }
            if looksLikeBuildConfiguration(String(decoding: data, as: UTF8.self)) { found.append(path) }
        }
        return found.sorted()
    }
}
