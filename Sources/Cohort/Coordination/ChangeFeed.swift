import CohortCore
import CoordinationCore
import Synchronization

/// The recent key changes of every store, and the watches fed from them.
///
/// Fed by the state machine as entries apply (on the Raft actor), it keeps the last `capacity` changes;
/// a watch from version V first gets the kept changes after V, then every new one, under one lock, so
/// no change is missed or repeated between the backlog and the live stream. Versions below the oldest
/// kept change (``WatchError/compacted(oldest:)``) are refused. A watcher that falls more than
/// `backlogLimit` events behind is ended with ``WatchError/fellBehind`` rather than silently skipped.
final class ChangeFeed: Sendable {
    private struct Watch {
        let store: String
        let prefix: String
        let continuation: AsyncThrowingStream<StoreEvent, any Error>.Continuation
    }

    private struct State {
        /// Kept changes, oldest first.
        var history: [StoreEvent] = []
        /// Where `history` starts (a ring: the oldest is at `start`).
        var start = 0
        /// Every change after this version is kept (or was applied after it).
        var floor: UInt64 = 0
        var watches: [Int: Watch] = [:]
        var nextWatch = 0
    }

    private let state = Mutex(State())
    /// Told the number of open watches whenever it changes (the `watch_streams` gauge).
    private let countObserver = Mutex<(@Sendable (Int) -> Void)?>(nil)
    private let capacity: Int
    private let backlogLimit: Int

    /// A feed keeping the last `capacity` changes; watchers may fall `backlogLimit` events behind.
    init(capacity: Int = 100_000, backlogLimit: Int = 10_000) {
        self.capacity = max(1, capacity)
        self.backlogLimit = max(1, backlogLimit)
    }

    /// The number of open watches.
    var watchCount: Int { state.withLock { $0.watches.count } }

    /// Calls `observer` with the number of open watches whenever it changes.
    func observeWatchCount(_ observer: @escaping @Sendable (Int) -> Void) {
        countObserver.withLock { $0 = observer }
    }

    private func countChanged() {
        if let observer = countObserver.withLock({ $0 }) { observer(watchCount) }
    }

    /// The earliest version a watch can start from.
    var oldest: UInt64 { state.withLock { $0.floor } }

    /// Records applied changes and hands them to matching watches.
    func publish(_ changes: [CoordinationChange]) {
        publish(events: changes.compactMap(StoreEvent.init))
    }

    /// Records changes already made events (a `kv.crdt` store's, numbered by the store) and hands them
    /// to matching watches. Their versions must grow.
    func publish(events: [StoreEvent]) {
        guard !events.isEmpty else { return }
        // Ended outside the lock: finishing runs the stream's termination handler, which takes the lock.
        let behind = state.withLock { state -> [AsyncThrowingStream<StoreEvent, any Error>.Continuation] in
            var behind: [AsyncThrowingStream<StoreEvent, any Error>.Continuation] = []
            for event in events {
                if state.history.count < capacity {
                    state.history.append(event)
                } else {
                    state.floor = state.history[state.start].version
                    state.history[state.start] = event
                    state.start = (state.start + 1) % capacity
                }
                for (id, watch) in state.watches where event.store == watch.store && event.key.hasPrefix(watch.prefix) {
                    if case .dropped = watch.continuation.yield(event) {
                        behind.append(watch.continuation)
                        state.watches[id] = nil
                    }
                }
            }
            return behind
        }
        for continuation in behind { continuation.finish(throwing: WatchError.fellBehind) }
        if !behind.isEmpty { countChanged() }
    }

    /// The replica was replaced (a snapshot installed, or restored at start) at `index`: the history
    /// restarts there and every open watch ends, since the changes inside the snapshot are unknown.
    func reset(at index: UInt64) {
        let watches = state.withLock { state in
            let watches = state.watches
            state = State()
            state.floor = index
            return watches
        }
        for watch in watches.values { watch.continuation.finish(throwing: WatchError.replicaReplaced(oldest: index)) }
        countChanged()
    }

    /// The kept changes of `store` under `prefix` after version `after`, oldest first, at most `limit`
    /// of them and about `maxBytes` of values (at least one). Throws ``WatchError/compacted(oldest:)``
    /// when changes after `after` are no longer all kept. What a client node's watch fetches.
    func changes(store: String, prefix: String, after: UInt64, limit: Int, maxBytes: Int = 4 << 20) throws(WatchError) -> [StoreEvent] {
        try state.withLock { (state: inout State) throws(WatchError) -> [StoreEvent] in
            guard after >= state.floor else { throw .compacted(oldest: state.floor) }
            let count = state.history.count
            func event(_ offset: Int) -> StoreEvent { state.history[(state.start + offset) % count] }
            // History is in version order: find the first change after `after`.
            var low = 0, high = count
            while low < high {
                let middle = (low + high) / 2
                if event(middle).version <= after { low = middle + 1 } else { high = middle }
            }
            var found: [StoreEvent] = []
            var bytes = 0
            for offset in low..<count {
                guard found.count < limit, found.isEmpty || bytes < maxBytes else { break }
                let change = event(offset)
                guard change.store == store, change.key.hasPrefix(prefix) else { continue }
                found.append(change)
                bytes += change.key.utf8.count + (change.value?.count ?? 0)
            }
            return found
        }
    }

    /// The changes of `store` under `prefix` after version `after`, then every new one. Throws
    /// ``WatchError/compacted(oldest:)`` when changes after `after` are no longer all kept.
    func watch(store: String, prefix: String, after: UInt64) throws(WatchError) -> AsyncThrowingStream<StoreEvent, any Error> {
        let (stream, continuation) = AsyncThrowingStream.makeStream(of: StoreEvent.self, bufferingPolicy: .bufferingOldest(backlogLimit))
        let id: Int = try state.withLock { (state: inout State) throws(WatchError) -> Int in
            guard after >= state.floor else { throw .compacted(oldest: state.floor) }
            for offset in 0..<state.history.count {
                let event = state.history[(state.start + offset) % state.history.count]
                guard event.version > after, event.store == store, event.key.hasPrefix(prefix) else { continue }
                if case .dropped = continuation.yield(event) {
                    continuation.finish(throwing: WatchError.fellBehind)
                    return -1
                }
            }
            let id = state.nextWatch
            state.nextWatch += 1
            state.watches[id] = Watch(store: store, prefix: prefix, continuation: continuation)
            return id
        }
        if id >= 0 {
            continuation.onTermination = { [weak self] _ in
                guard let self else { return }
                let removed = state.withLock { $0.watches.removeValue(forKey: id) != nil }
                if removed { countChanged() }
            }
            countChanged()
        }
        return stream
    }
}
