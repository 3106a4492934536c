/// Size limits of the remote signal format; the decoder rejects anything larger before allocating for it.
public enum ProcessWireLimits {
    /// The format version this runtime writes and reads (the first byte of every signal).
    public static let version: UInt8 = 1
    /// Longest node name in a PID or monitor reference, in UTF-8 bytes.
    public static let maxNodeNameBytes = 255
    /// Longest message topic, in UTF-8 bytes; a longer one is not sent (dropped as `oversized`).
    public static let maxTopicBytes = 1024
    /// Longest local or cluster name, in UTF-8 bytes.
    public static let maxNameBytes = 1024
    /// Longest cancel reason or failure description; longer ones are cut (at a character boundary) when sent.
    public static let maxReasonBytes = 4096
    /// Largest message payload or normal-exit result: 16 MiB, the mesh's frame limit, less room for the headers.
    public static let maxPayloadBytes = 16 * 1024 * 1024 - 64 * 1024
}

/// Why bytes are not a ``ProcessSignal``, or a signal cannot be written.
public enum ProcessWireError: Error, Hashable, Sendable, CustomStringConvertible {
    /// No bytes at all.
    case empty
    /// The first byte is a format version this runtime does not know (a newer peer?).
    case unsupportedVersion(UInt8)
    /// The signal kind byte is not one of the known kinds.
    case unknownKind(UInt8)
    /// The bytes end inside a field.
    case truncated
    /// A field is longer than its limit in ``ProcessWireLimits`` (or empty where it must not be).
    case oversized(field: String)
    /// A text field is not valid UTF-8 (or a node name is empty).
    case invalidText(field: String)
    /// A tag byte (optional marker, outcome kind) has an unknown value.
    case invalidTag(field: String, value: UInt8)
    /// Bytes remain after a complete signal.
    case trailingBytes(Int)

    public var description: String {
        switch self {
        case .empty: "empty signal"
        case .unsupportedVersion(let version): "unsupported signal version \(version) (this node speaks \(ProcessWireLimits.version))"
        case .unknownKind(let kind): "unknown signal kind \(kind)"
        case .truncated: "signal truncated"
        case .oversized(let field): "\(field) exceeds its size limit"
        case .invalidText(let field): "\(field) is not valid UTF-8 text"
        case .invalidTag(let field, let value): "invalid \(field) tag \(value)"
        case .trailingBytes(let count): "\(count) bytes after the end of the signal"
        }
    }
}
