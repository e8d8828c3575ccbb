import ArgumentParser
import Foundation
import ImageBuilder
import LaminaCore

/// `lamina image build apko.yaml TAG OUT.tar`
struct ImageBuild: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "build", abstract: "Build a single-layer image from apko.yaml.",
        discussion: """
            Writes OUT.tar: a complete OCI image layout that also carries docker's manifest.json, so both
            `docker load < OUT.tar` and OCI tools (skopeo oci-archive:, umoci) read it. When OUT is an existing
            directory (or with --format oci-layout) a plain OCI layout folder is written instead. SBOMs
            (sbom-<arch>.spdx.json) go beside the output unless --sbom=false. Timestamps come from
            SOURCE_DATE_EPOCH (or --build-date), default 0: the same inputs give the same bytes.

            Finished layers are kept in <cache-dir>/layers, keyed by every input that shapes them (packages,
            the config parts written into files, architecture, date, --compression-level): an unchanged
            rebuild skips installing and compressing, and an unchanged output file is not rewritten.
            --no-layer-cache builds from the packages again.
            """)

    @Argument(help: "The apko.yaml.") var config: String
    @Argument(help: "The image name and tag, e.g. senhas:1.0.0 or registry.example/senhas:1.0.0.") var tag: String
    @Argument(help: "The tarball (or layout directory) to write.") var output: String
    @Option(help: "tarball or oci-layout.") var format: String?
    @Option(name: .customLong("sbom"), help: "Write SBOMs (true/false).") var sbom: Bool = true
    @Option(name: .customLong("sbom-path"), help: "Where to write SBOMs (default: beside the output).") var sbomPath: String?
    @Option(name: .customLong("annotations"), help: "KEY:VALUE annotation for the index, manifests and labels (repeatable).") var annotations: [String] = []
    @Option(name: .customLong("build-date"), help: "Build date: Unix seconds or RFC 3339 (overrides SOURCE_DATE_EPOCH).") var buildDate: String?
    @Flag(name: .customLong("no-layer-cache"), help: "Build the layer afresh instead of reusing (and storing) it in <cache-dir>/layers.")
    var noLayerCache = false
    @OptionGroup var flags: ImageFlags
    @OptionGroup var global: GlobalOptions

    func run() async throws {
        let clock = try Self.clock(buildDate: buildDate)
        var isDirectory: ObjCBool = false
        let exists = FileManager.default.fileExists(atPath: output, isDirectory: &isDirectory)
        let chosen: ImageBuildRequest.Format
        switch format {
        case nil: chosen = exists && isDirectory.boolValue ? .ociLayout : .tarball
        case "tarball", "docker", "tar": chosen = .tarball
        case "oci-layout", "oci": chosen = .ociLayout
        default: throw LaminaError(.usage, "unknown format '\(format!)' (tarball, oci-layout)", subject: "--format")
        }
        // Fail before resolving and compressing anything when the tarball could not be written anyway.
        if chosen == .tarball {
            let parent = (output as NSString).deletingLastPathComponent
            var parentIsDirectory: ObjCBool = false
            if !parent.isEmpty, !FileManager.default.fileExists(atPath: parent, isDirectory: &parentIsDirectory) || !parentIsDirectory.boolValue {
                throw LaminaError(.notFound, "no such directory: '\(parent)'", subject: output)
            }
        }
        var request = ImageBuildRequest(tag: tag, output: output, format: chosen, clock: clock)
        request.sbom = sbom
        request.sbomPath = sbomPath
        request.layerCache = !noLayerCache
        request.annotations = try Self.annotations(annotations)
        let result = try await withImageEngine(flags, configPath: config, global: global) { engine, _ in
            try await ImageBuilder(engine: engine).build(request)
        }
        for image in result.images {
            global.logger.info("\(image.architecture.ociPlatform): \(image.packages.count) packages, \(image.layers.count == 1 ? "layer" : "\(image.layers.count) layers, top") \(image.layers[image.layers.count - 1].digest) (\(image.layers.reduce(0) { $0 + $1.size }) bytes), manifest \(image.manifest.descriptor.digest)")
        }
        global.logger.result("wrote \(output) (\(result.tags.joined(separator: ", ")))")
    }

    /// `--build-date` (Unix seconds or RFC 3339) over SOURCE_DATE_EPOCH.
    static func clock(buildDate: String?) throws -> BuildClock {
        guard let buildDate, !buildDate.isEmpty else { return try BuildClock.fromEnvironment(ProcessInfo.processInfo.environment) }
        guard let seconds = parseDate(buildDate) else {
            throw LaminaError(.usage, "expected Unix seconds or RFC 3339, got '\(buildDate)'", subject: "--build-date")
        }
        return BuildClock(epoch: seconds)
    }

    /// `--annotations KEY:VALUE` values (comma lists allowed, as apko's string-slice flag takes them).
    static func annotations(_ values: [String]) throws -> [String: String] {
        var out: [String: String] = [:]
        for item in RepositoryFlags.splitList(values) {
            guard let colon = item.firstIndex(of: ":") else { throw LaminaError(.usage, "expected KEY:VALUE, got '\(item)'", subject: "--annotations") }
            out[String(item[..<colon])] = String(item[item.index(after: colon)...])
        }
        return out
    }

    static func parseDate(_ text: String) -> Int64? {
        if let n = Int64(text) { return n }
        let formatter = ISO8601DateFormatter()
        return formatter.date(from: text).map { Int64($0.timeIntervalSince1970) }
    }
}
