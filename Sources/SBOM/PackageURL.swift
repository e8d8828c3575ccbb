// Source: the purl specification (https://github.com/package-url/purl-spec, PURL-SPECIFICATION.rst),
// types `apk`, `oci` and `github`; the qualifier spelling apko writes (pkg/sbom/options/options.go).

import LaminaCore

/// A package URL: `pkg:type/namespace/name@version?qualifiers#subpath`.
public struct PackageURL: Hashable, Sendable, CustomStringConvertible {
    /// Lowercase type: `apk`, `oci`, `github`.
    public var type: String
    /// `/`-separated namespace (`alpine`, `wolfi-dev`), if any.
    public var namespace: String?
    public var name: String
    public var version: String?
    /// Key/value qualifiers; rendered sorted by key, keys as given (apko writes `mediaType`).
    public var qualifiers: [String: String]
    /// `/`-separated subpath, if any.
    public var subpath: String?
    /// Keep `key=` for empty values. The spec drops them; apko writes `mediaType=` when it has no media type.
    public var keepsEmptyQualifiers: Bool

    public init(
        type: String, namespace: String? = nil, name: String, version: String? = nil,
        qualifiers: [String: String] = [:], subpath: String? = nil, keepsEmptyQualifiers: Bool = false
    ) {
        self.type = type.lowercased()
        self.namespace = namespace
        self.name = name
        self.version = version
        self.qualifiers = qualifiers
        self.subpath = subpath
        self.keepsEmptyQualifiers = keepsEmptyQualifiers
    }

    /// `pkg:apk/<distro>/<name>@<version>?arch=<apk arch>`; the namespace is lowercased (`alpine`, `wolfi`).
    public static func apk(namespace: String, name: String, version: String, architecture: String? = nil,
        distro: String? = nil) -> PackageURL
    {
        var qualifiers: [String: String] = [:]
        if let architecture, !architecture.isEmpty { qualifiers["arch"] = architecture }
        if let distro, !distro.isEmpty { qualifiers["distro"] = distro }
        return PackageURL(type: "apk", namespace: namespace.lowercased(), name: name, version: version,
            qualifiers: qualifiers)
    }

    /// `pkg:oci/<name>@sha256:…?arch=…&mediaType=…&os=linux`, the way apko names images and layers.
    /// - Parameters:
    ///   - name: the last path component of the image's repository (`senhas`), or `image`.
    ///   - digest: the manifest, index or layer digest.
    ///   - architecture: OCI architecture (`amd64`, `arm`), if the artifact is per-architecture.
    ///   - os: `linux` for per-architecture artifacts.
    ///   - mediaType: the artifact's media type.
    ///   - repositoryURL: the `repository_url` qualifier (`registry.example/senhas`).
    public static func oci(
        name: String, digest: Digest?, architecture: String? = nil, os: String? = nil, mediaType: String? = nil,
        repositoryURL: String? = nil
    ) -> PackageURL {
        var qualifiers: [String: String] = [:]
        if let repositoryURL, !repositoryURL.isEmpty { qualifiers["repository_url"] = repositoryURL }
        if let architecture, !architecture.isEmpty { qualifiers["arch"] = architecture }
        if let os { qualifiers["os"] = os }
        if let mediaType { qualifiers["mediaType"] = mediaType }
        return PackageURL(type: "oci", name: name, version: digest?.description, qualifiers: qualifiers,
            keepsEmptyQualifiers: true)
    }

    /// `pkg:github/<owner>/<repository>@<version>`.
    public static func github(owner: String, repository: String, version: String? = nil) -> PackageURL {
        PackageURL(type: "github", namespace: owner, name: repository, version: version)
    }

    /// The canonical string form, percent-encoded per the spec: each namespace and subpath segment, the
    /// name and the version keep only `A-Z a-z 0-9 - . _ ~` and `:`; qualifier values keep only
    /// `A-Z a-z 0-9 - . _ ~` (so `/` → `%2F`, `+` → `%2B`, as apko writes media types).
    public var description: String {
        var text = "pkg:" + type + "/"
        if let namespace, !namespace.isEmpty {
            text += namespace.split(separator: "/").map { Self.encode(String($0), keep: Self.colon) }
                .joined(separator: "/") + "/"
        }
        text += Self.encode(name, keep: Self.colon)
        if let version, !version.isEmpty { text += "@" + Self.encode(version, keep: Self.colon) }
        let pairs = qualifiers.map { ($0.key, $0.value) }
            .filter { keepsEmptyQualifiers || !$0.1.isEmpty }
            .sorted { $0.0 < $1.0 }
        if !pairs.isEmpty {
            text += "?" + pairs.map { "\($0.0)=\(Self.encode($0.1, keep: []))" }.joined(separator: "&")
        }
        if let subpath, !subpath.isEmpty {
            text += "#" + subpath.split(separator: "/").map { Self.encode(String($0), keep: Self.colon) }
                .joined(separator: "/")
        }
        return text
    }

    private static let colon: Set<UInt8> = [UInt8(ascii: ":")]

    /// Percent-encodes every byte outside the unreserved set and `keep`.
    static func encode(_ text: String, keep: Set<UInt8>) -> String {
        let hex = Array("0123456789ABCDEF".utf8)
        var out: [UInt8] = []
        for byte in text.utf8 {
            let unreserved =
                (byte >= 48 && byte <= 57) || (byte >= 65 && byte <= 90) || (byte >= 97 && byte <= 122)
                || byte == UInt8(ascii: "-") || byte == UInt8(ascii: ".") || byte == UInt8(ascii: "_")
                || byte == UInt8(ascii: "~")
            if unreserved || keep.contains(byte) {
                out.append(byte)
            } else {
                out += [UInt8(ascii: "%"), hex[Int(byte >> 4)], hex[Int(byte & 15)]]
            }
        }
        return String(decoding: out, as: UTF8.self)
    }
}
