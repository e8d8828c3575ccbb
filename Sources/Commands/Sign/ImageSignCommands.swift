import ArgumentParser
import Foundation
import LaminaCore
import OCI
import Registry
import Signing

/// cosign's transparency-log flags: Lamina never talks to Rekor, so it says so once.
struct TransparencyLogFlags: ParsableArguments {
    @Option(name: .customLong("tlog-upload"), help: "Must be false if given: Lamina has no transparency log (offline).")
    var tlogUpload: Bool?
    @Flag(name: [.customShort("y"), .customLong("yes")], help: "Accepted for cosign compatibility; Lamina never asks.")
    var yes = false

    func check(_ logger: Logger) throws {
        if tlogUpload == true {
            throw LaminaError(.usage, "Lamina has no transparency log (it works offline): use --tlog-upload=false", subject: "--tlog-upload")
        }
        if tlogUpload == nil {
            logger.warn("not uploading to a transparency log (as cosign --tlog-upload=false): verify with the public key")
        }
    }

    /// `--insecure-ignore-tlog=false` asks for a transparency-log check Lamina cannot make: refused.
    static func checkIgnore(_ ignore: Bool?) throws {
        if ignore == false {
            throw LaminaError(
                .usage, "Lamina has no transparency log to check (it works offline): drop the flag or set it to true",
                subject: "--insecure-ignore-tlog")
        }
    }
}

/// `lamina image sign --key cosign.key REF`
struct ImageSign: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "sign", abstract: "Sign an image in a registry with a cosign key, as `cosign sign --key` does.",
        discussion: """
            Signs the digest REF names (a tag is resolved to its digest first): a simple-signing payload
            (docker-reference, docker-manifest-digest, type, optional -a annotations) signed with ECDSA P-256 over
            SHA-256, stored as one layer of the OCI manifest tagged sha256-<hex>.sig in the same repository. Signing
            again appends a layer. An index is signed at its digest; --recursive signs every manifest it lists too.
            """)

    @Option(name: [.customShort("k"), .customLong("key")], help: "The private key (cosign.key).") var key: String
    @Option(name: [.customShort("a"), .customLong("annotations")], help: "KEY=VALUE to add to the payload's optional map (repeatable).")
    var annotations: [String] = []
    @Flag(name: [.customShort("r"), .customLong("recursive")], help: "Also sign every manifest of an index.") var recursive = false
    @Option(name: .customLong("output-signature"), help: "Also write the base64 signature here (one image only).")
    var outputSignature: String?
    @Option(name: .customLong("output-payload"), help: "Also write the signed payload here (one image only).")
    var outputPayload: String?
    @Argument(help: "The image: registry/repository[:tag], registry/repository@sha256:…, or an OCI layout directory.")
    var reference: String
    @OptionGroup var tlog: TransparencyLogFlags
    @OptionGroup var registry: RegistryFlags
    @OptionGroup var global: GlobalOptions

    func run() async throws {
        let optional = try SigningKeys.annotations(annotations)
        try tlog.check(global.logger)
        let signer = ImageSigner(signer: try SigningKeys.privateKey(key), annotations: optional.isEmpty ? nil : optional)
        let signed: [ImageSigner.Signed]
        if LayoutSignatures.isLocal(reference) {
            signed = try signer.sign(layout: reference, recursive: recursive, logger: global.logger)
        } else {
            signed = try await signer.sign(try Reference(reference), recursive: recursive, registry: registry, logger: global.logger)
        }
        if outputSignature != nil || outputPayload != nil {
            guard signed.count == 1, let only = signed.first else {
                throw LaminaError(.usage, "--output-signature/--output-payload need exactly one image, not --recursive", subject: reference)
            }
            if let outputSignature { try SigningKeys.writeText(Base64.encode(only.signature), to: outputSignature) }
            if let outputPayload { try SigningKeys.writeText(String(decoding: only.payload, as: UTF8.self), to: outputPayload) }
        }
        if registry.json {
            try printJSON(signed.map { ["digest": $0.digest.description, "signature": $0.tag] })
        } else {
            for item in signed { global.logger.result(item.tag) }
        }
    }
}

/// Signs images in a registry; shared by `image sign`, `image publish --sign-key` and `cosign sign`.
struct ImageSigner: Sendable {
    let signer: CosignPrivateKey
    var annotations: [String: String]?

    struct Signed: Sendable {
        var digest: Digest
        var tag: String
        var payload: [UInt8]
        var signature: [UInt8]
    }

    /// Signs `image`'s digest (and with `recursive` its index's manifests).
    func sign(_ image: Reference, recursive: Bool, registry: RegistryFlags, logger: Logger) async throws -> [Signed] {
        try await registry.withClient(for: image) { client in
            let store = try SignatureStore(client: client, image: image)
            return try await sign(try await store.targets(image, recursive: recursive), in: store, logger: logger)
        }
    }

