import APK
import Foundation
import LaminaCore
import TestSupport

/// Keys and packages the tests make themselves (never copied from testdata).
enum Fixtures {
    /// The shared test key (one per test process: generating RSA keys is slow).
    static var key: SigningKey { TestKey.shared }
    static var keyring: Keyring { TestKey.keyring }

    /// Every public key of the testdata that apk-tools' verdicts in PROVENANCE.md were computed with.
    static var testdataKeyring: Keyring {
        var ring = Keyring()
        for dir in [
            "keys/alpine-from-minirootfs", "keys/wolfi", "keys/chainguard-apk.cgr.dev",
            "chainguard-dev+apko/pkg/apk/apk/testdata/signing/keys", "chainguard-dev+apko/pkg/apk/apk/testdata/rsa256-signed",
            "chainguard-dev+apko/internal/cli/testdata/private_packages",
        ] {
            try! ring.addDirectory(SharedTestData.path(dir))
        }
        try! ring.addFile(SharedTestData.path("chainguard-dev+apko/internal/cli/testdata/melange.rsa.pub"))
        try! ring.addFile(SharedTestData.path("chainguard-dev+apko/internal/cli/testdata/local-melange.rsa.pub"))
        return ring
    }

    /// Writes a small tree: dirs, a file, an executable, a symlink, a hardlink.
    static func makeTree(in root: String) throws {
        let fm = FileManager.default
        try fm.createDirectory(atPath: root + "/usr/bin", withIntermediateDirectories: true)
        try fm.createDirectory(atPath: root + "/etc", withIntermediateDirectories: true)
        try Data("#!/bin/sh\necho hello\n".utf8).write(to: URL(fileURLWithPath: root + "/usr/bin/hello"))
        chmod(root + "/usr/bin/hello", 0o755)
        try Data("greeting=hello\n".utf8).write(to: URL(fileURLWithPath: root + "/etc/hello.conf"))
        chmod(root + "/etc/hello.conf", 0o644)
        try fm.createSymbolicLink(atPath: root + "/usr/bin/hi", withDestinationPath: "hello")
        link(root + "/usr/bin/hello", root + "/usr/bin/hello2")
    }
}

/// Runs a tool and returns (status, stdout).
@discardableResult
func run(_ executable: String, _ arguments: [String]) throws -> (Int32, String) {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: executable)
    process.arguments = arguments
    let out = Pipe()
    process.standardOutput = out
    process.standardError = out
    try process.run()
    let data = out.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    return (process.terminationStatus, String(decoding: data, as: UTF8.self))
}
