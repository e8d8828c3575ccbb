import LaminaCore

/// One repository as `/etc/apk/repositories` and apko.yaml spell it: `[@tag ]URL-or-path`.
public struct RepositoryReference: Hashable, Sendable, CustomStringConvertible {
    /// The URL or path, without a trailing slash (`file://` kept as written).
    public var location: String
    /// `@tag`: packages are taken from here only when asked for as `name@tag`.
    public var tag: String?

    public init(location: String, tag: String? = nil) {
        var location = location
        while location.count > 1 && location.hasSuffix("/") { location.removeLast() }
        self.location = location
        self.tag = tag
    }

    /// Parses `@tag location` or `location`.
    /// - Throws: `.invalidInput` for an empty line or a tag without a location.
    public init(parsing line: String) throws {
        let text = line.trimmingSpaces
        guard !text.isEmpty else { throw LaminaError(.invalidInput, "empty repository") }
        if text.hasPrefix("@") {
            let parts = text.split(separator: " ", maxSplits: 1, omittingEmptySubsequences: true)
            guard parts.count == 2, parts[0].count > 1 else {
                throw LaminaError(.invalidInput, "repository '\(line)': expected '@tag URL'")
            }
            self.init(location: String(parts[1]).trimmingSpaces, tag: String(parts[0].dropFirst()))
        } else {
            self.init(location: text)
        }
    }

    /// Whether the repository is reached over HTTP(S).
    public var isRemote: Bool { location.hasPrefix("http://") || location.hasPrefix("https://") }

    /// The local folder of a local repository (`file://` stripped).
    public var localPath: String { location.hasPrefix("file://") ? String(location.dropFirst("file://".count)) : location }

    /// `location/arch/APKINDEX.tar.gz`.
    public func indexLocation(architecture: String) -> String { "\(location)/\(architecture)/APKINDEX.tar.gz" }

    /// `location/arch/name-version.apk`.
    public func packageLocation(architecture: String, fileName: String) -> String { "\(location)/\(architecture)/\(fileName)" }

    /// The line for `/etc/apk/repositories`.
    public var description: String { tag.map { "@\($0) \(location)" } ?? location }

    /// The location with any `user:password@` removed, for messages.
    public var redacted: String { Self.redact(location) }

    static func redact(_ url: String) -> String {
        guard let scheme = url.range(of: "://") else { return url }
        let rest = url[scheme.upperBound...]
        let hostEnd = rest.firstIndex(of: "/") ?? rest.endIndex
        guard let at = rest[..<hostEnd].lastIndex(of: "@") else { return url }
        return String(url[..<scheme.upperBound]) + "***@" + String(rest[rest.index(after: at)...])
    }
}
