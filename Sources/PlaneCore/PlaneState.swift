import CohortCore
import CoordinationCore

/// One node's copy of a plane: a last-writer-wins map from keys to ``PlaneEntry`` values and tombstones,
/// split into shards whose order-independent hashes make the digest that anti-entropy compares.
///
/// A state-based CRDT: ``merge(_:atLocalMillis:physicalMillis:)`` is commutative, associative and
/// idempotent per key (``PlaneEntry/supersedes(_:)`` is a total order), so two nodes that have merged the
/// same set of entries hold the same map, whatever the order, duplication or batching. Local removals
/// (``remove(where:)``, tombstone collection, expiry) are the shell's decisions, made identically on every
/// node from the same facts (a departure, an expiry time, an agreed collection rule).
///
/// Copies are O(1) (a persistent sorted map), so a reader takes the state as it is and never waits for a
/// merge; a prefix listing costs O(log n + k).
public struct PlaneState: Sendable {
    /// The number of shards a new state has.
    public static let defaultShardCount = 64

    /// The number of shards.
    public let shardCount: Int
    /// Every entry, values and tombstones, by key.
    public private(set) var entries = PersistentSortedMap<ByteKey, PlaneEntry>()
    /// Per shard: the wrapping sum of its entries' ``PlaneEntry/digestHash`` (and its remembered collected
    /// tombstones').
    public private(set) var shardHashes: [UInt64]
    /// Per shard: its number of entries.
    public private(set) var shardCounts: [Int]
    /// Entries that are tombstones.
    public private(set) var tombstoneCount = 0
    /// When each tombstone was merged here (the shell's monotonic milliseconds): local, not replicated.
    public private(set) var tombstoneArrivals: [ByteKey: UInt64] = [:]
    /// Tombstones collected here and still remembered, by key: the tombstone and when it went (the shell's
    /// monotonic milliseconds). A remembered tombstone still counts in its shard's hash (and the digest's
    /// count) and is still served to pulls (``entries(inShards:)``), so this node keeps matching the peers
    /// that hold it and a newcomer still learns it; but it no longer counts as an entry, and an entry no
    /// newer than it is not taken in. (Forgetting it at once would make this node pull it back from a peer
    /// that has not collected it yet, which would then need a new round of matches: with three nodes or
    /// more the collection chases itself forever.) Every node forgets it at the same wall-clock time, its
    /// stamp plus ``horizonMillis``.
    public private(set) var collected: [ByteKey: (tombstone: PlaneEntry, atLocalMillis: UInt64)] = [:]
    /// How long after its stamp (wall-clock milliseconds) a tombstone is kept at most, collected or not;
    /// nil: no limit. A tombstone older than this is not stored on arrival (it still removes the older
    /// entry it supersedes), and ``dropPastHorizon(physicalMillis:)`` removes those held, so that every node
    /// forgets a delete at about the same time. Set once, before the first merge.
    public var horizonMillis: UInt64?
    /// No value expires before this (physical milliseconds); nil: none has an expiry. A lower bound: it
    /// may be earlier than the earliest expiry left after removals.
    public private(set) var nextExpiryMillis: UInt64?

    /// An empty state.
    public init(shardCount: Int = PlaneState.defaultShardCount) {
        precondition(shardCount > 0 && shardCount <= PlaneDigest.maxShards, "shard count out of range")
        self.shardCount = shardCount
        shardHashes = Array(repeating: 0, count: shardCount)
        shardCounts = Array(repeating: 0, count: shardCount)
    }

    /// Entries that hold a value (expired or not).
    public var valueCount: Int { entries.count - tombstoneCount }

    /// True while the timer has work here every tick: a value with an expiry, or a tombstone to collect.
    /// False: ``expire(atMillis:localMillis:)`` and tombstone collection have nothing to do until a merge
    /// brings an expiry or a tombstone (the shell's timer parks).
    public var needsTick: Bool { nextExpiryMillis != nil || tombstoneCount > 0 }

    /// When the first collected tombstone still remembered passes ``horizonMillis`` (physical
    /// milliseconds), for ``dropPastHorizon(physicalMillis:)``; nil when none is remembered or there is no
    /// horizon. O(remembered tombstones).
    public var nextForgetMillis: UInt64? {
        guard let horizon = horizonMillis else { return nil }
        return collected.values.lazy.map { $0.tombstone.stamp.time.millis &+ horizon &+ 1 }.min()
    }

