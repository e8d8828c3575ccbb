import ArgumentParser
@testable import Commands
import Foundation
import TestSupport
import Testing

/// The `cosign` face parses cosign's own command lines (as CI files write them) into Lamina's commands.
@Suite struct CosignFaceTests {
    func parse(_ arguments: [String]) throws -> any ParsableCommand {
        try Cosign.parseAsRoot(Cosign.normalize(arguments))
    }

    @Test func signWithCosignFlags() throws {
        let command = try #require(
            try parse(["sign", "--key", "cosign.key", "-y", "--tlog-upload=false", "-a", "ci=true", "--recursive", "reg.example/app:1"])
                as? CosignSign)
        #expect(command.command.key == "cosign.key")
        #expect(command.command.annotations == ["ci=true"])
        #expect(command.command.recursive)
        #expect(command.command.tlog.tlogUpload == false && command.command.tlog.yes)
        #expect(command.command.reference == "reg.example/app:1")
    }

    @Test func verifyWithBareInsecureIgnoreTlogAndLocalImage() throws {
        let verify = try #require(
            try parse(["verify", "--key", "cosign.pub", "--insecure-ignore-tlog", "--offline", "reg.example/app@sha256:" + String(repeating: "a", count: 64)])
                as? CosignVerify)
        #expect(verify.command.flags.ignoreTlog == true)
        #expect(!verify.command.offline)  // cosign's --offline (no tlog lookups) is Lamina's behaviour anyway
        let local = try #require(try parse(["verify", "--key", "k.pub", "--local-image", "./layout"]) as? CosignVerify)
        #expect(local.command.offline)
    }

    @Test func attestAndBlobCommands() throws {
        let attest = try #require(
            try parse(["attest", "--key", "k", "--predicate", "sbom.json", "--type", "spdxjson", "-y", "--tlog-upload=false", "r/x:1"])
                as? CosignAttest)
        #expect(attest.command.predicate == "sbom.json" && attest.command.type == "spdxjson")
        let signBlob = try #require(
            try parse(["sign-blob", "--key", "k", "--output-signature", "f.sig", "--tlog-upload=false", "-y", "f"]) as? CosignSignBlob)
        #expect(signBlob.command.outputSignature == "f.sig")
        let verifyBlob = try #require(
            try parse(["verify-blob", "--key", "k.pub", "--signature", "f.sig", "--insecure-ignore-tlog", "f"]) as? CosignVerifyBlob)
        #expect(verifyBlob.command.signature == "f.sig")
        #expect(try parse(["generate-key-pair", "--output-key-prefix", "ci"]) is CosignGenerateKeyPair)
        #expect(try parse(["import-key-pair", "--key", "k.pem"]) is CosignImportKeyPair)
        #expect(try parse(["triangulate", "--type", "attestation", "r/x:1"]) is CosignTriangulate)
        #expect(try parse(["tree", "r/x:1"]) is CosignTree)
        #expect(throws: (any Error).self) { try parse(["sign", "--key", "k", "--no-such-flag", "r/x:1"]) }
    }
}
