import APK
import ArgumentParser
import Foundation
import LaminaCore

/// `lamina package verify FILE... --keyring DIR`
struct PackageVerify: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "verify",
        abstract: "Verify the signatures (and datahash) of .apk files and APKINDEX.tar.gz files, as `apk verify` does.")

    @Argument(help: "Packages (.apk) or indexes (APKINDEX.tar.gz).") var files: [String]
    @Option(name: [.customLong("keyring"), .customShort("k")], help: "A directory of public keys, or one key file (repeatable).")
    var keyrings: [String] = []
    @Flag(help: "Print a JSON array, one object per file, instead of text.") var json = false
    @OptionGroup var global: GlobalOptions

    struct Result: Encodable {
        let file: String
        let verdict: String
        let ok: Bool
        let detail: String
    }

    func run() async throws {
        var keyring = Keyring()
        for path in keyrings { try keyring.addDirectory(path) }
        if keyring.isEmpty { global.logger.warn("the keyring is empty: every signed file will be UNTRUSTED (use --keyring DIR)") }
        var results: [Result] = []
        for file in files {
            let verdict: VerificationVerdict
            do {
                if file.hasSuffix(".apk") {
                    verdict = try PackageReader().read(path: file).verify(keyring: keyring)
                } else {
                    verdict = try APKIndex.read(path: file).verify(keyring: keyring)
                }
            } catch let error as LaminaError {
                verdict = .malformed(error.description)
            }
            let word: String
            switch verdict {
            case .ok: word = "OK"
            case .untrusted: word = "UNTRUSTED"
            case .badSignature: word = "BAD signature"
            case .dataHashMismatch: word = "datahash mismatch"
            case .malformed: word = "malformed"
            }
            results.append(Result(file: file, verdict: word, ok: verdict.isOK, detail: verdict.description))
        }
        if json {
            try printJSON(results)
        } else {
            for r in results { global.logger.result("\(r.file): \(r.ok ? "OK" : r.detail)") }
        }
        if results.contains(where: { !$0.ok }) { throw ExitCode(1) }
    }
}
