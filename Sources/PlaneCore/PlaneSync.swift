import CohortCore
import CoordinationCore

/// The owner of an entry in a plane whose entries belong to processes (eventual names): the process, or
/// nil for an entry no process owns.
public typealias PlaneOwner = @Sendable (PlaneEntry) -> PID?

/// The time a sync step happens at, read by the shell: the wall clock (stamps, expiries) and a monotonic
/// clock (tombstone arrivals and collection).
public struct PlaneTime: Hashable, Sendable {
    /// Physical milliseconds since the Unix epoch.
    public var physicalMillis: UInt64
    /// Monotonic milliseconds (any origin, never going back).
    public var localMillis: UInt64

    public init(physicalMillis: UInt64, localMillis: UInt64) {
        self.physicalMillis = physicalMillis
        self.localMillis = localMillis
    }
}

/// One node's state planes and their protocol, pure: no I/O, no clock (every step is given a
/// ``PlaneTime``). The shell feeds it local writes, gossip user messages, push/pull user states, pull
/// requests and replies, and membership changes, and sends what it returns.
///
/// - Local writes are stamped with the node's ``HybridClock`` and queued; ``takeDeltas()`` batches them
///   into delta messages of at most ``maxDeltaBytes`` (one gossip datagram). An entry too large for one
///   comes back apart, for the shell to push to a few peers directly (anti-entropy does the rest).
/// - ``digestMessage()`` is the push/pull user state: every plane's digest. ``receiveDigest(_:at:)``
///   records the shards that match in each plane's ``TombstoneCollector`` and returns the pull request for
///   the shards that differ; ``answerPull(_:)`` answers one; ``receiveEntries(_:at:)`` merges a delta or
///   a pull's reply.
/// - Owner rule: in a plane with an owner function, an entry whose owner is not this boot of this node
///   nor an alive member at (at least) its known boot is refused on arrival (and a local write of one is
///   not kept), and ``memberDown(_:)`` / ``memberUp(_:incarnation:)`` drop every entry of a departed node
///   or of an earlier boot, without tombstones, the same way on every node.
/// - ``tick(at:)`` expires values (into tombstones) and collects tombstones once every alive member has
///   been seen to hold the same shard after they arrived, and the plane's grace has passed.
///
/// Every stamp received is observed by the clock, so a write made after seeing another one carries a
/// larger stamp.
public struct PlaneSync: Sendable {
    /// One plane.
    public struct Plane: Sendable {
        /// Its entries.
        public internal(set) var state: PlaneState
        /// Its tombstone collection rule.
        public internal(set) var collector: TombstoneCollector
        /// Its owner function, when entries belong to processes.
        public let owner: PlaneOwner?
        /// How long after its stamp a tombstone is kept at most (``PlaneState/horizonMillis``).
        public let horizonMillis: UInt64
    }

    /// Counts of what the sync refused or dropped, for metrics and tests.
    public struct Counters: Hashable, Sendable {
        /// Messages of an unknown version.
        public var unknownVersion = 0
        /// Messages that could not be decoded, or of an unexpected type.
        public var malformed = 0
        /// Sections for a plane this node does not have.
        public var unknownPlane = 0
        /// Entries refused by an owner rule.
        public var refusedOwner = 0
        /// Shards found different in a peer's digest.
        public var digestMismatches = 0
    }

    /// Bytes in and out of one plane (delta, digest and pull traffic).
    public struct Traffic: Hashable, Sendable {
        public var bytesIn: UInt64 = 0
        public var bytesOut: UInt64 = 0
    }

    /// This node.
    public let selfID: NodeID
    /// This node's boot.
    public let incarnation: Incarnation
    /// The largest delta message (a gossip datagram's user payload, after the kind byte).
    public let maxDeltaBytes: Int
    /// The largest reply to a pull; whole shards are left out beyond it (the next round pulls them).
    public let maxPullReplyBytes: Int
    /// The node's hybrid logical clock.
    public private(set) var clock: HybridClock
    /// The planes by id.
    public private(set) var planes: [String: Plane] = [:]
    /// The alive peers (not this node) and their boots.
    public private(set) var members: [NodeID: Incarnation] = [:]
    /// What was refused or dropped.
    public private(set) var counters = Counters()
    /// Bytes per plane since the last ``takeTraffic()``.
    public private(set) var traffic: [String: Traffic] = [:]
    /// Local writes, and deltas received that were news here, not yet taken as deltas, per plane, by key.
    private var pending: [String: [ByteKey: PlaneEntry]] = [:]

