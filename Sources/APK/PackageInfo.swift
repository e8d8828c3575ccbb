import LaminaCore

/// Everything apk knows about one package: the union of `.PKGINFO`, an `APKINDEX` record and an
/// installed-database record (the same letters: P V A T U L o m t c D p i r k q S I C).
public struct PackageInfo: Hashable, Sendable {
    /// `P:` / `pkgname`.
    public var name: String
    /// `V:` / `pkgver`, including `-rN`.
    public var version: String
    /// `A:` / `arch` (apk spelling, or `noarch`).
    public var arch: String?
    /// `T:` / `pkgdesc`.
    public var description: String?
    /// `U:` / `url`.
    public var url: String?
    /// `L:` / `license` (the last one wins when `.PKGINFO` repeats it, as in apk-tools).
    public var license: String?
    /// `o:` / `origin`.
    public var origin: String?
    /// `m:` / `maintainer`.
    public var maintainer: String?
    /// `t:` / `builddate`, Unix seconds.
    public var buildDate: Int64?
    /// `c:` / `commit`.
    public var commit: String?
    /// `I:` / `size`: installed size in bytes.
    public var installedSize: Int64?
    /// `S:`: size of the `.apk` file (index only).
    public var fileSize: Int64?
    /// `D:` / `depend` (conflicts are `!name` atoms).
    public var depends: [Dependency]
    /// `p:` / `provides` (`name` or `name=version`).
    public var provides: [Dependency]
    /// `i:` / `install_if`.
    public var installIf: [Dependency]
    /// `r:` / `replaces`.
    public var replaces: [Dependency]
    /// `k:` / `provider_priority`.
    public var providerPriority: Int?
    /// `q:` / `replaces_priority`.
    public var replacesPriority: Int?
    /// `triggers`: path globs (space-separated in `.PKGINFO`).
    public var triggers: [String]
    /// `datahash`: lowercase hex SHA-256 of the compressed data member.
    public var dataHash: String?
    /// `C:`: the identity, SHA-1 of the compressed control member (`Q1` + base64).
    public var checksum: Digest?
    /// `packager` (abuild only).
    public var packager: String?

    public init(
        name: String, version: String, arch: String? = nil, description: String? = nil, url: String? = nil,
        license: String? = nil, origin: String? = nil, maintainer: String? = nil, buildDate: Int64? = nil,
        commit: String? = nil, installedSize: Int64? = nil, fileSize: Int64? = nil, depends: [Dependency] = [],
        provides: [Dependency] = [], installIf: [Dependency] = [], replaces: [Dependency] = [],
        providerPriority: Int? = nil, replacesPriority: Int? = nil, triggers: [String] = [], dataHash: String? = nil,
        checksum: Digest? = nil, packager: String? = nil
    ) {
        self.name = name
        self.version = version
        self.arch = arch
        self.description = description
        self.url = url
        self.license = license
        self.origin = origin
        self.maintainer = maintainer
        self.buildDate = buildDate
        self.commit = commit
        self.installedSize = installedSize
        self.fileSize = fileSize
        self.depends = depends
        self.provides = provides
        self.installIf = installIf
        self.replaces = replaces
        self.providerPriority = providerPriority
        self.replacesPriority = replacesPriority
        self.triggers = triggers
        self.dataHash = dataHash
        self.checksum = checksum
        self.packager = packager
    }

    /// `name-version`, the apk file stem.
    public var nameVersion: String { "\(name)-\(version)" }
    /// `name-version.apk`.
    public var fileName: String { "\(nameVersion).apk" }
}

extension Digest {
    /// The apk identity text of a SHA-1 digest: `Q1` + base64.
    public var apkIdentity: String { "Q1" + base64 }

    /// Parses `Q1<base64 sha1>` (or `Q2<base64 sha256>`).
    public init(apkIdentity text: String) throws {
        if text.hasPrefix("Q1"), let bytes = Base64.decode(String(text.dropFirst(2))), bytes.count == 20 {
            self.init(.sha1, bytes: bytes)
        } else if text.hasPrefix("Q2"), let bytes = Base64.decode(String(text.dropFirst(2))), bytes.count == 32 {
            self.init(.sha256, bytes: bytes)
        } else {
            throw LaminaError(.malformed, "not an apk checksum (want Q1<base64 sha1>): '\(text)'")
        }
    }
}
