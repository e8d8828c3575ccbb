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
