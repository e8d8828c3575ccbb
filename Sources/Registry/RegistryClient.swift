// Source: OCI distribution-spec spec.md: "Pushing blobs" (POST then PUT ?digest=, monolithic; PATCH with
// Content-Range for chunks), "Checking if content exists" (HEAD), "Pushing Manifests" (PUT with Content-Type).
import Foundation
import HTTPTransport
import LaminaCore
import OCI

/// What a push did.
public struct PushResult: Sendable, Hashable, Codable {
    /// The digest the tag points at: the manifest (one architecture) or the index.
    public var digest: Digest
    /// Blobs uploaded, and already present (HEAD answered 200) so skipped.
    public var blobsUploaded: Int
    public var blobsSkipped: Int
    /// Bytes of the uploaded blobs.
    public var bytesUploaded: Int64
    /// Manifests and indexes PUT (the per-architecture manifests plus the root).
    public var manifestsPushed: Int
}

/// An OCI distribution (registry v2) client for pushing images. Authentication is the transport's business: give
/// it a ``RegistryAuthenticator``.
public struct RegistryClient: Sendable {
    public let transport: any HTTPTransport
    /// Allow plain http for every registry, not only loopback ones.
    public var insecure: Bool
    /// Blobs larger than this are uploaded in PATCH chunks of this size; nil uploads every blob in one PUT.
    public var chunkSize: Int64?

    public init(transport: any HTTPTransport, insecure: Bool = false, chunkSize: Int64? = nil) {
        self.transport = transport
        self.insecure = insecure
        self.chunkSize = chunkSize
    }

    public func endpoint(_ reference: Reference) -> RegistryEndpoint {
        RegistryEndpoint(registry: reference.registry, insecure: insecure)
    }

    /// GET `/v2/`: whether the registry speaks the API (answering any credential challenge on the way).
    /// - Throws: `LaminaError(.network)` when it does not answer 200.
    public func ping(_ reference: Reference) async throws {
        let response = try await transport.execute(HTTPRequest(method: .get, url: endpoint(reference).pingURL))
        guard response.isSuccess else { throw Self.error(response, "registry API check failed") }
    }

    /// HEAD the blob: true when the repository already has it.
    /// - Throws: `LaminaError(.network)` for any answer but 200 or 404.
    public func blobExists(_ reference: Reference, _ digest: Digest) async throws -> Bool {
        let url = endpoint(reference).blobURL(reference.repository, digest)
        let response = try await transport.execute(HTTPRequest(method: .head, url: url))
        switch response.status {
        case 200: return true
        case 404: return false
        default: throw Self.error(response, "cannot check blob \(digest)")
        }
    }

    /// Uploads one blob: POST an upload session, then one PUT `?digest=` with the bytes, or PATCH chunks then a
    /// PUT when the blob is larger than ``chunkSize``. File contents are streamed, never read whole.
    /// - Throws: `LaminaError(.network)` when the registry refuses a step (its error body is quoted).
    public func uploadBlob(_ reference: Reference, _ blob: LayoutBlob) async throws {
        let endpoint = self.endpoint(reference)
        let digest = blob.descriptor.digest
        let start = try await transport.execute(
            HTTPRequest(method: .post, url: endpoint.uploadURL(reference.repository)))
        guard start.status == 202, let firstLocation = start.headers["Location"] else {
            throw Self.error(start, "cannot start the upload of \(digest)")
        }
        var location = try endpoint.resolve(location: firstLocation)
        let octets: HTTPHeaderFields = ["Content-Type": "application/octet-stream"]
        var finalBody: HTTPRequestBody
        switch blob.content {
        case .bytes(let bytes): finalBody = .bytes(bytes)
        case .file(let path): finalBody = .file(path: path)
        }
        if let chunkSize, chunkSize > 0, blob.descriptor.size > chunkSize, case .file(let path) = blob.content {
            var offset: Int64 = 0
            while offset < blob.descriptor.size {
                let end = min(offset + chunkSize, blob.descriptor.size)
                var headers = octets
                headers["Content-Range"] = "\(offset)-\(end - 1)"
                let response = try await transport.execute(
                    HTTPRequest(method: .patch, url: location, headers: headers, body: .file(path: path, range: offset..<end)))
                guard response.status == 202, let next = response.headers["Location"] else {
                    throw Self.error(response, "chunk \(offset)-\(end - 1) of \(digest) refused")
                }
                location = try endpoint.resolve(location: next)
                offset = end
            }
            finalBody = .none
        }
        let headers = octets
        let put = try await transport.execute(
            HTTPRequest(
                method: .put, url: RegistryEndpoint.appendingQuery(location, "digest", digest.description), headers: headers,
                body: finalBody))
        guard put.status == 201 || put.status == 204 || put.isSuccess else {
            throw Self.error(put, "upload of \(digest) refused")
        }
    }

