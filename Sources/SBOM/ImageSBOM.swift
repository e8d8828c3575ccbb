// Source: apko's SPDX generator (pkg/sbom/generator/spdx/spdx.go `Generate`, `GenerateIndex`,
// `ProcessInternalApkSBOM`), options (pkg/sbom/options/options.go) and os-release reading
// (pkg/build/sbom.go); docs/sbom-composition.md. Reproduces the documents in apko's golden and expected
// SBOM test data byte for byte, and adds packages that ship no SBOM of their own (see `InstalledPackage`).

import LaminaCore

/// The operating system of an image, from its `/etc/os-release`.
public struct OperatingSystemInfo: Sendable, Hashable {
    /// `ID` (`alpine`, `wolfi`): the OS package name and the purl namespace of its packages.
    public var id: String
    /// `NAME` (`Alpine Linux`): the supplier organisation.
    public var name: String
    /// `VERSION_ID` (`3.20.3`).
    public var version: String

    public init(id: String, name: String, version: String) {
        self.id = id
        self.name = name
        self.version = version
    }

    /// What apko assumes when an image has no `/etc/os-release`.
    public static let unknown = OperatingSystemInfo(id: "unknown", name: "apko-generated image", version: "unknown")

    /// Parses `/etc/os-release`: `KEY=value` lines, values optionally in double or single quotes, `#` comments.
    /// - Throws: `LaminaError(.malformed)` for a line without `=`, naming the line number.
    public static func parse(osRelease text: String) throws -> OperatingSystemInfo {
        var values: [String: String] = [:]
        for (number, rawLine) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let line = String(rawLine).trimmingSpaces
            if line.isEmpty || line.hasPrefix("#") { continue }
            guard let equals = line.firstIndex(of: "=") else {
                throw LaminaError(.malformed, "line \(number + 1) is not KEY=value: '\(line)'", subject: "os-release")
            }
            var value = String(line[line.index(after: equals)...])
            if value.count >= 2, let first = value.first, first == "\"" || first == "'", value.last == first {
                value = String(value.dropFirst().dropLast())
            }
            values[String(line[..<equals])] = value
        }
        return OperatingSystemInfo(id: values["ID"] ?? "", name: values["NAME"] ?? "", version: values["VERSION_ID"] ?? "")
    }

    /// `Organization: <NAME>`, or `NOASSERTION` without a name.
    public var supplier: String { name.isEmpty ? noAssertion : "Organization: " + name }
}

/// An installed APK as the image SBOM sees it.
public struct InstalledPackage: Sendable, Hashable {
    public var name: String
    public var version: String
    /// apk architecture (`x86_64`) for the purl.
    public var architecture: String
    /// The `.PKGINFO` license field.
    public var license: String?
    /// The package's own SPDX document from `/var/lib/db/sbom/` (see ``ImageSBOM/embeddedSBOMPaths``),
    /// decoded with ``SPDXJSON/decode(_:what:)``. Its described packages, and everything they relate to,
    /// are copied into the image SBOM, as apko does.
    public var embeddedSBOM: SBOMDocument?
    /// Checksums of the `.apk` file, when known, for packages without an embedded SBOM.
    public var checksums: [Checksum]

    public init(
        name: String, version: String, architecture: String, license: String? = nil,
        embeddedSBOM: SBOMDocument? = nil, checksums: [Checksum] = []
    ) {
        self.name = name
        self.version = version
        self.architecture = architecture
        self.license = license
        self.embeddedSBOM = embeddedSBOM
        self.checksums = checksums
    }
}

/// Builds image and index SBOMs shaped like apko's.
public enum ImageSBOM {
    /// A layer of the image: digest and media type.
    public struct Layer: Sendable, Hashable {
        /// nil for a layer whose digest is not known (apko's tests build such SBOMs).
        public var digest: Digest?
        public var mediaType: String

        public init(digest: Digest?, mediaType: String) {
            self.digest = digest
            self.mediaType = mediaType
        }
    }

