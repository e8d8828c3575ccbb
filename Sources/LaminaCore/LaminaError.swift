/// The one error type that every Lamina module throws.
///
/// `code` sorts failures into what the user can fix (bad input, a package that cannot be found),
/// what the environment caused (network, sandbox, permissions) and internal faults. The CLI maps
/// `code.category` to a fixed exit code and prints `description` as one line.
public struct LaminaError: Error, Sendable, CustomStringConvertible {
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        enum Value: String, Sendable {
            case usage, invalidInput, malformed, untrusted, badSignature, checksumMismatch, notFound
            case unsatisfiable, conflict, limitExceeded, unsafePath, io, network, sandbox, `internal`
        }
        let value: Value
        init(_ value: Value) { self.value = value }

        /// Bad command-line usage (exit 64).
        public static let usage = Code(.usage)
        /// A config or argument that is well-formed but not acceptable.
        public static let invalidInput = Code(.invalidInput)
        /// Bytes that do not parse: truncated gzip, bad tar header, malformed `.PKGINFO`.
        public static let malformed = Code(.malformed)
        /// No key in the keyring vouches for the data.
        public static let untrusted = Code(.untrusted)
        /// A signature was checked against a known key and failed.
        public static let badSignature = Code(.badSignature)
        /// A digest (datahash, index checksum, expected-sha256) differs from the bytes.
        public static let checksumMismatch = Code(.checksumMismatch)
        /// A file, package, key or URL that does not exist.
        public static let notFound = Code(.notFound)
        /// Constraints that no set of packages satisfies.
        public static let unsatisfiable = Code(.unsatisfiable)
        /// Two packages own the same path, or a world conflicts with itself.
        public static let conflict = Code(.conflict)
        /// Input larger than a configured limit (gzip bombs, huge headers).
        public static let limitExceeded = Code(.limitExceeded)
        /// An archive entry or path that would escape its root.
        public static let unsafePath = Code(.unsafePath)
        /// The filesystem failed under us.
        public static let io = Code(.io)
        /// A remote server failed or could not be reached.
        public static let network = Code(.network)
        /// The build sandbox could not start or failed.
        public static let sandbox = Code(.sandbox)
        /// A Lamina bug.
        public static let `internal` = Code(.internal)

        public var category: Category {
            switch value {
            case .usage: return .usage
            case .io, .network, .sandbox: return .environment
            case .internal: return .internal
            default: return .user
            }
        }
        public var description: String { value.rawValue }
    }

    /// Who can fix it: the user (their input), the environment, or us.
    public enum Category: Sendable {
        case usage, user, environment, `internal`
        /// The process exit code the CLI uses for this category.
        public var exitCode: Int32 {
            switch self {
            case .usage: return 64
            case .user, .environment: return 1
            case .internal: return 70
            }
        }
    }

    public var code: Code
    public var message: String
    /// What the error is about: a file path, URL, package name or config key path.
    public var subject: String?
    public var cause: (any Error)?

    public init(_ code: Code, _ message: String, subject: String? = nil, cause: (any Error)? = nil) {
        self.code = code
        self.message = message
        self.subject = subject
        self.cause = cause
    }

    /// `subject: message`, one line.
    public var description: String {
        if let subject { return "\(subject): \(message)" }
        return message
    }

    /// The same error about another subject (e.g. adding the file name at the boundary where it is known).
    public func about(_ subject: String) -> LaminaError {
        var copy = self
        if let existing = self.subject {
            // Errors from deeper layers often already name the same file.
            if !existing.hasPrefix(subject) { copy.subject = "\(subject): \(existing)" }
        } else {
            copy.subject = subject
        }
        return copy
    }
}

extension LaminaError {
    /// Runs `body`, and prefixes any `LaminaError` it throws with `subject`; other errors are wrapped.
    public static func about<T>(_ subject: String, _ body: () throws -> T) throws -> T {
        do { return try body() } catch let error as LaminaError {
            throw error.about(subject)
        } catch {
            throw LaminaError(.io, "\(error)", subject: subject, cause: error)
        }
    }
}
