import Foundation
import LaminaCore

/// Resolves a path inside a root (a file tree, a tar's links, a folder on disk) by following its
/// symlinks without ever leaving that root: the one place where Lamina decides what a link means.
///
/// What a node is comes from a lookup closure, so the same rules serve an in-memory ``FileTree``,
/// the links recorded in a tar stream and a directory read with `lstat`. The ``Policy`` says what
/// happens at the edges: an absolute link target (inside a container it starts again at the root),
/// `..` at the root, a missing component, and how many links may be followed.
public struct RootPath: Sendable {
    /// What the lookup reports for a root-relative path (no leading slash, no `.`/`..`).
    public enum Node: Sendable, Equatable {
        case missing
        case directory
        /// A regular file, device, socket: anything that is neither a directory nor a link.
        case other
        case symlink(target: String)
    }

    /// What an absolute link target means.
    public enum AbsoluteTarget: Sendable {
        /// `/usr/lib` starts again at the root (how links behave inside the image or container).
        case fromRoot
        /// An absolute target counts as leaving the root.
        case escapes
    }

    /// What `..` at the root means.
    public enum ParentOfRoot: Sendable {
        /// It stays at the root, as the kernel treats `/..`.
        case staysAtRoot
        /// It counts as leaving the root.
        case escapes
    }

    public struct Policy: Sendable {
        /// How many links may be followed in one resolution (Linux's `MAXSYMLINKS` is 40).
        public var hopLimit: Int
        public var absoluteTarget: AbsoluteTarget
        public var parentOfRoot: ParentOfRoot
        /// Whether a link in the last component is followed too (`stat`), or kept (`lstat`).
        public var followFinal: Bool
        /// Whether every component must exist, and every one but the last be a directory (as on disk).
        /// When false, missing components are taken as plain names (a tree still being filled).
        public var mustExist: Bool

        public init(
            hopLimit: Int = 40, absoluteTarget: AbsoluteTarget, parentOfRoot: ParentOfRoot, followFinal: Bool, mustExist: Bool
        ) {
            self.hopLimit = hopLimit
            self.absoluteTarget = absoluteTarget
            self.parentOfRoot = parentOfRoot
            self.followFinal = followFinal
            self.mustExist = mustExist
        }
    }

    public var policy: Policy

    public init(_ policy: Policy) { self.policy = policy }

    /// The real root-relative path of `path` (`""` for the root itself).
    ///
    /// `path` may start with `/` (taken from the root) and hold `.` and `..`; it is read component
    /// by component, each link replaced by its target.
    /// - Throws: `LaminaError(.unsafePath)` when a link or `..` leaves the root under the policy, or
    ///   more than `hopLimit` links are followed; `.notFound` when `mustExist` and a component is
    ///   missing or not a directory; whatever `lookup` throws.
    public func resolve(_ path: String, lookup: (String) throws -> Node) throws -> String {
        var pending = Self.components(path)
        var resolved: [String] = []
        var hops = 0
        while !pending.isEmpty {
            let component = pending.removeFirst()
            if component == ".." {
                if resolved.isEmpty {
                    if policy.parentOfRoot == .escapes { throw LaminaError(.unsafePath, "'\(path)' leaves the root with '..'") }
                } else {
                    resolved.removeLast()
                }
                continue
            }
            let candidate = (resolved + [component]).joined(separator: "/")
            let isLast = pending.isEmpty
            switch try lookup(candidate) {
            case .symlink(let target) where !isLast || policy.followFinal:
                hops += 1
                if hops > policy.hopLimit { throw LaminaError(.unsafePath, "too many levels of symbolic links in '\(path)'") }
                if target.hasPrefix("/") {
                    if policy.absoluteTarget == .escapes {
                        throw LaminaError(.unsafePath, "'\(path)': symlink '\(candidate)' -> '\(target)' leaves the root")
                    }
                    resolved = []
                }
                pending = Self.components(target) + pending
                continue
            case .missing where policy.mustExist:
                throw LaminaError(.notFound, "'\(path)': '\(candidate)' does not exist")
            case .other where policy.mustExist && !isLast:
                throw LaminaError(.notFound, "'\(path)': '\(candidate)' is not a directory")
            default:
                resolved.append(component)
            }
        }
        return resolved.joined(separator: "/")
    }

    /// Resolves `path` inside the folder `root` on disk, reading each component with `lstat`/`readlink`;
    /// returns the real root-relative path.
    /// - Throws: as ``resolve(_:lookup:)``; `.io` when a link cannot be read.
    public func resolve(_ path: String, inFolder root: String) throws -> String {
        try resolve(path) { candidate in
            let full = root + "/" + candidate
            var info = stat()
            guard lstat(full, &info) == 0 else { return .missing }
            switch info.st_mode & S_IFMT {
            case S_IFDIR: return .directory
            case S_IFLNK:
                var buffer = [CChar](repeating: 0, count: Int(PATH_MAX) + 1)
                let count = readlink(full, &buffer, buffer.count - 1)
                guard count >= 0 else { throw LaminaError(.io, "cannot read the link: \(String(cString: strerror(errno)))", subject: full) }
                return .symlink(target: String(decoding: buffer[0..<count].map { UInt8(bitPattern: $0) }, as: UTF8.self))
            default: return .other
            }
        }
    }

    /// The names of a slash path without empty and `.` components (`..` is kept).
    static func components(_ path: String) -> [String] {
        path.split(separator: "/").compactMap { $0 == "." ? nil : String($0) }
    }
}
