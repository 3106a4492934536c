import CohortCore
import PlaneCore
import Synchronization

/// Options of one plane.
public struct PlaneOptions: Sendable {
    /// How long a tombstone is kept at least, even once every alive member holds it (so that a delayed
    /// delta of the value it deleted cannot bring the value back). See docs/planes.md.
    public var tombstoneGrace: Duration = .seconds(60)
    /// For planes whose entries belong to a process (eventual names): the owner of an entry, or nil.
    /// Entries of a node that is not an alive member (or of an earlier boot of it) are refused, and all
    /// of a node's entries are dropped when it leaves or is declared dead.
    public var owner: (@Sendable (PlaneEntry) -> PID?)? = nil

    public init(tombstoneGrace: Duration = .seconds(60), owner: (@Sendable (PlaneEntry) -> PID?)? = nil) {
        self.tombstoneGrace = tombstoneGrace
        self.owner = owner
    }
}

/// What a plane's change feed carries.
public enum PlaneEvent: Sendable, Hashable {
    /// Changes, in the order applied.
    case changed([PlaneState.Change])
    /// The consumer fell behind and changes were lost: re-read ``Plane/state``.
    case resync
}

/// One plane on this node (thread-safe; all methods callable from any task).
public final class Plane: Sendable {
    /// The plane's id, e.g. "names", "kv:config", "cnames".
    public let id: String
    let hub: PlaneHub

    init(id: String, hub: PlaneHub) {
        self.id = id
        self.hub = hub
    }

    /// The plane's entries now: an O(1) snapshot. Values may have expired since the last sweep: read
    /// through `values(prefix:after:limit:physicalMillis:)`, or check `isExpired(atMillis:)`.
    public var state: PlaneState {
        hub.state(of: id)
    }

    /// Stamps with this node's HLC, merges locally, queues the delta for gossip. value nil = delete
    /// (tombstone). The key must be 1…1024 bytes and the value at most 512 KiB (``PlaneLimits``;
    /// precondition: check user input first).
    @discardableResult
    public func write(_ key: [UInt8], value: [UInt8]?, expiresAtMillis: UInt64? = nil) -> PlaneEntry {
        hub.write(plane: id, key: key, value: value, expiresAtMillis: expiresAtMillis)
    }

    /// Merges entries as if received (used to load a durable copy before the node joins); observes their
    /// stamps in the clock.
    public func load(_ entries: [PlaneEntry]) {
        hub.load(plane: id, entries: entries)
    }

    /// Every change from now on (local writes, merges from peers, departures' removals, expiries, tombstone
    /// collection), in the order applied; bounded buffer (``PlaneHub/feedLimit`` events), a consumer that
    /// falls behind gets `.resync` then must re-read `state`.
    public func changes() -> AsyncStream<PlaneEvent> {
        hub.subscribe(plane: id)
    }
}

/// One subscriber's queue of plane events: bounded; on overflow the queue becomes one `.resync`, and
/// events are dropped until the consumer takes it.
final class PlaneFeed: Sendable {
    private struct State {
        var queue: [PlaneEvent] = []
        var head = 0
        var overflowed = false
        var finished = false
        var waiter: CheckedContinuation<PlaneEvent?, Never>?
    }

    private let state = Mutex(State())
    let limit: Int

    init(limit: Int) {
        self.limit = limit
    }

    func push(_ event: PlaneEvent) {
        let waiter = state.withLock { state -> CheckedContinuation<PlaneEvent?, Never>? in
            guard !state.finished, !state.overflowed else { return nil }
            if let waiter = state.waiter {
                state.waiter = nil
                return waiter
            }
            if state.queue.count - state.head >= limit {
                state.queue = [.resync]
                state.head = 0
                state.overflowed = true
            } else {
                state.queue.append(event)
            }
            return nil
        }
        waiter?.resume(returning: event)
    }

    func finish() {
        let waiter = state.withLock { state -> CheckedContinuation<PlaneEvent?, Never>? in
            state.finished = true
            defer { state.waiter = nil }
            return state.waiter
        }
        waiter?.resume(returning: nil)
    }

    func next() async -> PlaneEvent? {
        await withTaskCancellationHandler {
            await withCheckedContinuation { (continuation: CheckedContinuation<PlaneEvent?, Never>) in
                let ready = state.withLock { state -> PlaneEvent?? in
                    if state.head < state.queue.count {
                        let event = state.queue[state.head]
                        state.head += 1
                        if state.head == state.queue.count {
                            state.queue = []
                            state.head = 0
                        }
                        if event == .resync { state.overflowed = false }
                        return .some(event)
                    }
                    if state.finished || Task.isCancelled { return .some(nil) }
                    state.waiter = continuation
                    return .none
                }
                if let ready { continuation.resume(returning: ready) }
            }
        } onCancel: {
            finish()
        }
    }
}
