import Foundation
import LaminaCore
import OCI
import Signing
import Testing
import TestSupport

@Suite("cosign payloads and signatures")
struct PayloadTests {
    static let digest = try! Digest(parsing: "sha256:f3cfc9d0dbf931d3db4685ec659b7ac68e2a578219da4aae65427886e649b06b")

    @Test("our payload bytes are cosign's serialization (the sigstore-rs fixture)", .enabled(if: SharedTestData.isAvailable))
    func payloadBytes() throws {
        let payload = SimpleSigningPayload(dockerReference: "registry-testing.svc.lan/busybox", manifestDigest: Self.digest)
        #expect(try payload.encoded() == (try Fixtures.bytes("\(Fixtures.rsVerify)/payload.json")))
        let annotated = SimpleSigningPayload(dockerReference: "r/x", manifestDigest: Self.digest, optional: ["b": "2", "a": "1"])
        #expect(
            String(decoding: try annotated.encoded(), as: UTF8.self)
                == #"{"critical":{"identity":{"docker-reference":"r/x"},"image":{"docker-manifest-digest":"\#(Self.digest)"},"type":"cosign container image signature"},"optional":{"a":"1","b":"2"}}"#)
    }

    @Test("annotations are escaped as Go's encoding/json escapes them, and still parse")
    func goEscaping() throws {
        let payload = SimpleSigningPayload(dockerReference: "r/x", manifestDigest: Self.digest, optional: ["q": "<a&b>"])
        let text = String(decoding: try payload.encoded(), as: UTF8.self)
        #expect(text.hasSuffix(#""optional":{"q":"\u003ca\u0026b\u003e"}}"#))
        #expect(try SimpleSigningPayload(parsing: try payload.encoded()).optional == ["q": "<a&b>"])
    }

    @Test("the cosign-made signature verifies; tampered payload, signature or key fail", .enabled(if: SharedTestData.isAvailable))
    func realSignature() throws {
        let key = try CosignPublicKey(pem: try Fixtures.text("\(Fixtures.rsVerify)/cosign.pub"))
        let payload = try Fixtures.bytes("\(Fixtures.rsVerify)/payload.json")
        let signatureText = try Fixtures.text("\(Fixtures.rsVerify)/signature.b64")
        let signature = try #require(Base64.decode(signatureText))
        #expect(key.isValidSignature(signature, for: payload))
        var tampered = payload
        tampered[tampered.count - 3] ^= 0x01
        #expect(!key.isValidSignature(signature, for: tampered))
        var badSignature = signature
        badSignature[badSignature.count - 1] ^= 0x01
        #expect(!key.isValidSignature(badSignature, for: payload))
        #expect(!CosignPrivateKey.generate().publicKey.isValidSignature(signature, for: payload))

        // Through the verifier, as stored in a registry layer.
        let layer = SignatureImage.signatureLayer(payload: payload, signature: signature)
        let verifier = CosignVerifier(key: key, digest: Self.digest, identity: "registry-testing.svc.lan/busybox")
        guard case .verified = verifier.checkSignature(layer.descriptor, payload: payload) else {
            Issue.record("the real signature was rejected")
            return
        }
        let other = CosignVerifier(key: key, digest: try Digest(parsing: "sha256:" + String(repeating: "0", count: 64)), identity: nil)
        guard case .rejected(let why) = other.checkSignature(layer.descriptor, payload: payload) else {
            Issue.record("a payload for another digest was accepted")
            return
        }
        #expect(why.contains("not sha256:0000"))
        let elsewhere = CosignVerifier(key: key, digest: Self.digest, identity: "registry-testing.svc.lan/other")
        guard case .rejected = elsewhere.checkSignature(layer.descriptor, payload: payload) else {
            Issue.record("a payload for another repository was accepted")
            return
        }
    }

    @Test("our ECDSA signature verifies with Python cryptography (no shared code)")
    func independentVerifier() throws {
        guard let python = PythonCryptography.path else {
            print("skipped: \(PythonCryptography.unavailableReason)")
            return
        }
        try TemporaryDirectory.withSync { dir in
            let key = CosignPrivateKey.generate()
            let payload = try SimpleSigningPayload(
                dockerReference: "127.0.0.1:5000/senhas", manifestDigest: Self.digest, optional: ["ci": "true"]
            ).encoded()
            let signature = try key.sign(payload)
            try Data(payload).write(to: URL(fileURLWithPath: dir.file("payload.json")))
            try Data(Base64.encode(signature).utf8).write(to: URL(fileURLWithPath: dir.file("sig.b64")))
            try Data(key.publicKey.pem.utf8).write(to: URL(fileURLWithPath: dir.file("cosign.pub")))
            let result = try CommandRunner.run(python, ["-c", PythonCryptography.verifyScript, dir.path])
            #expect(result.status == 0, "\(result.stdout)\(result.stderr)")
            #expect(result.stdout.contains("OK 127.0.0.1:5000/senhas \(Self.digest) cosign container image signature ci=true"))
            // A tampered payload is refused by the same verifier.
            try Data(payload.dropLast() + Array("x".utf8)).write(to: URL(fileURLWithPath: dir.file("payload.json")))
            let bad = try CommandRunner.run(python, ["-c", PythonCryptography.verifyScript, dir.path])
            #expect(bad.status != 0)
        }
    }

