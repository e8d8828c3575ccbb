import ArgumentParser

/// `lamina keygen [NAME]`
public struct Keygen: AsyncParsableCommand {
    public static let configuration = CommandConfiguration(abstract: "Generate an RSA key pair for signing packages.")
    @Argument(help: "Private key file to write; the public key goes to NAME.pub.") var name: String = "melange.rsa"
    @Option(help: "Key size in bits (2048 or more).") var bits: Int = 4096
    @Flag(help: "Overwrite existing key files.") var force = false
    public init() {}
    public func run() async throws {}
}
