import Foundation
import LaminaCore

/// apko's lock file (`apko lock`, `<config>.lock.json`): the exact packages a config resolved to,
/// per architecture, so later builds install exactly that set (`--lockfile`).
///
/// Source: apko `pkg/lock/lock.go`; examples in apko's `internal/cli/testdata/*.lock.json`.
public struct ImageLock: Codable, Sendable, Hashable {
    public var version: String
    public var config: ConfigRef?
    public var contents: Contents

    public struct ConfigRef: Codable, Sendable, Hashable {
        public var name: String
        /// `sha256-<base64>` of the raw config bytes.
        public var checksum: String
        public init(name: String, checksum: String) {
            self.name = name
            self.checksum = checksum
        }
    }

    public struct Contents: Codable, Sendable, Hashable {
        public var keyring: [Keyring]
        public var buildRepositories: [Repository]?
        public var runtimeRepositories: [Repository]?
        public var repositories: [Repository]
        public var packages: [Package]

        enum CodingKeys: String, CodingKey {
            case keyring, repositories, packages
            case buildRepositories = "build_repositories"
            case runtimeRepositories = "runtime_repositories"
        }

        public init(keyring: [Keyring], buildRepositories: [Repository]? = [], runtimeRepositories: [Repository]? = [], repositories: [Repository], packages: [Package]) {
            self.keyring = keyring
            self.buildRepositories = buildRepositories
            self.runtimeRepositories = runtimeRepositories
            self.repositories = repositories
            self.packages = packages
        }
    }

    public struct Keyring: Codable, Sendable, Hashable {
        public var name: String
        public var url: String
        public var content: String?
        public init(name: String, url: String, content: String?) {
            self.name = name
            self.url = url
            self.content = content
        }
    }

    public struct Repository: Codable, Sendable, Hashable {
        public var name: String
        public var url: String
        public var architecture: String
        public init(name: String, url: String, architecture: String) {
            self.name = name
            self.url = url
            self.architecture = architecture
        }
    }

    public struct Package: Codable, Sendable, Hashable {
        public var name: String
        public var url: String
        public var version: String
        public var architecture: String
        public var signature: Segment?
        public var control: Segment?
        public var data: Segment?
        /// The `Q1…` identity.
        public var checksum: String

        public init(name: String, url: String, version: String, architecture: String, signature: Segment?, control: Segment?, data: Segment?, checksum: String) {
            self.name = name
            self.url = url
            self.version = version
            self.architecture = architecture
            self.signature = signature
            self.control = control
            self.data = data
            self.checksum = checksum
        }
    }

    /// A gzip segment of an `.apk`: an HTTP byte range and a `sha1-…`/`sha256-…` checksum.
    public struct Segment: Codable, Sendable, Hashable {
        public var range: String
        public var checksum: String
        public init(range: Range<Int64>, checksum: Digest) {
            self.range = "bytes=\(range.lowerBound)-\(range.upperBound - 1)"
            self.checksum = "\(checksum.algorithm.rawValue)-\(checksum.base64)"
        }
    }

    public init(version: String = "v1", config: ConfigRef?, contents: Contents) {
        self.version = version
        self.config = config
        self.contents = contents
    }

    /// `sha256-<base64>` of the exact config bytes, as apko records and checks them.
    public static func configChecksum(_ digest: Digest) -> String { "sha256-" + digest.base64 }

    /// Reads a lock file.
    /// - Throws: `.invalidInput` naming the file when it is not a v1 lock.
    public static func load(path: String) throws -> ImageLock {
        guard let data = FileManager.default.contents(atPath: path) else { throw LaminaError(.notFound, "no such file", subject: path) }
        let lock: ImageLock
        do {
            lock = try decodeJSON(ImageLock.self, from: Array(data), what: path)
        } catch let error as LaminaError {
            throw LaminaError(.invalidInput, "not an apko lock file: \(error.message)", subject: path, cause: error)
        }
        guard lock.version == "v1" else { throw LaminaError(.invalidInput, "unsupported lock version '\(lock.version)' (want v1)", subject: path) }
        return lock
    }

    /// Pretty JSON with two-space indentation, keys in apko's order.
    public func encoded() throws -> [UInt8] {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .withoutEscapingSlashes]
        return Array(try encoder.encode(self)) + [UInt8(ascii: "\n")]
    }
}