    /// A sync with no planes.
    public init(
        selfID: NodeID, incarnation: Incarnation, clock: HybridClock = HybridClock(),
        maxDeltaBytes: Int = 1400 - 2 - 29 - 2 - 1 - 1, maxPullReplyBytes: Int = 8 << 20
    ) {
        self.selfID = selfID
        self.incarnation = incarnation
        self.clock = clock
        self.maxDeltaBytes = maxDeltaBytes
        self.maxPullReplyBytes = maxPullReplyBytes
    }

    /// Adds a plane. Same id twice: precondition failure. `horizonMillis`: how long after its stamp a
    /// tombstone is kept at most, collected (remembered) or not (nil: ten times the grace, at least ten
    /// minutes); it must exceed the time every pair of nodes takes to exchange digests, and the clocks'
    /// differences.
    public mutating func addPlane(
        _ id: String, graceMillis: UInt64 = 60_000, owner: PlaneOwner? = nil, horizonMillis: UInt64? = nil,
        shardCount: Int = PlaneState.defaultShardCount
    ) {
        precondition(planes[id] == nil, "plane \(id) registered twice")
        precondition(!id.isEmpty && id.utf8.count <= PlaneLimits.maxPlaneIDBytes, "plane id must be 1…255 bytes")
        let horizon = horizonMillis ?? max(10 * graceMillis, 600_000)
        var state = PlaneState(shardCount: shardCount)
        state.horizonMillis = horizon
        planes[id] = Plane(
            state: state, collector: TombstoneCollector(graceMillis: graceMillis), owner: owner, horizonMillis: horizon
        )
    }

    /// The plane ids, sorted.
    public var planeIDs: [String] { planes.keys.sorted() }

    // MARK: Local writes

    /// Stamps a write of `key` (value nil: a delete), merges it and queues it as a delta. A write whose
    /// owner is not alive is not kept (every other node would refuse it). The key must be 1…1024 bytes
    /// and the value at most 512 KiB (precondition).
    public mutating func write(
        plane id: String, key: [UInt8], value: [UInt8]?, expiresAtMillis: UInt64? = nil, at time: PlaneTime
    ) -> (entry: PlaneEntry, change: PlaneState.Change?) {
        precondition(planes[id] != nil, "unknown plane \(id)")
        precondition(!key.isEmpty && key.count <= PlaneLimits.maxKeyBytes, "plane keys are 1…\(PlaneLimits.maxKeyBytes) bytes")
        precondition((value?.count ?? 0) <= PlaneLimits.maxValueBytes, "plane values are at most \(PlaneLimits.maxValueBytes) bytes")
        let stamp = PlaneStamp(time: clock.now(physicalMillis: time.physicalMillis), node: selfID)
        let entry = value.map { PlaneEntry(key: key, stamp: stamp, value: $0, expiresAtMillis: expiresAtMillis) }
            ?? PlaneEntry(tombstone: key, stamp: stamp)
        guard accepts(entry, in: planes[id]!) else { return (entry, nil) }
        let change = planes[id]!.state.merge(entry, atLocalMillis: time.localMillis, physicalMillis: time.physicalMillis)
        if change != nil { pending[id, default: [:]][ByteKey(bytes: key)] = planes[id]!.state[key] }
        return (entry, change)
    }

    /// Merges entries as if received (a durable copy loaded before joining), observing their stamps.
    public mutating func load(plane id: String, entries: [PlaneEntry], at time: PlaneTime) -> [PlaneState.Change] {
        guard planes[id] != nil else { return [] }
        return merge(entries, into: id, at: time)
    }

    /// True while some plane needs the timer's ``tick(at:)`` every tick (see ``PlaneState/needsTick``).
    public var needsTick: Bool { planes.values.contains { $0.state.needsTick } }

    /// The earliest time (physical milliseconds) a ``tick(at:)`` has something to forget when no plane
    /// ``needsTick``: a remembered collected tombstone passing its horizon. Nil: none.
    public var nextForgetMillis: UInt64? { planes.values.compactMap(\.state.nextForgetMillis).min() }

    /// True when local writes wait to be taken as deltas.
    public var hasPendingDeltas: Bool { !pending.isEmpty }

