import Foundation
import TestSupport
import Testing

/// A cosign-style client written in Python (`cryptography` + `urllib`), sharing no code with Lamina:
/// `verify REGISTRY REPO DIGEST PUB` checks every signature layer at `sha256-<hex>.sig`;
/// `tamper REGISTRY REPO DIGEST` rewrites the first layer's payload, keeping its signature;
/// `copy REGISTRY REPO FROM TO` puts the signature image of FROM under TO's tag;
/// `sign REGISTRY REPO DIGEST KEYOUT` signs the cosign way with a fresh key and writes its public PEM to KEYOUT.
let cosignInPython = #"""
    import base64, hashlib, json, sys, urllib.request
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    OCI = "application/vnd.oci.image.manifest.v1+json"
    SIG = "dev.cosignproject.cosign/signature"
    def req(method, url, body=None, ctype=None, accept=None):
        r = urllib.request.Request(url, data=body, method=method)
        if ctype: r.add_header("Content-Type", ctype)
        if accept: r.add_header("Accept", accept)
        with urllib.request.urlopen(r) as resp:
            return resp.read(), resp.headers
    def base(registry, repo): return "http://%s/v2/%s/" % (registry, repo)
    def tag(digest): return digest.replace(":", "-") + ".sig"
    def put_blob(registry, repo, data):
        d = "sha256:" + hashlib.sha256(data).hexdigest()
        _, h = req("POST", base(registry, repo) + "blobs/uploads/")
        loc = h["Location"]
        if loc.startswith("/"): loc = "http://" + registry + loc
        req("PUT", loc + ("&" if "?" in loc else "?") + "digest=" + d, data, "application/octet-stream")
        return {"digest": d, "size": len(data)}
    def put_manifest(registry, repo, ref, manifest):
        req("PUT", base(registry, repo) + "manifests/" + ref, json.dumps(manifest).encode(), OCI)
    def get_manifest(registry, repo, ref):
        return json.loads(req("GET", base(registry, repo) + "manifests/" + ref, accept=OCI)[0])
    cmd, registry, repo = sys.argv[1:4]
    if cmd == "verify":
        digest, pub = sys.argv[4:6]
        key = serialization.load_pem_public_key(open(pub, "rb").read())
        m = get_manifest(registry, repo, tag(digest))
        for layer in m["layers"]:
            assert layer["mediaType"] == "application/vnd.dev.cosign.simplesigning.v1+json", layer
            blob = req("GET", base(registry, repo) + "blobs/" + layer["digest"])[0]
            assert "sha256:" + hashlib.sha256(blob).hexdigest() == layer["digest"]
            key.verify(base64.b64decode(layer["annotations"][SIG]), blob, ec.ECDSA(hashes.SHA256()))
            c = json.loads(blob)["critical"]
            assert c["image"]["docker-manifest-digest"] == digest, c
            assert c["identity"]["docker-reference"] == registry + "/" + repo, c
            assert c["type"] == "cosign container image signature", c
        print("VERIFIED", len(m["layers"]), json.dumps([json.loads(req("GET", base(registry, repo) + "blobs/" + l["digest"])[0]).get("optional") for l in m["layers"]]))
    elif cmd == "tamper":
        digest = sys.argv[4]
        m = get_manifest(registry, repo, tag(digest))
        layer = m["layers"][0]
        payload = json.loads(req("GET", base(registry, repo) + "blobs/" + layer["digest"])[0])
        payload["optional"] = {"tampered": "yes"}
        layer.update(put_blob(registry, repo, json.dumps(payload, separators=(",", ":")).encode()))
        put_manifest(registry, repo, tag(digest), m)
        print("TAMPERED")
    elif cmd == "copy":
        source, target = sys.argv[4:6]
        put_manifest(registry, repo, tag(target), get_manifest(registry, repo, tag(source)))
        print("COPIED")
    elif cmd == "sign":
        digest, keyout = sys.argv[4:6]
        key = ec.generate_private_key(ec.SECP256R1())
        open(keyout, "wb").write(key.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo))
        payload = json.dumps({"critical": {"identity": {"docker-reference": registry + "/" + repo},
            "image": {"docker-manifest-digest": digest}, "type": "cosign container image signature"},
            "optional": None}, separators=(",", ":")).encode()
        sig = base64.b64encode(key.sign(payload, ec.ECDSA(hashes.SHA256()))).decode()
        layer = put_blob(registry, repo, payload)
        layer.update({"mediaType": "application/vnd.dev.cosign.simplesigning.v1+json", "annotations": {SIG: sig}})
        config = put_blob(registry, repo, json.dumps({"architecture": "", "os": "", "rootfs": {"type": "layers", "diff_ids": [layer["digest"]]}, "config": {}}).encode())
        config["mediaType"] = "application/vnd.oci.image.config.v1+json"
        put_manifest(registry, repo, tag(digest), {"schemaVersion": 2, "mediaType": OCI, "config": config, "layers": [layer]})
        print("SIGNED")
    """#

extension EndToEnd {
    /// `lamina image sign/attest/verify` against a real `docker-registry`, cross-checked by a Python cosign client.
    @Suite(
        .serialized,
        .enabled(if: RegistryDaemon.isAvailable, "\(RegistryDaemon.unavailableReason)"),
        .enabled(if: CommandRunner.python(withModule: "cryptography") != nil, "python3 with 'cryptography' not found"),
        RegistryScope())
    struct RegistrySigning {
        let python = CommandRunner.python(withModule: "cryptography") ?? "python3"

        func lamina(_ arguments: [String], password: String = "s3cret") throws -> CommandResult {
            try CommandRunner.lamina(arguments, environment: ["COSIGN_PASSWORD": password, "SOURCE_DATE_EPOCH": fixtureEpoch])
        }

        func cosignPy(_ arguments: [String]) throws -> CommandResult {
            try CommandRunner.run(python, ["-c", cosignInPython] + arguments)
        }

        @Test func signAttestVerifyAndRefuseTampering() throws {
            let images = try sharedImages()
            let registry = try #require(RegistryScope.registry)
            let work = images.fixture.work + "/signing"
            try FileManager.default.createDirectory(atPath: work, withIntermediateDirectories: true)
            let repo = "lamina-sign/multi"
            let reference = "\(registry.address)/\(repo):1"
            let pushed = try check(try lamina(["image", "push", images.multi, reference, "--json"]), "push")
            let root = try #require((try json(pushed.stdout) as? [String: Any])?["digest"] as? String)
            let index = try #require(try json(try readMember(images.multi, "blobs/sha256/" + root.dropFirst(7))) as? [String: Any])
            let children = (index["manifests"] as? [[String: Any]] ?? []).compactMap { $0["digest"] as? String }
            #expect(children.count == 3)

            try check(try lamina(["image", "keygen", "--output-key-prefix", "\(work)/cosign"]), "keygen")
            let key = "\(work)/cosign.key"
            let pub = "\(work)/cosign.pub"
            #expect(try String(contentsOfFile: key, encoding: .utf8).hasPrefix("-----BEGIN ENCRYPTED SIGSTORE PRIVATE KEY-----"))
            #expect((try FileManager.default.attributesOfItem(atPath: key)[.posixPermissions] as? Int) == 0o600)

            // Sign the index and every manifest: four signature images.
            let signed = try check(
                try lamina(["image", "sign", "--key", key, "--recursive", "--tlog-upload=false", "-a", "ci=true", reference]), "sign")
            #expect(signed.stdout.split(separator: "\n").count == 4)
            #expect(signed.stdout.contains("\(registry.address)/\(repo):sha256-\(root.dropFirst(7)).sig"))
            #expect(!signed.stderr.contains("warning"), "--tlog-upload=false says nothing: \(signed.stderr)")

            // An independent verifier accepts every one of them, payload field by field.
            for digest in [root] + children {
                let verified = try check(try cosignPy(["verify", registry.address, repo, digest, pub]), "python verify \(digest)")
                #expect(verified.stdout == "VERIFIED 1 [{\"ci\": \"true\"}]\n")
            }

            // lamina verifies, prints the payloads, and checks -a claims.
            let verify = try check(try lamina(["image", "verify", "--key", pub, "-a", "ci=true", reference]), "verify")
            let payloads = try #require(try json(verify.stdout) as? [[String: Any]])
            #expect(payloads.count == 1)
            let critical = try #require(payloads.first?["critical"] as? [String: Any])
            #expect((critical["image"] as? [String: Any])?["docker-manifest-digest"] as? String == root)
            #expect((critical["identity"] as? [String: Any])?["docker-reference"] as? String == "\(registry.address)/\(repo)")
            let wrongClaim = try lamina(["image", "verify", "--key", pub, "-a", "ci=false", reference])
            #expect(wrongClaim.status == 1 && wrongClaim.stderr.contains("annotation ci=false"), "\(wrongClaim.stderr)")

            // Signing again appends: two signatures, both verify independently.
            try check(try lamina(["image", "sign", "--key", key, "--tlog-upload=false", "\(registry.address)/\(repo)@\(root)"]), "sign again")
            let twice = try check(try cosignPy(["verify", registry.address, repo, root, pub]), "python verify twice")
            #expect(twice.stdout == "VERIFIED 2 [{\"ci\": \"true\"}, null]\n")

            // Another key is refused.
            try check(try lamina(["image", "keygen", "--output-key-prefix", "\(work)/other"], password: ""), "keygen other")
            let otherKey = try lamina(["image", "verify", "--key", "\(work)/other.pub", reference])
            #expect(otherKey.status == 1 && otherKey.stderr.contains("does not verify"), "\(otherKey.stderr)")

            // A tampered payload (signature kept) is refused.
            let victim = children[0]
            try check(try cosignPy(["tamper", registry.address, repo, victim]), "tamper")
            let tampered = try lamina(["image", "verify", "--key", pub, "\(registry.address)/\(repo)@\(victim)"])
            #expect(tampered.status == 1 && tampered.stderr.contains("does not verify"), "\(tampered.stderr)")
            #expect(tampered.stdout.isEmpty)

            // A valid signature of another digest, copied under this digest's tag, is refused.
            let moved = children[1]
            try check(try cosignPy(["copy", registry.address, repo, root, moved]), "copy")
            let wrongDigest = try lamina(["image", "verify", "--key", pub, "\(registry.address)/\(repo)@\(moved)"])
            #expect(wrongDigest.status == 1 && wrongDigest.stderr.contains("the payload is for \(root)"), "\(wrongDigest.stderr)")

            // Attest each architecture's SBOM; verify by type.
            let sbom = (images.multi as NSString).deletingLastPathComponent + "/sbom-x86_64.spdx.json"
            try check(
                try lamina(["image", "attest", "--key", key, "--tlog-upload=false", "--predicate", sbom, "--type", "spdxjson", reference]),
                "attest")
            let attestations = try check(
                try lamina(["image", "verify-attestation", "--key", pub, "--type", "spdxjson", reference]), "verify-attestation")
            let envelope = try #require(try json(String(attestations.stdout.split(separator: "\n")[0])) as? [String: Any])
            #expect(envelope["payloadType"] as? String == "application/vnd.in-toto+json")
            let statementBytes = try #require(Data(base64Encoded: envelope["payload"] as? String ?? ""))
            let statement = try #require(try JSONSerialization.jsonObject(with: statementBytes) as? [String: Any])
            #expect(statement["predicateType"] as? String == "https://spdx.dev/Document")
            #expect(((statement["subject"] as? [[String: Any]])?.first?["digest"] as? [String: String])?["sha256"] == String(root.dropFirst(7)))
            #expect((statement["predicate"] as? [String: Any])?["spdxVersion"] as? String == "SPDX-2.3")
            let wrongType = try lamina(["image", "verify-attestation", "--key", pub, "--type", "cyclonedx", reference])
            #expect(wrongType.status == 1 && wrongType.stderr.contains("predicate type"), "\(wrongType.stderr)")
        }

        /// cosign's environment: COSIGN_REPOSITORY stores signatures in another repository, COSIGN_DOCKER_MEDIA_TYPES
        /// writes them with Docker's media types; verification looks where the same environment says.
        @Test func cosignRepositoryAndDockerMediaTypesFromTheEnvironment() throws {
            let images = try sharedImages()
            let registry = try #require(RegistryScope.registry)
            let work = images.fixture.work + "/signing-environment"
            try FileManager.default.createDirectory(atPath: work, withIntermediateDirectories: true)
            let reference = "\(registry.address)/lamina-sign/env:1"
            let pushed = try check(try lamina(["image", "push", images.single, reference, "--json"]), "push")
            let digest = try #require((try json(pushed.stdout) as? [String: Any])?["digest"] as? String)
            try check(try lamina(["image", "keygen", "--output-key-prefix", "\(work)/cosign"]), "keygen")
            var environment = ["COSIGN_PASSWORD": "s3cret", "COSIGN_REPOSITORY": "\(registry.address)/lamina-sign/signatures",
                               "COSIGN_DOCKER_MEDIA_TYPES": "1"]
            try check(
                try CommandRunner.lamina(
                    ["cosign", "sign", "--key", "\(work)/cosign.key", "--tlog-upload=false", "-y", reference], environment: environment),
                "sign")
            let tag = "\(registry.address)/lamina-sign/signatures:" + digest.replacingOccurrences(of: ":", with: "-") + ".sig"
            let raw = try check(try runTool("skopeo", ["inspect", "--tls-verify=false", "--raw", "docker://" + tag]), "skopeo inspect")
            let manifest = try #require(try json(raw.stdout) as? [String: Any])
            #expect(manifest["mediaType"] as? String == "application/vnd.docker.distribution.manifest.v2+json")
            #expect((manifest["config"] as? [String: Any])?["mediaType"] as? String == "application/vnd.docker.container.image.v1+json")
            try check(
                try CommandRunner.lamina(["cosign", "verify", "--key", "\(work)/cosign.pub", reference], environment: environment),
                "verify in COSIGN_REPOSITORY")
            let elsewhere = try lamina(["image", "verify", "--key", "\(work)/cosign.pub", reference])
            #expect(elsewhere.status == 1 && elsewhere.stderr.contains("no signatures found"), "\(elsewhere.stderr)")
            environment["COSIGN_REPOSITORY"] = "other.example/signatures"
            let foreign = try CommandRunner.lamina(["cosign", "verify", "--key", "\(work)/cosign.pub", reference], environment: environment)
            #expect(foreign.status != 0 && foreign.stderr.contains("COSIGN_REPOSITORY"), "\(foreign.stderr)")
        }

        /// `cosign attach sbom` stores the file as cosign does (media type from --type and the file's format);
        /// `cosign download` prints what is stored: the SBOM byte for byte, signatures as cosign's JSON lines.
        @Test func cosignAttachAndDownload() throws {
            let images = try sharedImages()
            let registry = try #require(RegistryScope.registry)
            let work = images.fixture.work + "/signing-attach"
            try FileManager.default.createDirectory(atPath: work, withIntermediateDirectories: true)
            let reference = "\(registry.address)/lamina-sign/attach:1"
            let pushed = try check(try lamina(["image", "push", images.single, reference, "--json"]), "push")
            let digest = try #require((try json(pushed.stdout) as? [String: Any])?["digest"] as? String)
            let missing = try lamina(["cosign", "download", "sbom", reference])
            #expect(missing.status != 0 && missing.stderr.contains("no sbom attached to \(digest)"), "\(missing.stderr)")

            let xml = work + "/bom.xml"
            let bom = "<?xml version=\"1.0\"?>\n<bom xmlns=\"http://cyclonedx.org/schema/bom/1.5\" version=\"1\"/>\n"
            try bom.write(toFile: xml, atomically: true, encoding: .utf8)
            try check(try lamina(["cosign", "attach", "sbom", "--sbom", xml, "--type", "cyclonedx", reference]), "attach sbom")
            let tag = "\(registry.address)/lamina-sign/attach:" + digest.replacingOccurrences(of: ":", with: "-") + ".sbom"
            let raw = try check(try runTool("skopeo", ["inspect", "--tls-verify=false", "--raw", "docker://" + tag]), "skopeo inspect")
            let layers = try #require((try json(raw.stdout) as? [String: Any])?["layers"] as? [[String: Any]])
            #expect(layers.count == 1 && layers.first?["mediaType"] as? String == "application/vnd.cyclonedx+xml", "\(layers)")
            let downloaded = try check(try lamina(["cosign", "download", "sbom", reference]), "download sbom")
            #expect(downloaded.stdout == bom)

            try check(try lamina(["image", "keygen", "--output-key-prefix", "\(work)/cosign"]), "keygen")
            try check(try lamina(["cosign", "sign", "--key", "\(work)/cosign.key", "--tlog-upload=false", "-y", reference]), "sign")
            let signatures = try check(try lamina(["cosign", "download", "signature", reference]), "download signature")
            let record = try #require(try json(signatures.stdout) as? [String: Any])
            let payload = try #require(Data(base64Encoded: record["Payload"] as? String ?? ""))
            let critical = try #require((try JSONSerialization.jsonObject(with: payload) as? [String: Any])?["critical"] as? [String: Any])
            #expect((critical["image"] as? [String: Any])?["docker-manifest-digest"] as? String == digest)
            #expect(!(record["Base64Signature"] as? String ?? "").isEmpty)
        }

        @Test func cosignWaySignatureVerifiesAndUnsignedImageIsRefused() throws {
            let images = try sharedImages()
            let registry = try #require(RegistryScope.registry)
            let work = images.fixture.work + "/signing-foreign"
            try FileManager.default.createDirectory(atPath: work, withIntermediateDirectories: true)
            let repo = "lamina-sign/single"
            let reference = "\(registry.address)/\(repo):1"
            let pushed = try check(try lamina(["image", "push", images.single, reference, "--json"]), "push")
            let digest = try #require((try json(pushed.stdout) as? [String: Any])?["digest"] as? String)
            try check(try lamina(["image", "keygen", "--output-key-prefix", "\(work)/cosign"]), "keygen")

            let unsigned = try lamina(["image", "verify", "--key", "\(work)/cosign.pub", reference])
            #expect(unsigned.status == 1)
            #expect(unsigned.stderr.contains("no signatures found for \(digest)"), "\(unsigned.stderr)")

            try check(try cosignPy(["sign", registry.address, repo, digest, "\(work)/python.pub"]), "python sign")
            let verified = try check(try lamina(["image", "verify", "--key", "\(work)/python.pub", reference]), "verify python's")
            #expect(verified.stdout.contains("\"docker-manifest-digest\":\"\(digest)\""))
            let wrongKey = try lamina(["image", "verify", "--key", "\(work)/cosign.pub", reference])
            #expect(wrongKey.status == 1)
        }

        @Test func signBlobRoundTripAndTamperedFile() throws {
            let images = try sharedImages()
            let work = images.fixture.work + "/signing-blob"
            try FileManager.default.createDirectory(atPath: work, withIntermediateDirectories: true)
            try check(try lamina(["image", "keygen", "--output-key-prefix", "\(work)/cosign"]), "keygen")
            let file = (images.single as NSString).deletingLastPathComponent + "/sbom-x86_64.spdx.json"
            let signature = try check(try lamina(["image", "sign-blob", "--key", "\(work)/cosign.key", file]), "sign-blob")
            try signature.stdout.write(toFile: "\(work)/sbom.sig", atomically: true, encoding: .utf8)
            try check(
                try lamina(["image", "verify-blob", "--key", "\(work)/cosign.pub", "--signature", "\(work)/sbom.sig", file]), "verify-blob")
            // openssl agrees (ECDSA over SHA-256, DER signature).
            let der = try #require(Data(base64Encoded: signature.stdout.trimmingCharacters(in: .whitespacesAndNewlines)))
            try der.write(to: URL(fileURLWithPath: "\(work)/sbom.der"))
            try check(
                try CommandRunner.run(
                    "/usr/bin/openssl", ["dgst", "-sha256", "-verify", "\(work)/cosign.pub", "-signature", "\(work)/sbom.der", file]),
                "openssl dgst -verify")
            try (try String(contentsOfFile: file, encoding: .utf8) + " ").write(toFile: "\(work)/changed.json", atomically: true, encoding: .utf8)
            let bad = try lamina(["image", "verify-blob", "--key", "\(work)/cosign.pub", "--signature", "\(work)/sbom.sig", "\(work)/changed.json"])
            #expect(bad.status == 1 && bad.stderr.contains("does not verify"), "\(bad.stderr)")
        }

        @Test func publishSignsEveryManifestAndAttestsEachSBOM() throws {
            let images = try sharedImages()
            let registry = try #require(RegistryScope.registry)
            let work = images.fixture.work
            try check(try lamina(["image", "keygen", "--output-key-prefix", "\(work)/publish-cosign"]), "keygen")
            let repo = "lamina-sign/published"
            let published = try check(
                try lamina([
                    "image", "publish", "\(work)/multi/apko.yaml", "\(registry.address)/\(repo):3", "--cache-dir", "\(work)/cache-a",
                    "--offline", "--sign-key", "\(work)/publish-cosign.key", "--attest-sbom", "--attach-sbom", "--json",
                ]), "publish --sign-key --attest-sbom --attach-sbom")
            let output = try #require(try json(published.stdout) as? [String: Any])
            let root = try #require(output["digest"] as? String)
            let signatures = try #require(output["signatures"] as? [String])
            #expect(signatures.filter { $0.hasSuffix(".sig") }.count == 4)
            #expect(signatures.filter { $0.hasSuffix(".att") }.count == 3)
            // Each manifest's SBOM and the index's, attached as cosign attach sbom does.
            let sboms = try #require(output["sboms"] as? [String])
            #expect(sboms.count == 4 && sboms.contains("\(registry.address)/\(repo):\(root.replacingOccurrences(of: ":", with: "-")).sbom"))
            let index = try #require(try json(try readMember(images.multi, "blobs/sha256/" + root.dropFirst(7))) as? [String: Any])
            let children = (index["manifests"] as? [[String: Any]] ?? []).compactMap { $0["digest"] as? String }
            for digest in [root] + children {
                try check(try cosignPy(["verify", registry.address, repo, digest, "\(work)/publish-cosign.pub"]), "python verify \(digest)")
            }
            for digest in children {
                let ref = "\(registry.address)/\(repo)@\(digest)"
                try check(try lamina(["image", "verify", "--key", "\(work)/publish-cosign.pub", ref]), "verify \(digest)")
                let attested = try check(
                    try lamina(["image", "verify-attestation", "--key", "\(work)/publish-cosign.pub", "--type", "spdxjson", ref]),
                    "verify-attestation \(digest)")
                #expect(attested.stdout.split(separator: "\n").count == 1)
            }
        }

        @Test func signedLayoutVerifiesOfflineAndStillPushesTheSameDigest() throws {
            let images = try sharedImages()
            let registry = try #require(RegistryScope.registry)
            let work = images.fixture.work + "/signing-offline"
            let layout = work + "/layout"
            try FileManager.default.createDirectory(atPath: work, withIntermediateDirectories: true)
            try FileManager.default.copyItem(atPath: images.layout, toPath: layout)
            try check(try lamina(["image", "keygen", "--output-key-prefix", "\(work)/cosign"]), "keygen")
            let unsigned = try lamina(["image", "verify", "--offline", "--key", "\(work)/cosign.pub", layout])
            #expect(unsigned.status == 1 && unsigned.stderr.contains("no signatures found"), "\(unsigned.stderr)")

            try check(try lamina(["image", "sign", "--key", "\(work)/cosign.key", "--tlog-upload=false", layout]), "sign layout")
            let index = try #require(try json(file: layout + "/index.json") as? [String: Any])
            let kinds = (index["manifests"] as? [[String: Any]] ?? []).compactMap { ($0["annotations"] as? [String: String])?["kind"] }
            #expect(kinds == ["dev.cosignproject.cosign/sigs"])
            let verified = try check(try lamina(["image", "verify", "--offline", "--key", "\(work)/cosign.pub", layout]), "verify layout")
            #expect(verified.stdout.hasPrefix("[{\"critical\""))

            // The same layout as a tarball verifies too; another key does not.
            try check(try CommandRunner.run("/bin/tar", ["-C", layout, "-cf", "\(work)/signed.tar", "."]), "tar")
            try check(try lamina(["image", "verify", "--offline", "--key", "\(work)/cosign.pub", "\(work)/signed.tar"]), "verify tarball")
            try check(try lamina(["image", "keygen", "--output-key-prefix", "\(work)/other"]), "keygen other")
            let other = try lamina(["image", "verify", "--offline", "--key", "\(work)/other.pub", "\(work)/signed.tar"])
            #expect(other.status == 1 && other.stderr.contains("does not verify"), "\(other.stderr)")

            // Pushing the signed layout publishes the image, not the signature image.
            let plain = try check(try lamina(["image", "push", images.layout, "\(registry.address)/lamina-sign/layout:a", "--json"]), "push")
            let signed = try check(try lamina(["image", "push", layout, "\(registry.address)/lamina-sign/layout:b", "--json"]), "push signed")
            #expect((try json(plain.stdout) as? [String: Any])?["digest"] as? String == (try json(signed.stdout) as? [String: Any])?["digest"] as? String)
        }
    }
}