    /// Everything an image SBOM says.
    public struct Input: Sendable, Hashable {
        /// The image (manifest) digest; nil makes the last layer the document's root.
        public var imageDigest: Digest?
        /// The manifest media type, for the image purl.
        public var imageMediaType: String
        public var layers: [Layer]
        /// The image's architecture; its OCI name becomes the purls' `arch`.
        public var architecture: Architecture?
        /// The last component of the image repository (``Reference/shortName``); `image` when unnamed.
        public var imageName: String
        /// The `repository_url` purl qualifier, if any.
        public var repositoryURL: String?
        public var operatingSystem: OperatingSystemInfo
        /// `vcs-url` of the image config (`https://github.com/org/repo@<commit>`): adds a SOURCE package.
        public var vcsURL: String?
        /// RFC 3339 creation time: the build date epoch (``BuildClock/rfc3339``).
        public var created: String
        /// Creator lines (`Tool: lamina (1.0.0)`).
        public var creators: [String]
        /// The tool named in package descriptions: `<tool> container image`, `<tool> operating system layer`.
        public var toolName: String
        /// The document namespace; nil derives `https://spdx.org/spdxdocs/<tool>/<document name>`.
        public var namespace: String?
        /// Installed packages, in install order.
        public var packages: [InstalledPackage]
        /// Whether packages without an embedded SBOM still get a package entry built from their metadata
        /// (apko leaves them out; Lamina lists them by default).
        public var includePackagesWithoutSBOM: Bool

        public init(
            imageDigest: Digest?, imageMediaType: String = "application/vnd.oci.image.manifest.v1+json",
            layers: [Layer], architecture: Architecture?, imageName: String = "image", repositoryURL: String? = nil,
            operatingSystem: OperatingSystemInfo, vcsURL: String? = nil, created: String,
            creators: [String] = ["Tool: lamina"], toolName: String = "lamina", namespace: String? = nil,
            packages: [InstalledPackage] = [], includePackagesWithoutSBOM: Bool = true
        ) {
            self.imageDigest = imageDigest
            self.imageMediaType = imageMediaType
            self.layers = layers
            self.architecture = architecture
            self.imageName = imageName
            self.repositoryURL = repositoryURL
            self.operatingSystem = operatingSystem
            self.vcsURL = vcsURL
            self.created = created
            self.creators = creators
            self.toolName = toolName
            self.namespace = namespace
            self.packages = packages
            self.includePackagesWithoutSBOM = includePackagesWithoutSBOM
        }
    }

    /// Where melange puts a package's SBOM, in the order apko looks (paths inside the image, no leading `/`):
    /// `var/lib/db/sbom/<name>-<version>.spdx.json`, then without `-rN`, then `<name>.spdx.json`.
    public static func embeddedSBOMPaths(name: String, version: String) -> [String] {
        var withoutRelease = version
        if let dash = version.lastIndex(of: "-"), version[version.index(after: dash)...].first == "r",
            version[version.index(dash, offsetBy: 2)...].allSatisfy(\.isNumber),
            version.index(dash, offsetBy: 2) < version.endIndex
        {
            withoutRelease = String(version[..<dash])
        }
        var paths = ["var/lib/db/sbom/\(name)-\(version).spdx.json"]
        if withoutRelease != version { paths.append("var/lib/db/sbom/\(name)-\(withoutRelease).spdx.json") }
        paths.append("var/lib/db/sbom/\(name).spdx.json")
        return paths
    }

