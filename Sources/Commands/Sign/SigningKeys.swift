import Archive
import Foundation
import LaminaCore
import Signing

/// Reads and writes cosign key files for the signing commands; the password comes from `COSIGN_PASSWORD` (empty is
/// allowed) or a prompt on the terminal.
enum SigningKeys {
    static let passwordVariable = "COSIGN_PASSWORD"

    /// The password for an encrypted key: `COSIGN_PASSWORD`, else a prompt when stdin is a terminal.
    /// - Throws: `LaminaError(.usage)` when neither is available.
    static func password(confirm: Bool = false, for purpose: String) throws -> [UInt8] {
        if let value = ProcessInfo.processInfo.environment[passwordVariable] { return Array(value.utf8) }
        guard isatty(0) == 1 else {
            throw LaminaError(.usage, "set \(passwordVariable) (empty is allowed) or run on a terminal to type it", subject: purpose)
        }
        let first = prompt("Enter password for \(purpose): ")
        if confirm, prompt("Enter password for \(purpose) again: ") != first {
            throw LaminaError(.usage, "the passwords do not match", subject: purpose)
        }
        return first
    }

    private static func prompt(_ text: String) -> [UInt8] {
        guard let pointer = getpass(text) else { return [] }
        return Array(String(cString: pointer).utf8)
    }

    /// A private key file: cosign's encrypted PEM (asks for the password only then) or an unencrypted PEM key.
    /// - Throws: `LaminaError` naming the file: not found, wrong password, not a key.
    static func privateKey(_ path: String) throws -> CosignPrivateKey {
        let text = try readText(path)
        return try LaminaError.about(path) { try CosignPrivateKey(pem: text) { try password(for: path) } }
    }

    /// A `PUBLIC KEY` PEM file (cosign.pub).
    static func publicKey(_ path: String) throws -> CosignPublicKey {
        let text = try readText(path)
        return try LaminaError.about(path) { try CosignPublicKey(pem: text) }
    }

    /// The text of a key reference: a file, or `env://NAME` (the variable's value, as cosign reads
    /// `--key env://COSIGN_PRIVATE_KEY` in CI). Key-management URIs (`awskms://`, `k8s://`, …) are refused by name.
    static func readText(_ path: String) throws -> String {
        if path.hasPrefix("env://") {
            let name = String(path.dropFirst(6))
            guard !name.isEmpty, let value = ProcessInfo.processInfo.environment[name] else {
                throw LaminaError(.notFound, "the environment variable \(name.isEmpty ? "(no name)" : name) is not set", subject: path)
            }
            return value
        }
        if let scheme = path.range(of: "://").map({ String(path[..<$0.lowerBound]) }), !scheme.contains("/") {
            throw LaminaError(
                .usage, "not supported by Lamina: \(scheme):// keys (a key file or env://VARIABLE is)", subject: path)
        }
        guard let data = FileManager.default.contents(atPath: path) else {
            throw LaminaError(.notFound, "cannot read the file", subject: path)
        }
        return String(decoding: data, as: UTF8.self)
    }

    /// Writes `PREFIX.key` (encrypted with a password asked twice, mode 0600) and `PREFIX.pub`, as cosign's
    /// generate-key-pair and import-key-pair do; refuses to overwrite unless `force`.
    static func writePair(_ key: CosignPrivateKey, prefix: String, force: Bool, logger: Logger) throws {
        let privatePath = prefix + ".key"
        let publicPath = prefix + ".pub"
        if !force {
            for path in [privatePath, publicPath] where FileManager.default.fileExists(atPath: path) {
                throw LaminaError(.invalidInput, "already exists; use --force to overwrite", subject: path)
            }
        }
        let password = try password(confirm: true, for: privatePath)
        let privateSink = try AtomicFileSink(path: privatePath, mode: 0o600)
        let publicSink = try AtomicFileSink(path: publicPath, mode: 0o644)
        try privateSink.write(Array(try key.encryptedPEM(password: password).utf8))
        try publicSink.write(Array(key.publicKey.pem.utf8))
        try privateSink.commit()
        try publicSink.commit()
        logger.result("Private key written to \(privatePath)\nPublic key written to \(publicPath)")
    }

    /// Writes a small text output atomically.
    static func writeText(_ text: String, to path: String) throws {
        let sink = try AtomicFileSink(path: path, mode: 0o644)
        try sink.write(Array(text.utf8))
        try sink.commit()
    }

    /// `-a key=value` annotations.
    /// - Throws: `LaminaError(.usage)` for an item without `=`.
    static func annotations(_ items: [String], flag: String = "-a") throws -> [String: String] {
        var out: [String: String] = [:]
        for item in items {
            guard let equals = item.firstIndex(of: "="), equals != item.startIndex else {
                throw LaminaError(.usage, "expected KEY=VALUE, got '\(item)'", subject: flag)
            }
            out[String(item[..<equals])] = String(item[item.index(after: equals)...])
        }
        return out
    }
}
