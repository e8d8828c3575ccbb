import APK
import ArgumentParser
import Archive
import Foundation
import LaminaCore
import PackageBuilder

/// `lamina package index *.apk -o APKINDEX.tar.gz --signing-key KEY [--merge]`
struct PackageIndex: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "index", abstract: "Write a signed APKINDEX.tar.gz for a set of packages.")

    @Argument(help: "The .apk files to index.") var packages: [String]
    @Option(name: [.customShort("o"), .customLong("output")], help: "The index to write.") var output: String = "APKINDEX.tar.gz"
    @Option(name: .customLong("signing-key"), help: "RSA private key (PEM) to sign the index with.") var signingKey: String?
    @Flag(name: [.customShort("m"), .customLong("merge")], help: "Keep the entries already in OUTPUT (replacing same name+version); its signature is checked when made by --signing-key.") var merge = false
    @Option(name: [.customShort("a"), .customLong("arch")], help: "Refuse packages of another architecture; noarch packages are listed as this one.") var arch: String?
    @Option(help: "The DESCRIPTION member.") var description: String?
    @Flag(name: .customLong("sign-sha1"), help: "Also add a SHA-1 signature for old apk-tools.") var signSHA1 = false
    @OptionGroup var global: GlobalOptions

    func run() async throws {
        let expectedArch = try arch.map { try Architecture($0).apk }
        var keys: [SigningKey] = []
        if let signingKey { keys.append(try SigningKey.load(path: signingKey)) } else {
            global.logger.warn("no --signing-key: the index is UNSIGNED")
        }
        let logger = global.logger
        let updater = RepositoryIndexUpdater(
            signingKeys: keys, algorithms: signSHA1 ? [.rsaSHA256, .rsaSHA1] : [.rsaSHA256], description: description,
            progress: { event in if case .warning(let text) = event { logger.warn(text) } })
        let outputDir = (output as NSString).deletingLastPathComponent
        if !outputDir.isEmpty {
            try FileManager.default.createDirectory(atPath: outputDir, withIntermediateDirectories: true)
        }
        let index = try updater.update(indexPath: output, adding: packages, architecture: expectedArch, merge: merge)
        global.logger.result("wrote \(output) (\(index.packages.count) packages)")
    }
}
