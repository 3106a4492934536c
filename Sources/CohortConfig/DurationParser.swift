import CohortCore
#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

/// Reads and writes the duration syntax of the configuration file: `500ms`, `2s`, `1m`, `1h`, `1m30s`.
///
/// A duration is one or more `<number><unit>` parts, where the number may have a decimal fraction
/// (`1.5s`) and the unit is `ms`, `s`, `m` or `h`. A bare `0` is zero. A leading `-` makes it negative, so
/// a negative value gets a "must be positive" error instead of a syntax error. Precision is one nanosecond.
public enum DurationParser {
    /// The units, longest name first so `ms` is matched before `m`.
    private static let units: [(name: String, nanoseconds: Int64)] = [
        ("ms", 1_000_000),
        ("h", 3_600_000_000_000),
        ("m", 60_000_000_000),
        ("s", 1_000_000_000),
    ]

    /// Parses `text` (surrounding whitespace ignored); nil when it is not a duration or overflows.
    public static func parse(_ text: String) -> Duration? {
        var rest = Substring(text.trimmingWhitespace())
        var negative = false
        if rest.first == "-" || rest.first == "+" {
            negative = rest.first == "-"
            rest = rest.dropFirst()
        }
        if rest == "0" { return .zero }
        guard !rest.isEmpty else { return nil }
        var total: Int64 = 0
        while !rest.isEmpty {
            let whole = rest.prefix(while: \.isASCIIDigit)
            rest = rest.dropFirst(whole.count)
            var fraction = Substring()
            if rest.first == "." {
                rest = rest.dropFirst()
                fraction = rest.prefix(while: \.isASCIIDigit)
                rest = rest.dropFirst(fraction.count)
            }
            guard !whole.isEmpty || !fraction.isEmpty else { return nil }
            guard let unit = units.first(where: { rest.hasPrefix($0.name) }) else { return nil }
            rest = rest.dropFirst(unit.name.count)
            guard let part = nanoseconds(whole: whole, fraction: fraction, unit: unit.nanoseconds) else { return nil }
            let (sum, overflow) = total.addingReportingOverflow(part)
            guard !overflow else { return nil }
            total = sum
        }
        return .nanoseconds(negative ? -total : total)
    }

    /// Writes `duration` in the shortest form `parse` reads back exactly: `0`, `500ms`, `2s`, `1m30s`, `1h`.
    public static func format(_ duration: Duration) -> String {
        let (seconds, attoseconds) = duration.components
        var nanoseconds = seconds.multipliedReportingOverflow(by: 1_000_000_000).partialValue
            &+ attoseconds / 1_000_000_000
        if nanoseconds == 0 { return "0" }
        var text = nanoseconds < 0 ? "-" : ""
        nanoseconds = nanoseconds.magnitude > Int64.max.magnitude ? Int64.max : abs(nanoseconds)
        for (name, size) in [("h", Int64(3_600_000_000_000)), ("m", 60_000_000_000), ("s", 1_000_000_000)]
        where nanoseconds >= size {
            text += "\(nanoseconds / size)\(name)"
            nanoseconds %= size
        }
        if nanoseconds > 0 {
            let milliseconds = nanoseconds / 1_000_000
            let remainder = nanoseconds % 1_000_000
            if remainder == 0 {
                text += "\(milliseconds)ms"
            } else {
                var digits = String(remainder)
                digits = String(repeating: "0", count: 6 - digits.count) + digits
                while digits.hasSuffix("0") { digits.removeLast() }
                text += "\(milliseconds).\(digits)ms"
            }
        }
        return text
    }

    private static func nanoseconds(whole: Substring, fraction: Substring, unit: Int64) -> Int64? {
        var value: Int64 = 0
        for digit in whole {
            let (times10, overflowA) = value.multipliedReportingOverflow(by: 10)
            let (next, overflowB) = times10.addingReportingOverflow(Int64(digit.asciiValue! - 48))
            guard !overflowA, !overflowB else { return nil }
            value = next
        }
        let (scaled, overflow) = value.multipliedReportingOverflow(by: unit)
        guard !overflow else { return nil }
        guard !fraction.isEmpty else { return scaled }
        // Exact decimal arithmetic on at most 18 fraction digits: the unit is at most 3.6e12 ns,
        // so digits past the 15th are below a nanosecond.
        var numerator: Int64 = 0
        var denominator: Int64 = 1
        for digit in fraction.prefix(15) {
            numerator = numerator * 10 + Int64(digit.asciiValue! - 48)
            denominator *= 10
        }
        let part = (numerator.multipliedFullWidth(by: unit))
        let (quotient, _) = denominator.dividingFullWidth(part)
        let (sum, overflowSum) = scaled.addingReportingOverflow(quotient)
        return overflowSum ? nil : sum
    }
}

extension Character {
    fileprivate var isASCIIDigit: Bool { isASCII && isNumber }
}