    /// The shard `key` belongs to.
    public func shard(of key: [UInt8]) -> Int {
        var hash = StableHash()
        hash.add(key)
        return Int(hash.value % UInt64(shardCount))
    }

    /// The entry of `key` (a value or a tombstone), or nil.
    public subscript(key: [UInt8]) -> PlaneEntry? {
        entries[ByteKey(bytes: key)]
    }

    /// What a merge or a removal changed.
    public struct Change: Hashable, Sendable {
        /// The key.
        public var key: [UInt8]
        /// The entry before (nil: none).
        public var old: PlaneEntry?
        /// The entry after (nil: removed without a tombstone).
        public var new: PlaneEntry?

        /// A change.
        public init(key: [UInt8], old: PlaneEntry?, new: PlaneEntry?) {
            self.key = key
            self.old = old
            self.new = new
        }
    }

    /// Merges `entry`: it replaces the current entry of its key when it supersedes it. A value already
    /// expired at `physicalMillis` is taken in as a tombstone of the same stamp (what ``expire(atMillis:localMillis:)``
    /// turns it into on every node that merged it earlier), so it still replaces the older entries it
    /// superseded: dropping it instead would leave this node with an older value that the others no longer
    /// hold. `localMillis` is the shell's monotonic clock, recorded for tombstone collection. Returns the
    /// change, or nil when nothing changed.
    @discardableResult
    public mutating func merge(_ entry: PlaneEntry, atLocalMillis localMillis: UInt64, physicalMillis: UInt64) -> Change? {
        var entry = entry
        if !entry.isTombstone, entry.isExpired(atMillis: physicalMillis) {
            entry = PlaneEntry(tombstone: entry.key, stamp: entry.stamp)
        }
        let key = ByteKey(bytes: entry.key)
        if let gone = collected[key] {
            guard entry.supersedes(gone.tombstone) else { return nil }
            unremember(key)
        }
        let old = entries[key]
        if let old, !entry.supersedes(old) { return nil }
        if entry.isTombstone, let horizon = horizonMillis, entry.stamp.time.millis &+ horizon < physicalMillis {
            // Past its horizon: it deletes what it supersedes, and is not kept.
            guard let old else { return nil }
            account(removing: old, key: key)
            entries.removeValue(forKey: key)
            return Change(key: entry.key, old: old, new: nil)
        }
        if let old { account(removing: old, key: key) }
        entries.updateValue(entry, forKey: key)
        account(adding: entry, key: key, atLocalMillis: localMillis)
        return Change(key: entry.key, old: old, new: entry)
    }

    /// Turns every value expired at `physicalMillis` into a tombstone of the same stamp (which supersedes
    /// it: a delete wins a tie), so the expiry replicates like a delete and is collected like one. Every
    /// node makes the same change, whenever its timer runs. Cheap when nothing can have expired yet.
    /// Returns the changes, in key order.
    @discardableResult
    public mutating func expire(atMillis physicalMillis: UInt64, localMillis: UInt64) -> [Change] {
        guard let next = nextExpiryMillis, next <= physicalMillis else { return [] }
        var expired: [PlaneEntry] = []
        var earliest: UInt64?
        for (_, entry) in entries {
            guard !entry.isTombstone, let expiry = entry.expiresAtMillis else { continue }
            if expiry <= physicalMillis {
                expired.append(entry)
            } else {
                earliest = min(earliest ?? expiry, expiry)
            }
        }
        nextExpiryMillis = earliest
        return expired.compactMap { merge(PlaneEntry(tombstone: $0.key, stamp: $0.stamp), atLocalMillis: localMillis, physicalMillis: physicalMillis) }
    }

    /// Removes, without tombstones, every entry `predicate` picks (a departed owner's entries, expired
    /// values). Returns what was removed, in key order.
    @discardableResult
    public mutating func remove(where predicate: (PlaneEntry) -> Bool) -> [Change] {
        var removed: [Change] = []
        for (key, entry) in entries where predicate(entry) {
            removed.append(Change(key: key.bytes, old: entry, new: nil))
        }
        for change in removed {
            let key = ByteKey(bytes: change.key)
            account(removing: change.old!, key: key)
            entries.removeValue(forKey: key)
        }
        return removed
    }

