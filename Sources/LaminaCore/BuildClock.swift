/// The one clock that reproducible outputs read: `SOURCE_DATE_EPOCH`, or an explicit build date.
public struct BuildClock: Sendable, Hashable {
    /// Seconds since the Unix epoch written into every mtime, `builddate` and `created`.
    public var epoch: Int64

    public init(epoch: Int64) { self.epoch = epoch }

    /// Reads `SOURCE_DATE_EPOCH` from `environment`; absent means 0 (1970), as reproducible tools do.
    /// - Throws: `LaminaError.invalidInput` when the variable is set but not a non-negative integer.
    public static func fromEnvironment(_ environment: [String: String]) throws -> BuildClock {
        guard let text = environment["SOURCE_DATE_EPOCH"], !text.isEmpty else { return BuildClock(epoch: 0) }
        guard let value = Int64(text.trimmingSpaces), value >= 0 else {
            throw LaminaError(.invalidInput, "SOURCE_DATE_EPOCH must be a whole number of seconds, not '\(text)'")
        }
        return BuildClock(epoch: value)
    }

    /// RFC 3339 UTC form of the epoch (`1970-01-01T00:00:00Z`), as OCI `created` fields use.
    public var rfc3339: String { Self.rfc3339(epoch) }

    public static func rfc3339(_ seconds: Int64) -> String {
        // Civil-from-days (Howard Hinnant's algorithm), valid for all Int64 days we meet.
        let days = seconds >= 0 ? seconds / 86400 : (seconds - 86399) / 86400
        let secondsOfDay = seconds - days * 86400
        let z = days + 719_468
        let era = (z >= 0 ? z : z - 146_096) / 146_097
        let doe = z - era * 146_097
        let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146_096) / 365
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100)
        let mp = (5 * doy + 2) / 153
        let day = doy - (153 * mp + 2) / 5 + 1
        let month = mp < 10 ? mp + 3 : mp - 9
        let year = yoe + era * 400 + (month <= 2 ? 1 : 0)
        func pad(_ value: Int64, _ width: Int) -> String {
            let text = String(value)
            return String(repeating: "0", count: max(0, width - text.count)) + text
        }
        return "\(pad(year, 4))-\(pad(month, 2))-\(pad(day, 2))T\(pad(secondsOfDay / 3600, 2)):\(pad(secondsOfDay / 60 % 60, 2)):\(pad(secondsOfDay % 60, 2))Z"
    }
}
