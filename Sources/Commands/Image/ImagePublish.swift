import ArgumentParser
import Foundation
import HTTPTransport
import ImageBuilder
import LaminaCore
import OCI
import Registry
import Signing

/// How to reach and log in to a registry: shared by `image publish` and `image push`.
struct RegistryFlags: ParsableArguments {
    @Option(name: .customLong("username"), help: "Registry user (with --password; default: docker's config.json).")
    var username: String?
    @Option(name: .customLong("password"), help: "Registry password or token (or set LAMINA_REGISTRY_PASSWORD).")
    var password: String?
    @Flag(name: .customLong("insecure"), help: "Allow plain http to the registry (always allowed for localhost and 127.x).")
    var insecure = false
    @Option(name: .customLong("chunk-size"), help: "Upload blobs larger than this many bytes in PATCH chunks of that size.")
    var chunkSize: Int64?
    @Flag(name: .customLong("json"), help: "Print the result as JSON.") var json = false

    /// Credentials from docker's config.json, overridden for `registry` by --username/--password.
    func credentials(for registry: String) throws -> RegistryCredentials {
        let environment = ProcessInfo.processInfo.environment
        var credentials = try RegistryCredentials.dockerConfig(environment: environment)
        let secret = password ?? environment["LAMINA_REGISTRY_PASSWORD"]
        switch (username, secret) {
        case (let user?, let secret?): credentials.set(RegistryCredential(user: user, password: secret), for: registry)
        case (nil, nil): break
        case (nil, _?): throw LaminaError(.usage, "--password needs --username", subject: "--password")
        case (_?, nil): throw LaminaError(.usage, "--username needs --password (or LAMINA_REGISTRY_PASSWORD)", subject: "--username")
        }
        if let chunkSize, chunkSize <= 0 {
            throw LaminaError(.usage, "expected a positive number of bytes, got \(chunkSize)", subject: "--chunk-size")
        }
        return credentials
    }

    /// Pushes `plan` to `reference`, showing progress on a terminal, and prints the digest reference.
    /// - Parameter afterPush: runs with the same client once the image is there (`publish --sign-key` signs
    ///   in it); the references it returns are listed in the `--json` output as `signatures` (`.sig`, `.att`) and
    ///   `sboms` (`.sbom`).
    func push(
        _ plan: PushPlan, to reference: Reference, global: GlobalOptions,
        afterPush: (@Sendable (RegistryClient, PushResult) async throws -> [String])? = nil
    ) async throws {
        let display = ProgressDisplay(global: global)
        defer { display.finish() }
        let handler = display.handler
        let (result, signatures) = try await withClient(for: reference) { client in
            let result = try await client.push(plan, to: reference, progress: handler)
            return (result, try await afterPush?(client, result))
        }
        display.finish()
        let pinned = reference.repositoryOnly.digested(result.digest)
        global.logger.info(
            "pushed \(reference.defaultingTag.description): \(result.blobsUploaded) blobs uploaded "
                + "(\(result.bytesUploaded) bytes), \(result.blobsSkipped) already present, \(result.manifestsPushed) manifests")
        if json {
            try printJSON(
                PublishOutput(
                    reference: pinned.description, digest: result.digest.description,
                    tag: reference.digest == nil ? reference.defaultingTag.description : nil, blobsUploaded: result.blobsUploaded,
                    blobsSkipped: result.blobsSkipped, bytesUploaded: result.bytesUploaded, manifestsPushed: result.manifestsPushed,
                    signatures: signatures.map { $0.filter { !$0.hasSuffix(".sbom") } }.flatMap { $0.isEmpty ? nil : $0 },
                    sboms: signatures.map { $0.filter { $0.hasSuffix(".sbom") } }.flatMap { $0.isEmpty ? nil : $0 }))
        } else {
            global.logger.result(pinned.description)
        }
    }
}

/// The JSON `image publish --json` and `image push --json` print.
struct PublishOutput: Encodable {
    var reference: String
    var digest: String
    var tag: String?
    var blobsUploaded: Int
    var blobsSkipped: Int
    var bytesUploaded: Int64
    var manifestsPushed: Int
    /// `publish --sign-key`: the signature and attestation tags written.
    var signatures: [String]?
    /// `publish --attach-sbom`: the SBOM attachment tags written.
    var sboms: [String]?
}

