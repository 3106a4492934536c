import CohortConfig
import CohortCore
import CoordinationCore
import PlaneCore
import Synchronization

/// A `kv.crdt` store on this node: eventual, last-writer-wins by hybrid logical clock, held whole by every
/// node (servers and clients) in the state plane `kv:<store>`, which gossip replicates (this node's copy
/// alone with the cluster disabled). What ``KeyValueStore``
/// calls for a `kv.crdt` store.
///
/// - Reads answer from this node's copy (a read's `consistency` is ignored): a write made elsewhere
///   shows once gossip has brought it here.
/// - A version (``StoredValue/version``, what `set` and `delete` return) is the raw hybrid-logical-clock
///   stamp of the write that made the entry (48 bits of milliseconds, 16 of counter): it orders the
///   writes of one key on every node; `created` repeats it.
/// - A TTL becomes an absolute expiry in the entry: the writer's physical clock at the write plus the
///   TTL, so every node drops the value at the same moment.
/// - A delete writes a tombstone, even when this node holds no value (another node may): it never
///   answers `NOT_FOUND`.
/// - Conditional writes and transactions need one order of all writes: they throw `UNSUPPORTED`.
/// - A watch's versions are this node's change numbers for the store (see ``sequence``), not entry
///   versions: changes are numbered in the order this node applied them, its own writes and remote ones
///   alike, starting at the boot's incarnation (so numbers of an earlier run are, in practice, refused as
///   compacted rather than misread). The last ``historyLimit`` changes are kept.
final class CRDTStoreBackend: Sendable {
    /// An expiry to report: the key's value expires at `millis`.
    private struct Expiry: Comparable, Sendable {
        var millis: UInt64
        var key: ByteKey
        static func < (lhs: Expiry, rhs: Expiry) -> Bool { (lhs.millis, lhs.key) < (rhs.millis, rhs.key) }
    }

    private struct Tracking {
        /// The last change number given.
        var sequence: UInt64
        /// Values with an expiry whose expiry has not been reported as a delete yet.
        var expiries = PersistentSortedMap<Expiry, Bool>()
        /// Keys whose value expired (and was reported) but is still held by the plane.
        var expiredHeld: Set<ByteKey> = []
    }

    /// Changes kept for watches to resume from.
    static let historyLimit = 10_000

    let name: String
    let plane: any StorePlane
    let feed: ChangeFeed
    /// The plane's changes, subscribed at once so none made before ``follow(expiryCheck:)`` runs is lost.
    private let changes: AsyncStream<PlaneEvent>
    /// The durable writer; nil for a store in memory only.
    let log: CRDTStoreLog?
    /// The number changes are counted from (the boot's incarnation).
    let firstSequence: UInt64
    private let physicalMillis: @Sendable () -> UInt64
    private let metrics: CoordinationMetrics?
    private let tracking: Mutex<Tracking>

    /// A store over `plane`, numbering its changes from `firstSequence` (exclusive).
    init(
        name: String, plane: any StorePlane, log: CRDTStoreLog?, firstSequence: UInt64, metrics: CoordinationMetrics?,
        physicalMillis: @escaping @Sendable () -> UInt64, historyLimit: Int = CRDTStoreBackend.historyLimit
    ) {
        self.name = name
        self.plane = plane
        self.log = log
        self.firstSequence = firstSequence
        self.metrics = metrics
        self.physicalMillis = physicalMillis
        changes = plane.changes()
        feed = ChangeFeed(capacity: historyLimit, backlogLimit: historyLimit)
        feed.reset(at: firstSequence)
        var tracking = Tracking(sequence: firstSequence)
        for (_, entry) in plane.state.entries {
            guard let expiry = entry.expiresAtMillis, !entry.isTombstone else { continue }
            tracking.expiries.updateValue(true, forKey: Expiry(millis: expiry, key: ByteKey(bytes: entry.key)))
        }
        self.tracking = Mutex(tracking)
        metrics?.crdtKeys(store: name, count: plane.state.valueCount)
    }

    /// The last change number this node gave (what a listing reports as its revision).
    var sequence: UInt64 { tracking.withLock { $0.sequence } }

    // MARK: Reading

    func entry(_ key: String) -> StoredValue? {
        let now = physicalMillis()
        guard let entry = plane.state[Array(key.utf8)], let value = entry.value, !entry.isExpired(atMillis: now) else { return nil }
        return StoredValue(value: value, version: entry.stamp.time.rawValue, created: entry.stamp.time.rawValue, expiresAt: entry.expiresAtMillis)
    }

    func list(prefix: String, after: String?, limit: Int) -> (entries: [(key: String, value: StoredValue)], revision: UInt64) {
        // The revision first: the state read after it holds at least every change numbered up to it.
        let revision = sequence
        let values = plane.state.values(
            prefix: Array(prefix.utf8), after: after.map { Array($0.utf8) }, limit: limit, physicalMillis: physicalMillis()
        )
        let entries = values.map { entry in
            (key: String(decoding: entry.key, as: UTF8.self),
             value: StoredValue(value: entry.value ?? [], version: entry.stamp.time.rawValue, created: entry.stamp.time.rawValue, expiresAt: entry.expiresAtMillis))
        }
        return (entries.filter { !$0.key.hasPrefix("_") }, revision)
    }

    // MARK: Writing

    /// Writes `value` (nil: a tombstone) with an expiry `ttlMillis` after now (0: none); returns the
    /// entry's version.
    @discardableResult
    func write(_ key: String, _ value: [UInt8]?, ttlMillis: UInt64) -> UInt64 {
        let expiry = ttlMillis > 0 && value != nil ? physicalMillis() + ttlMillis : nil
        let entry = plane.write(Array(key.utf8), value: value, expiresAtMillis: expiry)
        metrics?.write(store: name, operation: value == nil ? "delete" : "put", result: "ok")
        return entry.stamp.time.rawValue
    }

