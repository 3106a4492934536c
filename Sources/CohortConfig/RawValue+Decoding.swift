/// Typed readings of a raw value. Each returns nil when the value is null (the default stays) and throws a
/// one-line ``ConfigError`` naming the key, the value and what is allowed.
extension RawValue {
    static let durationHint = "use a number with ms, s, m or h (e.g. 500ms, 2s, 1m)"

    func bool() throws(ConfigError) -> Bool? {
        guard let text = try scalar("a boolean", hint: "use true or false") else { return nil }
        switch text.lowercased() {
        case "true": return true
        case "false": return false
        default: throw error("\(shown(text)) is not a boolean; use true or false")
        }
    }

    func int() throws(ConfigError) -> Int? {
        guard let text = try scalar("an integer") else { return nil }
        guard let value = Int(text) else {
            throw error("\(shown(text)) is not an integer")
        }
        return value
    }

    /// An integer of at least `minimum`; `hint` explains the allowed values.
    func int(atLeast minimum: Int, hint: String? = nil) throws(ConfigError) -> Int? {
        guard let value = try int() else { return nil }
        guard value >= minimum else {
            let problem = value < 0 ? "is negative" : "is too small"
            throw error("\(value) \(problem); " + (hint ?? "use \(minimum) or more"))
        }
        return value
    }

    /// A size: a whole number of bytes (no unit suffix) within `range`; `largest` names the upper bound
    /// in a unit, e.g. "16 MiB".
    func byteCount(in range: ClosedRange<Int>, _ largest: String) throws(ConfigError) -> Int? {
        let hint = "use a number of bytes, \(range.lowerBound)–\(range.upperBound) (\(largest); e.g. 1048576 for 1 MiB)"
        guard let text = try scalar("a number of bytes", hint: hint) else { return nil }
        guard let value = Int(text) else { throw error("\(shown(text)) is not a number of bytes; \(hint)") }
        guard range.contains(value) else { throw error("\(value) is out of range; \(hint)") }
        return value
    }

    /// A port; 0 only when `zeroMeans` says what 0 does.
    func port(zeroMeans: String? = nil) throws(ConfigError) -> Int? {
        guard let value = try int() else { return nil }
        let lowest = zeroMeans == nil ? 1 : 0
        guard (lowest...65535).contains(value) else {
            let range = zeroMeans.map { "use 0–65535 (0 = \($0))" } ?? "use 1–65535"
            throw error("\(value) is out of range; \(range)")
        }
        return value
    }

    func duration() throws(ConfigError) -> Duration? {
        guard let text = try scalar("a duration", hint: Self.durationHint) else { return nil }
        guard let value = DurationParser.parse(text) else {
            throw error("\(shown(text)) is not a duration; \(Self.durationHint)")
        }
        return value
    }

    /// A duration above zero.
    func positiveDuration() throws(ConfigError) -> Duration? {
        guard let value = try duration() else { return nil }
        guard value > .zero else {
            throw error("\(DurationParser.format(value)) must be greater than 0; \(Self.durationHint)")
        }
        return value
    }

    /// A duration where 0 means disabled (nil); `.some(nil)` = disabled, nil = null (keep default).
    func durationOrDisabled() throws(ConfigError) -> Duration?? {
        guard let value = try duration() else { return nil }
        guard value >= .zero else {
            throw error("\(DurationParser.format(value)) is negative; use 0 to disable or a positive duration")
        }
        return .some(value == .zero ? nil : value)
    }

    func string() throws(ConfigError) -> String? {
        try scalar("a string")
    }

    /// A host name or IP address without a port; empty is nil. Brackets around an IPv6 address are dropped.
    func host() throws(ConfigError) -> String?? {
        guard let text = try scalar("an address") else { return nil }
        if text.isEmpty { return .some(nil) }
        var host = Substring(text)
        if host.first == "[", host.last == "]" { host = host.dropFirst().dropLast() }
        if host.contains(where: { $0.isWhitespace || $0 == "/" || $0 == "[" || $0 == "]" }) || host.isEmpty {
            throw error("\(shown(text)) is not an IP address or host name")
        }
        if host.count(where: { $0 == ":" }) == 1 {
            throw error("\(shown(text)) includes a port; give the address alone and set the port key")
        }
        return .some(String(host))
    }

    /// One of the cases of `E`, case-insensitively.
    func choice<E: RawRepresentable & CaseIterable>(_ noun: String, _ type: E.Type) throws(ConfigError) -> E?
    where E.RawValue == String {
        let allowed = E.allCases.map(\.rawValue)
        guard let text = try scalar("a \(noun)", hint: "use " + alternatives(allowed)) else { return nil }
        guard let value = E.allCases.first(where: { $0.rawValue == text.lowercased() }) else {
            throw error("\(shown(text)) is not a \(noun); use \(alternatives(allowed))")
        }
        return value
    }

    /// Strings from a list or a comma-separated value.
    func strings(_ kind: String) throws(ConfigError) -> [String]? {
        guard let items = try list(kind) else { return nil }
        var values: [String] = []
        for item in items {
            guard let text = try item.scalar("a string") else { continue }
            values.append(text)
        }
        return values
    }

    /// The entries of a map value, in file order, each as a raw value under `path.key`; nil when null.
    func mapEntries(_ kind: String) throws(ConfigError) -> [(key: String, value: RawValue, keyLine: Int?)]? {
        if isNull { return nil }
        guard case .node(.mapping(let mapping)) = content else {
            if case .node(let node) = content {
                throw error("expected \(kind), found \(Self.describe(node))")
            }
            throw error("expected \(kind)")
        }
        var entries: [(key: String, value: RawValue, keyLine: Int?)] = []
        for (key, value) in mapping.entries {
            guard case .scalar(let name) = key else {
                throw error("expected \(kind), found a key that is \(Self.describe(key))")
            }
            entries.append((name.string, RawValue.file("\(path).\(name.string)", value), key.line))
        }
        return entries
    }
}
