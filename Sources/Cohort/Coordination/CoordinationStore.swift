import CohortCore
import CoordinationCore
import Raft
import RaftCore
import Synchronization

/// The node's replicated state machine: the ``CoordinationState`` (named stores, locks, names) that Raft
/// applies committed commands to, in log order.
///
/// Reads never wait for an apply: an apply computes the next version of the state from a copy (O(1),
/// the state is persistent) and only swaps it in under the lock, so a reader holds the lock for a
/// pointer copy. A snapshot captures the current version and is serialized off the event loop.
/// Applied changes go to the ``ChangeFeed`` (watches) and to the observers (lock waiters, metrics).
public final class CoordinationStore: RaftStateMachine, Sendable {
    private let current = Mutex(CoordinationState())
    let feed: ChangeFeed
    private let observers = Mutex<[@Sendable (_ changes: [CoordinationChange], _ state: CoordinationState) -> Void]>([])

    /// An empty store; the feed keeps the last `historyCapacity` key changes for watches.
    public init(historyCapacity: Int = 100_000) {
        feed = ChangeFeed(capacity: historyCapacity)
    }

    /// The state as applied here now (O(1): a persistent copy).
    public var state: CoordinationState { current.withLock { $0 } }

    /// Calls `observer` after every apply that changed something, with the changes and the new state,
    /// on the applying thread (keep it quick), and after a restore (no changes; on a thread-pool thread).
    func observe(_ observer: @escaping @Sendable (_ changes: [CoordinationChange], _ state: CoordinationState) -> Void) {
        observers.withLock { $0.append(observer) }
    }

    // MARK: RaftStateMachine

    public func apply(_ entry: LogEntry) -> [UInt8] {
        guard case .command(let bytes) = entry.payload else { return [] }
        var next = current.withLock { $0 }
        let (result, changes) = next.apply(encoded: bytes, index: entry.index)
        current.withLock { $0 = next }
        if !changes.isEmpty {
            feed.publish(changes)
            for observer in observers.withLock({ $0 }) { observer(changes, next) }
        }
        return result
    }

    public func snapshot() -> @Sendable () -> [UInt8] {
        let captured = state
        return { captured.snapshot() }
    }

    /// Replaces the state with a snapshot's, or throws (changing nothing) when the bytes are not exactly
    /// one. Open watches end (the changes inside the snapshot are unknown to them). Raft calls it on a
    /// thread-pool thread, never while an apply runs; the state, the feed and the observers are behind
    /// their own locks.
    public func restore(_ data: [UInt8]) throws(CoordinationCodecError) {
        let restored = try CoordinationState(snapshot: data)
        current.withLock { $0 = restored }
        feed.reset(at: restored.index)
        for observer in observers.withLock({ $0 }) { observer([], restored) }
    }
}
