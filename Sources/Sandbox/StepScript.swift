import Foundation

/// The shell text a step runs, following melange's `buildEvalRunCommand`:
///
/// ```sh
/// set -e                       # -ex with trace
/// set -o pipefail              # only where the shell has it (busybox ash, bash; not dash)
/// [ -d '/home/build/src' ] || mkdir -p '/home/build/src'
/// cd '/home/build/src'
/// <script>
/// exit 0
/// ```
public enum StepScript {
    /// The complete `/bin/sh -c` argument for `step`.
    public static func wrap(_ step: BuildStep) -> String {
        let directory = shellQuote(step.absoluteWorkingDirectory)
        // A failing `set -o pipefail` aborts a POSIX shell, so probe it in a subshell first.
        return """
            set -e
            if (set -o pipefail) 2>/dev/null; then set -o pipefail; fi
            \(step.trace ? "set -x\n" : "")[ -d \(directory) ] || mkdir -p \(directory)
            cd \(directory)
            \(step.script)
            exit 0
            """
    }

    /// `value` in single quotes, safe for any POSIX shell.
    public static func shellQuote(_ value: String) -> String {
        "'" + value.replacingOccurrences(of: "'", with: "'\\''") + "'"
    }
}
