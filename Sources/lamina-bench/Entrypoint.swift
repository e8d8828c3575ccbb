#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif
import Archive
import LaminaCore
import TestSupport

/// Hidden benchmark helper (not shipped).
///
///     lamina-bench gzip [--threads N] [--block-size BYTES] [--level L] [--single]
///
/// compresses stdin to stdout: `--single` uses the one-stream `GzipWriter`; otherwise `ParallelGzipWriter`.
/// Prints `in=<bytes> out=<bytes> seconds=<wall>` on stderr.
///
///     lamina-bench stage-minirootfs whole|musl-busybox|installed-database WORK
///
/// splits the Alpine minirootfs of ../shared/testdata into package folders under WORK (the tests' splitter,
/// ``Minirootfs/stage(_:in:)``) and prints one line a package: `FOLDER<TAB>NAME<TAB>VERSION<TAB>FLAGS`, FLAGS being
/// `--dep D` and `--provides P` for `lamina package create`.
@main
enum LaminaBench {
    static func main() {
        do {
            try run(Array(CommandLine.arguments.dropFirst()))
        } catch {
            try? FileDescriptorSink(fd: 2).write(Array("lamina-bench: \(error)\n".utf8))
            exit(1)
        }
    }

    static func run(_ args: [String]) throws {
        if args.first == "stage-minirootfs" { return try stageMinirootfs(Array(args.dropFirst())) }
        guard args.first == "gzip" else {
            throw LaminaError(
                .usage,
                "usage: lamina-bench gzip [--threads N] [--block-size BYTES] [--level L] [--single]\n"
                    + "       lamina-bench stage-minirootfs whole|musl-busybox|installed-database WORK")
        }
        var threads: Int?
        var blockSize = ParallelGzipWriter.defaultBlockSize
        var level: Int32 = 6
        var single = false
        var rest = args.dropFirst()
        while let arg = rest.popFirst() {
            func value() throws -> Int {
                guard let text = rest.popFirst(), let number = Int(text) else {
                    throw LaminaError(.usage, "\(arg) needs a number")
                }
                return number
            }
            switch arg {
            case "--threads": threads = try value()
            case "--block-size": blockSize = try value()
            case "--level": level = Int32(try value())
            case "--single": single = true
            default: throw LaminaError(.usage, "unknown option \(arg)")
            }
        }
        var start = timespec()
        clock_gettime(CLOCK_MONOTONIC, &start)
        let output = FileDescriptorSink(fd: 1)
        let input = try FileSource(path: "/dev/stdin")
        let inputCount: Int64
        let outputCount: Int64
        if single {
            let writer = try GzipWriter(output, level: level)
            inputCount = try input.copy(to: writer, bufferSize: 1 << 20)
            try writer.finish()
            outputCount = writer.compressedCount
        } else {
            let writer = try ParallelGzipWriter(output, level: level, blockSize: blockSize, threads: threads)
            inputCount = try input.copy(to: writer, bufferSize: 1 << 20)
            try writer.finish()
            outputCount = writer.compressedCount
        }
        var end = timespec()
        clock_gettime(CLOCK_MONOTONIC, &end)
        let seconds = Double(end.tv_sec - start.tv_sec) + Double(end.tv_nsec - start.tv_nsec) / 1e9
        try FileDescriptorSink(fd: 2).write(Array("in=\(inputCount) out=\(outputCount) seconds=\(seconds)\n".utf8))
    }
}

extension LaminaBench {
    static func stageMinirootfs(_ args: [String]) throws {
        let splits: [String: Minirootfs.Split] = [
            "whole": .whole, "musl-busybox": .muslBusybox, "installed-database": .installedDatabase,
        ]
        guard args.count == 2, let split = splits[args[0]] else {
            throw LaminaError(.usage, "usage: lamina-bench stage-minirootfs whole|musl-busybox|installed-database WORK")
        }
        var lines = ""
        for package in try Minirootfs.stage(split, in: args[1]) {
            let flags = package.depends.map { "--dep \($0)" } + package.provides.map { "--provides \($0)" }
            lines += [package.directory ?? "", package.name, package.version, flags.joined(separator: " ")]
                .joined(separator: "\t") + "\n"
        }
        try FileDescriptorSink(fd: 1).write(Array(lines.utf8))
    }
}

/// Writes to a file descriptor (stdout here).
final class FileDescriptorSink: ByteSink {
    let fd: Int32
    init(fd: Int32) { self.fd = fd }
    func write(_ bytes: UnsafeRawBufferPointer) throws {
        guard let base = bytes.baseAddress else { return }
        var offset = 0
        while offset < bytes.count {
            #if canImport(Glibc)
                let n = Glibc.write(fd, base + offset, bytes.count - offset)
            #else
                let n = Darwin.write(fd, base + offset, bytes.count - offset)
            #endif
            if n < 0 {
                if errno == EINTR { continue }
                throw LaminaError(.io, "write failed: \(String(cString: strerror(errno)))", subject: "stdout")
            }
            offset += n
        }
    }
}
