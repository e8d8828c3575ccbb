import LaminaCore

/// Splits a command line the way a POSIX shell (and apko's shlex) does: whitespace separates words,
/// single quotes keep everything literally, double quotes allow `\"`, `\\`, `\$` and `` \` `` escapes,
/// and a backslash outside quotes escapes the next character.
public enum ShellWords {
    /// - Throws: `.invalidInput` for an unterminated quote or a trailing backslash.
    public static func split(_ text: String) throws -> [String] {
        var words: [String] = []
        var current = ""
        var inWord = false
        var iterator = Array(text).makeIterator()
        while let c = iterator.next() {
            switch c {
            case " ", "\t", "\n", "\r":
                if inWord {
                    words.append(current)
                    current = ""
                    inWord = false
                }
            case "'":
                inWord = true
                var closed = false
                while let d = iterator.next() {
                    if d == "'" { closed = true; break }
                    current.append(d)
                }
                if !closed { throw LaminaError(.invalidInput, "unterminated single quote in '\(text)'") }
            case "\"":
                inWord = true
                var closed = false
                while let d = iterator.next() {
                    if d == "\"" { closed = true; break }
                    if d == "\\" {
                        guard let e = iterator.next() else { break }
                        if e == "\"" || e == "\\" || e == "$" || e == "`" { current.append(e) } else if e != "\n" {
                            current.append("\\")
                            current.append(e)
                        }
                        continue
                    }
                    current.append(d)
                }
                if !closed { throw LaminaError(.invalidInput, "unterminated double quote in '\(text)'") }
            case "\\":
                guard let e = iterator.next() else { throw LaminaError(.invalidInput, "trailing backslash in '\(text)'") }
                inWord = true
                if e != "\n" { current.append(e) }
            default:
                inWord = true
                current.append(c)
            }
        }
        if inWord { words.append(current) }
        return words
    }
}