    /// Signs the image in an OCI layout directory (what `image push` of it would publish), storing the signature
    /// image in the layout as `cosign save` does. The docker-reference is the layout's tag name, if it has one.
    func sign(layout path: String, recursive: Bool, logger: Logger) throws -> [Signed] {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory), isDirectory.boolValue else {
            throw LaminaError(.usage, "sign a layout directory (image build --format oci-layout), or push the tarball first", subject: path)
        }
        let layout = try LayoutSignatures(path)
        let plan = try withScratchDirectorySync("lamina-sign") { try PushPlan.layout(layout.reader, scratch: $0) }
        let digests = [plan.root.descriptor.digest] + (recursive ? plan.manifests.map(\.descriptor.digest) : [])
        return try digests.map { digest in
            let payload = try SimpleSigningPayload(dockerReference: path, manifestDigest: digest, optional: annotations).encoded()
            let signature = try signer.sign(payload)
            let tag = try layout.attach(SignatureImage.signatureLayer(payload: payload, signature: signature), to: digest, .signature)
            logger.info("Signature stored in the layout: \(tag)")
            return Signed(digest: digest, tag: tag, payload: payload, signature: signature)
        }
    }

    /// Signs each of `digests` in `store`'s repository. Each has its own signature tag, so they are signed and
    /// pushed concurrently; the result keeps the order of `digests`.
    func sign(_ digests: [Digest], in store: SignatureStore, logger: Logger) async throws -> [Signed] {
        try await Self.concurrently(digests) { digest in
            let payload = try SimpleSigningPayload(
                dockerReference: SimpleSigningPayload.identity(of: store.imageRepository), manifestDigest: digest,
                optional: annotations
            ).encoded()
            let signature = try signer.sign(payload)
            let tag = try await store.attach(SignatureImage.signatureLayer(payload: payload, signature: signature), to: digest, .signature)
            logger.info("Pushing signature to: \(tag)")
            return Signed(digest: digest, tag: tag, payload: payload, signature: signature)
        }
    }

    /// `body` over `items` at once, results in the order of `items`.
    static func concurrently<Item: Sendable, Result: Sendable>(
        _ items: [Item], _ body: @escaping @Sendable (Item) async throws -> Result
    ) async throws -> [Result] {
        try await withThrowingTaskGroup(of: (Int, Result).self) { group in
            for (index, item) in items.enumerated() { group.addTask { (index, try await body(item)) } }
            var results = [Result?](repeating: nil, count: items.count)
            for try await (index, result) in group { results[index] = result }
            return results.compactMap { $0 }
        }
    }

    /// Attests `digest` with `predicate` (a file's bytes) of `predicateType`.
    func attest(
        _ digest: Digest, predicate: [UInt8], predicateType: String, in store: SignatureStore, replace: Bool, logger: Logger
    ) async throws -> String {
        let clock = try BuildClock.fromEnvironment(ProcessInfo.processInfo.environment)
        let statement = try InTotoStatement(
            subjectName: SimpleSigningPayload.identity(of: store.imageRepository), subjectDigest: digest, predicateType: predicateType,
            contents: predicate, timestamp: clock.rfc3339)
        let envelope = try DSSEEnvelope.sign(try statement.encoded(), type: DSSEEnvelope.inTotoPayloadType, with: signer)
        let layer = SignatureImage.attestationLayer(envelope: try envelope.encoded(), predicateType: predicateType)
        let tag = try await store.attach(layer, to: digest, .attestation, replacing: replace ? predicateType : nil)
        logger.info("Pushing attestation to: \(tag)")
        return tag
    }
}

/// `lamina image attest --key cosign.key --predicate FILE --type spdxjson REF`
struct ImageAttest: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "attest", abstract: "Attach a signed in-toto attestation (an SBOM, provenance) to an image.",
        discussion: """
            Wraps the predicate file in an in-toto Statement v1 whose subject is REF's digest, signs it as a DSSE
            envelope and stores it as a layer (application/vnd.dsse.envelope.v1+json, annotation predicateType) of
            the manifest tagged sha256-<hex>.att, as `cosign attest --key` does. --type: spdxjson, spdx, cyclonedx,
            slsaprovenance, slsaprovenance1, link, vuln, openvex, custom, or a predicate type URI.
            """)

    @Option(name: [.customShort("k"), .customLong("key")], help: "The private key (cosign.key).") var key: String
    @Option(name: .customLong("predicate"), help: "The predicate file (JSON; any text for --type custom).") var predicate: String
    @Option(name: .customLong("type"), help: "Predicate type name or URI.") var type = "custom"
    @Flag(name: .customLong("replace"), help: "Replace earlier attestations of the same predicate type.") var replace = false
    @Argument(help: "The image: registry/repository[:tag] or …@sha256:….") var reference: String
    @OptionGroup var tlog: TransparencyLogFlags
    @OptionGroup var registry: RegistryFlags
    @OptionGroup var global: GlobalOptions

    func run() async throws {
        let image = try Reference(reference)
        let predicateType = try PredicateType.resolve(type)
        guard let contents = FileManager.default.contents(atPath: predicate) else {
            throw LaminaError(.notFound, "cannot read the predicate", subject: predicate)
        }
        if predicateType != PredicateType.custom,
            (try? JSONSerialization.jsonObject(with: contents, options: [.fragmentsAllowed])) == nil
        {
            throw LaminaError(.invalidInput, "the predicate is not JSON (only --type custom takes any text)", subject: predicate)
        }
        try tlog.check(global.logger)
        let signer = ImageSigner(signer: try SigningKeys.privateKey(key))
        let logger = global.logger
        let replace = self.replace
        let (digest, tag) = try await registry.withClient(for: image) { client in
            let store = try SignatureStore(client: client, image: image)
            let digest = try await client.resolve(image).descriptor.digest
            let tag = try await signer.attest(
                digest, predicate: Array(contents), predicateType: predicateType, in: store, replace: replace, logger: logger)
            return (digest, tag)
        }
        if registry.json {
            try printJSON(["digest": digest.description, "attestation": tag, "predicateType": predicateType])
        } else {
            global.logger.result(tag)
        }
    }
}
