// Source: OCI image-spec config.md (https://github.com/opencontainers/image-spec/blob/main/config.md);
// field spellings as Docker and go-containerregistry write them.

import LaminaCore

/// An image configuration blob (`application/vnd.oci.image.config.v1+json`).
public struct ImageConfig: Codable, Sendable, Hashable {
    /// CPU architecture in Go's spelling (`amd64`).
    public var architecture: String
    /// Operating system (`linux`).
    public var os: String
    /// CPU variant (`v7`).
    public var variant: String?
    /// `os.version`.
    public var osVersion: String?
    /// `os.features` (`["erofs"]` for EROFS images).
    public var osFeatures: [String]?
    /// RFC 3339 creation time.
    public var created: String?
    /// The image author.
    public var author: String?
    /// How each layer was made.
    public var history: [History]?
    /// The uncompressed layer digests.
    public var rootfs: RootFS
    /// Defaults for running a container from the image.
    public var config: RunConfig

    public init(
        architecture: String, os: String = "linux", variant: String? = nil, osVersion: String? = nil,
        osFeatures: [String]? = nil, created: String? = nil, author: String? = nil, history: [History]? = nil,
        rootfs: RootFS, config: RunConfig = RunConfig()
    ) {
        self.architecture = architecture
        self.os = os
        self.variant = variant
        self.osVersion = osVersion
        self.osFeatures = osFeatures
        self.created = created
        self.author = author
        self.history = history
        self.rootfs = rootfs
        self.config = config
    }

    /// The Linux config for a Lamina architecture (sets `architecture` and `variant`).
    public init(
        architecture: Architecture, created: String? = nil, author: String? = nil, history: [History]? = nil,
        rootfs: RootFS, config: RunConfig = RunConfig()
    ) {
        self.init(
            architecture: architecture.oci, os: "linux", variant: architecture.variant, created: created,
            author: author, history: history, rootfs: rootfs, config: config)
    }

    /// The platform this config describes (`os.version`, `os.features` included).
    public var platform: Platform {
        Platform(architecture: architecture, os: os, variant: variant, osVersion: osVersion, osFeatures: osFeatures)
    }

    /// `rootfs`: the ordered uncompressed digests (diffIDs) of the layers.
    public struct RootFS: Codable, Sendable, Hashable {
        /// Always `layers`.
        public var type: String
        /// sha256 of each uncompressed layer tar, base first.
        public var diffIDs: [Digest]

        public init(type: String = "layers", diffIDs: [Digest]) {
            self.type = type
            self.diffIDs = diffIDs
        }

        enum CodingKeys: String, CodingKey {
            case type
            case diffIDs = "diff_ids"
        }

        public init(from decoder: any Decoder) throws {
            let c = try decoder.container(keyedBy: CodingKeys.self)
            type = try c.decode(String.self, forKey: .type)
            let present = try c.contains(.diffIDs) && !c.decodeNil(forKey: .diffIDs)
            diffIDs = present ? try c.decodeDigests(forKey: .diffIDs) : []
        }
    }

    /// `config`: the execution defaults (Docker's capitalised field names).
    public struct RunConfig: Codable, Sendable, Hashable {
        /// `User`: a user name or uid, optionally `:group`.
        public var user: String?
        /// `ExposedPorts`: `80/tcp` style keys (a JSON object whose values are `{}`).
        public var exposedPorts: [String]?
        /// `Env`: `KEY=value` entries.
        public var env: [String]?
        /// `Entrypoint`.
        public var entrypoint: [String]?
        /// `Cmd`.
        public var cmd: [String]?
        /// `Volumes`: paths (a JSON object whose values are `{}`).
        public var volumes: [String]?
        /// `WorkingDir`.
        public var workingDir: String?
        /// `Labels`.
        public var labels: [String: String]?
        /// `StopSignal` (`SIGTERM`).
        public var stopSignal: String?

        public init(
            user: String? = nil, exposedPorts: [String]? = nil, env: [String]? = nil, entrypoint: [String]? = nil,
            cmd: [String]? = nil, volumes: [String]? = nil, workingDir: String? = nil,
            labels: [String: String]? = nil, stopSignal: String? = nil
        ) {
            self.user = user
            self.exposedPorts = exposedPorts
            self.env = env
            self.entrypoint = entrypoint
            self.cmd = cmd
            self.volumes = volumes
            self.workingDir = workingDir
            self.labels = labels
            self.stopSignal = stopSignal
        }

