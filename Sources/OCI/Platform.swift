// Source: OCI image-spec image-index.md, "platform" object
// (https://github.com/opencontainers/image-spec/blob/main/image-index.md).

import LaminaCore

/// The platform an image runs on, as listed in an index descriptor.
public struct Platform: Codable, Sendable, Hashable, Comparable, CustomStringConvertible {
    /// CPU architecture in Go's spelling: `amd64`, `arm64`, `arm`.
    public var architecture: String
    /// Operating system in Go's spelling: `linux`.
    public var os: String
    /// `os.version`, used by Windows images.
    public var osVersion: String?
    /// `os.features`, required OS features (`erofs` for apko's EROFS images).
    public var osFeatures: [String]?
    /// CPU variant: `v7` for `arm/v7`.
    public var variant: String?
    /// `features`: reserved by the spec.
    public var features: [String]?

    public init(
        architecture: String, os: String = "linux", variant: String? = nil, osVersion: String? = nil,
        osFeatures: [String]? = nil, features: [String]? = nil
    ) {
        self.architecture = architecture
        self.os = os
        self.variant = variant
        self.osVersion = osVersion
        self.osFeatures = osFeatures
        self.features = features
    }

    /// The Linux platform of a Lamina architecture (`armv7` gives `arm` + `v7`).
    public init(_ architecture: Architecture, os: String = "linux") {
        self.init(architecture: architecture.oci, os: os, variant: architecture.variant)
    }

    /// The Lamina architecture of this platform, or nil when Lamina does not know it.
    public var laminaArchitecture: Architecture? {
        try? Architecture(variant.map { "\(architecture)/\($0)" } ?? architecture)
    }

    /// `linux/arm/v7`.
    public var description: String {
        [os, architecture, variant].compactMap { $0 }.joined(separator: "/")
    }

    public static func < (lhs: Platform, rhs: Platform) -> Bool { lhs.description < rhs.description }

    enum CodingKeys: String, CodingKey {
        case architecture, os, variant, features
        case osVersion = "os.version"
        case osFeatures = "os.features"
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        architecture = try c.decode(String.self, forKey: .architecture)
        os = try c.decode(String.self, forKey: .os)
        osVersion = try c.decodeIfPresent(String.self, forKey: .osVersion).nonEmpty
        osFeatures = try c.decodeIfPresent([String].self, forKey: .osFeatures).nonEmpty
        variant = try c.decodeIfPresent(String.self, forKey: .variant).nonEmpty
        features = try c.decodeIfPresent([String].self, forKey: .features).nonEmpty
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(architecture, forKey: .architecture)
        try c.encode(os, forKey: .os)
        try c.encodeIfPresent(osVersion.nonEmpty, forKey: .osVersion)
        try c.encodeIfPresent(osFeatures.nonEmpty, forKey: .osFeatures)
        try c.encodeIfPresent(variant.nonEmpty, forKey: .variant)
        try c.encodeIfPresent(features.nonEmpty, forKey: .features)
    }
}
