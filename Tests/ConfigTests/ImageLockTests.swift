import Config
import Foundation
import LaminaCore
import TestSupport
import Testing

/// apko's lock files: read as apko writes them, written and read back to the same value, refused in one line when broken.
@Suite struct ImageLockTests {
    static let testdata = "chainguard-dev+apko/internal/cli/testdata/"

    @Test(
        .enabled(if: SharedTestData.isAvailable, "needs ../shared/testdata"),
        arguments: ["apko.lock.json", "apko-discover.lock.json", "image_on_top.apko.lock.json"])
    func apkoLockFilesRoundTrip(name: String) throws {
        let path = SharedTestData.path(Self.testdata + name)
        let lock = try ImageLock.load(path: path)
        #expect(!lock.contents.packages.isEmpty)
        let reread = try JSONDecoder().decode(ImageLock.self, from: Data(try lock.encoded()))
        #expect(reread == lock)
    }

    @Test func brokenLockFilesNameTheKey() throws {
        try TemporaryDirectory.withSync { dir in
            let path = dir.file("bad.lock.json")
            let cases = [
                (#"{"version":"v1","contents":{"keyring":[],"repositories":[],"packages":[{"name":1}]}}"#,
                 "not an apko lock file: contents.packages[0].name: expected String"),
                (#"{"version":"v2","contents":{"keyring":[],"repositories":[],"packages":[]}}"#,
                 "unsupported lock version 'v2' (want v1)"),
                ("{", "not an apko lock file: not valid JSON"),
            ]
            for (text, message) in cases {
                try text.write(toFile: path, atomically: true, encoding: .utf8)
                let error = #expect(throws: LaminaError.self) { _ = try ImageLock.load(path: path) }
                #expect(error?.code == .invalidInput)
                #expect(error?.subject == path)
                #expect(error?.message.hasPrefix(message) == true, "\(error?.message ?? "")")
            }
        }
    }
}
