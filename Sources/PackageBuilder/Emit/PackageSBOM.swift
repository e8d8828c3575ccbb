// Source: the per-package SPDX document melange writes into every package
// (`pkg/sbom/document.go`, `pkg/sbom/package.go`; golden files `pkg/build/testdata/goldenfiles/sboms/`),
// which apko copies into image SBOMs.

import APK
import LaminaCore
import SBOM

/// The SPDX 2.3 document a built package carries at `var/lib/db/sbom/NAME-VERSION-rEPOCH.spdx.json`.
///
/// Shape (melange's): the document describes one package, `SPDXRef-Package-apk-NAME-VERSION`, with its
/// purl `pkg:apk/<namespace>/NAME@VERSION?arch=…&distro=<namespace>`, declared license and supplier; an
/// `SPDXRef-OperatingSystem` package names the distribution. melange also lists the build configuration
/// and fetched sources; those are not known at packaging time here and are left out.
public enum PackageSBOM {
    /// The document for `metadata`.
    ///
    /// - Parameters:
    ///   - namespace: the distribution (`wolfi`, `alpine`, default `unknown` as melange's `--namespace`):
    ///     purl namespace and `distro` qualifier, and, title-cased, the supplier organisation.
    ///   - clock: `created` is the build epoch, so the same inputs give the same bytes.
    public static func document(for metadata: PackageMetadata, namespace: String, clock: BuildClock) -> SBOMDocument {
        let supplier = "Organization: " + titleCased(namespace)
        let identity = "\(metadata.name)-\(metadata.fullVersion)"
        let packageID = "SPDXRef-Package-apk-" + SPDXIdentifier.sanitize(identity)
        let license = LicenseExpression.normalize(metadata.license ?? "")
        // A stable, per-package namespace URI: the same package always gets the same one.
        let seed = "apk-\(namespace)-\(identity)-\(metadata.architecture)"
        let hash = APK.Hasher.digest(.sha256, Array(seed.utf8)).hex.prefix(32)
        var document = SBOMDocument(
            name: "apk-" + identity, namespace: "https://spdx.org/spdxdocs/lamina/\(hash)", created: clock.rfc3339,
            creators: ["Tool: lamina", supplier], describes: [packageID])
        document.packages = [
            SBOMPackage(
                id: "SPDXRef-OperatingSystem", name: namespace, licenseConcluded: noAssertion,
                licenseDeclared: noAssertion, description: "Operating System", originator: supplier,
                supplier: supplier, purpose: .operatingSystem),
            SBOMPackage(
                id: packageID, name: metadata.name, version: metadata.fullVersion, licenseConcluded: noAssertion,
                licenseDeclared: license.expression, description: metadata.description, originator: supplier,
                supplier: supplier, copyrightText: metadata.copyrightText ?? noAssertion, purpose: .application,
                externalReferences: [
                    .purl(
                        PackageURL.apk(
                            namespace: namespace, name: metadata.name, version: metadata.fullVersion,
                            architecture: metadata.architecture, distro: namespace))
                ] + (metadata.cpe.map { [ExternalReference(category: "SECURITY", type: "cpe23Type", locator: $0)] } ?? [])),
        ]
        document.extractedLicenses = license.extracted
        return document
    }

    /// The document's SPDX JSON bytes.
    public static func encoded(for metadata: PackageMetadata, namespace: String, clock: BuildClock) -> [UInt8] {
        SPDXJSON.encode(document(for: metadata, namespace: namespace, clock: clock))
    }

    /// `wolfi` → `Wolfi`, `chainguard-dev` → `Chainguard-Dev` (as melange's supplier does).
    static func titleCased(_ text: String) -> String {
        var out = ""
        var startOfWord = true
        for character in text {
            out += startOfWord ? character.uppercased() : character.lowercased()
            startOfWord = !(character.isLetter || character.isNumber || character == "'")
        }
        return out
    }
}