        enum CodingKeys: String, CodingKey {
            case user = "User"
            case exposedPorts = "ExposedPorts"
            case env = "Env"
            case entrypoint = "Entrypoint"
            case cmd = "Cmd"
            case volumes = "Volumes"
            case workingDir = "WorkingDir"
            case labels = "Labels"
            case stopSignal = "StopSignal"
        }

        /// The `{}` value of a set-like JSON object.
        private struct Empty: Codable {}

        public init(from decoder: any Decoder) throws {
            let c = try decoder.container(keyedBy: CodingKeys.self)
            user = try c.decodeIfPresent(String.self, forKey: .user).nonEmpty
            exposedPorts = try c.decodeIfPresent([String: Empty].self, forKey: .exposedPorts).map { $0.keys.sorted() }.nonEmpty
            env = try c.decodeIfPresent([String].self, forKey: .env).nonEmpty
            entrypoint = try c.decodeIfPresent([String].self, forKey: .entrypoint).nonEmpty
            cmd = try c.decodeIfPresent([String].self, forKey: .cmd).nonEmpty
            volumes = try c.decodeIfPresent([String: Empty].self, forKey: .volumes).map { $0.keys.sorted() }.nonEmpty
            workingDir = try c.decodeIfPresent(String.self, forKey: .workingDir).nonEmpty
            labels = try c.decodeIfPresent([String: String].self, forKey: .labels).nonEmpty
            stopSignal = try c.decodeIfPresent(String.self, forKey: .stopSignal).nonEmpty
        }

        public func encode(to encoder: any Encoder) throws {
            var c = encoder.container(keyedBy: CodingKeys.self)
            func set(_ keys: [String]?) -> [String: Empty]? {
                keys.nonEmpty.map { Dictionary($0.map { ($0, Empty()) }, uniquingKeysWith: { first, _ in first }) }
            }
            try c.encodeIfPresent(user.nonEmpty, forKey: .user)
            try c.encodeIfPresent(set(exposedPorts), forKey: .exposedPorts)
            try c.encodeIfPresent(env.nonEmpty, forKey: .env)
            try c.encodeIfPresent(entrypoint.nonEmpty, forKey: .entrypoint)
            try c.encodeIfPresent(cmd.nonEmpty, forKey: .cmd)
            try c.encodeIfPresent(set(volumes), forKey: .volumes)
            try c.encodeIfPresent(workingDir.nonEmpty, forKey: .workingDir)
            try c.encodeIfPresent(labels.nonEmpty, forKey: .labels)
            try c.encodeIfPresent(stopSignal.nonEmpty, forKey: .stopSignal)
        }
    }

    enum CodingKeys: String, CodingKey {
        case architecture, os, variant, created, author, history, rootfs, config
        case osVersion = "os.version"
        case osFeatures = "os.features"
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        architecture = try c.decode(String.self, forKey: .architecture)
        os = try c.decode(String.self, forKey: .os)
        variant = try c.decodeIfPresent(String.self, forKey: .variant).nonEmpty
        osVersion = try c.decodeIfPresent(String.self, forKey: .osVersion).nonEmpty
        osFeatures = try c.decodeIfPresent([String].self, forKey: .osFeatures).nonEmpty
        created = try c.decodeIfPresent(String.self, forKey: .created).nonEmpty
        author = try c.decodeIfPresent(String.self, forKey: .author).nonEmpty
        history = try c.decodeIfPresent([History].self, forKey: .history).nonEmpty
        rootfs = try c.decode(RootFS.self, forKey: .rootfs)
        config = try c.decodeIfPresent(RunConfig.self, forKey: .config) ?? RunConfig()
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(architecture, forKey: .architecture)
        try c.encode(os, forKey: .os)
        try c.encodeIfPresent(variant.nonEmpty, forKey: .variant)
        try c.encodeIfPresent(osVersion.nonEmpty, forKey: .osVersion)
        try c.encodeIfPresent(osFeatures.nonEmpty, forKey: .osFeatures)
        try c.encodeIfPresent(created.nonEmpty, forKey: .created)
        try c.encodeIfPresent(author.nonEmpty, forKey: .author)
        try c.encodeIfPresent(history.nonEmpty, forKey: .history)
        try c.encode(rootfs, forKey: .rootfs)
        try c.encode(config, forKey: .config)
    }
}
