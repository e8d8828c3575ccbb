// Source: SPDX 2.3 specification (https://spdx.github.io/spdx-spec/v2.3/), clauses 6 (document creation),
// 7 (package), 10 (other licensing information) and 11 (relationships). The model keeps SPDX's vocabulary
// because it is the richest of the formats Lamina writes; a CycloneDX writer maps from the same values.

/// A software bill of materials: what an image or package contains and how the parts relate.
///
/// A plain value: build it, then render it with ``SPDXJSON/encode(_:)``. Element ids are SPDX
/// idstrings (`SPDXRef-…`, see ``SPDXIdentifier``).
public struct SBOMDocument: Sendable, Hashable {
    /// The document's own element id.
    public var id: String
    /// `sbom-sha256:<layer digest>` for an image.
    public var name: String
    /// A URI naming this document.
    public var namespace: String
    /// RFC 3339 creation time (the build epoch, for reproducibility).
    public var created: String
    /// `Tool: lamina (1.0.0)`, `Organization: …`.
    public var creators: [String]
    /// The SPDX license list version the license ids come from.
    public var licenseListVersion: String?
    /// The license of the document itself: always `CC0-1.0` in SPDX 2.3.
    public var dataLicense: String
    /// Ids of the elements the document describes (its roots).
    public var describes: [String]
    /// Packages, in document order.
    public var packages: [SBOMPackage]
    /// Files (read from melange SBOMs; Lamina's image SBOMs list none).
    public var files: [SBOMFile]
    /// Relationships between elements, in document order.
    public var relationships: [SBOMRelationship]
    /// Licenses referenced as `LicenseRef-…`, with their text.
    public var extractedLicenses: [ExtractedLicense]

    public init(
        id: String = "SPDXRef-DOCUMENT", name: String, namespace: String, created: String, creators: [String],
        licenseListVersion: String? = SBOMDocument.defaultLicenseListVersion, dataLicense: String = "CC0-1.0",
        describes: [String] = [], packages: [SBOMPackage] = [], files: [SBOMFile] = [],
        relationships: [SBOMRelationship] = [], extractedLicenses: [ExtractedLicense] = []
    ) {
        self.id = id
        self.name = name
        self.namespace = namespace
        self.created = created
        self.creators = creators
        self.licenseListVersion = licenseListVersion
        self.dataLicense = dataLicense
        self.describes = describes
        self.packages = packages
        self.files = files
        self.relationships = relationships
        self.extractedLicenses = extractedLicenses
    }

    /// The license list version apko declares (`3.27`).
    public static let defaultLicenseListVersion = "3.27"

    /// The package with this id, if any.
    public func package(id: String) -> SBOMPackage? { packages.first { $0.id == id } }

    /// Ids this document describes: `documentDescribes` plus `DESCRIBES` relationships from the document.
    public var describedIDs: [String] {
        var ids = describes
        for relationship in relationships
        where relationship.element == id && relationship.type == .describes && !ids.contains(relationship.related) {
            ids.append(relationship.related)
        }
        return ids
    }
}

/// `NOASSERTION`: SPDX's "the creator makes no claim" value.
public let noAssertion = "NOASSERTION"

/// A package: an APK, an image, a layer, an operating system or a source tree.
public struct SBOMPackage: Sendable, Hashable {
    /// SPDX element id (`SPDXRef-Package-…`).
    public var id: String
    public var name: String
    /// `versionInfo`.
    public var version: String?
    /// Whether the package's files were analysed (Lamina's image SBOMs: false).
    public var filesAnalyzed: Bool
    /// Ids of the files in this package (`hasFiles`; only with `filesAnalyzed`).
    public var hasFiles: [String]
    /// License expression concluded by the SBOM creator.
    public var licenseConcluded: String?
    /// License expression declared by the package (`MIT`, `GPL-2.0-or-later AND MIT`).
    public var licenseDeclared: String?
    public var description: String?
    /// Where the package can be downloaded, or `NOASSERTION`.
    public var downloadLocation: String
    /// `Organization: …` / `Person: …` who made it.
    public var originator: String?
    /// `Organization: …` / `Person: …` who distributes it.
    public var supplier: String?
    public var sourceInfo: String?
    public var copyrightText: String?
    public var attributionText: String?
    /// `primaryPackagePurpose`.
    public var purpose: Purpose?
    /// Checksums of the package artifact.
    public var checksums: [Checksum]
    /// External references: purls, CPEs.
    public var externalReferences: [ExternalReference]
    /// SPDX package verification code (only with `filesAnalyzed`).
    public var verificationCode: String?

