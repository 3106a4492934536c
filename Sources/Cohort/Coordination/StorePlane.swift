import CohortCore
import PlaneCore
import Synchronization

/// What a `kv.crdt` store needs of the plane that holds its entries: this node's copy, a way to write
/// into it, a way to seed it from the durable copy before the node joins, and the changes as this node
/// applies them (its own writes and merged remote ones, in the order it applied them).
///
/// The gossip shell's plane (`kv:<store>`, replicated to every member) provides it; ``LocalStorePlane``
/// is one node's copy alone, for a node whose plane is not replicated.
protocol StorePlane: AnyObject, Sendable {
    /// The plane's entries now (an O(1) snapshot).
    var state: PlaneState { get }
    /// Writes `value` at `key` (nil: a tombstone) stamped by this node's clock; returns the entry made.
    @discardableResult
    func write(_ key: [UInt8], value: [UInt8]?, expiresAtMillis: UInt64?) -> PlaneEntry
    /// Merges a durable copy's entries, before the node joins; the clock resumes past every stamp.
    func load(_ entries: [PlaneEntry])
    /// The changes this node applies from now on. `.resync` says some were not delivered (the stream
    /// fell behind): read ``state`` again.
    func storeChanges() -> AsyncStream<StorePlaneEvent>
}

/// What a ``StorePlane`` reports.
enum StorePlaneEvent: Sendable {
    /// Entries changed here, in the order they applied.
    case changed([PlaneState.Change])
    /// Changes were dropped for a slow reader: the state must be read again.
    case resync
}

/// A plane held by this node alone: a last-writer-wins map stamped by a hybrid logical clock, without
/// replication. What a `kv.crdt` store runs on when no replicated plane is wired in.
final class LocalStorePlane: StorePlane {
    private struct Subscriber {
        let continuation: AsyncStream<StorePlaneEvent>.Continuation
        /// A change was dropped: a `.resync` is owed before anything else.
        var owesResync = false
    }

    private struct Inner {
        var state = PlaneState()
        var clock = HybridClock()
        var subscribers: [Int: Subscriber] = [:]
        var nextSubscriber = 0
    }

    private let node: NodeID
    private let physicalMillis: @Sendable () -> UInt64
    private let bufferLimit: Int
    private let inner = Mutex(Inner())

    /// A plane whose entries carry `node` as their writer, stamped by `physicalMillis` (wall-clock
    /// milliseconds); a subscriber may fall `bufferLimit` changes behind before it is told to resync.
    init(node: NodeID, physicalMillis: @escaping @Sendable () -> UInt64, bufferLimit: Int = 10_000) {
        self.node = node
        self.physicalMillis = physicalMillis
        self.bufferLimit = max(1, bufferLimit)
    }

    var state: PlaneState { inner.withLock { $0.state } }

    @discardableResult
    func write(_ key: [UInt8], value: [UInt8]?, expiresAtMillis: UInt64?) -> PlaneEntry {
        let now = physicalMillis()
        return inner.withLock { inner in
            let stamp = PlaneStamp(time: inner.clock.now(physicalMillis: now), node: node)
            let entry = value.map { PlaneEntry(key: key, stamp: stamp, value: $0, expiresAtMillis: expiresAtMillis) }
                ?? PlaneEntry(tombstone: key, stamp: stamp)
            // A fresh stamp supersedes whatever the key held; an already expired value merges as nothing.
            if let change = inner.state.merge(entry, atLocalMillis: now, physicalMillis: now) {
                Self.publish([change], to: &inner.subscribers)
            }
            return entry
        }
    }

    func load(_ entries: [PlaneEntry]) {
        let now = physicalMillis()
        inner.withLock { inner in
            var latest = inner.clock.last
            for entry in entries {
                latest = max(latest, entry.stamp.time)
                inner.state.merge(entry, atLocalMillis: now, physicalMillis: now)
            }
            inner.clock = HybridClock(last: latest, maxForwardMillis: inner.clock.maxForwardMillis)
        }
    }

    func storeChanges() -> AsyncStream<StorePlaneEvent> {
        let (stream, continuation) = AsyncStream.makeStream(of: StorePlaneEvent.self, bufferingPolicy: .bufferingOldest(bufferLimit))
        let id = inner.withLock { inner in
            let id = inner.nextSubscriber
            inner.nextSubscriber += 1
            inner.subscribers[id] = Subscriber(continuation: continuation)
            return id
        }
        continuation.onTermination = { [weak self] _ in
            _ = self?.inner.withLock { $0.subscribers.removeValue(forKey: id) }
        }
        return stream
    }

    private static func publish(_ changes: [PlaneState.Change], to subscribers: inout [Int: Subscriber]) {
        for id in subscribers.keys {
            if subscribers[id]!.owesResync {
                guard case .enqueued = subscribers[id]!.continuation.yield(.resync) else { continue }
                subscribers[id]!.owesResync = false
                // The resync covers this change too: the reader reads the state after it.
                continue
            }
            if case .dropped = subscribers[id]!.continuation.yield(.changed(changes)) {
                subscribers[id]!.owesResync = true
            }
        }
    }
}