    @Test("DSSE: PAE bytes, envelope round trip, in-toto statement fields")
    func dsse() throws {
        #expect(String(decoding: DSSEEnvelope.pae(type: "http://example.com/HelloWorld", payload: Array("hello world".utf8)), as: UTF8.self)
            == "DSSEv1 29 http://example.com/HelloWorld 11 hello world")
        let key = CosignPrivateKey.generate()
        let statement = try InTotoStatement(
            subjectName: "127.0.0.1:5000/senhas", subjectDigest: Self.digest, predicateType: try PredicateType.resolve("spdxjson"),
            contents: Array(#"{"spdxVersion":"SPDX-2.3"}"#.utf8) + [10], timestamp: BuildClock.rfc3339(0))
        let body = try statement.encoded()
        let object = try #require(try JSONSerialization.jsonObject(with: Data(body)) as? [String: Any])
        #expect(object["_type"] as? String == "https://in-toto.io/Statement/v1")
        #expect(object["predicateType"] as? String == "https://spdx.dev/Document")
        #expect((object["predicate"] as? [String: Any])?["spdxVersion"] as? String == "SPDX-2.3")
        let subject = try #require((object["subject"] as? [[String: Any]])?.first)
        #expect(subject["name"] as? String == "127.0.0.1:5000/senhas")
        #expect((subject["digest"] as? [String: String])?["sha256"] == Self.digest.hex)

        let envelope = try DSSEEnvelope.sign(body, type: DSSEEnvelope.inTotoPayloadType, with: key)
        let parsed = try DSSEEnvelope(parsing: try envelope.encoded())
        #expect(parsed == envelope)
        #expect(parsed.isSigned(by: key.publicKey))
        #expect(!parsed.isSigned(by: CosignPrivateKey.generate().publicKey))
        let layer = SignatureImage.attestationLayer(envelope: try envelope.encoded(), predicateType: statement.predicateType)
        let verifier = CosignVerifier(key: key.publicKey, digest: Self.digest, identity: nil)
        guard case .verified = verifier.checkAttestation(layer.descriptor, envelope: layer.bytes, predicateType: "https://spdx.dev/Document")
        else {
            Issue.record("our attestation was rejected")
            return
        }
        guard case .rejected = verifier.checkAttestation(layer.descriptor, envelope: layer.bytes, predicateType: "https://cyclonedx.org/bom")
        else {
            Issue.record("a predicate type filter was ignored")
            return
        }
        #expect(throws: LaminaError.self) { try PredicateType.resolve("spdxx") }
        let custom = try InTotoStatement(
            subjectName: "x/y", subjectDigest: Self.digest, predicateType: PredicateType.custom, contents: Array("plain text".utf8),
            timestamp: BuildClock.rfc3339(0))
        #expect(String(decoding: try custom.encoded(), as: UTF8.self).hasSuffix(#""predicate":{"Data":"plain text","Timestamp":"1970-01-01T00:00:00Z"}}"#))
    }

    @Test("signing again appends a layer; the same signature is not added twice")
    func appending() throws {
        let first = SignatureImage.signatureLayer(payload: Array("a".utf8), signature: [1])
        let second = SignatureImage.signatureLayer(payload: Array("b".utf8), signature: [2])
        let one = try SignatureImage.appending(first, to: nil)
        let oneManifest = try decodeJSON(Manifest.self, from: one.manifest.bytes, what: "m")
        let two = try SignatureImage.appending(second, to: oneManifest)
        let twoManifest = try decodeJSON(Manifest.self, from: two.manifest.bytes, what: "m")
        #expect(twoManifest.layers.map(\.digest) == [first.descriptor.digest, second.descriptor.digest])
        #expect(twoManifest.layers[1].annotations?[SignatureImage.signatureAnnotation] == "Ag==")
        let again = try SignatureImage.appending(second, to: twoManifest)
        #expect(!again.added && again.manifest.bytes == two.manifest.bytes)
        let config = String(decoding: two.config.bytes, as: UTF8.self)
        #expect(config.contains(first.descriptor.digest.description) && config.contains(second.descriptor.digest.description))
        #expect(SignatureImage.tag(for: Self.digest, .signature) == "sha256-\(Self.digest.hex).sig")
    }
}

/// Python's `cryptography` package: a verifier that shares no code with Lamina.
enum PythonCryptography {
    static let unavailableReason = "python3 with the 'cryptography' package not found (scripts/install-deps puts it in .venv)"
    static let path = CommandRunner.python(withModule: "cryptography")

    /// Verifies DIR/sig.b64 over DIR/payload.json with DIR/cosign.pub and prints the payload's fields.
    static let verifyScript = """
        import base64, json, sys
        from cryptography.hazmat.primitives import hashes, serialization
        from cryptography.hazmat.primitives.asymmetric import ec
        d = sys.argv[1]
        key = serialization.load_pem_public_key(open(d + "/cosign.pub", "rb").read())
        payload = open(d + "/payload.json", "rb").read()
        sig = base64.b64decode(open(d + "/sig.b64").read())
        key.verify(sig, payload, ec.ECDSA(hashes.SHA256()))
        p = json.loads(payload)
        c = p["critical"]
        opt = ",".join(k + "=" + v for k, v in sorted((p["optional"] or {}).items()))
        print("OK", c["identity"]["docker-reference"], c["image"]["docker-manifest-digest"], c["type"], opt)
        """
}