    /// The SBOM of one per-architecture image.
    ///
    /// Packages: the image (CONTAINER), each layer (CONTAINER), the operating system, the VCS source,
    /// then per installed package either the packages of its embedded SBOM (described ones and all they
    /// relate to, files left out) or one package built from its metadata. Duplicate ids keep the first.
    /// Relationships: image CONTAINS layer, image GENERATED_FROM source, the embedded relationships, and
    /// root CONTAINS each package (ids of one embedded SBOM sorted).
    /// - Throws: `LaminaError(.malformed)` when an embedded SBOM relates to an element it does not contain.
    public static func image(_ input: Input) throws -> SBOMDocument {
        let supplier = input.operatingSystem.supplier
        var name = "sbom"
        if let first = input.layers.first?.digest { name += "-" + first.description }
        var document = SBOMDocument(
            name: name, namespace: input.namespace ?? "https://spdx.org/spdxdocs/\(input.toolName)/\(name)",
            created: input.created, creators: input.creators)
        let arch = input.architecture?.oci

        var imagePackageID: String?
        if let digest = input.imageDigest {
            let id = SPDXIdentifier.sanitize("SPDXRef-Package-Image-\(digest)")
            imagePackageID = id
            document.packages.append(
                SBOMPackage(
                    id: id, name: digest.description, version: digest.description,
                    description: "\(input.toolName) container image", supplier: supplier, purpose: .container,
                    checksums: [.sha256(digest.hex)],
                    externalReferences: [
                        .purl(
                            PackageURL.oci(
                                name: input.imageName, digest: digest, architecture: arch, os: "linux",
                                mediaType: input.imageMediaType, repositoryURL: input.repositoryURL))
                    ]))
        }
        for layer in input.layers {
            let layerName = layer.digest?.description ?? ""
            let id = "SPDXRef-Package-ImageLayer-" + SPDXIdentifier.sanitize(layerName)
            if let imagePackageID {
                document.relationships.append(SBOMRelationship(imagePackageID, .contains, id))
            } else {
                document.describes = [id]
            }
            document.packages.append(
                SBOMPackage(
                    id: id, name: layerName, version: input.operatingSystem.version,
                    description: "\(input.toolName) operating system layer", supplier: supplier,
                    purpose: .container,
                    externalReferences: [
                        .purl(
                            PackageURL.oci(
                                name: input.imageName, digest: layer.digest, architecture: arch, os: "linux",
                                mediaType: layer.mediaType, repositoryURL: input.repositoryURL))
                    ]))
        }
        if let imagePackageID { document.describes = [imagePackageID] }

        document.packages.append(
            SBOMPackage(
                id: "SPDXRef-OperatingSystem-" + SPDXIdentifier.sanitize(input.operatingSystem.id),
                name: input.operatingSystem.id, version: input.operatingSystem.version, description: "Operating System",
                supplier: supplier, purpose: .operatingSystem))

        if let vcs = input.vcsURL, !vcs.isEmpty, let imagePackageID {
            addSource(vcs, to: &document, parent: imagePackageID, supplier: supplier)
        }

        let root = document.describes.first
        for package in input.packages {
            if let embedded = package.embeddedSBOM {
                try merge(embedded, of: package, into: &document, root: root, supplier: supplier)
            } else if input.includePackagesWithoutSBOM {
                addFallback(package, into: &document, root: root, input: input, supplier: supplier)
            }
        }
        deduplicate(&document)
        return document
    }

    /// Copies the described packages of a melange SBOM and everything they relate to (files excepted).
    private static func merge(
        _ embedded: SBOMDocument, of package: InstalledPackage, into document: inout SBOMDocument, root: String?,
        supplier: String
    ) throws {
        let described = Set(embedded.describedIDs)
        let targets = embedded.packages.map(\.id).filter { described.contains($0) }

        var wanted = Set(targets)
        var grew = true
        while grew {
            grew = false
            for r in embedded.relationships
            where wanted.contains(r.element) && !r.related.hasPrefix("SPDXRef-File-") && !wanted.contains(r.related) {
                wanted.insert(r.related)
                grew = true
            }
        }
        var copied = Set<String>()
        for var p in embedded.packages where wanted.contains(p.id) {
            // As apko does: packages must name an originator and a supplier; files are not carried over.
            if (p.originator ?? "").isEmpty { p.originator = supplier }
            if (p.supplier ?? "").isEmpty { p.supplier = p.originator }
            p.filesAnalyzed = false
            p.hasFiles = []
            p.verificationCode = nil
            document.packages.append(p)
            copied.insert(p.id)
        }
        for r in embedded.relationships where wanted.contains(r.element) && !r.related.hasPrefix("SPDXRef-File-") {
            document.relationships.append(r)
        }
        let missing = wanted.subtracting(copied).sorted()
        guard missing.isEmpty else {
            throw LaminaError(
                .malformed, "its SBOM relates to elements it does not contain: \(missing.joined(separator: ", "))",
                subject: "\(package.name)-\(package.version)")
        }
        for license in embedded.extractedLicenses where !document.extractedLicenses.contains(where: { $0.id == license.id }) {
            document.extractedLicenses.append(license)
        }
        if let root {
            for id in targets.sorted() { document.relationships.append(SBOMRelationship(root, .contains, id)) }
        }
    }

