import Foundation

/// Writes to stdout/stderr without buffering surprises, and knows whether a person is watching.
public struct Terminal: Sendable {
    let fd: Int32
    public static let standardOutput = Terminal(fd: 1)
    public static let standardError = Terminal(fd: 2)

    public var isInteractive: Bool { isatty(fd) == 1 }

    public func write(_ text: String) {
        var bytes = Array(text.utf8)
        var offset = 0
        while offset < bytes.count {
            let written = bytes.withUnsafeMutableBytes { raw in
                Foundation.write(fd, raw.baseAddress! + offset, raw.count - offset)
            }
            if written <= 0 { return }
            offset += written
        }
    }
}
