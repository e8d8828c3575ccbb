import Archive
import Foundation
import LaminaCore

/// `entrypoint.services`: the s6 supervision tree apko writes (`pkg/s6`). Each service becomes
/// `/sv/<name>/run`, an execline script `#!/bin/execlineb\n<command>\n` (mode 0755, root), in a folder
/// made like apko's in-memory `MkdirAll(…, 0777)`: new folders get mode 0777, existing ones are kept.
/// apko writes them whatever the entrypoint type; `service-bundle` only sets the entrypoint to
/// `/bin/s6-svscan /sv` and adds `s6` (see `ImageConfiguration.validated`).
enum ServicesWriter {
    /// The bytes of one `run` script.
    static func runScript(_ command: String) -> [UInt8] {
        Array("#!/bin/execlineb\n\(command)\n".utf8)
    }

    /// Names were checked by `ImageConfiguration.validate` (one path component each).
    static func apply(_ services: [String: String], to tree: inout FileTree) throws {
        for name in services.keys.sorted() {
            for directory in ["sv", "sv/" + name] where tree[directory] == nil {
                try tree.insert(directory, .directory(mode: 0o777))
            }
            try tree.insert("sv/\(name)/run", .file(runScript(services[name] ?? ""), mode: 0o755))
        }
    }
}
