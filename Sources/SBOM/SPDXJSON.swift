// Source: SPDX 2.3 JSON serialisation (https://spdx.github.io/spdx-spec/v2.3/conformance/, schema
// `spdx-schema.json`); field order as apko's `spdx.Document`/`spdx.Package` (pkg/sbom/generator/spdx/spdx.go)
// and melange write it, so our files read like theirs.

import Foundation
import LaminaCore

/// SPDX 2.3 JSON: encodes an ``SBOMDocument`` and decodes SPDX files (melange's per-package SBOMs).
public enum SPDXJSON {
    /// SPDX JSON bytes: apko's field order, two-space indent, Go's escaping, a final newline. The same
    /// document always gives the same bytes; element order is the document's.
    public static func encode(_ document: SBOMDocument) -> [UInt8] {
        var members: [(String, GoJSON)] = [
            ("SPDXID", .string(document.id)),
            ("name", .string(document.name)),
            ("spdxVersion", .string("SPDX-2.3")),
        ]
        var creation: [(String, GoJSON)] = [
            ("created", .string(document.created)),
            ("creators", .array(document.creators.map(GoJSON.string))),
        ]
        if let version = document.licenseListVersion { creation.append(("licenseListVersion", .string(version))) }
        members += [
            ("creationInfo", .object(creation)),
            ("dataLicense", .string(document.dataLicense)),
            ("documentNamespace", .string(document.namespace)),
            ("documentDescribes", .array(document.describes.map(GoJSON.string))),
        ]
        if !document.files.isEmpty { members.append(("files", .array(document.files.map(file)))) }
        members += [
            ("packages", .array(document.packages.map(package))),
            ("relationships", .array(document.relationships.map(relationship))),
        ]
        if !document.extractedLicenses.isEmpty {
            members.append(
                (
                    "hasExtractedLicensingInfos",
                    .array(
                        document.extractedLicenses.map { license in
                            var fields: [(String, GoJSON)] = [
                                ("licenseId", .string(license.id)), ("extractedText", .string(license.text)),
                            ]
                            if let name = license.name, !name.isEmpty { fields.append(("name", .string(name))) }
                            return .object(fields)
                        })
                ))
        }
        return GoJSON.object(members).rendered()
    }

    private static func optional(_ fields: inout [(String, GoJSON)], _ key: String, _ value: String?) {
        if let value, !value.isEmpty { fields.append((key, .string(value))) }
    }

    private static func package(_ p: SBOMPackage) -> GoJSON {
        var fields: [(String, GoJSON)] = [("SPDXID", .string(p.id)), ("name", .string(p.name))]
        optional(&fields, "versionInfo", p.version)
        fields.append(("filesAnalyzed", .bool(p.filesAnalyzed)))
        if !p.hasFiles.isEmpty { fields.append(("hasFiles", .array(p.hasFiles.map(GoJSON.string)))) }
        optional(&fields, "licenseConcluded", p.licenseConcluded)
        optional(&fields, "licenseDeclared", p.licenseDeclared)
        optional(&fields, "description", p.description)
        fields.append(("downloadLocation", .string(p.downloadLocation)))
        optional(&fields, "originator", p.originator)
        optional(&fields, "supplier", p.supplier)
        optional(&fields, "sourceInfo", p.sourceInfo)
        optional(&fields, "copyrightText", p.copyrightText)
        if let text = p.attributionText, !text.isEmpty { fields.append(("attributionTexts", .array([.string(text)]))) }
        optional(&fields, "primaryPackagePurpose", p.purpose?.rawValue)
        if !p.checksums.isEmpty { fields.append(("checksums", .array(p.checksums.map(checksum)))) }
        if !p.externalReferences.isEmpty {
            fields.append(
                (
                    "externalRefs",
                    .array(
                        p.externalReferences.map {
                            .object([
                                ("referenceCategory", .string($0.category)),
                                ("referenceLocator", .string($0.locator)),
                                ("referenceType", .string($0.type)),
                            ])
                        })
                ))
        }
        if let code = p.verificationCode, !code.isEmpty {
            fields.append(("packageVerificationCode", .object([("packageVerificationCodeValue", .string(code))])))
        }
        return .object(fields)
    }

