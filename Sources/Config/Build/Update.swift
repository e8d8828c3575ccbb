// Source: melange `pkg/config/config.go` (Update and its monitors), `docs/UPDATE.md`.
// Lamina does not act on these; they are typed so that configs are checked as strictly as melange does.

/// `update:`: how update bots track new upstream versions.
public struct Update: Codable, Sendable, Equatable {
    public var enabled: Bool
    public var manual: Bool
    public var requireSequential: Bool
    public var shared: Bool
    public var versionSeparator: String
    public var ignoreRegexPatterns: [String]
    public var releaseMonitor: ReleaseMonitor?
    public var github: GitHubMonitor?
    public var git: GitMonitor?
    public var oci: OCIMonitor?
    public var versionData: VersionDataMonitor?
    public var versionTransform: [VersionTransform]
    /// Why updates are disabled (expected when `enabled` is false).
    public var excludeReason: String
    public var schedule: Schedule?
    public var enablePrereleaseTags: Bool

    public init(
        enabled: Bool = false, manual: Bool = false, requireSequential: Bool = false, shared: Bool = false,
        versionSeparator: String = "", ignoreRegexPatterns: [String] = [], releaseMonitor: ReleaseMonitor? = nil,
        github: GitHubMonitor? = nil, git: GitMonitor? = nil, oci: OCIMonitor? = nil,
        versionData: VersionDataMonitor? = nil, versionTransform: [VersionTransform] = [], excludeReason: String = "",
        schedule: Schedule? = nil, enablePrereleaseTags: Bool = false
    ) {
        self.enabled = enabled
        self.manual = manual
        self.requireSequential = requireSequential
        self.shared = shared
        self.versionSeparator = versionSeparator
        self.ignoreRegexPatterns = ignoreRegexPatterns
        self.releaseMonitor = releaseMonitor
        self.github = github
        self.git = git
        self.oci = oci
        self.versionData = versionData
        self.versionTransform = versionTransform
        self.excludeReason = excludeReason
        self.schedule = schedule
        self.enablePrereleaseTags = enablePrereleaseTags
    }

    enum CodingKeys: String, CodingKey, CaseIterable, AlwaysEncodedKeys {
        case enabled, manual
        case requireSequential = "require-sequential"
        case shared
        case versionSeparator = "version-separator"
        case ignoreRegexPatterns = "ignore-regex-patterns"
        case releaseMonitor = "release-monitor"
        case github, git, oci
        case versionData = "version_data"
        case versionTransform = "version-transform"
        case excludeReason = "exclude-reason"
        case schedule
        case enablePrereleaseTags = "enable-prerelease-tags"
        static let alwaysEncoded: Set<String> = ["enabled", "manual", "require-sequential"]
        /// melange's `json` tags give `manual` and `require-sequential` `omitempty`, its `yaml` tags do not.
        static let alwaysEncodedInJSON: Set<String> = ["enabled"]
    }
}

/// `update.release-monitor` (release-monitoring.org).
public struct ReleaseMonitor: Codable, Sendable, Equatable {
    public var identifier: Int
    public var stripPrefix: String
    public var stripSuffix: String
    public var versionFilterContains: String
    public var versionFilterPrefix: String

    public init(
        identifier: Int = 0, stripPrefix: String = "", stripSuffix: String = "", versionFilterContains: String = "",
        versionFilterPrefix: String = ""
    ) {
        self.identifier = identifier
        self.stripPrefix = stripPrefix
        self.stripSuffix = stripSuffix
        self.versionFilterContains = versionFilterContains
        self.versionFilterPrefix = versionFilterPrefix
    }

    enum CodingKeys: String, CodingKey, CaseIterable, AlwaysEncodedKeys {
        case identifier
        case stripPrefix = "strip-prefix"
        case stripSuffix = "strip-suffix"
        case versionFilterContains = "version-filter-contains"
        case versionFilterPrefix = "version-filter-prefix"
        static let alwaysEncoded: Set<String> = ["identifier"]
    }
}

/// `update.github`.
public struct GitHubMonitor: Codable, Sendable, Equatable {
    /// `org/repo`.
    public var identifier: String
    public var stripPrefix: String
    public var stripSuffix: String
    public var tagFilter: String
    public var tagFilterPrefix: String
    public var tagFilterContains: String
    public var useTag: Bool

    public init(
        identifier: String = "", stripPrefix: String = "", stripSuffix: String = "", tagFilter: String = "",
        tagFilterPrefix: String = "", tagFilterContains: String = "", useTag: Bool = false
    ) {
        self.identifier = identifier
        self.stripPrefix = stripPrefix
        self.stripSuffix = stripSuffix
        self.tagFilter = tagFilter
        self.tagFilterPrefix = tagFilterPrefix
        self.tagFilterContains = tagFilterContains
        self.useTag = useTag
    }

