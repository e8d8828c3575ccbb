import APK
import Archive
import Foundation
import LaminaCore

/// The one RSA key the tests sign with: generating keys is slow, so a test process makes it once.
public enum TestKey {
    /// A 2048-bit key named `lamina-test.rsa.pub`.
    public static let shared: SigningKey = {
        do {
            return try SigningKey.generate(bits: 2048, keyName: "lamina-test.rsa.pub")
        } catch {
            fatalError("cannot generate the test signing key: \(error)")
        }
    }()

    /// A second key, trusted by nothing (made once per process, like ``shared``), here named `keyName`: an
    /// impostor under a trusted key's name, or a stranger.
    public static func stranger(named keyName: String) -> SigningKey {
        var key = strangerKey
        key.keyName = keyName
        return key
    }

    private static let strangerKey: SigningKey = {
        do {
            return try SigningKey.generate(bits: 2048, keyName: "stranger.rsa.pub")
        } catch {
            fatalError("cannot generate the stranger test key: \(error)")
        }
    }()

    /// Writes ``shared`` as `lamina-test.rsa` (PKCS#1 PEM) and `lamina-test.rsa.pub` into `directory`.
    public static func writePair(in directory: String) throws -> (privateKey: String, publicKey: String) {
        let privateKey = directory + "/lamina-test.rsa"
        let publicKey = privateKey + ".pub"
        try AtomicFileSink.write(Array(shared.pkcs1PEM.utf8), to: privateKey, mode: 0o600)
        try AtomicFileSink.write(Array(shared.publicKey.pem.utf8), to: publicKey)
        return (privateKey, publicKey)
    }

    /// A keyring trusting ``shared``.
    public static var keyring: Keyring {
        var ring = Keyring()
        do {
            try ring.add(name: shared.keyName, pem: shared.publicKey.pem)
        } catch {
            fatalError("cannot add the test key to a keyring: \(error)")
        }
        return ring
    }
}

/// One package for ``SignedRepository/make(at:packages:architecture:signIndex:)``.
public struct TestPackage: Sendable {
    public var name: String
    public var version: String
    /// Dependency strings as in `.PKGINFO` (`so:libc.musl-x86_64.so.1`, `b>=2`).
    public var depends: [String]
    /// Provide strings (`cmd:sh`, `so:libc.musl-x86_64.so.1=1`).
    public var provides: [String]
    /// Relative path → text content.
    public var files: [String: String]
    /// A folder whose content is the package's (instead of `files`).
    public var directory: String?

    public init(
        _ name: String, _ version: String, depends: [String] = [], provides: [String] = [], files: [String: String] = [:],
        directory: String? = nil
    ) {
        self.name = name
        self.version = version
        self.depends = depends
        self.provides = provides
        self.files = files
        self.directory = directory
    }
}

/// A repository the tests make themselves: `root/<arch>/NAME-VERSION.apk` signed with ``TestKey/shared``,
/// and `APKINDEX.tar.gz` (signed unless asked not to).
public struct SignedRepository: Sendable {
    public let root: String
    public let architecture: String
    /// The packages as the index lists them.
    public let packages: [PackageInfo]

    /// The keyring that trusts the repository.
    public var keyring: Keyring { TestKey.keyring }

    /// Writes the packages (their sources go to `root/src/`) and the index.
    /// - Throws: whatever writing the packages or the index throws.
    public static func make(
        at root: String, packages: [TestPackage], architecture: String = "x86_64", signIndex: Bool = true
    ) throws -> SignedRepository {
        let directory = root + "/" + architecture
        let manager = FileManager.default
        try manager.createDirectory(atPath: directory, withIntermediateDirectories: true)
        var infos: [PackageInfo] = []
        for package in packages {
            let source = package.directory ?? root + "/src/\(package.name)-\(package.version)"
            try manager.createDirectory(atPath: source, withIntermediateDirectories: true)
            for (path, content) in package.files {
                let full = source + "/" + path
                try manager.createDirectory(atPath: (full as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
                try Data(content.utf8).write(to: URL(fileURLWithPath: full))
            }
            var info = PackageInfo(
                name: package.name, version: package.version, arch: architecture, description: "\(package.name) for tests",
                license: "MIT", origin: package.name)
            info.depends = try package.depends.map { try Dependency(parsing: $0) }
            info.provides = try package.provides.map { try Dependency(parsing: $0) }
            var written = try PackageWriter(info: info, clock: BuildClock(epoch: 0), signingKeys: [TestKey.shared])
                .write(directory: source, to: directory + "/\(package.name)-\(package.version).apk")
            written.dataHash = nil
            infos.append(written)
        }
        let index = APKIndex(packages: infos, description: "test")
        try AtomicFileSink.write(
            try index.archiveBytes(signingKeys: signIndex ? [TestKey.shared] : []), to: directory + "/APKINDEX.tar.gz")
        return SignedRepository(root: root, architecture: architecture, packages: infos)
    }
}
