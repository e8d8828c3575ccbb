// Source: apko `pkg/build/types/types.go` (ImageConfiguration and friends), `docs/apko_file.md`.
// Field order follows apko's structs, so JSON output matches apko's `/etc/apko.json` byte for byte.

/// An `apko.yaml` image configuration (also the `environment:` of a `melange.yaml`).
///
/// Decoding is strict: unknown keys are an error, as in apko (`KnownFields(true)`). Absent keys decode as
/// empty values, like Go struct fields.
public struct ImageConfiguration: Codable, Sendable, Equatable {
    /// The apk packages and where they come from.
    public var contents: ImageContents
    /// The OCI entrypoint.
    public var entrypoint: ImageEntrypoint
    /// Additional arguments, shell-split into OCI `Cmd`.
    public var cmd: String
    /// OCI `StopSignal`.
    public var stopSignal: String
    /// OCI `WorkingDir`.
    public var workDir: String
    /// Users, groups and the user to run as.
    public var accounts: ImageAccounts
    /// Architectures to build, as written (`amd64`, `x86_64`, `arm/v7`, `all`, …); the engine maps them with
    /// `LaminaCore.Architecture`. Empty means all.
    public var archs: [String]
    /// Environment variables (OCI `Env`).
    public var environment: [String: String]
    /// Path mutations applied after package installation.
    public var paths: [PathMutation]
    /// `URL@revision` of the source repository.
    public var vcsURL: String
    /// Annotations applied to the index, manifests and config labels.
    public var annotations: [String: String]
    /// Deprecated in apko: a local file deep-merged under this one (this file wins).
    public var include: String
    /// OCI `Volumes`.
    public var volumes: [String]
    /// Layer splitting (`{strategy: origin, budget: N}`).
    public var layering: Layering?
    /// Layer payload format; nil means `tar`.
    public var format: LayerFormat?
    /// Extra CA certificates and certificate-provider packages.
    public var certificates: ImageCertificates?
    /// The `os-release:` block of apko before v0.14; accepted for old configs, apko itself dropped it.
    public var osRelease: OSRelease?

    public init(
        contents: ImageContents = ImageContents(), entrypoint: ImageEntrypoint = ImageEntrypoint(), cmd: String = "",
        stopSignal: String = "", workDir: String = "", accounts: ImageAccounts = ImageAccounts(),
        archs: [String] = [], environment: [String: String] = [:], paths: [PathMutation] = [], vcsURL: String = "",
        annotations: [String: String] = [:], include: String = "", volumes: [String] = [],
        layering: Layering? = nil, format: LayerFormat? = nil, certificates: ImageCertificates? = nil,
        osRelease: OSRelease? = nil
    ) {
        self.contents = contents
        self.entrypoint = entrypoint
        self.cmd = cmd
        self.stopSignal = stopSignal
        self.workDir = workDir
        self.accounts = accounts
        self.archs = archs
        self.environment = environment
        self.paths = paths
        self.vcsURL = vcsURL
        self.annotations = annotations
        self.include = include
        self.volumes = volumes
        self.layering = layering
        self.format = format
        self.certificates = certificates
        self.osRelease = osRelease
    }

    enum CodingKeys: String, CodingKey, CaseIterable, AlwaysEncodedKeys {
        case contents, entrypoint, cmd
        case stopSignal = "stop-signal"
        case workDir = "work-dir"
        case accounts, archs, environment, paths
        case vcsURL = "vcs-url"
        case annotations, include, volumes, layering, format, certificates
        case osRelease = "os-release"

        static let alwaysEncoded: Set<String> = []
    }
}

/// `contents:`: repositories, keys and the package world.
public struct ImageContents: Codable, Sendable, Equatable {
    /// Repositories used only while building (not written to `/etc/apk/repositories`).
    public var buildRepositories: [String]
    /// Repositories written to `/etc/apk/repositories` but not used for the build.
    public var runtimeRepositories: [String]
    /// Repositories used for the build and written into the image; an entry may be `@tag URL`.
    public var repositories: [String]
    /// Public keys (paths or URLs) that verify repository indexes.
    public var keyring: [String]
    /// Inline keys written to `/etc/apk/keys/<name>` after resolution.
    public var runtimeKeyring: [RuntimeKeyringEntry]
    /// World constraints: `name`, `name=1.2-r0`, `name>1.2`, `name@tag`, `!name`, …
    public var packages: [String]
    /// Experimental: build on top of a base image.
    public var baseImage: BaseImageDescriptor?

