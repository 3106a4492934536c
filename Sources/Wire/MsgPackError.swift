/// Why a msgpack value could not be read.
///
/// Only ``truncated`` can be cured by waiting for more bytes; every other case means the bytes are malformed
/// and should be dropped.
public enum MsgPackError: Error, Hashable, Sendable {
    /// The input ended inside a value.
    case truncated
    /// The reserved format byte `0xc1`, which no encoder emits.
    case reservedFormat
    /// The value has a different msgpack type than the field expects.
    case typeMismatch(expected: MsgPackType, format: UInt8)
    /// An integer does not fit the field's Swift type (including a negative value for an unsigned field).
    case integerOverflow
    /// A string, byte string or container declares more elements than ``MsgPackLimits`` allow.
    case lengthLimitExceeded(length: Int, limit: Int)
    /// Containers are nested deeper than ``MsgPackLimits/maxDepth``.
    case depthLimitExceeded(limit: Int)
    /// A string field holds bytes that are not UTF-8.
    case invalidUTF8

    /// A short, stable label for metrics and logs.
    public var reason: String {
        switch self {
        case .truncated: "truncated"
        case .reservedFormat: "reserved_format"
        case .typeMismatch: "type_mismatch"
        case .integerOverflow: "integer_overflow"
        case .lengthLimitExceeded: "length_limit"
        case .depthLimitExceeded: "depth_limit"
        case .invalidUTF8: "invalid_utf8"
        }
    }
}

/// The kinds of msgpack value, as named in error messages.
public enum MsgPackType: String, Hashable, Sendable {
    /// `nil` (0xc0).
    case `nil`
    /// `true` / `false`.
    case bool
    /// Any signed or unsigned integer encoding.
    case integer
    /// float32 or float64.
    case float
    /// fixstr, str8/16/32 (the old "raw" family memberlist uses for both strings and bytes).
    case string
    /// bin8/16/32.
    case binary
    /// fixarray, array16/32.
    case array
    /// fixmap, map16/32.
    case map
    /// fixext and ext8/16/32.
    case ext
}

/// Bounds every msgpack read so that no input can make the decoder allocate or recurse without limit.
public struct MsgPackLimits: Hashable, Sendable {
    /// Deepest nesting of arrays and maps accepted. Default 16; memberlist messages nest at most 1 deep.
    public var maxDepth: Int
    /// Longest string or byte string accepted, in bytes. Default 16 MiB.
    public var maxByteLength: Int
    /// Most elements (array) or entries (map) in one container. Default 65 536.
    public var maxContainerCount: Int

    /// Limits with the documented defaults, each overridable.
    public init(maxDepth: Int = 16, maxByteLength: Int = 16 << 20, maxContainerCount: Int = 65_536) {
        self.maxDepth = maxDepth
        self.maxByteLength = maxByteLength
        self.maxContainerCount = maxContainerCount
    }

    /// The defaults.
    public static let `default` = MsgPackLimits()
}