    public init(
        id: String, name: String, version: String? = nil, filesAnalyzed: Bool = false, hasFiles: [String] = [],
        licenseConcluded: String? = nil, licenseDeclared: String? = nil, description: String? = nil,
        downloadLocation: String = noAssertion, originator: String? = nil, supplier: String? = nil,
        sourceInfo: String? = nil, copyrightText: String? = nil, attributionText: String? = nil,
        purpose: Purpose? = nil, checksums: [Checksum] = [], externalReferences: [ExternalReference] = [],
        verificationCode: String? = nil
    ) {
        self.id = id
        self.name = name
        self.version = version
        self.filesAnalyzed = filesAnalyzed
        self.hasFiles = hasFiles
        self.licenseConcluded = licenseConcluded
        self.licenseDeclared = licenseDeclared
        self.description = description
        self.downloadLocation = downloadLocation
        self.originator = originator
        self.supplier = supplier
        self.sourceInfo = sourceInfo
        self.copyrightText = copyrightText
        self.attributionText = attributionText
        self.purpose = purpose
        self.checksums = checksums
        self.externalReferences = externalReferences
        self.verificationCode = verificationCode
    }

    /// The first purl among the external references.
    public var purl: String? { externalReferences.first { $0.type == "purl" }?.locator }

    /// SPDX `primaryPackagePurpose` (an open set: melange writes `OPERATING-SYSTEM`, the spec says
    /// `OPERATING_SYSTEM`; both are kept as read).
    public struct Purpose: RawRepresentable, Hashable, Sendable, ExpressibleByStringLiteral {
        public let rawValue: String
        public init(rawValue: String) { self.rawValue = rawValue }
        public init(stringLiteral value: String) { rawValue = value }

        public static let application: Purpose = "APPLICATION"
        public static let container: Purpose = "CONTAINER"
        public static let operatingSystem: Purpose = "OPERATING_SYSTEM"
        public static let source: Purpose = "SOURCE"
        public static let install: Purpose = "INSTALL"
        public static let library: Purpose = "LIBRARY"
        public static let archive: Purpose = "ARCHIVE"
        public static let file: Purpose = "FILE"
        public static let other: Purpose = "OTHER"
    }
}

/// A file entry (melange SBOMs list the files of a package).
public struct SBOMFile: Sendable, Hashable {
    public var id: String
    public var name: String
    public var licenseConcluded: String?
    public var copyrightText: String?
    public var checksums: [Checksum]

    public init(id: String, name: String, licenseConcluded: String? = nil, copyrightText: String? = nil,
        checksums: [Checksum] = [])
    {
        self.id = id
        self.name = name
        self.licenseConcluded = licenseConcluded
        self.copyrightText = copyrightText
        self.checksums = checksums
    }
}

/// A checksum: algorithm name as SPDX spells it (`SHA256`) and lowercase hex.
public struct Checksum: Sendable, Hashable {
    public var algorithm: String
    public var value: String

    public init(algorithm: String, value: String) {
        self.algorithm = algorithm
        self.value = value
    }

    public static func sha256(_ hex: String) -> Checksum { Checksum(algorithm: "SHA256", value: hex) }
    public static func sha1(_ hex: String) -> Checksum { Checksum(algorithm: "SHA1", value: hex) }
}

/// An external reference: a purl, a CPE, a security advisory.
public struct ExternalReference: Sendable, Hashable {
    /// `PACKAGE-MANAGER` (SPDX 2.3; older documents say `PACKAGE_MANAGER`), `SECURITY`, `OTHER`.
    public var category: String
    /// `purl`, `cpe23Type`.
    public var type: String
    public var locator: String

    public init(category: String, type: String, locator: String) {
        self.category = category
        self.type = type
        self.locator = locator
    }

    /// A `PACKAGE-MANAGER` purl reference.
    public static func purl(_ purl: PackageURL) -> ExternalReference { .purl(purl.description) }

    /// A `PACKAGE-MANAGER` purl reference from an already rendered purl.
    public static func purl(_ locator: String) -> ExternalReference {
        ExternalReference(category: "PACKAGE-MANAGER", type: "purl", locator: locator)
    }
}

/// `element TYPE related`.
public struct SBOMRelationship: Sendable, Hashable {
    public var element: String
    public var type: Kind
    public var related: String

    public init(_ element: String, _ type: Kind, _ related: String) {
        self.element = element
        self.type = type
        self.related = related
    }

    /// SPDX relationship types (an open set).
    public struct Kind: RawRepresentable, Hashable, Sendable, ExpressibleByStringLiteral {
        public let rawValue: String
        public init(rawValue: String) { self.rawValue = rawValue }
        public init(stringLiteral value: String) { rawValue = value }

        public static let describes: Kind = "DESCRIBES"
        public static let describedBy: Kind = "DESCRIBED_BY"
        public static let contains: Kind = "CONTAINS"
        public static let dependsOn: Kind = "DEPENDS_ON"
        public static let generatedFrom: Kind = "GENERATED_FROM"
        public static let variantOf: Kind = "VARIANT_OF"
    }
}

/// A license referenced as `LicenseRef-…`, with its text.
public struct ExtractedLicense: Sendable, Hashable {
    public var id: String
    public var text: String
    public var name: String?

    public init(id: String, text: String, name: String? = nil) {
        self.id = id
        self.text = text
        self.name = name
    }
}
