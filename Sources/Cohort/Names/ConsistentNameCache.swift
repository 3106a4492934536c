import CohortCore
import CoordinationCore
import DequeModule
import Gossip
import Logging
import Processes
import Raft
import ServiceLifecycle
import Synchronization

/// A gossip-only client's cache of consistent (and strong) names, so that resolving a name costs no Raft
/// round trip and no request to a member after the first.
///
/// What it holds comes from two places: the answers of the members a lookup asked (``store(_:_:index:)``),
/// and the name changes the Raft leader publishes on gossip as it applies them (``NameCacheUpdate``, the
/// `name-cache` user message, kind 0x63). An entry is trusted for `ttl` after it was last confirmed (by an
/// answer or an update); a change is usually in within a few gossip rounds (the update is piggybacked like
/// memberlist's broadcasts), and in the worst case (every retransmission lost, or a leader that failed
/// between apply and broadcast) the TTL bounds how stale an entry can be. An entry whose process's node
/// leaves membership is dropped at once, and a cached binding to a process that is surely dead (its node is
/// down or has restarted since) is never used, so a send to a PID that is gone resolves again.
///
/// Updates carry the Raft index of the change: one older than what an entry already reflects is ignored.
/// An update for a name the cache does not hold is not kept as an entry, but it is remembered for the TTL
/// (``Heard``): a member's answer older than it (a member whose replica lags behind the leader's broadcast)
/// is returned to its caller but not cached, or it would be served for the whole TTL with no update to
/// correct it. A member's answer carries no index of its own: a binding's token (the Raft index of its
/// registration) is its age, and "free" is older than any change heard.
final class ConsistentNameCache: Sendable {
    /// The gossip user-message kind of name-cache updates.
    static let messageKind: UInt8 = 0x63

    struct Entry: Sendable, Hashable {
        /// The binding (nil: the name is known to be free).
        var binding: NameBinding?
        /// The Raft index this entry reflects.
        var index: UInt64
        /// When it was last confirmed.
        var confirmed: ContinuousClock.Instant
    }

    /// A change heard for a name the cache did not hold: no answer older than `index` is cached until `at + ttl`.
    struct Heard: Sendable, Hashable {
        /// The registration's token, or the update's index for a release.
        var index: UInt64
        var at: ContinuousClock.Instant
    }

    private struct State {
        var entries: [String: Entry] = [:]
        var heard: [String: Heard] = [:]
    }

    private let state = Mutex(State())
    /// How long an entry is trusted after its last confirmation.
    let ttl: Duration
    /// The most names kept; past it the least recently confirmed go first.
    let capacity: Int
    private let now: @Sendable () -> ContinuousClock.Instant
    private let onLookup: @Sendable (_ hit: Bool) -> Void

    init(
        ttl: Duration = .seconds(30), capacity: Int = 10_000, now: @escaping @Sendable () -> ContinuousClock.Instant = { .now },
        onLookup: @escaping @Sendable (_ hit: Bool) -> Void = { _ in }
    ) {
        self.ttl = ttl
        self.capacity = capacity
        self.now = now
        self.onLookup = onLookup
    }

    /// The cached answer for `name`: `.some(binding or nil)` when fresh, nil when unknown or stale.
    func lookup(_ name: String) -> NameBinding?? {
        let now = now()
        let found = state.withLock { state -> NameBinding?? in
            guard let entry = state.entries[name], now - entry.confirmed < ttl else { return nil }
            return .some(entry.binding)
        }
        onLookup(found != nil)
        return found
    }

    /// Keeps a member's answer for `name` (nil: free) of age `index` (the binding's token; 0 for free),
    /// unless the cache already reflects something newer: an entry at a later index, or a change heard
    /// within the TTL at a later index.
    func store(_ name: String, _ binding: NameBinding?, index: UInt64) {
        let now = now()
        state.withLock { state in
            if let old = state.entries[name], old.index > index { return }
            if let heard = state.heard[name], now - heard.at < ttl, heard.index > index { return }
            state.entries[name] = Entry(binding: binding, index: index, confirmed: now)
            evictIfFull(&state.entries)
        }
    }

