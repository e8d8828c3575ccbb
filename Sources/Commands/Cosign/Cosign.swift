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
        global.logger.result("\(image.name):\(SignatureImage.tag(for: digest, kind))")
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
        let lines = try await registry.withClient(for: image) { client in
            let store = SignatureStore(client: client, image: image)
            let digest = try await client.resolve(image).descriptor.digest
            var lines = ["📦 Supply Chain Security Related artifacts for an image: \(image.description)"]
            let kinds: [(SignatureImage.Kind, String)] = [
                (.attestation, "💾 Attestations for an image tag"), (.signature, "🔐 Signatures for an image tag"),
                (.sbom, "📦 SBOMs for an image tag"),
            ]
            for (kind, title) in kinds {
                guard let manifest = try await store.signatureManifest(digest, kind) else { continue }
                lines.append("└── \(title): \(image.name):\(SignatureImage.tag(for: digest, kind))")
                for layer in manifest.layers { lines.append("   └── 🍒 \(layer.digest)") }
            }
            if lines.count == 1 { lines.append("No Supply Chain Security Related Artifacts found for image \(image.description)") }
            return lines
        }
        for line in lines { global.logger.result(line) }
    }
}
