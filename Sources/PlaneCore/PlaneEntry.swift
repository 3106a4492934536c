import CohortCore

/// Who wrote an entry, and when: a hybrid logical clock stamp, ties broken by the writer's node ID. Two
/// writes never share a stamp unless the same node wrote both in the same clock tick, which its clock
/// prevents.
public struct PlaneStamp: Hashable, Comparable, Sendable, CustomStringConvertible {
    /// The writer's clock.
    public var time: HLC
    /// The writer.
    public var node: NodeID

    /// A stamp.
    public init(time: HLC, node: NodeID) {
        self.time = time
        self.node = node
    }

    public static func < (lhs: PlaneStamp, rhs: PlaneStamp) -> Bool {
        lhs.time != rhs.time ? lhs.time < rhs.time : lhs.node < rhs.node
    }

    public var description: String { "\(time)@\(node)" }
}

/// One key's state in a plane: a value, or a tombstone (a delete that must outlive the value it removed
/// until every member has seen it), with the stamp of the write and an optional expiry.
public struct PlaneEntry: Hashable, Sendable, CustomStringConvertible {
    /// The key (at most ``PlaneLimits/maxKeyBytes``).
    public var key: [UInt8]
    /// The write that made this state.
    public var stamp: PlaneStamp
    /// The value; nil for a tombstone.
    public var value: [UInt8]?
    /// Physical milliseconds (Unix epoch) after which the value counts as deleted; nil: never. A
    /// tombstone has none.
    public var expiresAtMillis: UInt64?

    /// A value.
    public init(key: [UInt8], stamp: PlaneStamp, value: [UInt8], expiresAtMillis: UInt64? = nil) {
        self.key = key
        self.stamp = stamp
        self.value = value
        self.expiresAtMillis = expiresAtMillis
    }

    /// A tombstone.
    public init(tombstone key: [UInt8], stamp: PlaneStamp) {
        self.key = key
        self.stamp = stamp
        self.value = nil
        self.expiresAtMillis = nil
    }

    /// True for a delete.
    public var isTombstone: Bool { value == nil }

    /// True when the value has expired at `nowMillis` (physical milliseconds).
    public func isExpired(atMillis nowMillis: UInt64) -> Bool {
        guard let expiresAtMillis else { return false }
        return expiresAtMillis <= nowMillis
    }

    /// True when this entry replaces `other` (the same key) in a merge: the later stamp wins; on equal
    /// stamps a delete wins, then the larger value, then the later expiry. The order is total, so every
    /// node keeps the same entry whatever order the two arrive in.
    public func supersedes(_ other: PlaneEntry) -> Bool {
        if stamp != other.stamp { return stamp > other.stamp }
        switch (value, other.value) {
        case (nil, nil): return false
        case (nil, _): return true
        case (_, nil): return false
        case (let mine?, let theirs?):
            if mine != theirs { return theirs.lexicographicallyPrecedes(mine) }
            return (expiresAtMillis ?? .max) > (other.expiresAtMillis ?? .max)
        }
    }

    /// A 64-bit hash of everything in the entry, the same on every node and every run (the digest adds
    /// these per shard).
    public var digestHash: UInt64 {
        var hash = StableHash()
        hash.add(key)
        hash.add(stamp.time.rawValue)
        hash.add(Array(stamp.node.rawValue.utf8))
        if let value {
            hash.add(1)
            hash.add(value)
        } else {
            hash.add(0)
        }
        hash.add(expiresAtMillis ?? .max)
        return hash.value
    }

    public var description: String {
        let key = String(decoding: key, as: UTF8.self)
        return value == nil ? "\(key)=⊥ \(stamp)" : "\(key)=\(value!.count)B \(stamp)"
    }
}

/// FNV-1a over bytes with a final avalanche (SplitMix64's), so it is stable across processes (Swift's
/// `Hasher` is seeded per process and cannot be compared between nodes).
struct StableHash {
    private(set) var state: UInt64 = 0xcbf2_9ce4_8422_2325

    mutating func add(_ bytes: [UInt8]) {
        add(UInt64(bytes.count))
        for byte in bytes {
            state ^= UInt64(byte)
            state = state &* 0x0000_0100_0000_01b3
        }
    }

    mutating func add(_ number: UInt64) {
        var number = number
        for _ in 0..<8 {
            state ^= number & 0xff
            state = state &* 0x0000_0100_0000_01b3
            number >>= 8
        }
    }

    var value: UInt64 {
        var z = state &+ 0x9e37_79b9_7f4a_7c15
        z = (z ^ (z >> 30)) &* 0xbf58_476d_1ce4_e5b9
        z = (z ^ (z >> 27)) &* 0x94d0_49bb_1331_11eb
        return z ^ (z >> 31)
    }
}

/// Size limits of plane entries, checked by the codec and by writers.
public enum PlaneLimits {
    /// Longest key.
    public static let maxKeyBytes = 1024
    /// Largest value.
    public static let maxValueBytes = 512 * 1024
    /// Longest node ID.
    public static let maxNodeBytes = 255
    /// Longest plane id.
    public static let maxPlaneIDBytes = 255
}
