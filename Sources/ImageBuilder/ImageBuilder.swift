import APK
import APKRepository
import Archive
import Config
import Foundation
import LaminaCore
import OCI
import RootFS
import SBOM

/// What `lamina image build` produces and where.
public struct ImageBuildRequest: Sendable {
    public enum Format: String, Sendable {
        /// One tar holding a complete OCI layout plus docker's `manifest.json` (`docker load` and OCI tools).
        case tarball
        /// A plain OCI image layout folder.
        case ociLayout = "oci-layout"
    }
    public var tag: String
    public var output: String
    public var format: Format
    public var sbom: Bool = true
    /// Where SBOM files go (default: beside the output).
    public var sbomPath: String?
    public var annotations: [String: String] = [:]
    /// Reuse (and store) finished layers under `<cache>/layers` (`--no-layer-cache` turns it off).
    public var layerCache = true
    /// The build date; nil means SOURCE_DATE_EPOCH or 0.
    public var clock: BuildClock
    /// How the images are tagged; `.architectureOnly` (apko's naming) also writes `sbom-index.spdx.json` for one
    /// architecture, as apko does.
    public var naming: ImageLayout.Naming = .hostAndArchitecture

    public init(tag: String, output: String, format: Format, clock: BuildClock) {
        self.tag = tag
        self.output = output
        self.format = format
        self.clock = clock
    }
}

/// One built architecture.
public struct BuiltImage: Sendable {
    public var architecture: Architecture
    /// The layers, bottom first: one, or with `layering:` one per package group plus the top layer.
    public var layers: [WrittenLayer]
    public var config: Blob
    public var manifest: Blob
    public var packages: [AvailablePackage]
    public var sbom: [UInt8]?
}

/// The result of a build.
public struct ImageBuildResult: Sendable {
    public var images: [BuiltImage]
    /// The multi-architecture index blob (also written for one architecture).
    public var index: Blob
    /// Which names `docker load` will show, per architecture.
    public var tags: [String]
    public var sbomFiles: [String]
    /// The index's SPDX document (`sbom-index.spdx.json`), when one was written.
    public var indexSBOM: [UInt8]?
}

/// The apko engine: apko.yaml → one reproducible layer per architecture → OCI image(s) → tarball or
/// layout, plus SPDX SBOMs.
public struct ImageBuilder: Sendable {
    public let engine: ImageEngine

    public init(engine: ImageEngine) { self.engine = engine }

