import LaminaCore

/// The interpreter named by a script's `#!` line, the way melange's SCA reads it.
public enum Shebang {
    /// How many bytes of a file are looked at (melange reads 80).
    public static let prefixLength = 80

    /// Interpreters that never become a `cmd:` dependency: `sh`, `python`, `python3` and `awk` are
    /// symlinks that nothing provides as a command, and `luajit` has several incompatible providers.
    public static let ignoredInterpreters: Set<String> = ["python3", "python", "sh", "awk", "luajit"]

    /// The interpreter path or name from the first line of `prefix`, or nil when there is none or it
    /// is ignored. `#!/usr/bin/env NAME` and `#!/usr/bin/env -S NAME …` yield `NAME`.
    /// - Throws: `LaminaError(.invalidInput)` for `#!/usr/bin/env` alone or with arguments that hide
    ///   the command (`#!/usr/bin/env bash -x`).
    public static func interpreter(in prefix: [UInt8]) throws -> String? {
        let bytes = Array(prefix.prefix(prefixLength))
        guard bytes.count >= 2, bytes[0] == UInt8(ascii: "#"), bytes[1] == UInt8(ascii: "!") else { return nil }
        var line = bytes[2...]
        if let newline = line.firstIndex(of: UInt8(ascii: "\n")) { line = line[..<newline] }
        let tokens = String(decoding: line, as: UTF8.self).unicodeScalars
            .split(whereSeparator: { $0.properties.isWhitespace })
            .map { String(String.UnicodeScalarView($0)) }
        guard var command = tokens.first else { return nil }
        if command == "/usr/bin/env" {
            if tokens.count == 2 {
                command = tokens[1]
            } else if tokens.count >= 3 && tokens[1] == "-S" && !tokens[2].hasPrefix("-") {
                command = tokens[2]
            } else if tokens.count == 1 {
                throw LaminaError(.invalidInput, "a shebang of only '/usr/bin/env'")
            } else {
                throw LaminaError(
                    .invalidInput, "a shebang of '/usr/bin/env' with \(tokens.count) arguments: \(tokens.joined(separator: " "))")
            }
        }
        if ignoredInterpreters.contains(baseName(command)) { return nil }
        return command
    }
}
