import LaminaCore

/// When and how often a failed request is sent again: exponential backoff, bounded in attempts and in total time.
///
/// Connection errors, 5xx (except 501 and 505) and 429 are retried; other 4xx never are. The delay before retry
/// `n` (1-based) is `initialDelay * multiplier^(n-1)`, capped at `maxDelay`, then shortened by up to `jitter` of
/// itself. With a `jitterSeed` the jitter is a pure function of the seed and `n`, so tests see fixed delays.
public struct RetryPolicy: Sendable, Hashable {
    /// Total sends allowed, the first included (1 means never retry).
    public var maxAttempts: Int
    public var initialDelay: Duration
    public var multiplier: Double
    public var maxDelay: Duration
    /// No retry starts once this much time has passed since the first attempt began.
    public var maxTotalTime: Duration
    /// Fraction (0…1) of each delay that may be removed at random, so many clients do not retry in step.
    public var jitter: Double
    /// Makes the jitter deterministic; nil draws it from the system random generator.
    public var jitterSeed: UInt64?

    public init(
        maxAttempts: Int = 3, initialDelay: Duration = .milliseconds(500), multiplier: Double = 2,
        maxDelay: Duration = .seconds(10), maxTotalTime: Duration = .seconds(120), jitter: Double = 0.2,
        jitterSeed: UInt64? = nil
    ) {
        self.maxAttempts = max(1, maxAttempts)
        self.initialDelay = initialDelay
        self.multiplier = multiplier
        self.maxDelay = maxDelay
        self.maxTotalTime = maxTotalTime
        self.jitter = min(max(jitter, 0), 1)
        self.jitterSeed = jitterSeed
    }

    /// 3 attempts, 0.5 s then 1 s apart (less up to 20% jitter), at most 2 minutes in all.
    public static let `default` = RetryPolicy()
    /// Send once, never retry.
    public static let never = RetryPolicy(maxAttempts: 1)

    /// The pause before retry number `retry` (1 for the second attempt).
    public func delay(beforeRetry retry: Int) -> Duration {
        let exponent = Double(max(0, retry - 1))
        var seconds = initialDelay.seconds * pow(multiplier, exponent)
        seconds = min(seconds, maxDelay.seconds)
        if jitter > 0 {
            let unit: Double
            if let jitterSeed {
                unit = Double(SplitMix64.mix(jitterSeed &+ UInt64(retry)) >> 11) / Double(1 << 53)
            } else {
                unit = Double.random(in: 0..<1)
            }
            seconds -= seconds * jitter * unit
        }
        return .nanoseconds(Int64((seconds * 1e9).rounded()))
    }

    /// Seconds to wait from a `Retry-After` value: delay-seconds (`120`) or an HTTP-date
    /// (`Wed, 21 Oct 2015 07:28:00 GMT`, RFC 9110 §10.2.3) measured from `now` (seconds since the epoch).
    /// nil when the value is neither; 0 for a date in the past.
    public static func retryAfterSeconds(_ value: String, now: Int64) -> Int? {
        let text = value.trimmingSpaces
        if let seconds = Int(text) { return seconds >= 0 ? seconds : nil }
        // IMF-fixdate: day-name "," SP day SP month SP year SP hh:mm:ss SP "GMT"
        let parts = text.split(separator: " ")
        let months = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]
        guard parts.count == 6, parts[0].hasSuffix(","), parts[5] == "GMT", let day = Int(parts[1]), (1...31).contains(day),
            let monthIndex = months.firstIndex(of: String(parts[2])), let year = Int(parts[3]), year >= 1970
        else { return nil }
        let clock = parts[4].split(separator: ":").compactMap { Int($0) }
        guard clock.count == 3, (0..<24).contains(clock[0]), (0..<60).contains(clock[1]), (0...60).contains(clock[2]) else { return nil }
        // Days since 1970-01-01 of a civil date (Howard Hinnant's algorithm).
        let month = monthIndex + 1
        let y = month <= 2 ? year - 1 : year
        let era = y / 400
        let yearOfEra = y - era * 400
        let dayOfYear = (153 * (month + (month > 2 ? -3 : 9)) + 2) / 5 + day - 1
        let dayOfEra = yearOfEra * 365 + yearOfEra / 4 - yearOfEra / 100 + dayOfYear
        let days = Int64(era * 146_097 + dayOfEra - 719_468)
        let at = days * 86400 + Int64(clock[0] * 3600 + clock[1] * 60 + clock[2])
        return Int(max(0, at - now))
    }

    /// Whether a response status is worth another attempt.
    public static func isRetryable(status: Int) -> Bool {
        status == 429 || (500...599).contains(status) && status != 501 && status != 505
    }
}

/// `pow` without Foundation: repeated multiplication (exponents here are small whole numbers).
private func pow(_ base: Double, _ exponent: Double) -> Double {
    var result = 1.0
    var remaining = Int(exponent)
    while remaining > 0 {
        result *= base
        remaining -= 1
        if result > 1e12 { break }
    }
    return result
}

extension Duration {
    /// The duration in seconds, as a Double.
    var seconds: Double {
        let (whole, attoseconds) = components
        return Double(whole) + Double(attoseconds) / 1e18
    }
}

/// The SplitMix64 finaliser: a fixed, well-mixed 64-bit hash used for deterministic jitter.
enum SplitMix64 {
    static func mix(_ value: UInt64) -> UInt64 {
        var z = value &+ 0x9E37_79B9_7F4A_7C15
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
