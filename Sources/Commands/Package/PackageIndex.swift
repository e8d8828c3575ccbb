import APK
import ArgumentParser
import Archive
import Foundation
import LaminaCore

/// `lamina package index *.apk -o APKINDEX.tar.gz --signing-key KEY [--merge]`
struct PackageIndex: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "index", abstract: "Write a signed APKINDEX.tar.gz for a set of packages.")

    @Argument(help: "The .apk files to index.") var packages: [String]
    @Option(name: [.customShort("o"), .customLong("output")], help: "The index to write.") var output: String = "APKINDEX.tar.gz"
    @Option(name: .customLong("signing-key"), help: "RSA private key (PEM) to sign the index with.") var signingKey: String?
    @Flag(name: [.customShort("m"), .customLong("merge")], help: "Keep the entries already in OUTPUT (replacing same name+version).") var merge = false
    @Option(name: [.customShort("a"), .customLong("arch")], help: "Refuse packages of another architecture; noarch packages are listed as this one.") var arch: String?
    @Option(help: "The DESCRIPTION member.") var description: String?
    @Flag(name: .customLong("sign-sha1"), help: "Also add a SHA-1 signature for old apk-tools.") var signSHA1 = false
    @OptionGroup var global: GlobalOptions

    func run() async throws {
        var entries: [String: PackageInfo] = [:]
        var indexDescription = description
        if merge, FileManager.default.fileExists(atPath: output) {
            let existing = try APKIndex.read(path: output)
            for info in existing.packages { entries[info.nameVersion] = info }
            indexDescription = indexDescription ?? existing.description
        }
        let expectedArch = try arch.map { try Architecture($0).apk }
        for path in packages {
            let archive = try PackageReader().read(path: path)
            var info = archive.info
            if let expectedArch, let a = info.arch, a != expectedArch, a != "noarch" {
                throw LaminaError(.invalidInput, "package is for \(a), not \(expectedArch)", subject: path)
            }
            info.dataHash = nil
            // apk fetches a package from <repo>/<A:>/, so noarch packages are listed under the index's
            // architecture (as `apk index --rewrite-arch` does).
            if let expectedArch, info.arch == "noarch" { info.arch = expectedArch }
            entries[info.nameVersion] = info
        }
        let sorted = entries.values.sorted { ($0.name, $0.version) < ($1.name, $1.version) }
        let index = APKIndex(packages: sorted, description: indexDescription)
        var keys: [SigningKey] = []
        if let signingKey { keys.append(try SigningKey.load(path: signingKey)) } else {
            global.logger.warn("no --signing-key: the index is UNSIGNED")
        }
        let bytes = try index.archiveBytes(signingKeys: keys, algorithms: signSHA1 ? [.rsaSHA256, .rsaSHA1] : [.rsaSHA256])
        try AtomicFileSink.write(bytes, to: output)
        global.logger.result("wrote \(output) (\(sorted.count) packages)")
    }
}
