import Foundation
import LaminaCore

/// apko's `--vcs` probe: the git checkout holding the config (searched from the config's folder up to the working
/// directory) gives `vcs-url` as `<origin URL>@<HEAD commit>`, the URL without credentials and an scp-style
/// `user@host:path` written as `git+ssh://host/path`, as apko's `pkg/vcs` does. Read from the `.git` files
/// directly: no git binary needed.
public enum VCSProbe {
    /// The VCS URL for `configPath`, or nil when it is not in a git checkout with an `origin` remote.
    public static func url(forConfig configPath: String, workingDirectory: String = FileManager.default.currentDirectoryPath) -> String? {
        let top = URL(fileURLWithPath: workingDirectory).standardizedFileURL.path
        var directory = URL(fileURLWithPath: configPath).standardizedFileURL.deletingLastPathComponent().path
        while true {
            if let gitDirectory = gitDirectory(in: directory) {
                guard let remote = originURL(gitDirectory) else { return nil }
                guard let commit = head(gitDirectory) else { return remote }
                return remote + "@" + commit
            }
            if directory == top || directory == "/" || !directory.hasPrefix(top) { return nil }
            directory = (directory as NSString).deletingLastPathComponent
        }
    }

    /// `DIR/.git` as a folder, or the folder a `.git` file (`gitdir: …`, worktrees and submodules) points to.
    static func gitDirectory(in directory: String) -> String? {
        let dotGit = directory + "/.git"
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: dotGit, isDirectory: &isDirectory) else { return nil }
        if isDirectory.boolValue { return dotGit }
        guard let text = try? String(contentsOfFile: dotGit, encoding: .utf8), text.hasPrefix("gitdir:") else { return nil }
        let target = text.dropFirst("gitdir:".count).trimmingCharacters(in: .whitespacesAndNewlines)
        return target.hasPrefix("/") ? target : directory + "/" + target
    }

    /// `[remote "origin"] url = …` from the repository's config (a worktree's `commondir` is followed).
    static func originURL(_ gitDirectory: String) -> String? {
        guard let text = try? String(contentsOfFile: commonDirectory(gitDirectory) + "/config", encoding: .utf8) else { return nil }
        var inOrigin = false
        for raw in text.split(separator: "\n") {
            let line = raw.trimmingCharacters(in: .whitespaces)
            if line.hasPrefix("[") {
                inOrigin = line.replacingOccurrences(of: " ", with: "") == #"[remote"origin"]"#
            } else if inOrigin, line.hasPrefix("url"), let equals = line.firstIndex(of: "=") {
                return normalize(line[line.index(after: equals)...].trimmingCharacters(in: .whitespaces))
            }
        }
        return nil
    }

    /// The commit HEAD names: detached, a loose ref, or a packed one.
    static func head(_ gitDirectory: String) -> String? {
        guard let text = try? String(contentsOfFile: gitDirectory + "/HEAD", encoding: .utf8) else { return nil }
        let value = text.trimmingCharacters(in: .whitespacesAndNewlines)
        guard value.hasPrefix("ref:") else { return isCommit(value) ? value : nil }
        let ref = value.dropFirst("ref:".count).trimmingCharacters(in: .whitespaces)
        for base in [gitDirectory, commonDirectory(gitDirectory)] {
            if let loose = try? String(contentsOfFile: base + "/" + ref, encoding: .utf8) {
                let commit = loose.trimmingCharacters(in: .whitespacesAndNewlines)
                return isCommit(commit) ? commit : nil
            }
        }
        guard let packed = try? String(contentsOfFile: commonDirectory(gitDirectory) + "/packed-refs", encoding: .utf8) else { return nil }
        for line in packed.split(separator: "\n") where line.hasSuffix(" " + ref) {
            let commit = String(line.prefix { $0 != " " })
            return isCommit(commit) ? commit : nil
        }
        return nil
    }

    static func commonDirectory(_ gitDirectory: String) -> String {
        guard let text = try? String(contentsOfFile: gitDirectory + "/commondir", encoding: .utf8) else { return gitDirectory }
        let target = text.trimmingCharacters(in: .whitespacesAndNewlines)
        return target.hasPrefix("/") ? target : gitDirectory + "/" + target
    }

    static func isCommit(_ text: String) -> Bool { (text.count == 40 || text.count == 64) && text.allSatisfy(\.isHexDigit) }

    /// Credentials dropped; scp-style `user@host:path` → `git+ssh://host/path`.
    static func normalize(_ remote: String) -> String {
        if let scheme = remote.range(of: "://") {
            var rest = remote[scheme.upperBound...]
            let hostEnd = rest.firstIndex(of: "/") ?? rest.endIndex
            if let at = rest[..<hostEnd].lastIndex(of: "@") { rest = rest[rest.index(after: at)...] }
            return String(remote[..<scheme.upperBound]) + rest
        }
        guard remote.contains(":") else { return remote }
        var rest = Substring(remote.replacingOccurrences(of: ":", with: "/", options: [], range: remote.range(of: ":")))
        if let slash = rest.firstIndex(of: "/"), let at = rest[..<slash].lastIndex(of: "@") { rest = rest[rest.index(after: at)...] }
        return "git+ssh://" + rest
    }
}