    /// PUT a manifest or index under `tagOrDigest` with its media type as `Content-Type`.
    /// - Returns: the digest the registry reports (`Docker-Content-Digest`), else the blob's own.
    /// - Throws: `LaminaError(.network)` when refused; `.checksumMismatch` when the registry reports another digest.
    @discardableResult
    public func putManifest(_ reference: Reference, _ manifest: Blob, as tagOrDigest: String) async throws -> Digest {
        let url = endpoint(reference).manifestURL(reference.repository, tagOrDigest)
        let response = try await transport.execute(
            HTTPRequest(
                method: .put, url: url, headers: ["Content-Type": manifest.descriptor.mediaType.rawValue],
                body: .bytes(manifest.bytes)))
        guard response.isSuccess else { throw Self.error(response, "manifest \(manifest.descriptor.digest) refused") }
        if let reported = response.headers["Docker-Content-Digest"], let digest = try? Digest(parsing: reported.trimmingSpaces),
            digest != manifest.descriptor.digest
        {
            throw LaminaError(
                .checksumMismatch, "registry stored the manifest as \(digest), expected \(manifest.descriptor.digest)",
                subject: reference.repositoryOnly.description)
        }
        return manifest.descriptor.digest
    }

    /// Pushes `plan` to `reference`'s repository: every blob not already there, each per-architecture manifest by
    /// digest, then the root under the tag (`latest` when the reference has none), or by digest only when the
    /// reference names a digest (which must then be the root's).
    /// - Parameter progress: `.phase("pushing N blobs, bytes", total: bytes)`, `.advance` after each blob, then
    ///   `.phase("pushing manifests")`.
    public func push(_ plan: PushPlan, to reference: Reference, progress: ProgressHandler? = nil) async throws
        -> PushResult
    {
        if let digest = reference.digest, digest != plan.root.descriptor.digest {
            throw LaminaError(
                .invalidInput, "the image's digest is \(plan.root.descriptor.digest), not \(digest)",
                subject: reference.description)
        }
        try await ping(reference)
        var result = PushResult(
            digest: plan.root.descriptor.digest, blobsUploaded: 0, blobsSkipped: 0, bytesUploaded: 0, manifestsPushed: 0)
        progress?(.phase("pushing \(plan.blobs.count) blobs, bytes", total: plan.blobBytes))
        var done: Int64 = 0
        for blob in plan.blobs {
            if try await blobExists(reference, blob.descriptor.digest) {
                result.blobsSkipped += 1
            } else {
                try await uploadBlob(reference, blob)
                result.blobsUploaded += 1
                result.bytesUploaded += blob.descriptor.size
            }
            done += blob.descriptor.size
            progress?(.advance(completed: done))
        }
        progress?(.phase("pushing manifests", total: nil))
        for manifest in plan.manifests {
            try await putManifest(reference, manifest, as: manifest.descriptor.digest.description)
            result.manifestsPushed += 1
        }
        let target = reference.digest == nil ? (reference.defaultingTag.tag ?? "latest") : plan.root.descriptor.digest.description
        try await putManifest(reference, plan.root, as: target)
        result.manifestsPushed += 1
        return result
    }

    /// The error for a refused request, quoting the registry's error message when it sent one.
    static func error(_ response: HTTPResponse, _ what: String) -> LaminaError {
        var message = "\(what): HTTP \(response.status)"
        if let object = try? JSONSerialization.jsonObject(with: Data(response.body)) as? [String: Any],
            let errors = object["errors"] as? [[String: Any]], let first = errors.first
        {
            let code = first["code"] as? String ?? ""
            let text = first["message"] as? String ?? ""
            message += " (\([code, text].filter { !$0.isEmpty }.joined(separator: ": ")))"
        }
        if response.status == 401 || response.status == 403 {
            message += "; check credentials (docker login, or --username/--password)"
        }
        let base = response.statusError()
        return LaminaError(response.status == 404 ? .notFound : .network, message, subject: base.subject)
    }
}
