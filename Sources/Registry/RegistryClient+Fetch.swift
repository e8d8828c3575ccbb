// Source: OCI distribution-spec spec.md: "Pulling manifests" (GET with Accept, 404 when the tag is unknown),
// "Pulling blobs" (GET /v2/<name>/blobs/<digest>), "Checking if content exists" (HEAD).
import HTTPTransport
import LaminaCore
import OCI

extension RegistryClient {
    /// The manifest and index media types a GET accepts.
    public static let manifestAccept = [MediaType.ociManifest, .ociIndex, .dockerManifest, .dockerManifestList]
        .map(\.rawValue).joined(separator: ", ")

    /// Largest manifest read (the distribution spec lets registries refuse more than 4 MiB).
    public static let maxManifestBytes: Int64 = 4 << 20

    /// GET a manifest or index by tag or digest: nil when the registry answers 404 (no such tag).
    /// When `tagOrDigest` is a digest, the bytes are checked against it.
    /// - Throws: `LaminaError(.network)` for any other refusal (401 names the credentials); `.checksumMismatch` when
    ///   the bytes do not hash to the digest asked for; `.limitExceeded` beyond ``maxManifestBytes``.
    public func manifest(_ reference: Reference, _ tagOrDigest: String) async throws -> Blob? {
        let url = endpoint(reference).manifestURL(reference.repository, tagOrDigest)
        let response = try await transport.execute(
            HTTPRequest(method: .get, url: url, headers: ["Accept": Self.manifestAccept]),
            options: HTTPRequestOptions(maxBodyBytes: Self.maxManifestBytes))
        if response.status == 404 { return nil }
        guard response.isSuccess else { throw Self.error(response, "cannot read manifest \(reference.name):\(tagOrDigest)") }
        let type = try Self.manifestType(response)
        let blob = Blob(bytes: response.body, mediaType: type)
        if let wanted = try? Digest(parsing: tagOrDigest), wanted != blob.descriptor.digest {
            throw LaminaError(
                .checksumMismatch, "the registry sent a manifest hashing to \(blob.descriptor.digest), not \(wanted)",
                subject: reference.name)
        }
        return blob
    }

    /// The manifest or index `reference` names (its digest, else its tag, else `latest`).
    /// - Throws: `LaminaError(.notFound)` when the registry does not have it; as ``manifest(_:_:)`` otherwise.
    public func resolve(_ reference: Reference) async throws -> Blob {
        let target = reference.digest?.description ?? reference.defaultingTag.tag ?? "latest"
        guard let blob = try await manifest(reference, target) else {
            throw LaminaError(.notFound, "the registry has no manifest \(target)", subject: reference.name)
        }
        return blob
    }

    /// GET a small blob (a signature payload, a config) into memory, checking size and digest.
    /// - Throws: `LaminaError(.notFound)` for 404; `.network` for other refusals; `.checksumMismatch` when the bytes
    ///   do not match the descriptor; `.limitExceeded` beyond `limit`.
    public func blob(_ reference: Reference, _ descriptor: Descriptor, limit: Int64 = 64 << 20) async throws -> [UInt8] {
        guard descriptor.size <= limit else {
            throw LaminaError(.limitExceeded, "blob \(descriptor.digest) is \(descriptor.size) bytes", subject: reference.name)
        }
        let response = try await transport.execute(
            HTTPRequest(method: .get, url: endpoint(reference).blobURL(reference.repository, descriptor.digest)),
            options: HTTPRequestOptions(maxBodyBytes: limit))
        guard response.isSuccess else { throw Self.error(response, "cannot read blob \(descriptor.digest)") }
        let actual = Blob(bytes: response.body, mediaType: descriptor.mediaType).descriptor
        guard actual.digest == descriptor.digest, actual.size == descriptor.size else {
            throw LaminaError(
                .checksumMismatch, "blob \(descriptor.digest) arrived as \(actual.size) bytes hashing to \(actual.digest)",
                subject: reference.name)
        }
        return response.body
    }

    /// Uploads in-memory blobs the repository does not have yet (HEAD first).
    /// - Returns: how many were uploaded.
    @discardableResult
    public func pushMissing(_ reference: Reference, _ blobs: [Blob]) async throws -> Int {
        var uploaded = 0
        for blob in blobs where try await !blobExists(reference, blob.descriptor.digest) {
            try await uploadBlob(reference, LayoutBlob(blob))
            uploaded += 1
        }
        return uploaded
    }

    /// The media type of a manifest response: `Content-Type`, else the document's own `mediaType`.
    static func manifestType(_ response: HTTPResponse) throws -> MediaType {
        if let header = response.headers["Content-Type"]?.split(separator: ";").first.map({ String($0).trimmingSpaces }),
            !header.isEmpty,
            header != "application/json", header != "text/plain"
        {
            return MediaType(header)
        }
        struct Probe: Decodable { var mediaType: String? }
        let probe = try decodeJSON(Probe.self, from: response.body, what: response.url)
        return MediaType(probe.mediaType ?? MediaType.ociManifest.rawValue)
    }
}
