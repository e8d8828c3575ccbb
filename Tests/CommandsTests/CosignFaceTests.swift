import Foundation
import TestSupport
import Testing

/// The binary started as `cosign` (a symlink) or as `lamina cosign …` speaks cosign's command line.
@Suite struct CosignFaceTests {
    /// cosign's subcommand names and abstracts, each backed by the `image` command of the same flags.
    @Test func helpListsCosignsNames() throws {
        let help = try CommandRunner.lamina(["cosign", "--help"])
        #expect(help.status == 0)
        let expected = [
            "generate-key-pair       Generate cosign.key (encrypted) and cosign.pub (ECDSA",
            "verify-attestation      Verify an image's attestations with --key.",
            "sign-blob               Sign a file with --key.",
            "verify-blob             Verify a file's signature (--signature) with --key.",
        ]
        for line in expected { #expect(help.stdout.contains(line), "\(help.stdout)") }
        #expect(!help.stdout.contains("keygen"))
        let flags = try CommandRunner.lamina(["cosign", "sign-blob", "--help"])
        #expect(flags.stdout.contains("--output-signature"), "\(flags.stdout)")
    }

    @Test func keyPairSignBlobAndVerifyThroughTheCosignName() throws {
        try TemporaryDirectory.withSync { dir in
            let cosign = dir.file("cosign")
            try FileManager.default.createSymbolicLink(atPath: cosign, withDestinationPath: CommandRunner.laminaPath)
            var environment = ProcessInfo.processInfo.environment
            environment["COSIGN_PASSWORD"] = "correct horse"
            let keys = try CommandRunner.run(cosign, ["generate-key-pair"], environment: environment, directory: dir.path)
            #expect(keys.status == 0, "\(keys.stderr)")
            let key = try String(contentsOfFile: dir.file("cosign.key"), encoding: .utf8)
            #expect(key.hasPrefix("-----BEGIN ENCRYPTED SIGSTORE PRIVATE KEY-----"))
            #expect(FileManager.default.fileExists(atPath: dir.file("cosign.pub")))

            try Data("release notes\n".utf8).write(to: URL(fileURLWithPath: dir.file("notes.txt")))
            let signed = try CommandRunner.run(
                cosign, ["sign-blob", "--key", "cosign.key", "--output-signature", "notes.sig", "-y", "notes.txt"],
                environment: environment, directory: dir.path)
            #expect(signed.status == 0, "\(signed.stderr)")
            // The same command line through `lamina cosign`, and a check with openssl, which shares no code with us.
            let verified = try CommandRunner.lamina(
                ["cosign", "verify-blob", "--key", "cosign.pub", "--signature", "notes.sig", "notes.txt"], directory: dir.path)
            #expect(verified.status == 0, "\(verified.stderr)")
            let signature = try #require(Data(base64Encoded: try String(contentsOfFile: dir.file("notes.sig"), encoding: .utf8)
                .trimmingCharacters(in: .whitespacesAndNewlines)))
            try signature.write(to: URL(fileURLWithPath: dir.file("notes.der")))
            let openssl = try CommandRunner.run(
                "/usr/bin/openssl", ["dgst", "-sha256", "-verify", "cosign.pub", "-signature", "notes.der", "notes.txt"], directory: dir.path)
            #expect(openssl.status == 0 && openssl.stdout.contains("Verified OK"), "\(openssl.stdout)\(openssl.stderr)")

            try Data("altered notes\n".utf8).write(to: URL(fileURLWithPath: dir.file("notes.txt")))
            let refused = try CommandRunner.run(
                cosign, ["verify-blob", "--key", "cosign.pub", "--signature", "notes.sig", "notes.txt"], directory: dir.path)
            #expect(refused.status != 0)
        }
    }

    /// CI files pass keys as `--key env://COSIGN_PRIVATE_KEY` (a secret in a variable); KMS URIs are refused by name.
    @Test func keysFromEnvironmentVariables() throws {
        try TemporaryDirectory.withSync { dir in
            var environment = ProcessInfo.processInfo.environment
            environment["COSIGN_PASSWORD"] = ""
            let keys = try CommandRunner.lamina(["cosign", "generate-key-pair"], environment: environment, directory: dir.path)
            #expect(keys.status == 0, "\(keys.stderr)")
            environment["COSIGN_PRIVATE_KEY"] = try String(contentsOfFile: dir.file("cosign.key"), encoding: .utf8)
            environment["COSIGN_PUBLIC_KEY"] = try String(contentsOfFile: dir.file("cosign.pub"), encoding: .utf8)
            try FileManager.default.removeItem(atPath: dir.file("cosign.key"))
            try Data("artifact\n".utf8).write(to: URL(fileURLWithPath: dir.file("a.txt")))
            let signed = try CommandRunner.lamina(
                ["cosign", "sign-blob", "--key", "env://COSIGN_PRIVATE_KEY", "--output-signature", "a.sig", "-y", "a.txt"],
                environment: environment, directory: dir.path)
            #expect(signed.status == 0, "\(signed.stderr)")
            let verified = try CommandRunner.lamina(
                ["cosign", "verify-blob", "--key", "env://COSIGN_PUBLIC_KEY", "--signature", "a.sig", "a.txt"],
                environment: environment, directory: dir.path)
            #expect(verified.status == 0, "\(verified.stderr)")

            let unset = try CommandRunner.lamina(
                ["cosign", "verify-blob", "--key", "env://NO_SUCH_KEY", "--signature", "a.sig", "a.txt"], directory: dir.path)
            #expect(unset.status != 0 && unset.stderr.contains("NO_SUCH_KEY is not set"), "\(unset.stderr)")
            let kms = try CommandRunner.lamina(
                ["cosign", "verify-blob", "--key", "awskms:///alias/release", "--signature", "a.sig", "a.txt"], directory: dir.path)
            #expect(kms.status != 0 && kms.stderr.contains("awskms:// keys"), "\(kms.stderr)")
        }
    }
}
