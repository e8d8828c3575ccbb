// Source: the reference grammar of distribution/reference (`reference.go`, `normalize.go`), which docker uses
// for `docker pull`, `docker tag` and the `RepoTags` of `docker load`.

import LaminaCore

/// An image reference: `[registry/]repository[:tag][@digest]`, parsed and normalised as docker does.
///
/// `alpine` becomes registry `docker.io`, repository `library/alpine`; `index.docker.io` is read as
/// `docker.io`. The first path component is a registry when it contains `.` or `:`, is `localhost`, or has
/// upper-case letters (docker's rule). No default tag is added: use ``defaultingTag`` for `:latest`.
public struct Reference: Hashable, Sendable, CustomStringConvertible {
    /// Docker Hub's canonical registry name.
    public static let dockerHub = "docker.io"

    /// `docker.io`, `localhost`, `registry:5000`, `[::1]:5000`.
    public let registry: String
    /// The path within the registry: `library/alpine`, `ns/name`.
    public let repository: String
    /// The tag (`1.0.0`), if any.
    public let tag: String?
    /// The digest (`sha256:…`), if any.
    public let digest: Digest?

    /// Parses and normalises a reference.
    /// - Throws: `LaminaError(.invalidInput)` quoting the reference and saying which part is wrong.
    public init(_ text: String) throws {
        func fail(_ why: String) -> LaminaError {
            LaminaError(.invalidInput, "invalid image reference '\(text)': \(why)")
        }
        guard !text.isEmpty else { throw fail("it is empty") }
        if text.utf8.count == 64, text.utf8.allSatisfy(Self.isLowerHex) {
            throw fail("a 64-character hexadecimal string is an image ID, not a repository name")
        }

        var rest = Substring(text)
        var digest: Digest?
        if let at = rest.firstIndex(of: "@") {
            digest = try Self.parseDigest(rest[rest.index(after: at)...], fail: fail)
            rest = rest[..<at]
        }
        var tag: String?
        if let colon = rest.lastIndex(of: ":"), !rest[colon...].contains("/") {
            let tagText = String(rest[rest.index(after: colon)...])
            guard Self.isValidTag(tagText) else {
                throw fail("tag '\(tagText)' must be 1-128 of A-Z a-z 0-9 _ . - and not start with . or -")
            }
            tag = tagText
            rest = rest[..<colon]
        }
        guard !rest.isEmpty else { throw fail("the repository name is missing") }
        guard rest.utf8.count <= 255 else { throw fail("the repository name is longer than 255 characters") }

        var registry = Self.dockerHub
        var path = rest
        if let slash = rest.firstIndex(of: "/") {
            let first = rest[..<slash]
            if first.contains(".") || first.contains(":") || first == "localhost" || first.lowercased() != first {
                registry = String(first)
                path = rest[rest.index(after: slash)...]
            }
        }
        if registry == "index.docker.io" { registry = Self.dockerHub }
        guard Self.isValidRegistry(registry) else { throw fail("'\(registry)' is not a valid registry host[:port]") }
        var repository = String(path)
        if registry == Self.dockerHub, !repository.contains("/") { repository = "library/" + repository }
        try Self.validateRepository(repository, fail: fail)

        self.registry = registry
        self.repository = repository
        self.tag = tag
        self.digest = digest
    }

    /// Builds a reference from parts, validating each.
    /// - Throws: `LaminaError(.invalidInput)` for an invalid registry, repository or tag.
    public init(registry: String = Reference.dockerHub, repository: String, tag: String? = nil, digest: Digest? = nil)
        throws
    {
        var text = registry + "/" + repository
        if let tag { text += ":" + tag }
        if let digest { text += "@" + digest.description }
        self = try Reference(text)
    }

    // MARK: Renderings

    /// `registry/repository`: `docker.io/library/alpine`.
    public var name: String { "\(registry)/\(repository)" }

    /// Docker's short form of the name: `alpine`, `ns/name`, `registry:5000/ns/name`.
    public var familiarName: String {
        guard registry == Self.dockerHub else { return name }
        if repository.hasPrefix("library/"), !repository.dropFirst("library/".count).contains("/") {
            return String(repository.dropFirst("library/".count))
        }
        return repository
    }

    /// The fully qualified reference: `docker.io/library/alpine:3.20@sha256:…`.
    public var description: String { name + suffix }

    /// Docker's short form: `alpine:3.20`, `registry:5000/ns/name:tag`. This is what `docker images` shows
    /// and what `docker save` writes into `RepoTags`.
    public var familiarDescription: String { familiarName + suffix }

    private var suffix: String {
        (tag.map { ":" + $0 } ?? "") + (digest.map { "@" + $0.description } ?? "")
    }

    /// The last path component: `alpine` for `docker.io/library/alpine` (apko's purl name).
    public var shortName: String { String(repository.split(separator: "/").last ?? Substring(repository)) }

    // MARK: Derived references

    /// The same repository with another tag (the digest is dropped).
    /// - Throws: `LaminaError(.invalidInput)` when the tag is not a valid docker tag.
    public func tagged(_ tag: String) throws -> Reference {
        guard Self.isValidTag(tag) else {
            throw LaminaError(
                .invalidInput, "invalid tag '\(tag)' for '\(familiarName)': want 1-128 of A-Z a-z 0-9 _ . -, "
                    + "not starting with . or -")
        }
        return Reference(registry: registry, repository: repository, tag: tag, digest: nil, validated: ())
    }