    public func build(_ request: ImageBuildRequest) async throws -> ImageBuildResult {
        let config = engine.configuration
        try engine.refuseUnbuiltKeys(allowBaseImage: true)
        if config.contents.baseImage != nil, engine.options.lockPath == nil {
            // apko's rule: what a base image holds is fixed, so what goes on top of it must be too.
            throw engine.loaded.sourceMap.error(
                at: ConfigPath([.key("contents"), .key("baseimage")]),
                "building on a base image needs a lock file, as apko requires: write one with `lamina image lock` and pass --lockfile",
                atKey: true)
        }
        if config.contents.baseImage != nil, config.layering != nil {
            throw engine.loaded.sourceMap.error(
                at: ConfigPath([.key("layering")]), "cannot be used with contents.baseimage (apko refuses the pair too)", atKey: true)
        }
        let tag = try Reference(request.tag)
        engine.progress?(.phase("loading keyring", total: nil))
        let (keyring, keys) = try await engine.keyring()
        let clock = request.clock
        var images: [BuiltImage] = []
        // Sorted by OCI name (amd64 < arm64 < arm/v7 …), the order apko's index lists them in.
        for arch in try engine.architectures().sorted(by: { ($0.ociPlatform, $0.apk) < ($1.ociPlatform, $1.apk) }) {
            images.append(try await buildArchitecture(arch, tag: tag, keyring: keyring, keys: keys, clock: clock, request: request))
        }

        // The index over every architecture.
        let indexAnnotations = annotations(request, clock: clock)
        let index = OCI.Index(
            manifests: images.map {
                Descriptor(mediaType: .ociManifest, digest: $0.manifest.descriptor.digest, size: $0.manifest.descriptor.size, platform: Platform($0.architecture))
            },
            annotations: indexAnnotations.isEmpty ? nil : indexAnnotations)
        let indexBlob = try Blob(index: index)

        // The SBOM folder first: a failure to make it must not leave an output behind.
        let sbomDirectory = request.sbomPath
            ?? ((request.output as NSString).deletingLastPathComponent.isEmpty ? "." : (request.output as NSString).deletingLastPathComponent)
        if request.sbom {
            do {
                try FileManager.default.createDirectory(atPath: sbomDirectory, withIntermediateDirectories: true)
            } catch {
                throw LaminaError(.io, "cannot create the SBOM directory: \(error.localizedDescription)", subject: sbomDirectory, cause: error)
            }
        }

        // Output. Several architectures (or apko's naming) are reached through the image index.
        let writesIndex = images.count > 1 || request.naming == .architectureOnly
        // apko's layout folder holds the image index as index.json itself, with no names.
        let apkoLayout = request.naming == .architectureOnly && request.format == .ociLayout
        engine.progress?(.phase("writing output", total: nil))
        let layoutImages = images.map {
            LayoutImage(architecture: $0.architecture, manifest: $0.manifest, config: $0.config,
                        layers: $0.layers.map { LayoutBlob(descriptor: $0.descriptor, file: $0.path) })
        }
        let layout = try ImageLayout.plan(
            images: layoutImages, tag: tag, hostArchitecture: .host, indexAnnotations: indexAnnotations,
            index: writesIndex && !apkoLayout ? indexBlob : nil, naming: apkoLayout ? .unnamed : request.naming,
            includeDockerFiles: request.format == .tarball)
        switch request.format {
        case .tarball:
            // An unchanged image already sitting, untouched, where it goes is not copied again.
            let stamps = OutputStampStore(cacheDirectory: engine.options.cacheDirectory)
            let plan = OutputStamp.planDigest(layout, modificationTime: clock.epoch)
            if request.layerCache && stamps.isCurrent(request.output, plan: plan) {
                engine.progress?(.phase("output unchanged", total: nil))
            } else {
                var sink = try TarLayoutSink(path: request.output, modificationTime: clock.epoch)
                try layout.write(to: &sink)
                try sink.commit()
                if request.layerCache { stamps.record(request.output, plan: plan) }
            }
        case .ociLayout:
            var sink = try DirectoryLayoutSink(root: request.output)
            try layout.write(to: &sink)
        }

        // SBOMs beside the output.
        var sbomFiles: [String] = []
        var indexSBOM: [UInt8]?
        if request.sbom {
            engine.progress?(.phase("writing SBOMs", total: nil))
            let dir = sbomDirectory
            for image in images {
                guard let bytes = image.sbom else { continue }
                let path = dir + "/sbom-\(image.architecture.apk).spdx.json"
                try AtomicFileSink.write(bytes, to: path)
                sbomFiles.append(path)
            }
            if writesIndex {
                let doc = ImageSBOM.index(
                    ImageSBOM.IndexInput(
                        indexDigest: indexBlob.descriptor.digest, indexMediaType: MediaType.ociIndex.rawValue,
                        images: images.map { ImageSBOM.IndexImage(digest: $0.manifest.descriptor.digest, architecture: $0.architecture) },
                        imageName: tag.shortName, supplier: "Organization: Lamina", vcsURL: config.vcsURL.isEmpty ? nil : config.vcsURL,
                        created: clock.rfc3339, creators: ["Tool: lamina"], toolName: "lamina"))
                let path = dir + "/sbom-index.spdx.json"
                let bytes = try SPDXJSON.encode(doc)
                try AtomicFileSink.write(bytes, to: path)
                sbomFiles.append(path)
                indexSBOM = bytes
            }
        }
        return ImageBuildResult(images: images, index: indexBlob, tags: layout.tags.flatMap { $0.tags.map(\.familiarDescription) }, sbomFiles: sbomFiles,
            indexSBOM: indexSBOM)
    }

    func annotations(_ request: ImageBuildRequest, clock: BuildClock) -> [String: String] {
        var out = engine.configuration.annotations.merging(request.annotations) { _, new in new }
        out["org.opencontainers.image.created"] = clock.rfc3339
        let vcs = engine.configuration.vcsURL
        if !vcs.isEmpty {
            if let at = vcs.lastIndex(of: "@") {
                out["org.opencontainers.image.source"] = String(vcs[..<at])
                out["org.opencontainers.image.revision"] = String(vcs[vcs.index(after: at)...])
            } else {
                out["org.opencontainers.image.source"] = vcs
            }
        }
        return out
    }