    /// The queued local writes as delta messages, each at most ``maxDeltaBytes``, small entries batched
    /// (planes in id order, keys in order); `oversized`: one delta message per entry too large for a
    /// datagram, to push directly to a few peers.
    ///
    /// `maxBytes` replaces ``maxDeltaBytes`` for this call (larger batches for the mesh, when gossip is busy).
    public mutating func takeDeltas(maxBytes: Int? = nil) -> (messages: [[UInt8]], oversized: [[UInt8]]) {
        guard !pending.isEmpty else { return ([], []) }
        let maxDeltaBytes = maxBytes ?? self.maxDeltaBytes
        let queued = pending
        pending = [:]
        let header = PlaneMessage.deltaHeaderBytes(sender: selfID)
        var messages: [[UInt8]] = []
        var oversized: [[UInt8]] = []
        var batch: [PlaneMessage.PlaneEntries] = []
        var batchBytes = header
        func flush() {
            guard !batch.isEmpty else { return }
            messages.append(PlaneMessage.delta(sender: selfID, planes: batch).encoded())
            batch = []
            batchBytes = header
        }
        for id in queued.keys.sorted() {
            let section = PlaneMessage.sectionHeaderBytes(plane: id)
            for (_, entry) in queued[id]!.sorted(by: { $0.key < $1.key }) {
                var writer = ByteWriter()
                PlaneCodec.write(entry, to: &writer)
                let size = writer.buffer.count
                if header + section + size > maxDeltaBytes {
                    let message = PlaneMessage.delta(sender: selfID, planes: [.init(plane: id, entries: [entry])]).encoded()
                    oversized.append(message)
                    traffic[id, default: Traffic()].bytesOut += UInt64(message.count)
                    continue
                }
                let opensSection = batch.last?.plane != id
                let needed = size + (opensSection ? section : 0)
                if batchBytes + needed > maxDeltaBytes { flush() }
                if batch.last?.plane != id {
                    batch.append(.init(plane: id, entries: []))
                    batchBytes += section
                }
                batch[batch.count - 1].entries.append(entry)
                batchBytes += size
                traffic[id, default: Traffic()].bytesOut += UInt64(size)
            }
        }
        flush()
        return (messages, oversized)
    }

    // MARK: Digests and pulls

    /// The push/pull user state: every plane's digest.
    public mutating func digestMessage() -> [UInt8] {
        let ids = planeIDs
        guard !ids.isEmpty else { return [] }
        let message = PlaneMessage.digest(sender: selfID, planes: ids.map { .init(plane: $0, digest: planes[$0]!.state.digest) }).encoded()
        let share = UInt64(message.count / ids.count)
        for id in ids { traffic[id, default: Traffic()].bytesOut += share }
        return message
    }

    /// A peer's push/pull user state: records, per plane, the shards that match ours (for tombstone
    /// collection) and returns the sender and the pull request for the shards that differ (nil when none
    /// differs). Nil altogether when the bytes are not a digest message (counted).
    public mutating func receiveDigest(_ bytes: [UInt8], at time: PlaneTime) -> (peer: NodeID, pull: [UInt8]?)? {
        guard case .digest(let sender, let digests)? = decode(bytes) else { return nil }
        guard sender != selfID else { return nil }
        var wanted: [PlaneMessage.PlaneShards] = []
        let share = UInt64(bytes.count / max(digests.count, 1))
        for item in digests {
            guard var plane = planes[item.plane] else {
                counters.unknownPlane += 1
                continue
            }
            traffic[item.plane, default: Traffic()].bytesIn += share
            let ours = plane.state.digest
            plane.collector.record(peer: sender, theirs: item.digest, ours: ours, atLocalMillis: time.localMillis)
            planes[item.plane] = plane
            guard item.digest != ours else { continue }
            let shards = plane.state.differingShards(from: item.digest)
            counters.digestMismatches += shards.count
            if !shards.isEmpty { wanted.append(.init(plane: item.plane, shards: shards)) }
        }
        guard !wanted.isEmpty else { return (sender, nil) }
        let request = PlaneMessage.pull(planes: wanted).encoded()
        let requestShare = UInt64(request.count / wanted.count)
        for item in wanted { traffic[item.plane, default: Traffic()].bytesOut += requestShare }
        return (sender, request)
    }

