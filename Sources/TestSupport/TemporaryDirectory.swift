import Foundation

/// A scratch directory for one test, removed when the body returns or throws.
public struct TemporaryDirectory: Sendable {
    public let url: URL
    public var path: String { url.path }

    public init(prefix: String = "lamina-test") throws {
        let base = URL(fileURLWithPath: NSTemporaryDirectory(), isDirectory: true)
        url = base.appendingPathComponent("\(prefix)-\(UUID().uuidString)", isDirectory: true)
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    }

    public func remove() { try? FileManager.default.removeItem(at: url) }

    /// Runs `body` with a fresh directory and deletes it afterwards.
    public static func with<T>(_ body: (TemporaryDirectory) async throws -> T) async throws -> T {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        return try await body(dir)
    }

    /// Synchronous variant of `with`.
    public static func withSync<T>(_ body: (TemporaryDirectory) throws -> T) throws -> T {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        return try body(dir)
    }

    public func file(_ name: String) -> String { url.appendingPathComponent(name).path }
}

/// Locates `../shared/testdata` relative to the package root, whatever the test's working directory.
public enum SharedTestData {
    /// The package root (the folder holding Package.swift), found from this source file's location.
    public static let packageRoot: URL = {
        var url = URL(fileURLWithPath: #filePath)
        while url.path != "/" {
            url.deleteLastPathComponent()
            if FileManager.default.fileExists(atPath: url.appendingPathComponent("Package.swift").path) { return url }
        }
        return URL(fileURLWithPath: FileManager.default.currentDirectoryPath)
    }()

    /// `../shared/testdata`, absolute.
    public static let root: URL = packageRoot.deletingLastPathComponent().appendingPathComponent("shared/testdata")

    /// Whether the shared test data is present (it is in CI; tests skip with a reason otherwise).
    public static var isAvailable: Bool { FileManager.default.fileExists(atPath: root.path) }

    /// Absolute path of a file under testdata.
    public static func path(_ relative: String) -> String { root.appendingPathComponent(relative).path }
}