    /// The same repository pinned to a digest (the tag is kept, as `name:tag@digest`).
    public func digested(_ digest: Digest) -> Reference {
        Reference(registry: registry, repository: repository, tag: tag, digest: digest, validated: ())
    }

    /// The repository alone, without tag or digest.
    public var repositoryOnly: Reference {
        Reference(registry: registry, repository: repository, tag: nil, digest: nil, validated: ())
    }

    /// `:latest` added when the reference has neither tag nor digest (docker's `TagNameOnly`).
    public var defaultingTag: Reference {
        tag == nil && digest == nil
            ? Reference(registry: registry, repository: repository, tag: "latest", digest: nil, validated: ())
            : self
    }

    private init(registry: String, repository: String, tag: String?, digest: Digest?, validated: Void) {
        self.registry = registry
        self.repository = repository
        self.tag = tag
        self.digest = digest
    }

    // MARK: Grammar

    /// Whether `text` is a valid docker tag: `[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}`.
    public static func isValidTag(_ text: String) -> Bool {
        let bytes = Array(text.utf8)
        guard let first = bytes.first, bytes.count <= 128, isWord(first) else { return false }
        return bytes.dropFirst().allSatisfy { isWord($0) || $0 == UInt8(ascii: ".") || $0 == UInt8(ascii: "-") }
    }

    private static func isWord(_ c: UInt8) -> Bool { isAlnum(c) || c == UInt8(ascii: "_") }
    private static func isAlnum(_ c: UInt8) -> Bool { isLowerAlnum(c) || (c >= 65 && c <= 90) }
    private static func isLowerAlnum(_ c: UInt8) -> Bool { (c >= 48 && c <= 57) || (c >= 97 && c <= 122) }
    private static func isLowerHex(_ c: UInt8) -> Bool { (c >= 48 && c <= 57) || (c >= 97 && c <= 102) }

    /// `component(/component)*` with `component = [a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*`.
    private static func validateRepository(_ repository: String, fail: (String) -> LaminaError) throws {
        if repository.contains(where: \.isUppercase) {
            throw fail("repository name '\(repository)' must be lowercase")
        }
        for component in repository.split(separator: "/", omittingEmptySubsequences: false) {
            let bytes = Array(component.utf8)
            var valid = !bytes.isEmpty && isLowerAlnum(bytes[0]) && isLowerAlnum(bytes[bytes.count - 1])
            var index = 0
            while valid && index < bytes.count {
                if isLowerAlnum(bytes[index]) {
                    index += 1
                    continue
                }
                // A separator run: ".", "_", "__" or one or more "-".
                var end = index
                while end < bytes.count && !isLowerAlnum(bytes[end]) { end += 1 }
                let separator = String(decoding: bytes[index..<end], as: UTF8.self)
                valid = separator == "." || separator == "_" || separator == "__" || separator.allSatisfy { $0 == "-" }
                index = end
            }
            guard valid else {
                throw fail(
                    "path component '\(component)' must be lowercase letters and digits, separated by "
                        + "'.', '_', '__' or '-'")
            }
        }
    }

    /// `host[:port]`, host a DNS name, an IPv4 address or a bracketed IPv6 address.
    private static func isValidRegistry(_ registry: String) -> Bool {
        var host = Substring(registry)
        if host.hasPrefix("[") {
            guard let close = host.firstIndex(of: "]") else { return false }
            let inner = host[host.index(after: host.startIndex)..<close]
            guard !inner.isEmpty, inner.allSatisfy({ $0.isHexDigit || $0 == ":" || $0 == "." }) else { return false }
            host = host[host.index(after: close)...]
            if host.isEmpty { return true }
            guard host.hasPrefix(":") else { return false }
            let port = host.dropFirst()
            return !port.isEmpty && port.allSatisfy(\.isASCIIDigit)
        }
        if let colon = host.lastIndex(of: ":") {
            let port = host[host.index(after: colon)...]
            guard !port.isEmpty, port.allSatisfy(\.isASCIIDigit) else { return false }
            host = host[..<colon]
        }
        guard !host.isEmpty else { return false }
        for label in host.split(separator: ".", omittingEmptySubsequences: false) {
            guard let first = label.first, let last = label.last, first.isASCIIAlnum, last.isASCIIAlnum,
                label.allSatisfy({ $0.isASCIIAlnum || $0 == "-" })
            else { return false }
        }
        return true
    }

    private static func parseDigest(_ text: Substring, fail: (String) -> LaminaError) throws -> Digest {
        guard let colon = text.firstIndex(of: ":") else { throw fail("digest '\(text)' must be algorithm:hex") }
        let algorithm = text[..<colon]
        let hex = text[text.index(after: colon)...]
        guard let known = Digest.Algorithm(rawValue: String(algorithm)), known != .sha1 else {
            throw fail("unsupported digest algorithm '\(algorithm)' (want sha256 or sha512)")
        }
        guard hex.utf8.count == known.byteCount * 2, hex.utf8.allSatisfy(isLowerHex) else {
            throw fail("digest must be \(algorithm): followed by \(known.byteCount * 2) lowercase hex digits")
        }
        return try Digest(known, hex: String(hex))
    }
}

extension Character {
    fileprivate var isASCIIDigit: Bool { isASCII && isNumber }
    fileprivate var isASCIIAlnum: Bool { isASCII && (isLetter || isNumber) }
}
