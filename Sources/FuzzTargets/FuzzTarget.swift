import APK
import Archive
import Config
import ELF
import Foundation
import LaminaCore
import OCI
import Registry
import SBOM
import Scan
import Signing

/// Every parser of bytes from outside, as a function of one input: what libFuzzer drives (the
/// `lamina-fuzz` executable, built by `scripts/fuzz`) and what the regression tests replay.
///
/// A target must never crash, hang or exhaust memory on any input; throwing an error is the right
/// answer to garbage, so errors are swallowed here. Limits are small so a fuzzer's inputs that
/// declare huge sizes hit a clear error quickly instead of allocating.
public enum FuzzTarget: String, CaseIterable, Sendable {
    case tar, gzip, apk, apkindex, pkginfo, dependency, version, installeddb
    case melange, apko, lockfile, elf, pkgconfig, ociManifest = "oci-manifest", ociIndex = "oci-index", ociConfig = "oci-config"
    case authChallenge = "auth-challenge", dockerConfig = "docker-config", secdb, osRelease = "os-release", spdx
    case cosignKey = "cosign-key"

    /// Small limits: a fuzz input of a few KiB must not be able to ask for gigabytes.
    static let limits = SizeLimits(
        maxPackageSize: 8 << 20, maxIndexSize: 8 << 20, maxControlSize: 1 << 20, maxHeaderSize: 64 << 10)

    /// Runs the parser on `bytes`.
    public func run(_ bytes: [UInt8]) {
        let text = String(decoding: bytes, as: UTF8.self)
        switch self {
        case .tar:
            let reader = TarReader(MemorySource(bytes), name: "fuzz", limits: Self.limits)
            var buffer = [UInt8](repeating: 0, count: 4096)
            while let entry = try? reader.next() {
                _ = entry.path
                while let n = try? buffer.withUnsafeMutableBytes({ try reader.read(into: $0) }), n > 0 {}
            }
        case .gzip:
            guard let reader = try? GzipReader(MemorySource(bytes), limit: Self.limits.maxPackageSize, name: "fuzz") else { return }
            var buffer = [UInt8](repeating: 0, count: 16384)
            while let n = try? buffer.withUnsafeMutableBytes({ try reader.read(into: $0) }), n > 0 {}
        case .apk:
            if let archive = try? PackageReader(limits: Self.limits).read(source: MemorySource(bytes), name: "fuzz", listFiles: true) {
                _ = archive.verify(keyring: Keyring())
            }
        case .apkindex:
            if let index = try? APKIndex.read(source: MemorySource(bytes), name: "fuzz", limits: Self.limits) {
                _ = index.verify(keyring: Keyring())
                _ = index.renderText()
            }
            _ = try? APKIndex.parseText(text)
        case .pkginfo:
            if let info = try? PKGINFO.parse(text) { _ = PKGINFO.render(info) }
        case .dependency:
            if let list = try? Dependency.parseList(text) { _ = list.map(\.description) }
            _ = try? Dependency(parsing: text, validateVersion: false)
        case .version:
            let halves = text.split(separator: "\n", maxSplits: 1).map(String.init)
            _ = APKVersion.isValid(text)
            if halves.count == 2 {
                _ = APKVersion.compare(halves[0], halves[1])
                _ = APKVersion.compare(halves[0], halves[1], fuzzy: true)
            }
        case .installeddb:
            if let database = try? InstalledDatabase.parse(text) { _ = database.render() }
        case .melange:
            _ = try? BuildConfiguration.prepare(yaml: text, file: "fuzz.yaml")
        case .apko:
            _ = try? ImageConfiguration.decode(yaml: text, file: "fuzz.yaml")
        case .lockfile:
            _ = try? JSONDecoder().decode(ImageLock.self, from: Data(bytes))
        case .elf:
            _ = ELFFile.parseIfValid(bytes: bytes)
        case .pkgconfig:
            _ = PkgConfigFile(parsing: text)
        case .ociManifest:
            _ = try? JSONDecoder().decode(Manifest.self, from: Data(bytes))
        case .ociIndex:
            _ = try? JSONDecoder().decode(Index.self, from: Data(bytes))
        case .ociConfig:
            _ = try? JSONDecoder().decode(ImageConfig.self, from: Data(bytes))
        case .authChallenge:
            _ = AuthChallenge.parse(text)
        case .dockerConfig:
            _ = try? RegistryCredentials.parseDockerConfig(bytes, path: "fuzz.json")
        case .secdb:
            _ = try? SecurityFeed.parse(bytes, source: "fuzz")
        case .osRelease:
            _ = try? OperatingSystemInfo.parse(osRelease: text)
        case .spdx:
            _ = try? SPDXJSON.decode(bytes, what: "fuzz")
        case .cosignKey:
            Self.importCosignKey(bytes, text: text)
        }
    }

    /// Every way a cosign key is read: public keys (PEM, DER), private keys (PKCS#8 / SEC1 / PKCS#1 PEM, DER) and
    /// encrypted cosign keys. An encrypted key is decrypted only when its scrypt cost is small: a real one costs
    /// 32-64 MiB and about a second, which no fuzz input may spend (the envelope parser bounds N, r and p).
    static func importCosignKey(_ bytes: [UInt8], text: String) {
        _ = try? CosignPublicKey(pem: text)
        _ = try? CosignPublicKey(der: bytes)
        _ = try? CosignPrivateKey(der: bytes)
        guard let block = try? PEMBlock(parsing: text) else { return }
        if block.label == EncryptedKey.label || block.label == EncryptedKey.legacyLabel {
            guard let envelope = try? EncryptedKey(json: block.bytes), envelope.scrypt.n * envelope.scrypt.r <= 1 << 13 else { return }
            _ = try? envelope.open(password: Array("123".utf8))
        }
        _ = try? CosignPrivateKey(pem: text, password: { Array("123".utf8) })
    }

