import ArgumentParser
import Foundation
import LaminaCore
import OCI
import Registry
import Signing

/// Verification flags shared by `image verify` and `image verify-attestation`.
struct VerifyFlags: ParsableArguments {
    @Option(name: [.customShort("k"), .customLong("key")], help: "The public key (cosign.pub).") var key: String
    @Option(name: .customLong("insecure-ignore-tlog"), help: "Accepted for cosign compatibility: Lamina never checks a transparency log.")
    var ignoreTlog: Bool?
    @Flag(name: .customLong("ignore-identity"), help: "Accept payloads that name another repository (mirrored images).")
    var ignoreIdentity = false

    /// The public key, after refusing `--insecure-ignore-tlog=false`.
    func publicKey() throws -> CosignPublicKey {
        try TransparencyLogFlags.checkIgnore(ignoreTlog)
        return try SigningKeys.publicKey(key)
    }
}

/// Verifies the signatures of one image digest and reports the outcome, as `cosign verify` does.
struct SignatureCheck {
    let verifier: CosignVerifier
    let logger: Logger

    /// Prints verified payloads as one JSON array on stdout, as `cosign verify` does.
    static func printArray(_ payloads: [[UInt8]]) {
        Terminal.standardOutput.write("[" + payloads.map { String(decoding: $0, as: UTF8.self) }.joined(separator: ",") + "]\n")
    }

    /// The verified payloads of the layers, or a `.badSignature` error listing why each one was refused.
    func verified(
        _ layers: [(Descriptor, Result<[UInt8], LaminaError>)]?, kind: SignatureImage.Kind, image: String,
        check: (Descriptor, [UInt8]) -> CosignVerifier.Outcome
    ) throws -> [[UInt8]] {
        let what = kind == .signature ? "signatures" : "attestations"
        guard let layers, !layers.isEmpty else {
            throw LaminaError(
                .notFound, "no \(what) found for \(verifier.digest) (no tag \(SignatureImage.tag(for: verifier.digest, kind)))",
                subject: image)
        }
        var accepted: [[UInt8]] = []
        var reasons: [String] = []
        for (descriptor, content) in layers {
            switch content {
            case .failure(let error): reasons.append("layer \(descriptor.digest): \(error.message)")
            case .success(let bytes):
                switch check(descriptor, bytes) {
                case .verified(let payload): accepted.append(payload)
                case .rejected(let why): reasons.append(why)
                }
            }
        }
        for reason in reasons { logger.debug(reason) }
        guard !accepted.isEmpty else {
            throw LaminaError(.badSignature, "no valid \(what) among \(layers.count): " + reasons.joined(separator: "; "), subject: image)
        }
        return accepted
    }
}

/// `lamina image verify --key cosign.pub REF`
struct ImageVerify: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "verify", abstract: "Verify an image's cosign signatures with a public key.",
        discussion: """
            Reads the manifest tagged sha256-<hex>.sig for REF's digest, checks every layer's signature over its
            payload, that the payload names REF's digest and repository, and the -a annotations; prints the verified
            payloads as a JSON array. Exits 1 naming the reason when none verifies. With a directory or tarball
            written by `image build` (its signatures added by `image sign --key K LAYOUT`), verifies offline.
            """)

    @OptionGroup var flags: VerifyFlags
    @Option(name: [.customShort("a"), .customLong("annotations")], help: "KEY=VALUE every accepted payload must carry (repeatable).")
    var annotations: [String] = []
    @Flag(name: .customLong("offline"), help: "REF is an OCI layout directory or tarball carrying its signatures: no registry.")
    var offline = false
    @Argument(help: "The image: registry/repository[:tag|@sha256:…], or an OCI layout directory / tarball.") var reference: String
    @OptionGroup var registry: RegistryFlags
    @OptionGroup var global: GlobalOptions

    func run() async throws {
        let key = try flags.publicKey()
        let required = try SigningKeys.annotations(annotations)
        let logger = global.logger
        let identityCheck = !flags.ignoreIdentity
        if offline || LayoutSignatures.isLocal(reference) {
            let payloads = try LayoutSignatures.with(reference) { layout in
                let verifier = CosignVerifier(key: key, digest: try layout.imageDigest(), identity: nil, annotations: required)
                return try SignatureCheck(verifier: verifier, logger: logger).verified(
                    try layout.layers(verifier.digest, .signature), kind: .signature, image: reference, check: verifier.checkSignature)
            }
            logger.info("Verified offline: \(reference)")
            SignatureCheck.printArray(payloads)
            return
        }
        let image = try Reference(reference)
        let payloads = try await registry.withClient(for: image) { client in
            let store = try SignatureStore(client: client, image: image)
            let digest = try await client.resolve(image).descriptor.digest
            let verifier = CosignVerifier(
                key: key, digest: digest, identity: identityCheck ? SimpleSigningPayload.identity(of: image) : nil, annotations: required)
            return try SignatureCheck(verifier: verifier, logger: logger).verified(
                try await store.layers(digest, .signature), kind: .signature, image: image.description,
                check: verifier.checkSignature)
        }
        logger.info(
            "Verification for \(image.description) --\nThe following checks were performed on each of these signatures:\n"
                + "  - The cosign claims were validated\n  - The signatures were verified against the specified public key")
        SignatureCheck.printArray(payloads)
    }
}

/// `lamina image verify-attestation --key cosign.pub [--type spdxjson] REF`
struct ImageVerifyAttestation: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "verify-attestation", abstract: "Verify an image's in-toto attestations with a public key.",
        discussion: """
            Reads the manifest tagged sha256-<hex>.att, checks each DSSE envelope's signature, that its statement's
            subject is REF's digest and, with --type, its predicate type; prints each verified envelope as one JSON
            line. Exits 1 naming the reason when none verifies.
            """)

    @OptionGroup var flags: VerifyFlags
    @Option(name: .customLong("type"), help: "Only accept this predicate type (name or URI; default: any).") var type: String?
    @Argument(help: "The image: registry/repository[:tag|@sha256:…].") var reference: String
    @OptionGroup var registry: RegistryFlags
    @OptionGroup var global: GlobalOptions

    func run() async throws {
        let key = try flags.publicKey()
        let predicateType = try type.map(PredicateType.resolve)
        let logger = global.logger
        let image = try Reference(reference)
        let envelopes = try await registry.withClient(for: image) { client in
            let store = try SignatureStore(client: client, image: image)
            let digest = try await client.resolve(image).descriptor.digest
            let verifier = CosignVerifier(key: key, digest: digest, identity: nil)
            return try SignatureCheck(verifier: verifier, logger: logger).verified(
                try await store.layers(digest, .attestation), kind: .attestation, image: image.description
            ) { descriptor, bytes in
                verifier.checkAttestation(descriptor, envelope: bytes, predicateType: predicateType)
            }
        }
        logger.info("Verification for \(image.description) --\nThe attestations were verified against the specified public key")
        for envelope in envelopes { Terminal.standardOutput.write(String(decoding: envelope, as: UTF8.self) + "\n") }
    }
}
