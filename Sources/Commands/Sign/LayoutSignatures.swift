// Source: cosign `pkg/oci/layout` (what `cosign save` writes and `cosign verify --local-image` reads): the layout's
// index.json lists the image with `kind: dev.cosignproject.cosign/image|imageIndex` and its signature and
// attestation images with `kind: dev.cosignproject.cosign/sigs|atts`.
import Archive
import Foundation
import LaminaCore
import OCI
import Registry
import Signing

/// Signatures kept inside an OCI image layout directory, for signing and verifying without a registry.
struct LayoutSignatures {
    static let kindAnnotation = "kind"
    static let refNameAnnotation = "org.opencontainers.image.ref.name"

    /// Where signatures are written (a layout directory); for a tarball, its path (read only).
    let directory: String
    let reader: ImageLayoutReader

    /// The layout at `path`: a directory (read and written) or a tarball (read only).
    init(_ path: String) throws {
        guard let reader = try ImageLayoutReader.open(path) else {
            throw LaminaError(.notFound, "not an OCI layout (no index.json)", subject: path)
        }
        self.directory = path
        self.reader = reader
    }

    static func kind(_ kind: SignatureImage.Kind) -> String {
        kind == .signature ? "dev.cosignproject.cosign/sigs" : "dev.cosignproject.cosign/atts"
    }

    /// The digest the layout's image is published under (what `image push` of it prints).
    func imageDigest() throws -> Digest {
        try withScratchDirectorySync("lamina-verify") { scratch in
            try PushPlan.layout(reader, scratch: scratch).root.descriptor.digest
        }
    }

    private var indexPath: String { directory + "/index.json" }

    private func index() throws -> Index {
        guard let index = try reader.json(Index.self, "index.json") else {
            throw LaminaError(.notFound, "not an OCI layout (no index.json)", subject: directory)
        }
        return index
    }

    private func entry(for digest: Digest, _ kind: SignatureImage.Kind, in index: Index) -> Descriptor? {
        index.manifests.first {
            $0.annotations?[Self.kindAnnotation] == Self.kind(kind)
                && $0.annotations?[Self.refNameAnnotation] == SignatureImage.tag(for: digest, kind)
        }
    }

    private func read(_ descriptor: Descriptor) throws -> [UInt8] {
        guard descriptor.size <= 16 << 20 else {
            throw LaminaError(.invalidInput, "blob \(descriptor.digest) is too large for a signature", subject: directory)
        }
        return try reader.blob(descriptor).bytes
    }

    /// Adds `layer` to the signature image of `digest` in the layout: blobs first, index.json last (atomically).
    func attach(_ layer: Blob, to digest: Digest, _ kind: SignatureImage.Kind) throws -> String {
        var top = try index()
        let existing = try entry(for: digest, kind, in: top).map {
            try decodeJSON(Manifest.self, from: try read($0), what: "\(directory) \($0.digest)")
        }
        let update = try SignatureImage.appending(layer, to: existing)
        for blob in [layer, update.config, update.manifest] {
            let path = directory + "/" + ImageLayout.blobPath(blob.descriptor.digest)
            if !FileManager.default.fileExists(atPath: path) { try AtomicFileSink.write(blob.bytes, to: path) }
        }
        let tag = SignatureImage.tag(for: digest, kind)
        top.manifests.removeAll {
            $0.annotations?[Self.kindAnnotation] == Self.kind(kind) && $0.annotations?[Self.refNameAnnotation] == tag
        }
        top.manifests.append(
            update.manifest.descriptor.adding(annotations: [Self.kindAnnotation: Self.kind(kind), Self.refNameAnnotation: tag]))
        try AtomicFileSink.write(try canonicalJSON(top), to: indexPath)
        return "\(directory):\(tag)"
    }

    /// The layers of the signature image of `digest` with their bytes, or nil when the layout has none.
    func layers(_ digest: Digest, _ kind: SignatureImage.Kind) throws -> [(Descriptor, Result<[UInt8], LaminaError>)]? {
        guard let descriptor = entry(for: digest, kind, in: try index()) else { return nil }
        let manifest = try decodeJSON(Manifest.self, from: try read(descriptor), what: "\(directory) \(descriptor.digest)")
        return manifest.layers.map { layer in
            do { return (layer, .success(try read(layer))) } catch let error as LaminaError { return (layer, .failure(error)) } catch {
                return (layer, .failure(LaminaError(.io, "\(error)")))
            }
        }
    }

    /// Runs `body` with the layout at `path` (a directory or a tarball).
    static func with<T>(_ path: String, _ body: (LayoutSignatures) throws -> T) throws -> T {
        guard FileManager.default.fileExists(atPath: path) else {
            throw LaminaError(.notFound, "no such file or directory", subject: path)
        }
        return try body(try LayoutSignatures(path))
    }

    /// Whether `text` names a local layout (a directory or a file) rather than a registry reference.
    static func isLocal(_ text: String) -> Bool {
        text.hasPrefix("/") || text.hasPrefix("./") || text.hasPrefix("../") || FileManager.default.fileExists(atPath: text)
    }
}
