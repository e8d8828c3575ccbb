import LaminaCore
import OCI
import Testing

@Suite struct ReferenceTests {
    struct Case: CustomStringConvertible, Sendable {
        let input: String
        let registry: String
        let repository: String
        let tag: String?
        let familiar: String
        var description: String { input }
    }

    static let hex = "69f0237c7f8cf0b8a329d1bf1d6870c870c4ec323e39d3a6da59596632d0f2f4"

    static let valid: [Case] = [
        Case(input: "alpine", registry: "docker.io", repository: "library/alpine", tag: nil, familiar: "alpine"),
        Case(input: "alpine:3.20", registry: "docker.io", repository: "library/alpine", tag: "3.20", familiar: "alpine:3.20"),
        Case(input: "senhas:1.0.0", registry: "docker.io", repository: "library/senhas", tag: "1.0.0", familiar: "senhas:1.0.0"),
        Case(input: "ns/name:tag", registry: "docker.io", repository: "ns/name", tag: "tag", familiar: "ns/name:tag"),
        Case(input: "docker.io/library/alpine:edge", registry: "docker.io", repository: "library/alpine", tag: "edge",
            familiar: "alpine:edge"),
        Case(input: "docker.io/alpine", registry: "docker.io", repository: "library/alpine", tag: nil, familiar: "alpine"),
        Case(input: "index.docker.io/foo/bar:1", registry: "docker.io", repository: "foo/bar", tag: "1", familiar: "foo/bar:1"),
        Case(input: "docker.io/library/foo/bar", registry: "docker.io", repository: "library/foo/bar", tag: nil,
            familiar: "library/foo/bar"),
        Case(input: "registry:5000/ns/name:tag", registry: "registry:5000", repository: "ns/name", tag: "tag",
            familiar: "registry:5000/ns/name:tag"),
        Case(input: "registry.example/senhas:1.0.0", registry: "registry.example", repository: "senhas", tag: "1.0.0",
            familiar: "registry.example/senhas:1.0.0"),
        Case(input: "localhost/x", registry: "localhost", repository: "x", tag: nil, familiar: "localhost/x"),
        Case(input: "localhost:5000/a/b/c:v1_2-3.4", registry: "localhost:5000", repository: "a/b/c", tag: "v1_2-3.4",
            familiar: "localhost:5000/a/b/c:v1_2-3.4"),
        Case(input: "127.0.0.1:5000/img", registry: "127.0.0.1:5000", repository: "img", tag: nil,
            familiar: "127.0.0.1:5000/img"),
        Case(input: "[::1]:5000/img:t", registry: "[::1]:5000", repository: "img", tag: "t", familiar: "[::1]:5000/img:t"),
        Case(input: "Registry/img", registry: "Registry", repository: "img", tag: nil, familiar: "Registry/img"),
        Case(input: "ab-c__d---e_f/g.h:TAG", registry: "docker.io", repository: "ab-c__d---e_f/g.h", tag: "TAG",
            familiar: "ab-c__d---e_f/g.h:TAG"),
        Case(input: "localhost:5000", registry: "docker.io", repository: "library/localhost", tag: "5000",
            familiar: "localhost:5000"),
        Case(input: "alpine@sha256:\(hex)", registry: "docker.io", repository: "library/alpine", tag: nil,
            familiar: "alpine@sha256:\(hex)"),
        Case(input: "r.io/x:1@sha256:\(hex)", registry: "r.io", repository: "x", tag: "1", familiar: "r.io/x:1@sha256:\(hex)"),
    ]

    @Test(arguments: valid)
    func parses(_ c: Case) throws {
        let reference = try Reference(c.input)
        #expect(reference.registry == c.registry)
        #expect(reference.repository == c.repository)
        #expect(reference.tag == c.tag)
        #expect(reference.familiarDescription == c.familiar)
        #expect(reference.description.hasPrefix("\(c.registry)/\(c.repository)"))
        // Rendering and re-parsing is stable.
        #expect(try Reference(reference.description) == reference)
        #expect(try Reference(reference.familiarDescription) == reference)
    }

    @Test func digestIsTyped() throws {
        let reference = try Reference("ghcr.io/org/app@sha256:\(Self.hex)")
        #expect(reference.digest == (try Digest(.sha256, hex: Self.hex)))
        #expect(reference.tag == nil)
        #expect(reference.defaultingTag == reference)
        #expect(reference.shortName == "app")
        #expect(reference.name == "ghcr.io/org/app")
    }

    static let invalid: [(String, String)] = [
        ("", "empty"),
        ("Alpine", "must be lowercase"),
        ("docker.io/Library/alpine", "must be lowercase"),
        ("alpine:", "tag ''"),
        ("alpine:-x", "tag '-x'"),
        ("alpine:a/b", "not a valid registry"),
        ("alpine:" + String(repeating: "x", count: 129), "tag"),
        ("-alpine", "path component '-alpine'"),
        ("a//b", "path component ''"),
        ("a/b/", "path component ''"),
        ("a..b", "path component 'a..b'"),
        ("a___b", "path component 'a___b'"),
        ("name with space", "path component"),
        (hex, "image ID"),
        ("alpine@sha256:abc", "lowercase hex"),
        ("alpine@sha256:" + hex.uppercased(), "lowercase hex"),
        ("alpine@md5:" + hex, "unsupported digest algorithm"),
        ("alpine@sha1:" + String(hex.prefix(40)), "unsupported digest algorithm"),
        ("alpine@" + hex, "algorithm:hex"),
        ("reg-.io/x", "not a valid registry"),
        ("a.b_c/x", "not a valid registry"),
        ("reg.io:port/x", "not a valid registry"),
        (":tag", "repository name is missing"),
        (String(repeating: "a", count: 256), "longer than 255"),
    ]

    @Test(arguments: invalid)
    func rejects(input: String, why: String) {
        let error = #expect(throws: LaminaError.self) { try Reference(input) }
        #expect(error?.code == .invalidInput)
        #expect(error?.message.contains("'\(input)'") == true, "quotes the reference: \(error?.message ?? "")")
        #expect(error?.message.contains(why) == true, "\(error?.message ?? "") should mention \(why)")
    }

    @Test func derivedReferences() throws {
        let name = try Reference("registry.example/senhas")
        #expect(name.defaultingTag.familiarDescription == "registry.example/senhas:latest")
        #expect(try name.tagged("1.0.0-arm_v7").familiarDescription == "registry.example/senhas:1.0.0-arm_v7")
        #expect(throws: LaminaError.self) { try name.tagged("bad tag") }
        let digest = try Digest(.sha256, hex: Self.hex)
        let pinned = try Reference("senhas:1.0.0").digested(digest)
        #expect(pinned.description == "docker.io/library/senhas:1.0.0@sha256:\(Self.hex)")
        #expect(pinned.repositoryOnly.description == "docker.io/library/senhas")
        #expect(try Reference(registry: "localhost:5000", repository: "a/b", tag: "t").familiarDescription == "localhost:5000/a/b:t")
        #expect(throws: LaminaError.self) { try Reference(registry: "localhost:5000", repository: "A", tag: "t") }
    }

    @Test func validTags() {
        #expect(Reference.isValidTag("latest"))
        #expect(Reference.isValidTag("_x"))
        #expect(Reference.isValidTag(String(repeating: "a", count: 128)))
        #expect(!Reference.isValidTag(String(repeating: "a", count: 129)))
        #expect(!Reference.isValidTag(".x"))
        #expect(!Reference.isValidTag("a+b"))
        #expect(!Reference.isValidTag("é"))
    }
}