    /// A package entry from APK metadata alone (the package shipped no SBOM).
    private static func addFallback(
        _ package: InstalledPackage, into document: inout SBOMDocument, root: String?, input: Input, supplier: String
    ) {
        let id = SPDXIdentifier.sanitize("SPDXRef-Package-apk-\(package.name)-\(package.version)")
        let license = LicenseExpression.normalize(package.license ?? "")
        for extracted in license.extracted where !document.extractedLicenses.contains(where: { $0.id == extracted.id }) {
            document.extractedLicenses.append(extracted)
        }
        let namespace = input.operatingSystem.id.isEmpty ? "unknown" : input.operatingSystem.id
        document.packages.append(
            SBOMPackage(
                id: id, name: package.name, version: package.version, licenseConcluded: noAssertion,
                licenseDeclared: license.expression, originator: supplier, supplier: supplier,
                copyrightText: noAssertion, purpose: .application, checksums: package.checksums,
                externalReferences: [
                    .purl(
                        PackageURL.apk(
                            namespace: namespace, name: package.name, version: package.version,
                            architecture: package.architecture))
                ]))
        if let root { document.relationships.append(SBOMRelationship(root, .contains, id)) }
    }

    /// A SOURCE package for `vcs-url` (`URL@commit`), with a github purl when it is on github.com.
    private static func addSource(_ vcs: String, to document: inout SBOMDocument, parent: String, supplier: String) {
        var url = vcs
        var version: String?
        var checksums: [Checksum] = []
        if let at = vcs.firstIndex(of: "@") {
            url = String(vcs[..<at])
            let commit = String(vcs[vcs.index(after: at)...])
            version = commit
            checksums = [.sha1(commit)]
        }
        var packageName = url
        for scheme in ["git+ssh://", "git://", "https://"] where packageName.hasPrefix(scheme) {
            packageName = String(packageName.dropFirst(scheme.count))
        }
        var references: [ExternalReference] = []
        if packageName.hasPrefix("github.com/") {
            let slug = packageName.dropFirst("github.com/".count)
            if let slash = slug.firstIndex(of: "/") {
                var repository = String(slug[slug.index(after: slash)...])
                if repository.hasSuffix(".git") { repository.removeLast(4) }
                references = [.purl(PackageURL.github(owner: String(slug[..<slash]), repository: repository, version: version))]
            }
        }
        let id = "SPDXRef-Package-" + SPDXIdentifier.sanitize(vcs)
        document.packages.append(
            SBOMPackage(
                id: id, name: packageName, version: version, description: "Image configuration source",
                downloadLocation: vcs, supplier: supplier, purpose: .source, checksums: checksums,
                externalReferences: references))
        document.relationships.append(SBOMRelationship(parent, .generatedFrom, id))
    }

    /// Keeps the first package of each id and the first of identical relationships.
    private static func deduplicate(_ document: inout SBOMDocument) {
        var seen = Set<String>()
        document.packages = document.packages.filter { seen.insert($0.id).inserted }
        var seenRelationships = Set<SBOMRelationship>()
        document.relationships = document.relationships.filter { seenRelationships.insert($0).inserted }
    }