/// `lamina image publish apko.yaml REF`
struct ImagePublish: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "publish", abstract: "Build an image from apko.yaml and push it to a registry.",
        discussion: """
            Builds exactly as `image build` does, into a temporary OCI layout, then pushes every blob the registry
            does not have yet, each per-architecture manifest, and (for several architectures) the image index
            under REF's tag; one architecture is pushed as its manifest. Prints REPOSITORY@sha256:… on stdout.

            Credentials come from docker's config.json ($DOCKER_CONFIG or ~/.docker) or --username/--password;
            bearer-token registries are handled. localhost and 127.x registries are spoken to over http, others
            over https unless --insecure.
            """)

    @Argument(help: "The apko.yaml.") var config: String
    @Argument(help: "Where to push: registry/repository[:tag], e.g. registry.example/senhas:1.0.0.") var reference: String
    @Option(name: .customLong("sbom-path"), help: "Keep the SBOMs in this directory (default: not kept).") var sbomPath: String?
    @Option(name: .customLong("annotations"), help: "KEY:VALUE annotation for the index, manifests and labels (repeatable).")
    var annotations: [String] = []
    @Option(name: .customLong("build-date"), help: "Build date: Unix seconds or RFC 3339 (overrides SOURCE_DATE_EPOCH).")
    var buildDate: String?
    @Flag(name: .customLong("no-layer-cache"), help: "Build the layer afresh instead of reusing (and storing) it.")
    var noLayerCache = false
    @Option(name: .customLong("sign-key"), help: "Sign the index and every manifest with this cosign key after the push.")
    var signKey: String?
    @Flag(name: .customLong("attest-sbom"), help: "With --sign-key: attach each architecture's SBOM as a signed SPDX attestation.")
    var attestSBOM = false
    @Flag(
        name: .customLong("attach-sbom"),
        help: "Attach each SBOM as cosign attach sbom and apko publish do: tag sha256-<hex>.sbom, one text/spdx+json layer.")
    var attachSBOM = false
    @OptionGroup var registry: RegistryFlags
    @OptionGroup var flags: ImageFlags
    @OptionGroup var global: GlobalOptions

    func run() async throws {
        let target = try Reference(reference)
        guard target.digest == nil else {
            throw LaminaError(.usage, "a reference to publish to needs a tag, not a digest", subject: reference)
        }
        _ = try registry.credentials(for: target.registry)  // option errors before the build
        if attestSBOM, signKey == nil { throw LaminaError(.usage, "--attest-sbom needs --sign-key", subject: "--attest-sbom") }
        // The key (and its password) before the build, so a wrong password costs nothing.
        let signer = try signKey.map { ImageSigner(signer: try SigningKeys.privateKey($0)) }
        let clock = try ImageBuild.clock(buildDate: buildDate)
        try await withScratchDirectory("lamina-publish") { scratch in
            let layout = scratch + "/layout"
            var request = ImageBuildRequest(tag: target.defaultingTag.description, output: layout, format: .ociLayout, clock: clock)
            request.sbom = sbomPath != nil || attestSBOM || attachSBOM
            request.sbomPath = sbomPath
            request.layerCache = !noLayerCache
            request.annotations = try ImageBuild.annotations(annotations)
            let result = try await withImageEngine(flags, configPath: config, global: global) { engine, _ in
                try await ImageBuilder(engine: engine).build(request)
            }
            // The layers are pushed from the layout just written (the build's own copies may be scratch files).
            let images = result.images.map { image in
                LayoutImage(
                    architecture: image.architecture, manifest: image.manifest, config: image.config,
                    layers: image.layers.map { layer in
                        LayoutBlob(
                            descriptor: layer.descriptor,
                            file: layout + "/" + ImageLayout.blobPath(layer.digest))
                    })
            }
            for image in result.images {
                global.logger.info("\(image.architecture.ociPlatform): manifest \(image.manifest.descriptor.digest)")
            }
            let plan = try PushPlan(images: images, index: result.index)
            let sboms = result.images.compactMap { image in image.sbom.map { (image.manifest.descriptor.digest, $0) } }
            if signer == nil && !attachSBOM {
                try await registry.push(plan, to: target, global: global)
                return
            }
            let logger = global.logger
            let (attest, attach, indexSBOM) = (attestSBOM, attachSBOM, result.indexSBOM)
            try await registry.push(plan, to: target, global: global) { client, pushed in
                let store = try SignatureStore(client: client, image: target)
                // apko's publish: each manifest's SBOM, and the index's when an index was pushed, as cosign attachments.
                var files = attach ? sboms : []
                if attach, let indexSBOM, !sboms.contains(where: { $0.0 == pushed.digest }) { files.append((pushed.digest, indexSBOM)) }
                let attached = try await ImageSigner.concurrently(files) { digest, spdx in
                    try await store.replaceAttachment(SignatureImage.sbomLayer(spdx: spdx), of: digest, .sbom)
                }
                guard let signer else { return attached }
                let manifests = plan.manifests.map(\.descriptor.digest)
                async let signatures = signer.sign([pushed.digest] + manifests, in: store, logger: logger).map(\.tag)
                let spdx = try PredicateType.resolve("spdxjson")
                let attestations = try await ImageSigner.concurrently(attest ? sboms : []) { digest, sbom in
                    try await signer.attest(digest, predicate: sbom, predicateType: spdx, in: store, replace: false, logger: logger)
                }
                return try await attached + signatures + attestations
            }
        }
    }
}

/// `lamina image push OUT.tar|LAYOUT REF`
struct ImagePush: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "push", abstract: "Push an image tarball or OCI layout written by `image build` to a registry.",
        discussion: """
            Pushes what the layout's index.json names: one manifest under REF's tag, or several under an image
            index (the same index `image build` writes for several architectures). Prints REPOSITORY@sha256:….
            """)

    @Argument(help: "The tarball or OCI layout directory.") var source: String
    @Argument(help: "Where to push: registry/repository[:tag].") var reference: String
    @OptionGroup var registry: RegistryFlags
    @OptionGroup var global: GlobalOptions

    func run() async throws {
        let target = try Reference(reference)
        guard let layout = try ImageLayoutReader.open(source) else {
            throw LaminaError(.invalidInput, "not an OCI image layout (directory or tarball with index.json)", subject: source)
        }
        try await withScratchDirectory("lamina-push") { scratch in
            try await registry.push(try PushPlan.layout(layout, scratch: scratch), to: target, global: global)
        }
    }
}