    /// Drops the tombstones of each shard `s` that arrived here before `cutoffs[s]` (the shell's
    /// monotonic milliseconds): the moment after which every alive member was seen to hold the same
    /// shard, so every one of them has the tombstone already. Returns how many were dropped.
    @discardableResult
    public mutating func collectTombstones(arrivedBefore cutoffs: [UInt64], atLocalMillis localMillis: UInt64 = 0) -> Int {
        removeTombstones(arrivedBefore: cutoffs, atLocalMillis: localMillis).count
    }

    /// ``collectTombstones(arrivedBefore:)``, returning what was removed, in key order.
    @discardableResult
    public mutating func removeTombstones(arrivedBefore cutoffs: [UInt64], atLocalMillis localMillis: UInt64) -> [Change] {
        precondition(cutoffs.count == shardCount, "one cutoff per shard")
        let doomed = tombstoneArrivals.filter { key, arrived in arrived < cutoffs[shard(of: key.bytes)] }.map(\.key).sorted()
        var removed: [Change] = []
        for key in doomed {
            guard let entry = entries[key] else { continue }
            account(removing: entry, key: key)
            entries.removeValue(forKey: key)
            collected[key] = (entry, localMillis)
            shardHashes[shard(of: key.bytes)] &+= entry.digestHash
            removed.append(Change(key: key.bytes, old: entry, new: nil))
        }
        return removed
    }

    /// Removes the tombstones, held or remembered, whose stamp is more than ``horizonMillis`` before
    /// `physicalMillis`. Returns the held ones removed, in key order.
    @discardableResult
    public mutating func dropPastHorizon(physicalMillis: UInt64) -> [Change] {
        guard let horizon = horizonMillis, physicalMillis > horizon else { return [] }
        let limit = physicalMillis - horizon
        for (key, gone) in collected where gone.tombstone.stamp.time.millis < limit { unremember(key) }
        guard tombstoneCount > 0 else { return [] }
        var removed: [Change] = []
        for key in tombstoneArrivals.keys.sorted() {
            guard let entry = entries[key], entry.stamp.time.millis < limit else { continue }
            account(removing: entry, key: key)
            entries.removeValue(forKey: key)
            removed.append(Change(key: key.bytes, old: entry, new: nil))
        }
        return removed
    }

    /// Forgets the tombstones collected before `localMillis` (see ``collected``).
    public mutating func forgetCollected(before localMillis: UInt64) {
        guard !collected.isEmpty else { return }
        for (key, gone) in collected where gone.atLocalMillis < localMillis { unremember(key) }
    }

    private mutating func unremember(_ key: ByteKey) {
        guard let gone = collected.removeValue(forKey: key) else { return }
        shardHashes[shard(of: key.bytes)] &-= gone.tombstone.digestHash
    }

    /// The values (not tombstones) whose keys start with `prefix` and sort after `after`, in key order, at
    /// most `limit`, leaving out those expired at `physicalMillis`. O(log n + k).
    public func values(prefix: [UInt8] = [], after: [UInt8]? = nil, limit: Int = .max, physicalMillis: UInt64) -> [PlaneEntry] {
        let prefixKey = ByteKey(bytes: prefix)
        let walk: PersistentSortedMap<ByteKey, PlaneEntry>.Entries
        if let after, ByteKey(bytes: after) >= prefixKey {
            walk = entries.entries(after: ByteKey(bytes: after))
        } else {
            walk = entries.entries(from: prefixKey)
        }
        var found: [PlaneEntry] = []
        for (key, entry) in walk {
            guard key.hasPrefix(prefixKey), found.count < limit else { break }
            if entry.isTombstone || entry.isExpired(atMillis: physicalMillis) { continue }
            found.append(entry)
        }
        return found
    }

    /// This state's digest: the entry count and every shard's hash (remembered collected tombstones
    /// included, see ``collected``).
    public var digest: PlaneDigest {
        PlaneDigest(count: UInt64(entries.count + collected.count), shardHashes: shardHashes)
    }

    /// The shards whose hash differs from `remote`'s (every shard when the shard counts differ).
    public func differingShards(from remote: PlaneDigest) -> [Int] {
        guard remote.shardHashes.count == shardCount else { return Array(0..<shardCount) }
        return (0..<shardCount).filter { shardHashes[$0] != remote.shardHashes[$0] }
    }

