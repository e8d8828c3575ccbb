import APK
import ArgumentParser
import Archive
import Foundation
import LaminaCore

/// `lamina package info FILE [--json]`
struct PackageInfoCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "info", abstract: "Show a package's metadata, dependencies, signatures and files.")

    @Argument(help: "The .apk file.") var file: String
    @Option(name: [.customLong("keyring"), .customShort("k")], help: "Public keys to check the signature against (repeatable).")
    var keyrings: [String] = []
    @Flag(help: "Print JSON.") var json = false
    @Flag(name: .customLong("no-files"), help: "Leave out the file list.") var noFiles = false
    @OptionGroup var global: GlobalOptions

    struct FileJSON: Encodable {
        let path: String
        let type: String
        let mode: String
        let uid: Int
        let gid: Int
        let size: Int64
        let link: String?
        let sha1: String?
    }
    struct SignatureJSON: Encodable {
        let algorithm: String
        let key: String
    }
    struct InfoJSON: Encodable {
        let name: String
        let version: String
        let arch: String?
        let description: String?
        let url: String?
        let license: String?
        let origin: String?
        let maintainer: String?
        let commit: String?
        let builddate: Int64?
        let installedSize: Int64?
        let fileSize: Int64
        let identity: String
        let datahash: String?
        let depends: [String]
        let provides: [String]
        let installIf: [String]
        let replaces: [String]
        let providerPriority: Int?
        let triggers: [String]
        let scripts: [String]
        let signatures: [SignatureJSON]
        let verification: String?
        let files: [FileJSON]?
    }

    func run() async throws {
        let archive = try PackageReader().read(path: file, listFiles: !noFiles)
        var verification: String?
        if !keyrings.isEmpty {
            var keyring = Keyring()
            for path in keyrings { try keyring.addDirectory(path) }
            verification = archive.verify(keyring: keyring).description
        }
        let info = archive.info
        let files = noFiles ? nil : archive.files.map { record -> FileJSON in
            let e = record.entry
            return FileJSON(
                path: e.path, type: Self.typeName(e.kind), mode: "0" + String(e.mode, radix: 8), uid: e.uid, gid: e.gid, size: e.size,
                link: e.linkTarget.isEmpty ? nil : e.linkTarget, sha1: record.sha1?.hex)
        }
        let value = InfoJSON(
            name: info.name, version: info.version, arch: info.arch, description: info.description, url: info.url, license: info.license,
            origin: info.origin, maintainer: info.maintainer, commit: info.commit, builddate: info.buildDate,
            installedSize: info.installedSize, fileSize: archive.fileSize, identity: archive.identity.apkIdentity, datahash: info.dataHash,
            depends: info.depends.map(\.description), provides: info.provides.map(\.description),
            installIf: info.installIf.map(\.description), replaces: info.replaces.map(\.description),
            providerPriority: info.providerPriority, triggers: info.triggers,
            scripts: archive.controlFiles.map(\.entry.path).filter { PackageWriter.scriptActions.contains(String($0.dropFirst())) },
            signatures: archive.signatures.map { SignatureJSON(algorithm: $0.algorithm.rawValue, key: $0.keyName) },
            verification: verification, files: files)
        if json {
            try printJSON(value)
            return
        }
        var out = ""
        func line(_ key: String, _ v: String?) { if let v, !v.isEmpty { out += "\(key.padding(toLength: 16, withPad: " ", startingAt: 0))\(v)\n" } }
        line("name", value.name)
        line("version", value.version)
        line("arch", value.arch)
        line("description", value.description)
        line("url", value.url)
        line("license", value.license)
        line("origin", value.origin)
        line("maintainer", value.maintainer)
        line("commit", value.commit)
        line("builddate", value.builddate.map { "\($0) (\(BuildClock.rfc3339($0)))" })
        line("installed size", value.installedSize.map(String.init))
        line("file size", String(value.fileSize))
        line("identity", value.identity)
        line("datahash", value.datahash)
        line("depends", value.depends.joined(separator: " "))
        line("provides", value.provides.joined(separator: " "))
        line("install_if", value.installIf.joined(separator: " "))
        line("replaces", value.replaces.joined(separator: " "))
        line("triggers", value.triggers.joined(separator: " "))
        line("scripts", value.scripts.joined(separator: " "))
        line("signatures", value.signatures.map { "\($0.algorithm):\($0.key)" }.joined(separator: " ").nonEmpty ?? "(unsigned)")
        line("verification", value.verification)
        if let files {
            out += "files (\(files.count)):\n"
            for f in files {
                let owner = "\(f.uid):\(f.gid)"
                out += "  \(f.type) \(f.mode) \(owner.padding(toLength: 9, withPad: " ", startingAt: 0)) \(String(f.size).padding(toLength: 9, withPad: " ", startingAt: 0)) \(f.path)"
                if let link = f.link { out += " -> \(link)" }
                if let sha1 = f.sha1 { out += "  sha1:\(sha1)" }
                out += "\n"
            }
        }
        Terminal.standardOutput.write(out)
    }

    static func typeName(_ kind: TarEntry.Kind) -> String {
        switch kind {
        case .regular: return "file"
        case .directory: return "dir"
        case .symbolicLink: return "symlink"
        case .hardLink: return "hardlink"
        case .characterDevice: return "chardev"
        case .blockDevice: return "blockdev"
        case .fifo: return "fifo"
        }
    }
}

extension String {
    var nonEmpty: String? { isEmpty ? nil : self }
}
