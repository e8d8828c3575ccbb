// Source: cosign's command line (`cmd/cosign/cli/*.go`, `cmd/cosign/cli/options/*.go`): the key-based subset.
import ArgumentParser
import Foundation
import LaminaCore
import OCI
import Registry
import Signing

/// The binary started as `cosign`: cosign's command line for key-based signing, backed by `lamina image …`.
public struct Cosign: AsyncParsableCommand {
    public static let configuration = CommandConfiguration(
        commandName: "cosign",
        abstract: "Sign and verify container images and files with cosign keys (Lamina's cosign face; no transparency log).",
        subcommands: [
            CosignAlias<ImageKeygen>.self, CosignAlias<ImageImportKeyPair>.self, CosignAlias<ImageSign>.self,
            CosignAlias<ImageVerify>.self, CosignAlias<ImageAttest>.self, CosignAlias<ImageVerifyAttestation>.self,
            CosignAlias<ImageSignBlob>.self, CosignAlias<ImageVerifyBlob>.self, CosignTriangulate.self, CosignTree.self,
            CosignAttach.self, CosignDownload.self,
        ])

    public init() {}

    /// Runs cosign's command line `arguments` (without the program name) and exits.
    public static func run(arguments: [String]) async {
        await Lamina.runTree(Cosign.self, arguments: normalize(arguments))
    }

    /// cosign's boolean flags written bare become `--flag=true` (`--insecure-ignore-tlog`, `--offline`);
    /// `--local-image` (verify a layout) becomes Lamina's `--offline`; cosign's `--offline` (no transparency-log
    /// lookups) is what Lamina always does, so it is dropped.
    static func normalize(_ arguments: [String]) -> [String] {
        arguments.compactMap { argument in
            switch argument {
            case "--insecure-ignore-tlog": return "--insecure-ignore-tlog=true"
            case "--local-image", "--local-image=true": return "--offline"
            case "--offline", "--offline=true", "--offline=false", "--local-image=false": return nil
            default: return argument
            }
        }
    }
}

/// `cosign NAME …`: a Lamina `image` command under cosign's name (``Cosign/aliases``), with the same flags.
struct CosignAlias<Command: AsyncParsableCommand>: AsyncParsableCommand {
    static var configuration: CommandConfiguration {
        let lamina = Command.configuration.commandName ?? ""
        let (name, abstract) = Cosign.aliases[lamina] ?? (lamina, Command.configuration.abstract)
        return CommandConfiguration(commandName: name, abstract: abstract)
    }
    @OptionGroup var command: Command
    func run() async throws {
        var command = command
        try await command.run()
    }
}

extension Cosign {
    /// Lamina's `image` subcommand → cosign's name for it and the abstract cosign's help shows.
    static let aliases: [String: (name: String, abstract: String)] = [
        "keygen": ("generate-key-pair", "Generate cosign.key (encrypted) and cosign.pub (ECDSA P-256)."),
        "import-key-pair": ("import-key-pair", "Import a PEM private key as an encrypted cosign key pair."),
        "sign": ("sign", "Sign an image (or an OCI layout directory) with --key; always the digest."),
        "verify": ("verify", "Verify an image's signatures with --key; prints the payloads as JSON."),
        "attest": ("attest", "Attach a signed in-toto attestation (--predicate, --type) to an image."),
        "verify-attestation": ("verify-attestation", "Verify an image's attestations with --key."),
        "sign-blob": ("sign-blob", "Sign a file with --key."),
        "verify-blob": ("verify-blob", "Verify a file's signature (--signature) with --key."),
    ]
}

/// `cosign triangulate REF`: where the signatures (or attestations, SBOM) of an image live.
struct CosignTriangulate: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "triangulate", abstract: "Print the tag holding an image's signatures, attestations or SBOM.")

    enum Kind: String, ExpressibleByArgument, CaseIterable {
        case signature, attestation, sbom, digest
    }
    @Option(name: .customLong("type"), help: "signature, attestation, sbom or digest.") var type: Kind = .signature
    @Argument(help: "The image: registry/repository[:tag|@sha256:…].") var reference: String
    @OptionGroup var registry: RegistryFlags
    @OptionGroup var global: GlobalOptions

    func run() async throws {
        let image = try Reference(reference)
        let digest = try await registry.withClient(for: image) { client in try await client.resolve(image).descriptor.digest }
        let kind: SignatureImage.Kind
        switch type {
        case .digest:
            global.logger.result(image.repositoryOnly.digested(digest).description)
            return
        case .signature: kind = .signature
        case .attestation: kind = .attestation
        case .sbom: kind = .sbom
        }
        let repository = try SignatureStore.repository(for: image, environment: ProcessInfo.processInfo.environment)
        global.logger.result("\(repository.name):\(SignatureImage.tag(for: digest, kind))")
    }
}

/// `cosign tree REF`: the signatures and attestations stored for an image.
struct CosignTree: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "tree", abstract: "List the signatures and attestations stored for an image.")
    @Argument(help: "The image: registry/repository[:tag|@sha256:…].") var reference: String
    @OptionGroup var registry: RegistryFlags
    @OptionGroup var global: GlobalOptions

    func run() async throws {
        let image = try Reference(reference)
        let lines = try await registry.withSignatureStore(for: image) { store, digest in
            var lines = ["📦 Supply Chain Security Related artifacts for an image: \(image.description)"]
            let kinds: [(SignatureImage.Kind, String)] = [
                (.attestation, "💾 Attestations for an image tag"), (.signature, "🔐 Signatures for an image tag"),
                (.sbom, "📦 SBOMs for an image tag"),
            ]
            for (kind, title) in kinds {
                guard let manifest = try await store.signatureManifest(digest, kind) else { continue }
                lines.append("└── \(title): \(store.repository.name):\(SignatureImage.tag(for: digest, kind))")
                for layer in manifest.layers { lines.append("   └── 🍒 \(layer.digest)") }
            }
            if lines.count == 1 { lines.append("No Supply Chain Security Related Artifacts found for image \(image.description)") }
            return lines
        }
        for line in lines { global.logger.result(line) }
    }
}