    private static func file(_ f: SBOMFile) -> GoJSON {
        var fields: [(String, GoJSON)] = [("SPDXID", .string(f.id)), ("fileName", .string(f.name))]
        optional(&fields, "copyrightText", f.copyrightText)
        optional(&fields, "licenseConcluded", f.licenseConcluded)
        if !f.checksums.isEmpty { fields.append(("checksums", .array(f.checksums.map(checksum)))) }
        return .object(fields)
    }

    private static func checksum(_ c: Checksum) -> GoJSON {
        .object([("algorithm", .string(c.algorithm)), ("checksumValue", .string(c.value))])
    }

    private static func relationship(_ r: SBOMRelationship) -> GoJSON {
        .object([
            ("spdxElementId", .string(r.element)),
            ("relationshipType", .string(r.type.rawValue)),
            ("relatedSpdxElement", .string(r.related)),
        ])
    }

    // MARK: Decoding

    /// Decodes an SPDX 2.x JSON document. Unknown fields are ignored; an absent `filesAnalyzed` reads as
    /// false (as apko reads it).
    /// - Parameter what: names the input in errors (`/var/lib/db/sbom/zlib-1.3-r0.spdx.json`).
    /// - Throws: `LaminaError(.malformed)` naming the key path that does not fit.
    public static func decode(_ bytes: [UInt8], what: String) throws -> SBOMDocument {
        let raw = try decodeJSON(RawDocument.self, from: bytes, what: what)
        return SBOMDocument(
            id: raw.SPDXID ?? "SPDXRef-DOCUMENT", name: raw.name ?? "", namespace: raw.documentNamespace ?? "",
            created: raw.creationInfo?.created ?? "", creators: raw.creationInfo?.creators ?? [],
            licenseListVersion: raw.creationInfo?.licenseListVersion, dataLicense: raw.dataLicense ?? "CC0-1.0",
            describes: raw.documentDescribes ?? [],
            packages: (raw.packages ?? []).map { p in
                SBOMPackage(
                    id: p.SPDXID, name: p.name ?? "", version: p.versionInfo, filesAnalyzed: p.filesAnalyzed ?? false,
                    hasFiles: p.hasFiles ?? [], licenseConcluded: p.licenseConcluded, licenseDeclared: p.licenseDeclared,
                    description: p.description, downloadLocation: p.downloadLocation ?? noAssertion,
                    originator: p.originator, supplier: p.supplier, sourceInfo: p.sourceInfo,
                    copyrightText: p.copyrightText, attributionText: p.attributionTexts?.first,
                    purpose: p.primaryPackagePurpose.map(SBOMPackage.Purpose.init(rawValue:)),
                    checksums: (p.checksums ?? []).map { Checksum(algorithm: $0.algorithm, value: $0.checksumValue) },
                    externalReferences: (p.externalRefs ?? []).map {
                        ExternalReference(category: $0.referenceCategory, type: $0.referenceType,
                            locator: $0.referenceLocator)
                    },
                    verificationCode: p.packageVerificationCode?.packageVerificationCodeValue)
            },
            files: (raw.files ?? []).map { f in
                SBOMFile(
                    id: f.SPDXID, name: f.fileName, licenseConcluded: f.licenseConcluded, copyrightText: f.copyrightText,
                    checksums: (f.checksums ?? []).map { Checksum(algorithm: $0.algorithm, value: $0.checksumValue) })
            },
            relationships: (raw.relationships ?? []).map {
                SBOMRelationship($0.spdxElementId, .init(rawValue: $0.relationshipType), $0.relatedSpdxElement)
            },
            extractedLicenses: (raw.hasExtractedLicensingInfos ?? []).map {
                ExtractedLicense(id: $0.licenseId, text: $0.extractedText ?? "", name: $0.name)
            })
    }

