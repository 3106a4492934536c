@testable import Cohort
import CohortCore
import PlaneCore
import Synchronization

/// A stand-in plane for tests: one node's last-writer-wins map stamped by a hybrid logical clock read
/// from a manual clock, without replication.
final class LocalStorePlane: StorePlane {
    private struct Subscriber {
        let continuation: AsyncStream<PlaneEvent>.Continuation
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

    func changes() -> AsyncStream<PlaneEvent> {
        let (stream, continuation) = AsyncStream.makeStream(of: PlaneEvent.self, bufferingPolicy: .bufferingOldest(bufferLimit))
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