    /// The directories and device nodes apko creates before installing anything. On a base image, its symlinks to
    /// directories (`links`) come first, and a directory the base has as such a link is not created: ours would
    /// hide the base's link (a usr-merged `lib → usr/lib`) in the layered filesystem.
    static func baseTree(links: [String: String] = [:]) throws -> FileTree {
        var tree = FileTree()
        for (path, target) in links.sorted(by: { $0.key < $1.key }) { try tree.insert(path, .symlink(to: target)) }
        for (path, mode) in [
            ("dev", 0o755), ("etc", 0o755), ("etc/apk", 0o755), ("etc/apk/keys", 0o755), ("home", 0o755), ("lib", 0o755), ("lib/apk", 0o755),
            ("lib/apk/db", 0o755), ("opt", 0o755), ("proc", 0o555), ("root", 0o700), ("run", 0o755), ("sys", 0o555), ("tmp", 0o1777),
            ("usr", 0o755), ("var", 0o755), ("var/cache", 0o755), ("var/cache/apk", 0o755), ("var/lib", 0o755), ("var/tmp", 0o1777),
        ] as [(String, UInt32)] where links[path] == nil {
            try tree.insert(path, .directory(mode: mode))
        }
        return tree
    }

    func buildArchitecture(
        _ arch: Architecture, tag: Reference, keyring: Keyring, keys: [String: String], clock: BuildClock, request: ImageBuildRequest
    ) async throws -> BuiltImage {
        let config = engine.configuration
        engine.progress?(.note("building \(arch.ociPlatform)"))
        engine.progress?(.phase("resolving \(arch.apk)", total: nil))
        let resolved = try await engine.resolve(architecture: arch, keyring: keyring)
        let base = try engine.baseImage(architecture: arch)

        // The layer: from the cache when every input is unchanged, else installed, tarred and compressed.
        let cache = LayerCache(cacheDirectory: engine.options.cacheDirectory)
        let key = request.layerCache ? try layerCacheKey(resolved, keys: keys, clock: clock, base: base) : nil
        var layers: [WrittenLayer]
        let facts: LayerFacts
        if let key, let hit = cache.lookup(key, discarded: { engine.progress?(.warning($0)) }) {
            engine.progress?(.phase("layer cache hit \(key.hex.prefix(12))", total: nil))
            layers = hit.layers
            facts = hit.facts
        } else {
            let staging = try key.map { _ in try cache.stagingDirectory() }
            defer { if let staging { try? FileManager.default.removeItem(atPath: staging) } }
            let layerPath = (staging ?? engine.options.temporaryDirectory + "/layer-\(arch.apk)") + "/layer.tar.gz"
            if staging == nil { try FileManager.default.createDirectory(atPath: (layerPath as NSString).deletingLastPathComponent, withIntermediateDirectories: true) }
            let (written, treeFacts) = try await buildLayers(resolved, keyring: keyring, keys: keys, clock: clock, to: layerPath, base: base)
            if let key, let staging {
                let stored = try cache.commit(LayerCacheEntry(layers: written, facts: treeFacts), staging: staging, key: key)
                layers = stored.layers
                facts = stored.facts
            } else {
                layers = written
                facts = treeFacts
            }
        }
        let userNames = facts.userNamesByID
        // Ours go on top of the base's layers.
        let ownLayerCount = layers.count
        layers = (base?.layers ?? []) + layers

        // Image config.
        var env = config.environment
        if env["PATH"] == nil { env["PATH"] = "/usr/local/sbin:/usr/local/bin:/usr/bin:/usr/sbin:/sbin:/bin" }
        if env["SSL_CERT_FILE"] == nil { env["SSL_CERT_FILE"] = "/etc/ssl/certs/ca-certificates.crt" }
        var entrypoint: [String]?
        if !config.entrypoint.command.isEmpty {
            entrypoint = try ShellWords.split(config.entrypoint.command)
        } else if !config.entrypoint.shellFragment.isEmpty {
            entrypoint = ["/bin/sh", "-c", config.entrypoint.shellFragment]
        }
        let annotations = annotations(request, clock: clock)
        // One history entry per layer of ours; apko's comment only when we add a single one.
        let history = (0..<ownLayerCount).map { _ in
            History(
                created: clock.rfc3339, createdBy: "lamina", author: "lamina",
                comment: ownLayerCount == 1 ? "This is a lamina single-layer image" : nil)
        }
        let imageConfig = ImageConfig(
            architecture: arch, created: clock.rfc3339, author: "lamina", history: history,
            rootfs: .init(diffIDs: layers.map(\.diffID)),
            config: .init(
                user: AccountsWriter.runAs(config.accounts, names: userNames), env: env.map { "\($0.key)=\($0.value)" }.sorted(),
                entrypoint: entrypoint, cmd: config.cmd.isEmpty ? nil : try ShellWords.split(config.cmd),
                volumes: config.volumes.isEmpty ? nil : config.volumes.sorted(), workingDir: config.workDir.isEmpty ? nil : config.workDir,
                labels: annotations, stopSignal: config.stopSignal.isEmpty ? nil : config.stopSignal))
        let configBlob = try base.map { try $0.configWithLayers(on: imageConfig) } ?? Blob(config: imageConfig)
        let manifest = Manifest(
            config: configBlob.descriptor, layers: layers.map(\.descriptor),
            annotations: annotations)
        let manifestBlob = try Blob(manifest: manifest)

        // SBOM.
        var sbom: [UInt8]?
        if request.sbom {
            let osInfo = facts.osRelease.flatMap { try? OperatingSystemInfo.parse(osRelease: $0) } ?? .unknown
            var packages: [SBOM.InstalledPackage] = []
            // The base's packages first, as its database lists them (their own SBOMs stay in the base's layers).
            for record in base?.installed ?? [] {
                let info = record.info
                packages.append(SBOM.InstalledPackage(
                    name: info.name, version: info.version, architecture: info.arch ?? arch.apk, license: info.license, embeddedSBOM: nil,
                    checksums: info.checksum.map { [Checksum(algorithm: "SHA1", value: $0.hex)] } ?? []))
            }
            for package in resolved.packages {
                let info = package.info
                var embedded: SBOMDocument?
                for path in ImageSBOM.embeddedSBOMPaths(name: info.name, version: info.version) {
                    if let text = facts.embeddedSBOMs[path] {
                        embedded = try? SPDXJSON.decode(Array(text.utf8), what: path)
                        break
                    }
                }
                packages.append(SBOM.InstalledPackage(
                    name: info.name, version: info.version, architecture: info.arch ?? arch.apk, license: info.license, embeddedSBOM: embedded,
                    checksums: info.checksum.map { [Checksum(algorithm: "SHA1", value: $0.hex)] } ?? []))
            }
            let doc = try ImageSBOM.image(
                ImageSBOM.Input(
                    imageDigest: manifestBlob.descriptor.digest, layers: layers.map { .init(digest: $0.digest, mediaType: $0.descriptor.mediaType.rawValue) },
                    architecture: arch, imageName: tag.shortName, operatingSystem: osInfo, vcsURL: config.vcsURL.isEmpty ? nil : config.vcsURL,
                    created: clock.rfc3339, creators: ["Tool: lamina"], toolName: "lamina", packages: packages))
            sbom = SPDXJSON.encode(doc)
        }
        return BuiltImage(architecture: arch, layers: layers, config: configBlob, manifest: manifestBlob, packages: resolved.packages, sbom: sbom)
    }

