import ArgumentParser
import Foundation
import LaminaCore
import Signing

/// `lamina image keygen`: cosign's `generate-key-pair`.
struct ImageKeygen: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "keygen", abstract: "Generate a cosign key pair (ECDSA P-256) for signing images.",
        discussion: """
            Writes PREFIX.key (PEM 'ENCRYPTED SIGSTORE PRIVATE KEY': scrypt N=65536 r=8 p=1 and nacl secretbox, as
            cosign writes it; mode 0600) and PREFIX.pub (PKIX 'PUBLIC KEY'). The password comes from COSIGN_PASSWORD
            (empty is allowed) or is asked twice on a terminal.
            """)

    @Option(name: .customLong("output-key-prefix"), help: "Name of the key files, without .key/.pub.") var prefix = "cosign"
    @Flag(help: "Overwrite existing key files.") var force = false
    @OptionGroup var global: GlobalOptions

    func run() async throws {
        try SigningKeys.writePair(CosignPrivateKey.generate(), prefix: prefix, force: force, logger: global.logger)
    }
}

/// `lamina image import-key-pair --key K.pem`: cosign's `import-key-pair`.
struct ImageImportKeyPair: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "import-key-pair", abstract: "Import a PEM private key (EC, RSA or PKCS#8) as a cosign key pair.",
        discussion: "Encrypts the key as cosign does into PREFIX.key and writes its public key to PREFIX.pub.")

    @Option(name: [.customShort("k"), .customLong("key")], help: "The PEM private key to import.") var key: String
    @Option(name: .customLong("output-key-prefix"), help: "Name of the key files, without .key/.pub.") var prefix = "import-cosign"
    @Flag(help: "Overwrite existing key files.") var force = false
    @OptionGroup var global: GlobalOptions

    func run() async throws {
        try SigningKeys.writePair(try SigningKeys.privateKey(key), prefix: prefix, force: force, logger: global.logger)
    }
}

/// `lamina image sign-blob --key K FILE`: cosign's `sign-blob` with a key.
struct ImageSignBlob: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "sign-blob", abstract: "Sign a file (an SBOM, a release tarball) with a cosign key.",
        discussion: "Prints the base64 signature (ECDSA over SHA-256 of the file, as cosign) or writes it with --output-signature.")

    @Option(name: [.customShort("k"), .customLong("key")], help: "The private key (cosign.key).") var key: String
    @Option(name: [.customLong("output-signature"), .customLong("output")], help: "Write the base64 signature here.")
    var outputSignature: String?
    @Argument(help: "The file to sign.") var file: String
    @OptionGroup var tlog: TransparencyLogFlags
    @OptionGroup var global: GlobalOptions

    func run() async throws {
        try tlog.check(global.logger)
        let signer = try SigningKeys.privateKey(key)
        guard let data = FileManager.default.contents(atPath: file) else {
            throw LaminaError(.notFound, "cannot read the file", subject: file)
        }
        let signature = Base64.encode(try signer.sign(Array(data)))
        if let outputSignature {
            try SigningKeys.writeText(signature, to: outputSignature)
            global.logger.info("Signature written to \(outputSignature)")
        } else {
            global.logger.result(signature)
        }
    }
}

/// `lamina image verify-blob --key K.pub --signature SIG FILE`: cosign's `verify-blob` with a key.
struct ImageVerifyBlob: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "verify-blob", abstract: "Verify a file's cosign signature with a public key.",
        discussion: "SIG is a file holding the base64 signature (or the base64 text itself). Exits 1 when it does not verify.")

    @Option(name: [.customShort("k"), .customLong("key")], help: "The public key (cosign.pub).") var key: String
    @Option(name: .customLong("signature"), help: "The signature: a file with base64, or base64.") var signature: String
    @Option(name: .customLong("insecure-ignore-tlog"), help: "Accepted for cosign compatibility: Lamina never checks a transparency log.")
    var ignoreTlog: Bool?
    @Argument(help: "The signed file.") var file: String
    @OptionGroup var global: GlobalOptions

    func run() async throws {
        try TransparencyLogFlags.checkIgnore(ignoreTlog)
        let verifier = try SigningKeys.publicKey(key)
        guard let data = FileManager.default.contents(atPath: file) else {
            throw LaminaError(.notFound, "cannot read the file", subject: file)
        }
        let text = FileManager.default.fileExists(atPath: signature) ? try SigningKeys.readText(signature) : signature
        guard let bytes = Base64.decode(text), !bytes.isEmpty else {
            throw LaminaError(.malformed, "the signature is not base64", subject: signature)
        }
        guard verifier.isValidSignature(bytes, for: Array(data)) else {
            throw LaminaError(.badSignature, "the signature does not verify with \(key)", subject: file)
        }
        global.logger.info("Verified OK")
    }
}