    /// Applies a leader's update: changes of names this cache holds replace their entries (only when newer);
    /// changes of other names are not kept as entries (the cache holds what this node asked for) but heard,
    /// so that an older answer is not cached after them.
    func apply(_ update: NameCacheUpdate) {
        let now = now()
        state.withLock { state in
            for change in update.changes {
                guard let old = state.entries[change.name] else {
                    let index = change.pid != nil ? (change.token ?? update.index) : update.index
                    if let heard = state.heard[change.name], heard.index > index, now - heard.at < ttl { continue }
                    state.heard[change.name] = Heard(index: index, at: now)
                    continue
                }
                guard old.index <= update.index else { continue }
                let binding = change.pid.map { NameBinding(name: change.name, pid: $0, scope: change.strong ? .strong : .consistent, token: change.token) }
                state.entries[change.name] = Entry(binding: binding, index: update.index, confirmed: now)
            }
            forgetHeard(&state.heard, now: now)
        }
    }

    /// `node` left membership: bindings to its processes go (their next lookup asks a member).
    func nodeDown(_ node: NodeID) {
        state.withLock { state in
            state.entries = state.entries.filter { $0.value.binding?.pid.node != node }
        }
    }

    /// Membership was resynchronized: bindings to processes of nodes not among `nodes` go.
    func keepOnly(nodes: Set<NodeID>) {
        state.withLock { state in
            state.entries = state.entries.filter { $0.value.binding.map { nodes.contains($0.pid.node) } ?? true }
        }
    }

    /// Entries held (hits and misses are `name_cache_lookups_total`).
    var count: Int { state.withLock { $0.entries.count } }

    /// Changes heard for names not held, still remembered.
    var heardCount: Int { state.withLock { $0.heard.count } }

    /// Past `capacity` heard changes, those older than the TTL go, then the oldest down to three quarters of
    /// it: every name change in the cluster is heard, so the sort is paid once per quarter of the capacity, not
    /// once per update.
    private func forgetHeard(_ heard: inout [String: Heard], now: ContinuousClock.Instant) {
        guard heard.count > capacity else { return }
        heard = heard.filter { now - $0.value.at < ttl }
        let keep = capacity - capacity / 4
        guard heard.count > keep else { return }
        let oldest = heard.sorted { $0.value.at < $1.value.at }.prefix(heard.count - keep).map(\.key)
        for name in oldest { heard[name] = nil }
    }

    private func evictIfFull(_ entries: inout [String: Entry]) {
        guard entries.count > capacity else { return }
        let excess = entries.count - capacity
        let oldest = entries.sorted { $0.value.confirmed < $1.value.confirmed }.prefix(excess).map(\.key)
        for name in oldest { entries[name] = nil }
    }
}

/// Resolves consistent names on a client node from its cache (sends, monitors and links by name); a miss
/// falls through to the next scope, and ``Names/lookup(_:scope:consistency:)`` fills the cache.
struct CachedNameResolver: NameResolver {
    let cache: ConsistentNameCache
    let processes: ProcessRuntime

    func resolve(_ name: String) -> PID? {
        guard let pid = cache.lookup(name).flatMap({ $0 })?.pid, processes.mayBeAlive(pid) else { return nil }
        return pid
    }
}

/// The name changes of one applied batch, as the Raft leader publishes them for clients' caches.
///
/// Wire (after the gossip kind byte 0x63): version (u8, 2), round (u8), Raft index (u64), count (u16), then
/// per change flags (u8: bit 0 bound, bit 1 strong), name (u16 length + UTF-8), and when bound: PID text (u8
/// length + UTF-8) and token (u64). Version 1 (no round byte, round 0) is still read. The round tells the
/// leader's repeats of an update apart from its first publication (0), so that each is a fresh payload that
/// every node passes on once more (``NameCacheService``).
struct NameCacheUpdate: Sendable, Hashable {
    struct Change: Sendable, Hashable {
        var name: String
        var pid: PID?
        var token: UInt64?
        var strong: Bool = false
    }

    var index: UInt64
    var changes: [Change]
    /// 0: the leader's first publication; 1, 2, …: its repeats.
    var round: UInt8 = 0

    static let version: UInt8 = 2

    func encoded() -> [UInt8] {
        var writer = ByteWriter()
        writer.u8(Self.version)
        writer.u8(round)
        writer.u64(index)
        writer.u16(UInt16(changes.count))
        for change in changes {
            writer.u8((change.pid != nil ? 1 : 0) | (change.strong ? 2 : 0))
            writer.lengthPrefixed(Array(change.name.utf8), lengthWidth: 2)
            if let pid = change.pid {
                writer.lengthPrefixed(Array(pid.description.utf8), lengthWidth: 1)
                writer.u64(change.token ?? 0)
            }
        }
        return writer.buffer
    }

    init(index: UInt64, changes: [Change], round: UInt8 = 0) {
        self.index = index
        self.changes = changes
        self.round = round
    }

