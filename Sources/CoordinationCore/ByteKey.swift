import CohortCore

/// A name as the replicated state holds it: UTF-8 bytes, compared, hashed and ordered as bytes.
///
/// Swift's `String` equality is canonical equivalence ("é" precomposed equals "e" + a combining accent),
/// which would make two keys that differ in bytes one entry on some paths and two on others; bytes are
/// what every replica agrees on. Store names, keys, lock names and registered names are all `ByteKey`s.
public struct ByteKey: Hashable, Comparable, Sendable, CustomStringConvertible {
    /// The UTF-8 bytes (validated when they enter the state).
    public let bytes: [UInt8]

    /// The key of a string.
    public init(_ string: String) { bytes = Array(string.utf8) }

    /// A key of bytes already known to be UTF-8.
    public init(bytes: [UInt8]) { self.bytes = bytes }

    /// The key as text.
    public var string: String { String(decoding: bytes, as: UTF8.self) }

    public var description: String { string }

    /// True when the key starts with `prefix`.
    public func hasPrefix(_ prefix: ByteKey) -> Bool { bytes.starts(with: prefix.bytes) }

    public static func < (lhs: ByteKey, rhs: ByteKey) -> Bool { lhs.bytes.lexicographicallyPrecedes(rhs.bytes) }
}

/// A key of one store: ordered by store, then key, so one store's keys are contiguous and a prefix list
/// is a range scan.
public struct ScopedKey: Hashable, Comparable, Sendable, CustomStringConvertible {
    /// The store's name.
    public let store: ByteKey
    /// The key within the store.
    public let key: ByteKey

    /// A key of `store`.
    public init(store: ByteKey, key: ByteKey) {
        self.store = store
        self.key = key
    }

    public var description: String { "\(store)/\(key)" }

    public static func < (lhs: ScopedKey, rhs: ScopedKey) -> Bool {
        lhs.store != rhs.store ? lhs.store < rhs.store : lhs.key < rhs.key
    }
}
