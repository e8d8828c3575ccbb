/// A duration written the way Go's `time.ParseDuration` reads it (`30m`, `1h30m`, `1.5h`, `90s`), as
/// melange's `package.timeout` is.
public struct GoDuration: Codable, Sendable, Hashable, CustomStringConvertible {
    /// The length in nanoseconds (Go's `time.Duration`).
    public var nanoseconds: Int64

    public init(nanoseconds: Int64) { self.nanoseconds = nanoseconds }

    /// Whole seconds, rounded down.
    public var seconds: Int64 { nanoseconds / 1_000_000_000 }

    private static let units: [(String, Double)] = [
        ("ns", 1), ("us", 1e3), ("µs", 1e3), ("μs", 1e3), ("ms", 1e6), ("s", 1e9), ("m", 60e9), ("h", 3600e9),
    ]

    /// Parses Go's duration syntax: an optional sign, then one or more `<number><unit>` (units ns, us, µs, ms,
    /// s, m, h); `0` alone is allowed.
    public init?(parsing text: String) {
        var rest = Substring(text)
        var negative = false
        if rest.first == "-" || rest.first == "+" {
            negative = rest.first == "-"
            rest = rest.dropFirst()
        }
        if rest == "0" {
            nanoseconds = 0
            return
        }
        guard !rest.isEmpty else { return nil }
        var total = 0.0
        while !rest.isEmpty {
            let number = rest.prefix { $0.isASCII && ($0.isNumber || $0 == ".") }
            guard !number.isEmpty, number != ".", number.filter({ $0 == "." }).count <= 1,
                let value = Double(number.hasPrefix(".") ? "0" + number : String(number))
            else { return nil }
            rest = rest.dropFirst(number.count)
            let unitText = rest.prefix { !($0.isASCII && ($0.isNumber || $0 == ".")) }
            guard let unit = Self.units.first(where: { $0.0 == unitText }) else { return nil }
            rest = rest.dropFirst(unitText.count)
            total += value * unit.1
        }
        guard total < 9.3e18 else { return nil }
        nanoseconds = Int64(total.rounded()) * (negative ? -1 : 1)
    }

    /// Go's `Duration.String()`: `1h30m0s`, `1.5s`, `250ms`, `0s`.
    public var description: String {
        if nanoseconds == 0 { return "0s" }
        let negative = nanoseconds < 0
        let u = nanoseconds.magnitude
        var text: String
        if u < 1_000_000_000 {
            if u < 1_000 {
                text = "\(u)ns"
            } else if u < 1_000_000 {
                text = Self.fraction(u, digits: 3) + "µs"
            } else {
                text = Self.fraction(u, digits: 6) + "ms"
            }
        } else {
            let nanosWithinSecond = u % 1_000_000_000
            var rest = u / 1_000_000_000
            text = Self.fraction((rest % 60) * 1_000_000_000 + nanosWithinSecond, digits: 9) + "s"
            rest /= 60
            if rest > 0 {
                text = "\(rest % 60)m" + text
                rest /= 60
                if rest > 0 { text = "\(rest)h" + text }
            }
        }
        return negative ? "-" + text : text
    }

    /// `value / 10^digits` with the fraction's trailing zeros dropped.
    private static func fraction(_ value: UInt64, digits: Int) -> String {
        var divisor: UInt64 = 1
        for _ in 0..<digits { divisor *= 10 }
        let whole = value / divisor
        var fractional = String(value % divisor)
        fractional = String(repeating: "0", count: digits - fractional.count) + fractional
        while fractional.hasSuffix("0") { fractional.removeLast() }
        return fractional.isEmpty ? "\(whole)" : "\(whole).\(fractional)"
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        if container.decodeNil() {
            nanoseconds = 0
            return
        }
        let text = try container.decode(String.self)
        if text == "0" {
            nanoseconds = 0
            return
        }
        guard let parsed = GoDuration(parsing: text) else {
            throw ConfigDecoding.error(decoder, "expected a duration such as '90m' or '1h30m', got '\(text)'")
        }
        self = parsed
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        if nanoseconds == 0 {
            try container.encode(Int64(0))
        } else {
            try container.encode(description)
        }
    }
}