    // The JSON shape, field names as in the SPDX schema.
    private struct RawDocument: Decodable {
        var SPDXID: String?
        var name: String?
        var documentNamespace: String?
        var dataLicense: String?
        var creationInfo: RawCreationInfo?
        var documentDescribes: [String]?
        var packages: [RawPackage]?
        var files: [RawFile]?
        var relationships: [RawRelationship]?
        var hasExtractedLicensingInfos: [RawLicense]?
    }
    private struct RawCreationInfo: Decodable {
        var created: String?
        var creators: [String]?
        var licenseListVersion: String?
    }
    private struct RawPackage: Decodable {
        var SPDXID: String
        var name: String?
        var versionInfo: String?
        var filesAnalyzed: Bool?
        var hasFiles: [String]?
        var licenseConcluded: String?
        var licenseDeclared: String?
        var description: String?
        var downloadLocation: String?
        var originator: String?
        var supplier: String?
        var sourceInfo: String?
        var copyrightText: String?
        var attributionTexts: [String]?
        var primaryPackagePurpose: String?
        var checksums: [RawChecksum]?
        var externalRefs: [RawExternalRef]?
        var packageVerificationCode: RawVerificationCode?

        enum CodingKeys: String, CodingKey {
            case SPDXID, name, versionInfo, filesAnalyzed, hasFiles, licenseConcluded, licenseDeclared
            case description, downloadLocation, originator, supplier, sourceInfo, copyrightText, attributionText
            case attributionTexts
            case primaryPackagePurpose, checksums, externalRefs, packageVerificationCode
        }

        init(from decoder: any Decoder) throws {
            let c = try decoder.container(keyedBy: CodingKeys.self)
            SPDXID = try c.decode(String.self, forKey: .SPDXID)
            name = try c.decodeIfPresent(String.self, forKey: .name)
            versionInfo = try c.decodeIfPresent(String.self, forKey: .versionInfo)
            filesAnalyzed = try c.decodeIfPresent(Bool.self, forKey: .filesAnalyzed)
            hasFiles = try c.decodeIfPresent([String].self, forKey: .hasFiles)
            licenseConcluded = try c.decodeIfPresent(String.self, forKey: .licenseConcluded)
            licenseDeclared = try c.decodeIfPresent(String.self, forKey: .licenseDeclared)
            description = try c.decodeIfPresent(String.self, forKey: .description)
            downloadLocation = try c.decodeIfPresent(String.self, forKey: .downloadLocation)
            originator = try c.decodeIfPresent(String.self, forKey: .originator)
            supplier = try c.decodeIfPresent(String.self, forKey: .supplier)
            sourceInfo = try c.decodeIfPresent(String.self, forKey: .sourceInfo)
            copyrightText = try c.decodeIfPresent(String.self, forKey: .copyrightText)
            // SPDX 2.3 has an `attributionTexts` array; apko's model a single `attributionText` string.
            attributionTexts =
                try c.decodeIfPresent([String].self, forKey: .attributionTexts)
                ?? c.decodeIfPresent(String.self, forKey: .attributionText).map { [$0] }
            primaryPackagePurpose = try c.decodeIfPresent(String.self, forKey: .primaryPackagePurpose)
            checksums = try c.decodeIfPresent([RawChecksum].self, forKey: .checksums)
            externalRefs = try c.decodeIfPresent([RawExternalRef].self, forKey: .externalRefs)
            packageVerificationCode = try c.decodeIfPresent(RawVerificationCode.self, forKey: .packageVerificationCode)
        }
    }
    private struct RawFile: Decodable {
        var SPDXID: String
        var fileName: String
        var licenseConcluded: String?
        var copyrightText: String?
        var checksums: [RawChecksum]?
    }
    private struct RawChecksum: Decodable {
        var algorithm: String
        var checksumValue: String
    }
    private struct RawExternalRef: Decodable {
        var referenceCategory: String
        var referenceType: String
        var referenceLocator: String
    }
    private struct RawVerificationCode: Decodable {
        var packageVerificationCodeValue: String?
    }
    private struct RawRelationship: Decodable {
        var spdxElementId: String
        var relationshipType: String
        var relatedSpdxElement: String
    }
    private struct RawLicense: Decodable {
        var licenseId: String
        var extractedText: String?
        var name: String?
    }
}
