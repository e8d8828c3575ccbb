import Foundation
import LaminaCore

/// Python's `tarfile` and `os` as an independent reader and writer of extended attributes.
public enum PythonTarfile {
    /// The `SCHILY.xattr.*` PAX records Python's `tarfile` sees on `member` of a gzip tar (concatenated gzip
    /// members, such as an `.apk`, read as one stream): xattr name → hex value.
    /// - Throws: `.io` when python3 fails (no such archive, not a tar).
    public static func xattrs(_ archive: String, member: String) throws -> [String: String] {
        let script = """
            import json, sys, tarfile
            out = {}
            with tarfile.open(sys.argv[1], "r:gz") as t:
                for m in t:
                    if m.name == sys.argv[2]:
                        for k, v in m.pax_headers.items():
                            if k.startswith("SCHILY.xattr."):
                                out[k[len("SCHILY.xattr."):]] = v.encode("utf-8", "surrogateescape").hex()
            print(json.dumps(out))
            """
        let result = try CommandRunner.run("/usr/bin/env", ["python3", "-c", script, archive, member])
        guard result.status == 0 else { throw LaminaError(.io, "python tarfile failed: \(result.stderr)", subject: archive) }
        return try JSONDecoder().decode([String: String].self, from: Data(result.stdout.utf8))
    }

    /// Sets an xattr on a file with Python (Glibc's Swift module has no `setxattr`). Returns false, printing
    /// the reason, when the file system refuses it.
    public static func setXattr(_ path: String, _ name: String, _ value: [UInt8]) throws -> Bool {
        let result = try CommandRunner.run(
            "/usr/bin/env",
            ["python3", "-c", "import os,sys; os.setxattr(sys.argv[1], sys.argv[2], bytes.fromhex(sys.argv[3]))", path, name,
             hex(value)])
        if result.status != 0 { print("skipped: cannot set \(name) here: \(result.stderr)") }
        return result.status == 0
    }

    /// Lower-case hex.
    public static func hex(_ bytes: [UInt8]) -> String { bytes.map { String(format: "%02x", $0) }.joined() }
}