    public init(
        buildRepositories: [String] = [], runtimeRepositories: [String] = [], repositories: [String] = [],
        keyring: [String] = [], runtimeKeyring: [RuntimeKeyringEntry] = [], packages: [String] = [],
        baseImage: BaseImageDescriptor? = nil
    ) {
        self.buildRepositories = buildRepositories
        self.runtimeRepositories = runtimeRepositories
        self.repositories = repositories
        self.keyring = keyring
        self.runtimeKeyring = runtimeKeyring
        self.packages = packages
        self.baseImage = baseImage
    }

    enum CodingKeys: String, CodingKey, CaseIterable {
        case buildRepositories = "build_repositories"
        case runtimeRepositories = "runtime_repositories"
        case repositories, keyring
        case runtimeKeyring = "runtime_keyring"
        case packages
        case baseImage = "baseimage"
    }
}

/// A named PEM written into the image: an APK signing key for `/etc/apk/keys` (`contents.runtime_keyring[]`: the
/// name must match the index's `.SIGN.RSA256.<name>`) or a CA certificate (`certificates.additional[]`: exactly
/// one certificate).
public struct InlinePEM: Codable, Sendable, Equatable {
    public var name: String
    public var content: String

    public init(name: String = "", content: String = "") {
        self.name = name
        self.content = content
    }

    enum CodingKeys: String, CodingKey, CaseIterable { case name, content }
}

/// `contents.runtime_keyring[]`.
public typealias RuntimeKeyringEntry = InlinePEM
/// `certificates.additional[]`.
public typealias AdditionalCertificate = InlinePEM

/// `contents.baseimage`: an OCI layout to build on and the APKINDEX describing what it holds.
public struct BaseImageDescriptor: Codable, Sendable, Equatable {
    public var image: String
    public var apkIndex: String

    public init(image: String = "", apkIndex: String = "") {
        self.image = image
        self.apkIndex = apkIndex
    }

    enum CodingKeys: String, CodingKey, CaseIterable {
        case image
        case apkIndex = "apkindex"
    }
}

/// `entrypoint:`.
public struct ImageEntrypoint: Codable, Sendable, Equatable {
    /// `service-bundle` for an s6 supervision tree, else empty.
    public var type: String
    /// Shell-split into OCI `Entrypoint`.
    public var command: String
    /// Becomes `["/bin/sh", "-c", fragment]`.
    public var shellFragment: String
    /// s6 services: name → command.
    public var services: [String: String]

    public init(type: String = "", command: String = "", shellFragment: String = "", services: [String: String] = [:]) {
        self.type = type
        self.command = command
        self.shellFragment = shellFragment
        self.services = services
    }

    /// Whether nothing is set (used by include merging).
    public var isEmpty: Bool { type.isEmpty && command.isEmpty && shellFragment.isEmpty && services.isEmpty }

    enum CodingKeys: String, CodingKey, CaseIterable {
        case type, command
        case shellFragment = "shell-fragment"
        case services
    }
}

/// `accounts:`.
public struct ImageAccounts: Codable, Sendable, Equatable {
    /// User name or uid the container runs as.
    public var runAs: String
    public var users: [User]
    public var groups: [Group]

    public init(runAs: String = "", users: [User] = [], groups: [Group] = []) {
        self.runAs = runAs
        self.users = users
        self.groups = groups
    }

    public var isEmpty: Bool { runAs.isEmpty && users.isEmpty && groups.isEmpty }

    enum CodingKeys: String, CodingKey, CaseIterable {
        case runAs = "run-as"
        case users, groups
    }
}

/// `accounts.users[]`.
public struct User: Codable, Sendable, Equatable {
    public var username: String
    public var uid: UInt32
    /// Primary group; nil means the same number as `uid`.
    public var gid: UInt32?
    /// Login shell; empty means `/bin/sh`.
    public var shell: String
    /// Home directory; empty means `/home/<username>`.
    public var homedir: String

