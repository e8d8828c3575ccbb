import Archive
import Foundation
import TestSupport
import Testing

/// Temporary files of `AtomicFileSink`: what a killed writer leaves is removed by the next writer
/// of the same file; what a live writer holds is left alone.
@Suite struct AtomicFileSinkTests {
    static func age(_ path: String, seconds: Int) {
        let then = time(nil) - seconds
        var times = [timespec(tv_sec: then, tv_nsec: 0), timespec(tv_sec: then, tv_nsec: 0)]
        _ = utimensat(AT_FDCWD, path, &times, 0)
    }

    @Test func abandonedTemporaryFilesAreRemovedLiveOnesKept() throws {
        try TemporaryDirectory.withSync { dir in
            let out = dir.file("out.tar")
            // Left by a writer that was killed a minute ago: nobody holds it.
            let abandoned = dir.file(".out.tar.tmp-AAAAAA")
            try Data("half a tarball".utf8).write(to: URL(fileURLWithPath: abandoned))
            Self.age(abandoned, seconds: 60)
            // Just created by a writer that has not locked it yet (empty and young): left alone.
            let young = dir.file(".out.tar.tmp-BBBBBB")
            try Data().write(to: URL(fileURLWithPath: young))
            // Killed a moment ago, after writing: unlocked with bytes in it, so abandoned.
            let killed = dir.file(".out.tar.tmp-DDDDDD")
            try Data("part".utf8).write(to: URL(fileURLWithPath: killed))
            // Another file's leftovers are not this writer's business.
            let other = dir.file(".other.tar.tmp-CCCCCC")
            try Data("x".utf8).write(to: URL(fileURLWithPath: other))
            Self.age(other, seconds: 60)
            // A live writer of the same file, slow: its file is old but locked.
            let live = try AtomicFileSink(path: out)
            try live.write(Array("live".utf8))
            Self.age(live.temporaryPath, seconds: 60)

            try AtomicFileSink.write(Array("done".utf8), to: out)
            #expect(!FileManager.default.fileExists(atPath: abandoned))
            #expect(!FileManager.default.fileExists(atPath: killed))
            #expect(FileManager.default.fileExists(atPath: young))
            #expect(FileManager.default.fileExists(atPath: other))
            #expect(FileManager.default.fileExists(atPath: live.temporaryPath))
            try live.commit()
            #expect(try String(contentsOfFile: out, encoding: .utf8) == "live")
        }
    }
}
