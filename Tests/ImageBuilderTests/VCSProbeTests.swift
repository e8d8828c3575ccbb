import Foundation
import ImageBuilder
import TestSupport
import Testing

/// apko's `--vcs` probe, on `.git` folders written by the test (and on a real `git init` when git is installed).
@Suite struct VCSProbeTests {
    func write(_ text: String, _ path: String) throws {
        try FileManager.default.createDirectory(
            atPath: (path as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
        try Data(text.utf8).write(to: URL(fileURLWithPath: path))
    }

    @Test func originAndHeadFromTheCheckoutAboveTheConfig() throws {
        try TemporaryDirectory.withSync { dir in
            let commit = "0123456789abcdef0123456789abcdef01234567"
            try write("ref: refs/heads/main\n", dir.file(".git/HEAD"))
            try write(commit + "\n", dir.file(".git/refs/heads/main"))
            try write(
                "[core]\n\tbare = false\n[remote \"upstream\"]\n\turl = https://example.invalid/other\n"
                    + "[remote \"origin\"]\n\turl = https://user:token@github.com/acme/images.git\n\tfetch = +refs/heads/*:refs/remotes/origin/*\n",
                dir.file(".git/config"))
            try write("contents: {}\n", dir.file("images/apko.yaml"))
            #expect(
                VCSProbe.url(forConfig: dir.file("images/apko.yaml"), workingDirectory: dir.path)
                    == "https://github.com/acme/images.git@\(commit)")
            // Not searched above the working directory, as apko.
            #expect(VCSProbe.url(forConfig: dir.file("images/apko.yaml"), workingDirectory: dir.file("images")) == nil)

            // Packed refs and an scp-style remote.
            try FileManager.default.removeItem(atPath: dir.file(".git/refs/heads/main"))
            try write("# pack-refs with: peeled fully-peeled sorted\n\(commit) refs/heads/main\n", dir.file(".git/packed-refs"))
            try write("[remote \"origin\"]\n\turl = git@github.com:acme/images.git\n", dir.file(".git/config"))
            #expect(
                VCSProbe.url(forConfig: dir.file("images/apko.yaml"), workingDirectory: dir.path)
                    == "git+ssh://github.com/acme/images.git@\(commit)")
        }
    }

    @Test(.enabled(if: CommandRunner.which("git") != nil, "git not installed"))
    func aRealRepository() throws {
        try TemporaryDirectory.withSync { dir in
            let env = [
                "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@example.invalid", "GIT_COMMITTER_NAME": "t",
                "GIT_COMMITTER_EMAIL": "t@example.invalid",
            ]
            let git = try #require(CommandRunner.which("git"))
            try write("contents: {}\n", dir.file("apko.yaml"))
            for arguments in [
                ["init", "-q", "-b", "main"], ["remote", "add", "origin", "https://example.invalid/repo"], ["add", "apko.yaml"],
                ["commit", "-q", "-m", "x"],
            ] {
                #expect(try CommandRunner.run(git, arguments, environment: env, directory: dir.path).status == 0)
            }
            let head = try CommandRunner.run(git, ["rev-parse", "HEAD"], directory: dir.path).stdout
                .trimmingCharacters(in: .whitespacesAndNewlines)
            #expect(VCSProbe.url(forConfig: dir.file("apko.yaml"), workingDirectory: dir.path) == "https://example.invalid/repo@\(head)")
        }
    }
}
