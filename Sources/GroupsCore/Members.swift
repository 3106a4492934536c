import CohortCore

/// The memberships one node holds in one scope: group → process → how many times it joined.
///
/// A process may join a group several times (Erlang's `pg`); it stays a member until it has left as many
/// times. ``digest`` is an order-independent hash of the whole content, kept up to date with every
/// change, so two nodes can compare their copies without sending them.
public struct Members: Sendable, Equatable {
    /// Group → member → multiplicity (≥ 1).
    public private(set) var groups: [String: [PID: Int]] = [:]
    /// Memberships counted with multiplicity.
    public private(set) var count = 0
    /// Σ multiplicity × hash(group, member), wrapping: equal contents give equal digests on every node.
    public private(set) var digest: UInt64 = 0

    public init() {}

    /// Members of `group` (each once), sorted.
    public func members(of group: String) -> [PID] {
        guard let entries = groups[group] else { return [] }
        return entries.keys.sorted()
    }

    /// Members of `group` with multiplicity, sorted: a process that joined twice appears twice.
    public func membersWithMultiplicity(of group: String) -> [PID] {
        guard let entries = groups[group] else { return [] }
        return entries.sorted { $0.key < $1.key }.flatMap { Array(repeating: $0.key, count: $0.value) }
    }

    /// Adds `times` memberships of `pid` in `group`; returns whether the group was new here.
    @discardableResult
    public mutating func add(_ pid: PID, to group: String, times: Int = 1) -> Bool {
        precondition(times > 0, "a join adds at least one membership")
        let isNew = groups[group] == nil
        groups[group, default: [:]][pid, default: 0] += times
        count += times
        digest &+= UInt64(times) &* Self.hash(group, pid)
        return isNew
    }

    /// Removes up to `times` memberships of `pid` from `group`; returns how many it removed.
    @discardableResult
    public mutating func remove(_ pid: PID, from group: String, times: Int = 1) -> Int {
        // In place (no copy of the group's members, which may be many).
        guard let held = groups[group]?[pid] else { return 0 }
        let removed = min(held, times)
        groups[group]![pid] = held > removed ? held - removed : nil
        if groups[group]!.isEmpty { groups[group] = nil }
        count -= removed
        digest &-= UInt64(removed) &* Self.hash(group, pid)
        return removed
    }

    /// FNV-1a over the group's UTF-8 bytes, a separator and the PID's fields: the same on every node
    /// (Swift's `Hasher` is seeded per process, so it cannot be used here).
    static func hash(_ group: String, _ pid: PID) -> UInt64 {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        func mix(_ byte: UInt8) {
            hash ^= UInt64(byte)
            hash &*= 0x0000_0100_0000_01b3
        }
        for byte in group.utf8 { mix(byte) }
        mix(0)
        for byte in pid.node.rawValue.utf8 { mix(byte) }
        mix(0)
        for value in [pid.incarnation.rawValue, pid.serial] {
            for shift in stride(from: 0, to: 64, by: 8) { mix(UInt8(truncatingIfNeeded: value >> UInt64(shift))) }
        }
        // A final avalanche, so that sums of hashes of similar entries do not cancel out by accident.
        hash ^= hash >> 33
        hash &*= 0xff51_afd7_ed55_8ccd
        hash ^= hash >> 33
        return hash
    }
}