    /// Inputs written here for targets whose format has few or no loose files in the test data.
    public var builtinSeeds: [[UInt8]] {
        let texts: [String]
        switch self {
        case .pkgconfig:
            texts = [
                "prefix=/usr\nlibdir=${prefix}/lib\nincludedir=${prefix}/include\n\nName: zlib\nDescription: zlib compression library\n"
                    + "Version: 1.3.1\nRequires: libfoo >= 1.0, bar\nRequires.private: baz\nLibs: -L${libdir} -lz\nCflags: -I${includedir}\n"
            ]
        case .authChallenge:
            texts = [
                #"Bearer realm="https://auth.example/token",service="registry.example",scope="repository:a/b:pull,push""#,
                #"Basic realm="x", Bearer realm="y",error="invalid_token""#,
            ]
        case .dependency:
            texts = ["so:libc.musl-x86_64.so.1 busybox>=1.36.1-r0 !foo cmd:sh python3~3.12 pc:zlib>1 bar@edge"]
        case .version:
            texts = ["1.2.3-r0\n1.2.10_rc1-r2", "2.0_alpha1\n2.0_p1", "1.0a\n1.0.0"]
        default:
            texts = []
        }
        return texts.map { Array($0.utf8) }
    }

    /// Seed inputs from the real files in `testdata` (`../shared/testdata`): paths of the files whose
    /// name or place fits this target (at most `limit` of at most `maxSize` bytes, smallest first).
    public func seeds(testdata: String, limit: Int = 200, maxSize: Int = 4 << 20) -> [String] {
        let match: (String) -> Bool
        switch self {
        case .tar: match = { $0.hasSuffix(".tar") }
        case .gzip: match = { $0.hasSuffix(".gz") || $0.hasSuffix(".apk") }
        case .apk: match = { $0.hasSuffix(".apk") }
        case .apkindex: match = { $0.hasSuffix("APKINDEX.tar.gz") || $0.hasSuffix("/APKINDEX") }
        case .pkginfo: match = { $0.hasSuffix(".PKGINFO") || $0.hasSuffix("/APKINDEX") }
        case .dependency, .version: match = { $0.hasSuffix(".repo") || $0.hasSuffix("version.data") }
        case .installeddb: match = { $0.hasSuffix("/installed") || $0.hasSuffix(".installed") }
        case .melange: match = { ($0.hasSuffix(".yaml") || $0.hasSuffix(".yml")) && !$0.contains("apko") }
        case .apko: match = { ($0.hasSuffix(".yaml") || $0.hasSuffix(".yml")) && $0.contains("apko") }
        case .lockfile: match = { $0.hasSuffix(".lock.json") }
        case .elf: match = { $0.contains("/derived/") && !$0.hasSuffix(".gz") }
        case .pkgconfig: match = { $0.hasSuffix(".pc") }
        case .ociManifest, .ociIndex, .ociConfig: match = { $0.contains("/blobs/sha256/") || $0.hasSuffix("index.json") }
        case .authChallenge, .dockerConfig: match = { $0.hasSuffix(".json") && $0.contains("security") }
        case .secdb: match = { $0.contains("secdb") || $0.hasSuffix("security.json") }
        case .osRelease: match = { $0.hasSuffix("os-release") || $0.hasSuffix("alpine-release") }
        case .spdx: match = { $0.hasSuffix(".spdx.json") }
        case .cosignKey:
            match = {
                $0.contains("/security/sigstore")
                    && ($0.hasSuffix(".key") || $0.hasSuffix(".pub") || $0.hasSuffix(".pem") || $0.hasSuffix(".b64"))
            }
        }
        guard let walker = FileManager.default.enumerator(atPath: testdata) else { return [] }
        var found: [(String, Int)] = []
        while let relative = walker.nextObject() as? String {
            let path = testdata + "/" + relative
            var info = stat()
            guard match(path), lstat(path, &info) == 0, (info.st_mode & S_IFMT) == S_IFREG, info.st_size <= maxSize else { continue }
            found.append((path, Int(info.st_size)))
        }
        return found.sorted { ($0.1, $0.0) < ($1.1, $1.0) }.prefix(limit).map(\.0)
    }
}

extension FuzzTarget {
    /// Writes the built-in seeds and the test data's seed files into `folder` (a libFuzzer corpus),
    /// named by their SHA-256 as libFuzzer names its own. Returns how many were written.
    @discardableResult
    public func writeSeeds(testdata: String, into folder: String) throws -> Int {
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        var inputs = builtinSeeds
        for path in seeds(testdata: testdata, maxSize: 1 << 20) {
            if let data = FileManager.default.contents(atPath: path) { inputs.append(Array(data)) }
        }
        for bytes in inputs {
            try AtomicFileSink.write(bytes, to: folder + "/" + Hasher.digest(.sha256, bytes).hex)
        }
        return inputs.count
    }
}