    /// The reply to a pull request: the entries of the shards asked for, whole shards only, up to
    /// ``maxPullReplyBytes`` (at least one shard). Nil when the bytes are not a pull request (counted).
    public mutating func answerPull(_ bytes: [UInt8]) -> [UInt8]? {
        guard case .pull(let wanted)? = decode(bytes) else { return nil }
        var sections: [PlaneMessage.PlaneEntries] = []
        var total = 0
        outer: for item in wanted {
            guard let plane = planes[item.plane] else {
                counters.unknownPlane += 1
                continue
            }
            traffic[item.plane, default: Traffic()].bytesIn += UInt64(3 + item.plane.utf8.count + 2 * item.shards.count)
            let shards = Set(item.shards.filter { $0 < plane.state.shardCount })
            var byShard: [Int: [PlaneEntry]] = [:]
            for entry in plane.state.entries(inShards: shards) { byShard[plane.state.shard(of: entry.key), default: []].append(entry) }
            var entries: [PlaneEntry] = []
            for shard in shards.sorted() {
                let found = byShard[shard] ?? []
                let size = found.reduce(0) { $0 + Self.encodedSize($1) }
                if total > 0, total + size > maxPullReplyBytes {
                    if !entries.isEmpty { sections.append(.init(plane: item.plane, entries: entries)) }
                    break outer
                }
                total += size
                entries += found
                traffic[item.plane, default: Traffic()].bytesOut += UInt64(size)
            }
            if !entries.isEmpty { sections.append(.init(plane: item.plane, entries: entries)) }
        }
        return PlaneMessage.entries(planes: sections).encoded()
    }

    /// Merges a delta (gossip, or a direct push) or a pull's reply. Returns the changes per plane.
    public mutating func receiveEntries(_ bytes: [UInt8], at time: PlaneTime) -> [String: [PlaneState.Change]] {
        let sections: [PlaneMessage.PlaneEntries]
        let isDelta: Bool
        switch decode(bytes) {
        case .delta(let sender, let planes)?:
            guard sender != selfID else { return [:] }
            sections = planes
            isDelta = true
        case .entries(let planes)?:
            sections = planes
            isDelta = false
        case nil:
            return [:]
        default:
            counters.malformed += 1
            return [:]
        }
        var changes: [String: [PlaneState.Change]] = [:]
        for section in sections {
            guard planes[section.plane] != nil else {
                counters.unknownPlane += 1
                continue
            }
            traffic[section.plane, default: Traffic()].bytesIn += UInt64(section.entries.reduce(0) { $0 + Self.encodedSize($1) })
            let applied = merge(section.entries, into: section.plane, at: time)
            if !applied.isEmpty { changes[section.plane, default: []] += applied }
            // Rumor mongering, as memberlist does with membership news: a delta that was news here is
            // passed on (queued as this node's own delta, so gossip retransmits it a bounded number of
            // times), so it spreads epidemically in O(log N) rounds instead of depending on the writer's
            // few transmissions alone. News that is old here stops. Pulled entries (anti-entropy) are not
            // passed on: they repair one node.
            if isDelta {
                for change in applied {
                    guard let entry = change.new, planes[section.plane]!.state[entry.key] == entry else { continue }
                    pending[section.plane, default: [:]][ByteKey(bytes: entry.key)] = entry
                }
            }
        }
        return changes
    }

    // MARK: Membership

    /// A peer is alive at boot `incarnation` (joined, or seen again, or restarted). A later boot than
    /// known drops, in owner planes, every entry of its earlier boots. An earlier boot than known is
    /// ignored.
    public mutating func memberUp(_ node: NodeID, incarnation: Incarnation) -> [String: [PlaneState.Change]] {
        guard node != selfID else { return [:] }
        if let known = members[node], known >= incarnation { return [:] }
        // A new boot may hold nothing of what the old one matched (or an old durable copy).
        if members[node] != nil { for id in planeIDs { planes[id]!.collector.forget(peer: node) } }
        members[node] = incarnation
        return removeOwned { $0.node == node && $0.incarnation < incarnation }
    }

    /// A peer left or was declared dead: in owner planes, every entry it owns goes (without tombstones),
    /// and it no longer counts for tombstone collection.
    public mutating func memberDown(_ node: NodeID) -> [String: [PlaneState.Change]] {
        guard node != selfID else { return [:] }
        members[node] = nil
        for id in planeIDs { planes[id]!.collector.forget(peer: node) }
        return removeOwned { $0.node == node }
    }