    // MARK: Index

    /// One per-architecture image of an index.
    public struct IndexImage: Sendable, Hashable {
        public var digest: Digest
        public var architecture: Architecture

        public init(digest: Digest, architecture: Architecture) {
            self.digest = digest
            self.architecture = architecture
        }
    }

    /// Everything an index SBOM says.
    public struct IndexInput: Sendable, Hashable {
        public var indexDigest: Digest
        public var indexMediaType: String
        /// The per-architecture images, in index order.
        public var images: [IndexImage]
        public var imageName: String
        public var repositoryURL: String?
        /// `Organization: …` for every package (apko: `Organization: Chainguard, Inc.`).
        public var supplier: String
        public var vcsURL: String?
        public var created: String
        public var creators: [String]
        public var toolName: String
        public var namespace: String?

        public init(
            indexDigest: Digest, indexMediaType: String = "application/vnd.oci.image.index.v1+json",
            images: [IndexImage], imageName: String = "image",
            repositoryURL: String? = nil, supplier: String = noAssertion, vcsURL: String? = nil, created: String,
            creators: [String] = ["Tool: lamina"], toolName: String = "lamina", namespace: String? = nil
        ) {
            self.indexDigest = indexDigest
            self.indexMediaType = indexMediaType
            self.images = images
            self.imageName = imageName
            self.repositoryURL = repositoryURL
            self.supplier = supplier
            self.vcsURL = vcsURL
            self.created = created
            self.creators = creators
            self.toolName = toolName
            self.namespace = namespace
        }
    }

    /// The SBOM of a multi-architecture index: the index package is a VARIANT_OF each image package.
    public static func index(_ input: IndexInput) -> SBOMDocument {
        let name = "sbom-" + input.indexDigest.description
        var document = SBOMDocument(
            name: name, namespace: input.namespace ?? "https://spdx.org/spdxdocs/\(input.toolName)/\(name)",
            created: input.created, creators: input.creators)
        let indexName = input.imageName == "image" ? "index" : input.imageName
        let indexID = "SPDXRef-Package-" + SPDXIdentifier.sanitize(input.indexDigest.description)
        document.packages.append(
            SBOMPackage(
                id: indexID, name: input.indexDigest.description, version: input.indexDigest.description,
                description: "Multi-arch image index", supplier: input.supplier,
                sourceInfo: "Generated at image build time by \(input.toolName)", purpose: .container,
                checksums: [.sha256(input.indexDigest.hex)],
                externalReferences: [
                    .purl(
                        PackageURL.oci(
                            name: indexName, digest: input.indexDigest, mediaType: input.indexMediaType,
                            repositoryURL: input.repositoryURL))
                ]))
        document.describes = [indexID]
        let imageMediaType: String
        switch input.indexMediaType {
        case "application/vnd.oci.image.index.v1+json": imageMediaType = "application/vnd.oci.image.manifest.v1+json"
        case "application/vnd.docker.distribution.manifest.list.v2+json":
            imageMediaType = "application/vnd.docker.distribution.manifest.v2+json"
        default: imageMediaType = ""
        }
        for image in input.images {
            let id = "SPDXRef-Package-" + SPDXIdentifier.sanitize(image.digest.description)
            document.packages.append(
                SBOMPackage(
                    id: id, name: image.digest.description, version: image.digest.description,
                    supplier: input.supplier, purpose: .container, checksums: [.sha256(image.digest.hex)],
                    externalReferences: [
                        .purl(
                            PackageURL.oci(
                                name: input.imageName, digest: image.digest, architecture: image.architecture.oci,
                                os: "linux", mediaType: imageMediaType, repositoryURL: input.repositoryURL))
                    ]))
            document.relationships.append(SBOMRelationship(indexID, .variantOf, id))
        }
        if let vcs = input.vcsURL, !vcs.isEmpty {
            addSource(vcs, to: &document, parent: indexID, supplier: input.supplier)
        }
        return document
    }
}