    public init(username: String = "", uid: UInt32 = 0, gid: UInt32? = nil, shell: String = "", homedir: String = "") {
        self.username = username
        self.uid = uid
        self.gid = gid
        self.shell = shell
        self.homedir = homedir
    }

    enum CodingKeys: String, CodingKey, CaseIterable { case username, uid, gid, shell, homedir }
}

/// `accounts.groups[]`.
public struct Group: Codable, Sendable, Equatable {
    public var groupname: String
    public var gid: UInt32
    public var members: [String]

    public init(groupname: String = "", gid: UInt32 = 0, members: [String] = []) {
        self.groupname = groupname
        self.gid = gid
        self.members = members
    }

    enum CodingKeys: String, CodingKey, CaseIterable { case groupname, gid, members }
}

/// `paths[]`: a filesystem change applied after package installation.
public struct PathMutation: Codable, Sendable, Equatable {
    /// What to do at `path`.
    public enum Kind: String, Codable, Sendable, CaseIterable, ConfigEnum {
        case directory
        case emptyFile = "empty-file"
        case hardlink, symlink, permissions
    }

    public var path: String
    public var type: Kind?
    /// Owner; nil leaves ownership alone unless `gid` is set (then it defaults to 0).
    public var uid: UInt32?
    /// Group; nil leaves ownership alone unless `uid` is set (then it defaults to 0).
    public var gid: UInt32?
    /// Permission bits. YAML may write `0o755`, `0755` (both octal, as in Go) or a decimal number.
    public var permissions: UInt32
    /// Link target for `hardlink` and `symlink`.
    public var source: String
    /// For `directory` and `permissions`: apply to everything below too.
    public var recursive: Bool

    public init(
        path: String = "", type: Kind? = nil, uid: UInt32? = nil, gid: UInt32? = nil, permissions: UInt32 = 0,
        source: String = "", recursive: Bool = false
    ) {
        self.path = path
        self.type = type
        self.uid = uid
        self.gid = gid
        self.permissions = permissions
        self.source = source
        self.recursive = recursive
    }

    enum CodingKeys: String, CodingKey, CaseIterable { case path, type, uid, gid, permissions, source, recursive }
}

/// `layering:`.
public struct Layering: Codable, Sendable, Equatable {
    /// `origin` groups files by the package origin.
    public var strategy: String
    /// Maximum number of layers.
    public var budget: Int

    public init(strategy: String = "", budget: Int = 0) {
        self.strategy = strategy
        self.budget = budget
    }

    enum CodingKeys: String, CodingKey, CaseIterable { case strategy, budget }
}

/// `format:`: the layer payload.
public enum LayerFormat: String, Codable, Sendable, CaseIterable, ConfigEnum {
    case tar
    case erofs
}

/// `certificates:`.
public struct ImageCertificates: Codable, Sendable, Equatable {
    /// PEM certificates appended to the CA bundle and installed as files.
    public var additional: [AdditionalCertificate]
    /// Virtual package names whose CA files make up the system bundle.
    public var providers: [String]

    public init(additional: [AdditionalCertificate] = [], providers: [String] = []) {
        self.additional = additional
        self.providers = providers
    }

    enum CodingKeys: String, CodingKey, CaseIterable { case additional, providers }
}

/// The `os-release:` block older apko versions accepted (fields of `/etc/os-release`).
public struct OSRelease: Codable, Sendable, Equatable {
    public var name: String
    public var id: String
    public var versionID: String
    public var prettyName: String
    public var homeURL: String
    public var bugReportURL: String

    public init(
        name: String = "", id: String = "", versionID: String = "", prettyName: String = "", homeURL: String = "",
        bugReportURL: String = ""
    ) {
        self.name = name
        self.id = id
        self.versionID = versionID
        self.prettyName = prettyName
        self.homeURL = homeURL
        self.bugReportURL = bugReportURL
    }

    enum CodingKeys: String, CodingKey, CaseIterable {
        case name, id
        case versionID = "version-id"
        case prettyName = "pretty-name"
        case homeURL = "home-url"
        case bugReportURL = "bug-report-url"
    }
}