    enum CodingKeys: String, CodingKey, CaseIterable, AlwaysEncodedKeys {
        case identifier
        case stripPrefix = "strip-prefix"
        case stripSuffix = "strip-suffix"
        case tagFilter = "tag-filter"
        case tagFilterPrefix = "tag-filter-prefix"
        case tagFilterContains = "tag-filter-contains"
        case useTag = "use-tag"
        static let alwaysEncoded: Set<String> = ["identifier"]
    }
}

/// `update.git`.
public struct GitMonitor: Codable, Sendable, Equatable {
    public var stripPrefix: String
    public var stripSuffix: String
    public var tagFilterPrefix: String
    public var tagFilterContains: String

    public init(
        stripPrefix: String = "", stripSuffix: String = "", tagFilterPrefix: String = "", tagFilterContains: String = ""
    ) {
        self.stripPrefix = stripPrefix
        self.stripSuffix = stripSuffix
        self.tagFilterPrefix = tagFilterPrefix
        self.tagFilterContains = tagFilterContains
    }

    enum CodingKeys: String, CodingKey, CaseIterable {
        case stripPrefix = "strip-prefix"
        case stripSuffix = "strip-suffix"
        case tagFilterPrefix = "tag-filter-prefix"
        case tagFilterContains = "tag-filter-contains"
    }
}

/// `update.oci` (image tags).
public struct OCIMonitor: Codable, Sendable, Equatable {
    public var identifier: String
    public var stripPrefix: String
    public var stripSuffix: String
    public var tagFilterPrefix: String
    public var tagFilterContains: String

    public init(
        identifier: String = "", stripPrefix: String = "", stripSuffix: String = "", tagFilterPrefix: String = "",
        tagFilterContains: String = ""
    ) {
        self.identifier = identifier
        self.stripPrefix = stripPrefix
        self.stripSuffix = stripSuffix
        self.tagFilterPrefix = tagFilterPrefix
        self.tagFilterContains = tagFilterContains
    }

    enum CodingKeys: String, CodingKey, CaseIterable, AlwaysEncodedKeys {
        case identifier
        case stripPrefix = "strip-prefix"
        case stripSuffix = "strip-suffix"
        case tagFilterPrefix = "tag-filter-prefix"
        case tagFilterContains = "tag-filter-contains"
        static let alwaysEncoded: Set<String> = ["identifier"]
    }
}

/// `update.version_data`.
public struct VersionDataMonitor: Codable, Sendable, Equatable {
    public var versionFormat: String
    public var sources: [VersionDataSource]

    public init(versionFormat: String = "", sources: [VersionDataSource] = []) {
        self.versionFormat = versionFormat
        self.sources = sources
    }

    enum CodingKeys: String, CodingKey, CaseIterable, AlwaysEncodedKeys {
        case versionFormat = "version_format"
        case sources
        static let alwaysEncoded: Set<String> = ["version_format", "sources"]
    }
}

/// `update.version_data.sources[]`.
public struct VersionDataSource: Codable, Sendable, Equatable {
    public var name: String
    public var stream: String
    public var ignore: [String]
    public var commitSource: String
    public var useRelease: Bool

    public init(
        name: String = "", stream: String = "", ignore: [String] = [], commitSource: String = "",
        useRelease: Bool = false
    ) {
        self.name = name
        self.stream = stream
        self.ignore = ignore
        self.commitSource = commitSource
        self.useRelease = useRelease
    }

    enum CodingKeys: String, CodingKey, CaseIterable, AlwaysEncodedKeys {
        case name, stream, ignore
        case commitSource = "commit_source"
        case useRelease = "use_release"
        static let alwaysEncoded: Set<String> = ["name", "stream"]
    }
}

/// `update.version-transform[]`.
public struct VersionTransform: Codable, Sendable, Equatable {
    public var match: String
    public var replace: String

    public init(match: String = "", replace: String = "") {
        self.match = match
        self.replace = replace
    }

    enum CodingKeys: String, CodingKey, CaseIterable, AlwaysEncodedKeys {
        case match, replace
        static let alwaysEncoded: Set<String> = ["match", "replace"]
    }
}

/// `update.schedule`.
public struct Schedule: Codable, Sendable, Equatable {
    public var reason: String
    /// `daily`, `weekly` or `monthly`.
    public var period: String

    public init(reason: String = "", period: String = "") {
        self.reason = reason
        self.period = period
    }

    enum CodingKeys: String, CodingKey, CaseIterable { case reason, period }
}