    /// The layer cache key for this architecture, or nil when it cannot be keyed.
    func layerCacheKey(_ resolved: ResolvedContents, keys: [String: String], clock: BuildClock, base: BaseImage? = nil) throws -> Digest? {
        let config = engine.configuration
        return try LayerCacheKey(
            architecture: resolved.architecture.apk, epoch: clock.epoch, compressionLevel: engine.options.compressionLevel,
            packages: resolved.packages.map {
                .init(identity: $0.info.checksum?.apkIdentity ?? "", name: $0.info.name, version: $0.info.version, repositoryTag: $0.repository.tag)
            },
            world: config.contents.packages, repositories: try engine.runtimeRepositoryLines(), keys: engine.runtimeKeys(keys),
            accounts: config.accounts, paths: config.paths, osRelease: config.osRelease, certificates: config.certificates,
            services: config.entrypoint.services.isEmpty ? nil : config.entrypoint.services, layering: config.layering,
            base: base.map { "\($0.manifestDigest) \($0.installedDigest)" }
        ).digest()
    }

    /// Installs the resolved packages, applies accounts, paths and os-release, and writes the layer to
    /// `path` (with `layering:`, the layers to `path` for the bottom one and `<path without .tar.gz>-<i>.tar.gz`
    /// for the others). Returns them, bottom first, with the facts the image config and SBOM need from the tree.
    func buildLayers(
        _ resolved: ResolvedContents, keyring: Keyring, keys: [String: String], clock: BuildClock, to path: String, base: BaseImage? = nil
    ) async throws -> ([WrittenLayer], LayerFacts) {
        let config = engine.configuration
        var builder = try RootFSBuilder(spillDirectory: engine.options.temporaryDirectory)
        builder.setTree(try Self.baseTree(links: base?.directoryLinks ?? [:]))
        // Large contents compress on the other cores while later packages are still being installed.
        let precompressor = try ContentPrecompressor(directory: engine.options.temporaryDirectory, level: engine.options.compressionLevel)
        defer { precompressor.shutdown() }
        try await engine.install(resolved, into: &builder, keyring: keyring, keys: keys, clock: clock, precompressor: precompressor, base: base)
        var tree = builder.tree

        // Accounts, paths, os-release; on a base image (as apko) the base's accounts and os-release stay.
        var (userNames, groupNames): ([Int: String], [Int: String]) = ([:], [:])
        if base == nil { (userNames, groupNames) = try AccountsWriter.apply(config.accounts, to: &tree) }
        try PathsWriter.apply(config.paths, to: &tree)
        try ServicesWriter.apply(config.entrypoint.services, to: &tree)
        if tree["etc/os-release"] == nil, base == nil {
            let os = config.osRelease
            let text = """
                ID=\(os?.id.isEmpty == false ? os!.id : "lamina")
                NAME="\(os?.name.isEmpty == false ? os!.name : "Lamina image")"
                PRETTY_NAME="\(os?.prettyName.isEmpty == false ? os!.prettyName : "Lamina image")"
                VERSION_ID=\(os?.versionID.isEmpty == false ? os!.versionID : "unknown")

                """
            try tree.insert("etc/os-release", .file(Array(text.utf8)))
        }

        var trees = [tree]
        if let layering = config.layering {
            let groups: [[String]]
            do {
                groups = try OriginLayering.groups(resolved.packages.map { OriginLayering.Member($0.info) }, layering: layering)
            } catch let error as LaminaError {
                throw engine.loaded.sourceMap.error(at: ConfigPath([.key("layering")]), error.message, atKey: true)
            }
            trees = try OriginLayering.split(
                tree, groups: groups, installed: builder.installed, databasePath: builder.databaseDirectory + "/installed")
            engine.progress?(.note("\(resolved.architecture.apk): \(trees.count) layers (budget \(layering.budget))"))
        }
        engine.progress?(.phase("writing layer", total: nil))
        var layers: [WrittenLayer] = []
        let stem = path.hasSuffix(".tar.gz") ? String(path.dropLast(".tar.gz".count)) : path
        for (index, part) in trees.enumerated() {
            layers.append(
                try LayerWriter.write(
                    part, to: index == 0 ? path : "\(stem)-\(index).tar.gz", modificationTime: clock.epoch, userNames: userNames,
                    groupNames: groupNames, level: engine.options.compressionLevel, precompressed: precompressor))
        }
        var sboms: [String: String] = [:]
        for package in resolved.packages {
            for sbomPath in ImageSBOM.embeddedSBOMPaths(name: package.info.name, version: package.info.version) {
                if let text = AccountsWriter.read(sbomPath, tree) {
                    sboms[sbomPath] = text
                    break
                }
            }
        }
        let facts = LayerFacts(
            userNames: Dictionary(userNames.map { (String($0.key), $0.value) }, uniquingKeysWith: { a, _ in a }),
            osRelease: AccountsWriter.read("etc/os-release", tree), embeddedSBOMs: sboms)
        return (layers, facts)
    }
}
