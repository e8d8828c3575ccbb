import APK
import ArgumentParser
import Archive
import Foundation
import LaminaCore

/// `lamina keygen [NAME]`: an RSA key pair, as `melange keygen` makes it.
public struct Keygen: AsyncParsableCommand {
    public static let configuration = CommandConfiguration(
        abstract: "Generate an RSA key pair for signing packages and indexes.",
        discussion: """
            Writes NAME (PKCS#1 PEM private key, mode 0600) and NAME.pub (SPKI PEM public key). Install the
            public key as /etc/apk/keys/NAME.pub: apk finds keys by that file name.
            """)

    @Argument(help: "Private key file to write; the public key goes to NAME.pub.") var name: String = "melange.rsa"
    @Option(name: [.customLong("bits"), .customLong("key-size")], help: "Key size in bits (at least 2048).") var bits: Int = 4096
    @Flag(help: "Overwrite existing key files.") var force = false
    @OptionGroup var global: GlobalOptions

    public init() {}

    public func run() async throws {
        let publicPath = name + ".pub"
        if !force {
            for path in [name, publicPath] where FileManager.default.fileExists(atPath: path) {
                throw LaminaError(.invalidInput, "already exists; use --force to overwrite", subject: path)
            }
        }
        let log = global.logger
        log.info("generating a \(bits)-bit RSA key")
        let keyName = (name as NSString).lastPathComponent + ".pub"
        let key = try SigningKey.generate(bits: bits, keyName: keyName)
        let privateSink = try AtomicFileSink(path: name, mode: 0o600)
        let publicSink = try AtomicFileSink(path: publicPath, mode: 0o644)
        try privateSink.write(Array((key.pkcs1PEM + "\n").utf8))
        try publicSink.write(Array((key.publicKey.pem + "\n").utf8))
        try privateSink.commit()
        try publicSink.commit()
        log.result("wrote \(name) and \(publicPath) (signatures will name the key '\(keyName)')")
    }
}