    init(decoding bytes: [UInt8]) throws(ByteReaderError) {
        var reader = ByteReader(bytes)
        let version = try reader.u8("name cache version")
        guard version == 1 || version == Self.version else { throw .invalidFlag(field: "name cache version", value: version) }
        round = version == 1 ? 0 : try reader.u8("name cache round")
        index = try reader.u64("name cache index")
        let count = Int(try reader.u16("name cache count"))
        var changes: [Change] = []
        for _ in 0..<count {
            let flags = try reader.u8("name cache flags")
            guard flags & ~3 == 0 else { throw .invalidFlag(field: "name cache flags", value: flags) }
            let name = try reader.utf8(Int(try reader.u16("name cache name length")), "name cache name")
            guard flags & 1 != 0 else {
                changes.append(Change(name: name, pid: nil, token: nil))
                continue
            }
            let text = try reader.utf8(Int(try reader.u8("name cache pid length")), "name cache pid")
            guard let pid = PID(text) else { throw .invalidUTF8(field: "name cache pid") }
            let token = try reader.u64("name cache token")
            changes.append(Change(name: name, pid: pid, token: token, strong: flags & 2 != 0))
        }
        try reader.expectEnd()
        self.changes = changes
    }

    /// The name changes among applied coordination changes, or nil when there are none.
    static func from(_ changes: [CoordinationChange], index: UInt64) -> NameCacheUpdate? {
        var named: [Change] = []
        for change in changes {
            switch change {
            case .nameRegistered(let name, let pid, let token): named.append(Change(name: name.string, pid: pid, token: token))
            case .nameReleased(let name, _): named.append(Change(name: name.string, pid: nil, token: nil))
            default: continue
            }
        }
        return named.isEmpty ? nil : NameCacheUpdate(index: index, changes: named)
    }

    /// Splits the update into messages that each fit `budget` bytes (a gossip datagram's room).
    func split(budget: Int) -> [NameCacheUpdate] {
        var parts: [NameCacheUpdate] = []
        var current = NameCacheUpdate(index: index, changes: [], round: round)
        for change in changes {
            var candidate = current
            candidate.changes.append(change)
            if candidate.encoded().count > budget, !current.changes.isEmpty {
                parts.append(current)
                current = NameCacheUpdate(index: index, changes: [change], round: round)
            } else {
                current = candidate
            }
        }
        if !current.changes.isEmpty { parts.append(current) }
        return parts
    }
}

/// Keeps the name cache moving: on a Raft leader, publishes each applied batch's name changes on gossip, and
/// publishes them again twice (``repeatDelays``); on every node, applies the updates it hears to its cache
/// and drops the bindings of departed nodes.
final class NameCacheService: Service, Sendable {
    /// Room for one update in a gossip datagram (the plane frames' limit, SPEC §3).
    static let updateBudget = 1200
    /// When the leader publishes an update again after its first publication, each time as a new round that
    /// every node passes on once more. One round of rumor mongering misses a given client now and then (at
    /// N = 6, 4 moves in 2,000 were not heard, and the client's cache kept the old answer for its whole
    /// TTL: `Benchmarks/scripts/name_cache_follow.py`); a repeat is a second, independent chance, and the
    /// later one outlasts a node that was stalled for a few seconds.
    static let repeatDelays: [Duration] = [.seconds(1), .seconds(5)]
    /// A repeat is skipped while this many user messages wait in this node's gossip queue: under a burst of
    /// name changes the repeats would crowd out the first publications (and the state planes' deltas), and
    /// the cache's TTL still bounds what a missed update costs.
    static let repeatQueueLimit = 64

    /// The cache this node keeps (a client's); nil on a Raft server, which reads its replica.
    let cache: ConsistentNameCache?
    let gossip: GossipService
    /// Whether this node leads, asked as it applies (``RaftService/isLeader``).
    let isLeader: @Sendable () -> Bool
    let publishes: Bool
    /// Test-only (a failpoint, `COHORT_FAILPOINT_NAME_CACHE_DROP_FIRST_ROUND`): updates heard in their
    /// first round are ignored, as if every transmission of it had been lost.
    let dropsFirstRound: Bool
    let logger: Logger
    /// Updates already seen (and passed on), newest last.
    private let seen = Mutex<(set: Set<[UInt8]>, order: Deque<[UInt8]>)>(([], []))
    private let outbox: AsyncStream<NameCacheUpdate>
    private let outboxSink: AsyncStream<NameCacheUpdate>.Continuation
    /// An update to publish again when due.
    private struct Repeat: Sendable {
        var due: ContinuousClock.Instant
        var update: NameCacheUpdate
    }
    /// Per delay of ``repeatDelays``: the updates to publish again, in the order they are due.
    private let repeats: [(stream: AsyncStream<Repeat>, continuation: AsyncStream<Repeat>.Continuation)]

