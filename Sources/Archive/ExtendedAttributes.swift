import CZlib
import Foundation
import LaminaCore

/// Extended attributes of files on disk.
public enum ExtendedAttributes {
    /// The value of attribute `name` of `path` (a symlink itself, not its target); nil when the file has none
    /// or its file system keeps no extended attributes.
    /// - Throws: `.io` for any other failure (the file is gone, permission denied).
    public static func value(of path: String, _ name: String) throws -> [UInt8]? {
        while true {
            let size = lgetxattr(path, name, nil, 0)
            if size < 0 {
                if errno == ENODATA || errno == ENOTSUP || errno == EOPNOTSUPP { return nil }
                throw failure(path, name)
            }
            var buffer = [UInt8](repeating: 0, count: size)
            let read = buffer.withUnsafeMutableBytes { lgetxattr(path, name, $0.baseAddress, size) }
            if read < 0 {
                if errno == ERANGE { continue }  // it grew in between
                if errno == ENODATA { return nil }
                throw failure(path, name)
            }
            return Array(buffer.prefix(read))
        }
    }

    private static func failure(_ path: String, _ name: String) -> LaminaError {
        LaminaError(.io, "cannot read extended attribute \(name): \(String(cString: strerror(errno)))", subject: path)
    }
}