    /// The error of a conditional write or a transaction, counted.
    func unsupported(_ operation: String, _ what: String) -> CoordinationError {
        metrics?.write(store: name, operation: operation, result: "error")
        return .unsupported(
            "store \"\(name)\" is kv.crdt (eventual, last-writer-wins): \(what) needs one order of all writes; use a kv.raft store"
        )
    }

    // MARK: Watching

    /// Changes after `after`: 0 is every change this node numbered since it started (when all are still
    /// kept); a number this node has not given yet (another node's, or an earlier run's) is COMPACTED.
    func watch(prefix: String, after: UInt64) throws(CoordinationError) -> AsyncThrowingStream<StoreEvent, any Error> {
        let after = after == 0 ? firstSequence : after
        guard after <= sequence else { throw .compacted(oldest: feed.oldest) }
        do {
            return try feed.watch(store: name, prefix: prefix, after: after)
        } catch {
            switch error {
            case .compacted(let oldest), .replicaReplaced(let oldest): throw .compacted(oldest: oldest)
            case .fellBehind, .interrupted: throw .unavailable("\(error)")
            }
        }
    }

    // MARK: Following the plane

    /// Numbers and publishes what the plane applied, queues it for the durable copy, and reports the
    /// expiries that fell due since, until cancelled. `expiryCheck` bounds how long a due expiry waits.
    func follow(expiryCheck: Duration = .milliseconds(250)) async {
        await withTaskGroup(of: Void.self) { group in
            let (ticks, tick) = AsyncStream.makeStream(of: Void.self, bufferingPolicy: .bufferingNewest(1))
            group.addTask {
                while !Task.isCancelled {
                    try? await Task.sleep(for: expiryCheck)
                    tick.yield()
                }
                tick.finish()
            }
            group.addTask { [self] in
                for await _ in ticks { expire() }
            }
            for await event in changes {
                apply(event)
            }
            group.cancelAll()
        }
    }

    /// Applies one plane event: numbers each visible change and publishes it to watches.
    func apply(_ event: PlaneEvent) {
        switch event {
        case .changed(let changes):
            // Published under the lock, so that expiries and changes reach the feed in number order.
            tracking.withLock { tracking in
                let events = changes.compactMap { change in Self.event(for: change, store: name, tracking: &tracking) }
                feed.publish(events: events)
            }
            log?.append(changes.compactMap(\.new))
        case .resync:
            // Changes were missed: the watches cannot be told which, so they end (resume from a listing).
            let state = plane.state
            let sequence = tracking.withLock { tracking in
                tracking.sequence += 1
                tracking.expiries = PersistentSortedMap()
                tracking.expiredHeld = []
                for (_, entry) in state.entries {
                    guard let expiry = entry.expiresAtMillis, !entry.isTombstone else { continue }
                    tracking.expiries.updateValue(true, forKey: Expiry(millis: expiry, key: ByteKey(bytes: entry.key)))
                }
                return tracking.sequence
            }
            feed.reset(at: sequence)
            log?.compact()
        }
        metrics?.crdtKeys(store: name, count: liveKeys)
    }

    /// Reports, as deletes, the values whose expiry is due by now.
    func expire() {
        let now = physicalMillis()
        let state = plane.state
        let reported = tracking.withLock { tracking -> Bool in
            var events: [StoreEvent] = []
            while let (due, _) = tracking.expiries.first, due.millis <= now {
                tracking.expiries.removeValue(forKey: due)
                // Still the value that was tracked (a newer write would have moved its entry).
                guard let entry = state[due.key.bytes], !entry.isTombstone, entry.expiresAtMillis == due.millis else { continue }
                tracking.expiredHeld.insert(due.key)
                tracking.sequence += 1
                events.append(StoreEvent(kind: .delete, store: name, key: due.key.string, value: nil, version: tracking.sequence))
            }
            feed.publish(events: events)
            return !events.isEmpty
        }
        guard reported else { return }
        metrics?.crdtKeys(store: name, count: liveKeys)
    }

    /// Values held that have not expired (as reported).
    var liveKeys: Int {
        let held = tracking.withLock { $0.expiredHeld.count }
        return max(0, plane.state.valueCount - held)
    }

    /// The watch event of a plane change, if a reader would see one: a value written (a put), or a
    /// visible value gone (a delete); a tombstone over nothing, or over a value already reported
    /// expired, is not an event.
    private static func event(for change: PlaneState.Change, store: String, tracking: inout Tracking) -> StoreEvent? {
        let key = ByteKey(bytes: change.key)
        var wasVisible = false
        if let old = change.old, !old.isTombstone {
            if let expiry = old.expiresAtMillis {
                wasVisible = tracking.expiries.removeValue(forKey: Expiry(millis: expiry, key: key)) != nil
            } else {
                wasVisible = true
            }
        }
        tracking.expiredHeld.remove(key)
        if let new = change.new, let value = new.value {
            if let expiry = new.expiresAtMillis {
                tracking.expiries.updateValue(true, forKey: Expiry(millis: expiry, key: key))
            }
            tracking.sequence += 1
            return StoreEvent(kind: .put, store: store, key: key.string, value: value, version: tracking.sequence)
        }
        guard wasVisible else { return nil }
        tracking.sequence += 1
        return StoreEvent(kind: .delete, store: store, key: key.string, value: nil, version: tracking.sequence)
    }
}
