import Foundation
import HTTPTransport
import LaminaCore
import OCI
import Registry
import Signing

extension RegistryFlags {
    /// Runs `body` with a registry client for `reference`'s registry, logged in as ``credentials(for:)`` says.
    func withClient<T: Sendable>(for reference: Reference, _ body: @Sendable (RegistryClient) async throws -> T) async throws -> T {
        let credentials = try credentials(for: reference.registry)
        let base = try HTTPTransportConfiguration.fromEnvironment(ProcessInfo.processInfo.environment)
        let insecure = self.insecure
        let chunkSize = self.chunkSize
        return try await HTTPClientTransport.with(base) { tokenTransport in
            var configuration = base
            configuration.authenticator = RegistryAuthenticator(credentials: credentials, tokenTransport: tokenTransport)
            return try await HTTPClientTransport.with(configuration) { transport in
                try await body(RegistryClient(transport: transport, insecure: insecure, chunkSize: chunkSize))
            }
        }
    }
}

extension RegistryFlags {
    /// Runs `body` with the signature store of `image` and the digest its reference names.
    func withSignatureStore<T: Sendable>(
        for image: Reference, _ body: @Sendable (SignatureStore, Digest) async throws -> T
    ) async throws -> T {
        try await withClient(for: image) { client in
            let digest = try await client.resolve(image).descriptor.digest
            return try await body(try SignatureStore(client: client, image: image), digest)
        }
    }
}

/// Reads and writes cosign's signature images (`sha256-<hex>.sig` / `.att` / `.sbom`) in an image's repository, or
/// where cosign's environment says: `COSIGN_REPOSITORY` (another repository of the same registry) and
/// `COSIGN_DOCKER_MEDIA_TYPES` (new signature images with Docker's media types, for registries without OCI ones).
struct SignatureStore: Sendable {
    let client: RegistryClient
    /// Where the signature images live: the image's repository (no tag or digest) or `COSIGN_REPOSITORY`.
    let repository: Reference
    /// The signed image's repository: the identity a payload names, wherever it is stored.
    let imageRepository: Reference
    let manifestType: MediaType

    init(client: RegistryClient, image: Reference, environment: [String: String] = ProcessInfo.processInfo.environment) throws {
        self.client = client
        self.repository = try Self.repository(for: image, environment: environment)
        self.imageRepository = image.repositoryOnly
        self.manifestType = try Self.dockerMediaTypes(environment) ? .dockerManifest : .ociManifest
    }

    static func repository(for image: Reference, environment: [String: String]) throws -> Reference {
        guard let value = environment["COSIGN_REPOSITORY"], !value.isEmpty else { return image.repositoryOnly }
        let other = try LaminaError.about("COSIGN_REPOSITORY") { try Reference(value) }.repositoryOnly
        guard other.registry == image.registry else {
            throw LaminaError(
                .usage, "not supported by Lamina: signatures on another registry (\(other.registry)) than the image's (\(image.registry))",
                subject: "COSIGN_REPOSITORY")
        }
        return other
    }

    /// `COSIGN_DOCKER_MEDIA_TYPES` read as Go's strconv.ParseBool reads it (cosign does).
    static func dockerMediaTypes(_ environment: [String: String]) throws -> Bool {
        guard let value = environment["COSIGN_DOCKER_MEDIA_TYPES"], !value.isEmpty else { return false }
        switch value {
        case "1", "t", "T", "true", "TRUE", "True": return true
        case "0", "f", "F", "false", "FALSE", "False": return false
        default: throw LaminaError(.usage, "expected a boolean (true, false, 1, 0), got '\(value)'", subject: "COSIGN_DOCKER_MEDIA_TYPES")
        }
    }

    /// The digests to sign for `image`: the one it names (its digest, else what its tag points at) and, with
    /// `recursive` and an index, every manifest the index lists.
    func targets(_ image: Reference, recursive: Bool) async throws -> [Digest] {
        let root = try await client.resolve(image)
        var digests = [root.descriptor.digest]
        if recursive, root.descriptor.mediaType.isIndex {
            let index = try decodeJSON(Index.self, from: root.bytes, what: "\(image.name)@\(root.descriptor.digest)")
            for entry in index.manifests where !digests.contains(entry.digest) { digests.append(entry.digest) }
        }
        return digests
    }

    /// The signature image of `digest`, or nil when the tag does not exist.
    func signatureManifest(_ digest: Digest, _ kind: SignatureImage.Kind) async throws -> Manifest? {
        let tag = SignatureImage.tag(for: digest, kind)
        guard let blob = try await client.manifest(repository, tag) else { return nil }
        return try decodeJSON(Manifest.self, from: blob.bytes, what: "\(repository.name):\(tag)")
    }

    /// Appends `layer` to the signature image of `digest` (creating it) and pushes layer, config and manifest.
    /// With `replacing`, earlier attestation layers of that predicate type are dropped first (cosign's --replace).
    /// - Returns: `repository:sha256-<hex>.<kind>`.
    @discardableResult
    func attach(_ layer: Blob, to digest: Digest, _ kind: SignatureImage.Kind, replacing predicateType: String? = nil) async throws
        -> String
    {
        let tag = SignatureImage.tag(for: digest, kind)
        var existing = try await signatureManifest(digest, kind)
        if let predicateType, var manifest = existing {
            manifest.layers.removeAll { $0.annotations?[SignatureImage.predicateTypeAnnotation] == predicateType }
            existing = manifest
        }
        return try await put(SignatureImage.appending(layer, to: existing, mediaType: manifestType), layer, as: tag)
    }

    /// Makes `layer` the one file attached to `digest` under `kind` (cosign's attach: the image at the tag is
    /// replaced, not appended to). - Returns: `repository:sha256-<hex>.<kind>`.
    @discardableResult
    func replaceAttachment(_ layer: Blob, of digest: Digest, _ kind: SignatureImage.Kind) async throws -> String {
        try await put(SignatureImage.appending(layer, to: nil, mediaType: manifestType), layer, as: SignatureImage.tag(for: digest, kind))
    }

    private func put(_ update: SignatureImage.Update, _ layer: Blob, as tag: String) async throws -> String {
        try await client.pushMissing(repository, [layer, update.config])
        try await client.putManifest(repository, update.manifest, as: tag)
        return "\(repository.name):\(tag)"
    }

    /// Every layer of the signature image of `digest` with its bytes, or the error reading them; nil when there is
    /// no such image.
    func layers(_ digest: Digest, _ kind: SignatureImage.Kind) async throws -> [(Descriptor, Result<[UInt8], LaminaError>)]? {
        guard let manifest = try await signatureManifest(digest, kind) else { return nil }
        var out: [(Descriptor, Result<[UInt8], LaminaError>)] = []
        for layer in manifest.layers {
            do {
                out.append((layer, .success(try await client.blob(repository, layer, limit: 16 << 20))))
            } catch let error as LaminaError {
                // A refusal of the whole registry (auth, server error) is not a per-signature problem.
                if error.code == .network { throw error }
                out.append((layer, .failure(error)))
            }
        }
        return out
    }
}