    init(
        cache: ConsistentNameCache?, gossip: GossipService, isLeader: @escaping @Sendable () -> Bool, store: CoordinationStore,
        publishes: Bool, dropsFirstRound: Bool = false, logger: Logger
    ) {
        self.cache = cache
        self.gossip = gossip
        self.isLeader = isLeader
        self.publishes = publishes
        self.dropsFirstRound = dropsFirstRound
        self.logger = logger
        (outbox, outboxSink) = AsyncStream.makeStream(of: NameCacheUpdate.self, bufferingPolicy: .bufferingNewest(4096))
        repeats = Self.repeatDelays.map { _ in AsyncStream.makeStream(of: Repeat.self, bufferingPolicy: .bufferingNewest(4096)) }
        guard publishes else { return }
        // Called as the store applies, on the Raft service's executor: `isLeader` says whether this node
        // leads as it applies the entry (no lag behind an election).
        store.observe { [isLeader, outboxSink] changes, state in
            guard isLeader(), let update = NameCacheUpdate.from(changes, index: state.index) else { return }
            for part in update.split(budget: Self.updateBudget) { outboxSink.yield(part) }
        }
    }

    func run() async throws {
        await withDiscardingTaskGroup { group in
            // Every node passes each update on once (rumor mongering, as memberlist spreads membership news):
            // the leader's own few transmissions alone miss a good share of the nodes (at N = 6, each of 4
            // sends misses a given client with probability 4/5: about 40 % of clients would wait for the TTL).
            group.addTask { [self] in await relay() }
            if let cache {
                group.addTask { [self] in await followMembership(into: cache) }
            }
            guard publishes else { return }
            group.addTask { [self] in
                await untilGracefulShutdown { [self] in
                    for await update in outbox {
                        let payload = update.encoded()
                        remember(payload)
                        await gossip.broadcast(kind: Self.messageKind, payload: payload)
                        let now = ContinuousClock.now
                        for (number, delay) in Self.repeatDelays.enumerated() {
                            var again = update
                            again.round = UInt8(number + 1)
                            repeats[number].continuation.yield(Repeat(due: now + delay, update: again))
                        }
                    }
                }
            }
            for queue in repeats {
                group.addTask { [self] in
                    await untilGracefulShutdown { [self] in
                        for await item in queue.stream {
                            do { try await Task.sleep(until: item.due, clock: .continuous) } catch { return }
                            // A node that no longer leads repeats nothing (a client that missed it has the TTL).
                            guard isLeader() else { continue }
                            let payload = item.update.encoded()
                            guard await gossip.broadcastIfRoom(kind: Self.messageKind, payload: payload, limit: Self.repeatQueueLimit) else { continue }
                            remember(payload)
                        }
                    }
                }
            }
        }
    }

    /// Updates heard on gossip: applied to the cache (a client's), and passed on once when news here.
    private func relay() async {
        await untilGracefulShutdown { [self] in
            for await (payload, _) in gossip.userMessages(kind: Self.messageKind) {
                guard let update = try? NameCacheUpdate(decoding: payload) else {
                    logger.debug("a name-cache update could not be read; dropped")
                    continue
                }
                if dropsFirstRound, update.round == 0 { continue }
                guard remember(payload) else { continue }
                cache?.apply(update)
                await gossip.broadcast(kind: Self.messageKind, payload: payload)
            }
        }
    }

    /// Notes `payload` as seen; false when it was already (the newest 4,096 are remembered: each update's
    /// three rounds are three payloads).
    @discardableResult
    private func remember(_ payload: [UInt8]) -> Bool {
        seen.withLock { seen in
            guard seen.set.insert(payload).inserted else { return false }
            seen.order.append(payload)
            if seen.order.count > 4096 { seen.set.remove(seen.order.removeFirst()) }
            return true
        }
    }

    /// A client's side: drops the bindings of departed nodes.
    private func followMembership(into cache: ConsistentNameCache) async {
        await untilGracefulShutdown { [self] in
            for await batch in gossip.events.subscribeBatches() {
                for update in batch {
                    switch update {
                    case .left(let member, _): cache.nodeDown(member.name)
                    case .resync(let members): cache.keepOnly(nodes: Set(members.map(\.name)))
                    default: continue
                    }
                }
            }
        }
    }

    private static var messageKind: UInt8 { ConsistentNameCache.messageKind }
}