/// `cosign attach sbom --sbom FILE REF`: the file as the one layer of `sha256-<hex>.sbom` (replacing an earlier one).
struct CosignAttach: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "attach", abstract: "Attach an artifact to an image.", subcommands: [CosignAttachSBOM.self])
}

struct CosignAttachSBOM: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "sbom", abstract: "Attach an SBOM to an image (stored at sha256-<hex>.sbom, unsigned).")
    @Option(name: .customLong("sbom"), help: "The SBOM file.") var sbom: String
    @Option(name: .customLong("type"), help: "spdx, cyclonedx or syft.") var type = "spdx"
    @Option(name: .customLong("input-format"), help: "json, xml or text (default: read from the file).") var inputFormat = ""
    @Argument(help: "The image: registry/repository[:tag|@sha256:…].") var reference: String
    @OptionGroup var registry: RegistryFlags
    @OptionGroup var global: GlobalOptions

    func run() async throws {
        let image = try Reference(reference)
        guard let bytes = FileManager.default.contents(atPath: sbom).map(Array.init) else {
            throw LaminaError(.notFound, "cannot read the file", subject: sbom)
        }
        let format = inputFormat.isEmpty ? Self.sniff(bytes) : inputFormat
        guard let mediaType = SignatureImage.sbomMediaType(type: type, format: format) else {
            throw LaminaError(.usage, "no SBOM media type for --type \(type) with format \(format)", subject: sbom)
        }
        global.logger.warn("attaching SBOMs this way does not sign them (cosign attest --type \(type) does)")
        let tag = try await registry.withSignatureStore(for: image) { store, digest in
            try await store.replaceAttachment(Blob(bytes: bytes, mediaType: mediaType), of: digest, .sbom)
        }
        global.logger.info("attached \(sbom) as \(tag)")
    }

    /// cosign's guess: JSON when it parses as JSON, XML when it starts with `<`, else text.
    static func sniff(_ bytes: [UInt8]) -> String {
        if (try? JSONSerialization.jsonObject(with: Data(bytes))) != nil { return "json" }
        return bytes.first(where: { ![0x20, 0x09, 0x0A, 0x0D].contains($0) }) == UInt8(ascii: "<") ? "xml" : "text"
    }
}

/// `cosign download sbom|signature|attestation REF`: what is stored for an image, on stdout (nothing is verified).
struct CosignDownload: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "download", abstract: "Print the SBOM, signatures or attestations stored for an image (not verified).",
        subcommands: [Item<SBOM>.self, Item<Signature>.self, Item<Attestation>.self])

    protocol Kind { static var name: String { get }; static var kind: SignatureImage.Kind { get } }
    enum SBOM: Kind { static let name = "sbom"; static let kind = SignatureImage.Kind.sbom }
    enum Signature: Kind { static let name = "signature"; static let kind = SignatureImage.Kind.signature }
    enum Attestation: Kind { static let name = "attestation"; static let kind = SignatureImage.Kind.attestation }

    struct Item<K: Kind>: AsyncParsableCommand {
        static var configuration: CommandConfiguration {
            CommandConfiguration(commandName: K.name, abstract: "Print the \(K.name) layers stored for an image.")
        }
        @Argument(help: "The image: registry/repository[:tag|@sha256:…].") var reference: String
        @OptionGroup var registry: RegistryFlags
        @OptionGroup var global: GlobalOptions

        func run() async throws {
            let image = try Reference(reference)
            let lines = try await registry.withSignatureStore(for: image) { store, digest in
                guard let layers = try await store.layers(digest, K.kind), !layers.isEmpty else {
                    throw LaminaError(.notFound, "no \(K.name) attached to \(digest)", subject: image.description)
                }
                return try layers.map { descriptor, bytes in try CosignDownload.line(K.kind, descriptor, try bytes.get()) }
            }
            for line in lines { Terminal.standardOutput.write(line) }
        }
    }

    /// An SBOM as stored; an attestation's DSSE envelope as one line; a signature as cosign prints it.
    static func line(_ kind: SignatureImage.Kind, _ descriptor: Descriptor, _ bytes: [UInt8]) throws -> String {
        switch kind {
        case .sbom:
            return String(decoding: bytes, as: UTF8.self)
        case .attestation:
            return String(decoding: bytes, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines) + "\n"
        case .signature:
            let record: [String: String?] = [
                "Base64Signature": descriptor.annotations?[SignatureImage.signatureAnnotation] ?? "",
                "Payload": Base64.encode(bytes), "Cert": nil, "Chain": nil, "Bundle": nil, "RFC3161Timestamp": nil,
            ]
            let data = try JSONSerialization.data(withJSONObject: record.mapValues { $0 ?? NSNull() as Any }, options: [.sortedKeys])
            return String(decoding: data, as: UTF8.self) + "\n"
        }
    }
}