    /// Every entry (values and tombstones) of the given shards, in key order, then the remembered collected
    /// tombstones of those shards. O(n): anti-entropy pulls are
    /// rare, and a walk costs less memory than an index per shard.
    public func entries(inShards shards: some Sequence<Int>) -> [PlaneEntry] {
        let wanted = Set(shards)
        guard !wanted.isEmpty else { return [] }
        var found = Array(entries.lazy.filter { wanted.contains(self.shard(of: $0.key.bytes)) }.map(\.value))
        found += collected.values.map(\.tombstone).filter { wanted.contains(self.shard(of: $0.key)) }.sorted { $0.key.lexicographicallyPrecedes($1.key) }
        return found
    }

    private mutating func account(adding entry: PlaneEntry, key: ByteKey, atLocalMillis localMillis: UInt64) {
        let shard = shard(of: entry.key)
        shardHashes[shard] &+= entry.digestHash
        shardCounts[shard] += 1
        if entry.isTombstone {
            tombstoneCount += 1
            tombstoneArrivals[key] = localMillis
        } else if let expiry = entry.expiresAtMillis {
            nextExpiryMillis = min(nextExpiryMillis ?? expiry, expiry)
        }
    }

    private mutating func account(removing entry: PlaneEntry, key: ByteKey) {
        let shard = shard(of: entry.key)
        shardHashes[shard] &-= entry.digestHash
        shardCounts[shard] -= 1
        if entry.isTombstone {
            tombstoneCount -= 1
            tombstoneArrivals[key] = nil
        }
    }
}

/// A plane's digest, as exchanged in gossip's push/pull: the entry count and one hash per shard. Two
/// nodes whose digests are equal hold the same entries (up to 64-bit hash collisions).
public struct PlaneDigest: Hashable, Sendable {
    /// The most shards a digest may carry.
    public static let maxShards = 1024

    /// Entries, values and tombstones.
    public var count: UInt64
    /// One hash per shard.
    public var shardHashes: [UInt64]

    /// A digest.
    public init(count: UInt64, shardHashes: [UInt64]) {
        self.count = count
        self.shardHashes = shardHashes
    }
}

/// Decides when tombstones may be collected: a tombstone can go once every alive member has been seen,
/// after it arrived here, to hold the same shard as this node (their digests matched), and it is older
/// than a grace period (so that a delayed broadcast of the value it deleted, still being retransmitted,
/// cannot bring the value back once the tombstone is gone).
///
/// A member that was not alive when a tombstone was collected (partitioned away and declared dead for
/// longer than the grace) may come back holding the deleted value and spread it again, as in Cassandra
/// with `gc_grace_seconds`: the grace bounds the window.
public struct TombstoneCollector: Sendable, Hashable {
    /// Per peer, per shard: the last local millisecond at which that peer's shard hash equalled ours.
    public private(set) var lastMatch: [NodeID: [UInt64]] = [:]
    /// Minimum tombstone age before collection, in milliseconds.
    public let graceMillis: UInt64

    /// A collector with the given grace.
    public init(graceMillis: UInt64) {
        self.graceMillis = graceMillis
    }

    /// Records a peer's digest compared with ours at local time `nowMillis`.
    public mutating func record(peer: NodeID, theirs: PlaneDigest, ours: PlaneDigest, atLocalMillis nowMillis: UInt64) {
        guard theirs.shardHashes.count == ours.shardHashes.count else { return }
        var matches = lastMatch[peer] ?? Array(repeating: 0, count: ours.shardHashes.count)
        if matches.count != ours.shardHashes.count { matches = Array(repeating: 0, count: ours.shardHashes.count) }
        for shard in ours.shardHashes.indices where theirs.shardHashes[shard] == ours.shardHashes[shard] {
            matches[shard] = nowMillis
        }
        lastMatch[peer] = matches
    }

    /// Forgets a peer that left membership.
    public mutating func forget(peer: NodeID) {
        lastMatch[peer] = nil
    }

    /// Per shard, the arrival time before which tombstones may be collected at `nowMillis`, given the
    /// alive members other than this node: the earliest last match among them, capped by the grace.
    public func cutoffs(alive peers: some Collection<NodeID>, shardCount: Int, atLocalMillis nowMillis: UInt64) -> [UInt64] {
        let graceCutoff = nowMillis >= graceMillis ? nowMillis - graceMillis : 0
        var cutoffs = Array(repeating: graceCutoff, count: shardCount)
        for peer in peers {
            guard let matches = lastMatch[peer], matches.count == shardCount else { return Array(repeating: 0, count: shardCount) }
            for shard in 0..<shardCount { cutoffs[shard] = min(cutoffs[shard], matches[shard]) }
        }
        return cutoffs
    }
}