    // MARK: Timer

    /// Expires values (into tombstones of their stamp) and collects the tombstones every alive member
    /// has been seen to hold, once older than the plane's grace. Returns the changes per plane.
    public mutating func tick(at time: PlaneTime) -> [String: [PlaneState.Change]] {
        var changes: [String: [PlaneState.Change]] = [:]
        for id in planeIDs {
            var plane = planes[id]!
            var applied = plane.state.expire(atMillis: time.physicalMillis, localMillis: time.localMillis)
            if plane.state.tombstoneCount > 0 {
                let cutoffs = plane.collector.cutoffs(alive: members.keys, shardCount: plane.state.shardCount, atLocalMillis: time.localMillis)
                applied += plane.state.removeTombstones(arrivedBefore: cutoffs, atLocalMillis: time.localMillis)
            }
            applied += plane.state.dropPastHorizon(physicalMillis: time.physicalMillis)
            planes[id] = plane
            if !applied.isEmpty { changes[id] = applied }
        }
        return changes
    }

    /// Adds traffic and counts made on a copy of this sync (the shell answers pulls on a snapshot, outside
    /// its lock): `counters` minus `base` is what the copy added.
    public mutating func absorb(traffic more: [String: Traffic], counters: Counters, since base: Counters) {
        for (id, item) in more {
            traffic[id, default: Traffic()].bytesIn += item.bytesIn
            traffic[id, default: Traffic()].bytesOut += item.bytesOut
        }
        self.counters.unknownVersion += counters.unknownVersion - base.unknownVersion
        self.counters.malformed += counters.malformed - base.malformed
        self.counters.unknownPlane += counters.unknownPlane - base.unknownPlane
        self.counters.refusedOwner += counters.refusedOwner - base.refusedOwner
        self.counters.digestMismatches += counters.digestMismatches - base.digestMismatches
    }

    /// Takes the traffic counted since the last call.
    public mutating func takeTraffic() -> [String: Traffic] {
        defer { traffic = [:] }
        return traffic
    }

    // MARK: Internals

    private mutating func decode(_ bytes: [UInt8]) -> PlaneMessage? {
        do {
            return try PlaneMessage(decoding: bytes)
        } catch .unknownVersion {
            counters.unknownVersion += 1
        } catch {
            counters.malformed += 1
        }
        return nil
    }

    private func accepts(_ entry: PlaneEntry, in plane: Plane) -> Bool {
        guard let owner = plane.owner, let pid = owner(entry) else { return true }
        if pid.node == selfID { return pid.incarnation == incarnation }
        guard let known = members[pid.node] else { return false }
        return pid.incarnation >= known
    }

    private mutating func merge(_ entries: [PlaneEntry], into id: String, at time: PlaneTime) -> [PlaneState.Change] {
        var plane = planes[id]!
        var changes: [PlaneState.Change] = []
        for entry in entries {
            clock.observe(entry.stamp.time, physicalMillis: time.physicalMillis)
            guard accepts(entry, in: plane) else {
                counters.refusedOwner += 1
                continue
            }
            if let change = plane.state.merge(entry, atLocalMillis: time.localMillis, physicalMillis: time.physicalMillis) {
                changes.append(change)
            }
        }
        planes[id] = plane
        return changes
    }

    private mutating func removeOwned(_ doomed: (PID) -> Bool) -> [String: [PlaneState.Change]] {
        var changes: [String: [PlaneState.Change]] = [:]
        for id in planeIDs {
            guard let owner = planes[id]!.owner else { continue }
            let removed = planes[id]!.state.remove { entry in owner(entry).map(doomed) ?? false }
            if !removed.isEmpty {
                changes[id] = removed
                for change in removed { pending[id]?[ByteKey(bytes: change.key)] = nil }
                if pending[id]?.isEmpty == true { pending[id] = nil }
            }
        }
        return changes
    }

    static func encodedSize(_ entry: PlaneEntry) -> Int {
        2 + entry.key.count + 8 + 1 + entry.stamp.node.rawValue.utf8.count + 1
            + (entry.value.map { 4 + $0.count } ?? 0) + (entry.expiresAtMillis == nil ? 0 : 8)
    }
}
