import Logging

/// One structured journal field, sent to journald as `NAME=value`.
public struct JournalField: Sendable, Hashable, CustomStringConvertible {
    /// The field name: `[A-Z0-9_]`, not starting with a digit or `_`, at most 64 characters.
    public var name: String
    /// The value; may contain any bytes, including newlines.
    public var value: String

    /// Creates a field; `name` must already be a valid journal field name.
    public init(_ name: String, _ value: String) {
        self.name = name
        self.value = value
    }

    /// `NAME=value` (a value with line breaks travels in the native protocol's binary form: ``JournalSocket``).
    public var description: String { name + "=" + value }

    /// The longest field name journald accepts.
    public static let maximumNameLength = 64

    /// The prefix given to metadata keys that would otherwise start with a digit or `_`, be empty, or collide with
    /// a field the handler or journald gives a meaning to.
    public static let metadataPrefix = "META_"

    /// Field names that metadata may not take over, because this handler sets them or journald and `journalctl`
    /// give them a meaning.
    public static let reservedNames: Set<String> = [
        "MESSAGE", "MESSAGE_ID", "PRIORITY", "CODE_FILE", "CODE_LINE", "CODE_FUNC", "ERRNO", "TID",
        "SYSLOG_IDENTIFIER", "SYSLOG_FACILITY", "SYSLOG_PID", "SYSLOG_TIMESTAMP", "SYSLOG_RAW",
        "INVOCATION_ID", "USER_INVOCATION_ID", "DOCUMENTATION", "UNIT", "USER_UNIT", "OBJECT_PID",
        "COHORT_LOGGER", "COHORT_SOURCE",
    ]

    /// The journal field name for a swift-log metadata key: ASCII letters upper-cased, every other character
    /// (`.`, `-`, spaces, non-ASCII) replaced by `_`, `META_` prepended when the result is empty, starts with a
    /// digit or `_`, or is reserved, and cut to 64 characters. `raft.term` becomes `RAFT_TERM`.
    public static func name(forMetadataKey key: String) -> String {
        var name = sanitised(key)
        let startsBadly = name.first.map { $0 == "_" || $0.isNumber } ?? true
        if startsBadly || reservedNames.contains(name) {
            name = metadataPrefix + name
        }
        return String(name.prefix(maximumNameLength))
    }

    /// `key` with ASCII letters upper-cased and every character outside `[A-Za-z0-9]` replaced by `_`.
    private static func sanitised(_ key: String) -> String {
        String(String.UnicodeScalarView(key.unicodeScalars.map(sanitised)))
    }

    private static func sanitised(_ scalar: Unicode.Scalar) -> Unicode.Scalar {
        switch scalar {
        case "A"..."Z", "0"..."9": return scalar
        case "a"..."z": return Unicode.Scalar(scalar.value - 32)!
        default: return "_"
        }
    }

    /// The fields for one metadata entry: a dictionary becomes one field per leaf, named `PARENT_CHILD` (the child part
    /// only sanitised, `META_` prepended if the whole is reserved), an empty one the value `{}`; an array
    /// becomes one value `[a, b]`; anything else its description.
    public static func fields(forMetadataKey key: String, value: Logger.MetadataValue) -> [JournalField] {
        flatten(name: name(forMetadataKey: key), value: value)
    }

    private static func flatten(name: String, value: Logger.MetadataValue) -> [JournalField] {
        guard case .dictionary(let dictionary) = value, !dictionary.isEmpty else {
            return [JournalField(name, render(value))]
        }
        return dictionary.sorted { $0.key < $1.key }.flatMap { child in
            var childName = name + "_" + sanitised(child.key)
            if reservedNames.contains(childName) { childName = metadataPrefix + childName }
            return flatten(name: String(childName.prefix(maximumNameLength)), value: child.value)
        }
    }

    /// A metadata value as one line of text; nested dictionaries render as `{k: v}`, sorted by key.
    public static func render(_ value: Logger.MetadataValue) -> String {
        switch value {
        case .string(let string): return string
        case .stringConvertible(let convertible): return convertible.description
        case .array(let values): return "[" + values.map(render).joined(separator: ", ") + "]"
        case .dictionary(let dictionary):
            let entries = dictionary.sorted { $0.key < $1.key }.map { "\($0.key): \(render($0.value))" }
            return "{" + entries.joined(separator: ", ") + "}"
        }
    }
}
