import CohortCore
import Synchronization

/// Fans ``MeshPeerEvent``s out to subscribers; each subscription starts with a snapshot of the connected
/// peers and keeps the newest 1024 unread events.
final class PeerEventHub: Sendable {
    private struct State {
        var subscribers: [Int: AsyncStream<MeshPeerEvent>.Continuation] = [:]
        var nextID = 0
        var connected: [NodeID: Incarnation] = [:]
        var finished = false
    }

    /// Unread events a subscriber keeps; older ones are dropped.
    static let bufferLimit = 1024

    private let state = Mutex(State())

    init() {}

    /// A new subscription: `connected` for every connected peer (sorted), then changes as they happen.
    func subscribe() -> AsyncStream<MeshPeerEvent> {
        let (stream, continuation) = AsyncStream.makeStream(
            of: MeshPeerEvent.self, bufferingPolicy: .bufferingNewest(Self.bufferLimit)
        )
        let id = state.withLock { state -> Int? in
            guard !state.finished else { return nil }
            for (peer, incarnation) in state.connected.sorted(by: { $0.key < $1.key }) {
                continuation.yield(.connected(peer, incarnation))
            }
            let id = state.nextID
            state.nextID += 1
            state.subscribers[id] = continuation
            return id
        }
        guard let id else {
            continuation.finish()
            return stream
        }
        continuation.onTermination = { [weak self] _ in
            _ = self?.state.withLock { $0.subscribers.removeValue(forKey: id) }
        }
        return stream
    }

    /// Records and publishes `event`. Yielding under the lock keeps every subscriber's order identical.
    func publish(_ event: MeshPeerEvent) {
        state.withLock { state in
            switch event {
            case .connected(let peer, let incarnation): state.connected[peer] = incarnation
            case .disconnected(let peer), .removed(let peer): state.connected[peer] = nil
            }
            for continuation in state.subscribers.values { continuation.yield(event) }
        }
    }

    /// Ends every subscription.
    func finish() {
        let subscribers = state.withLock { state in
            state.finished = true
            defer { state.subscribers.removeAll() }
            return Array(state.subscribers.values)
        }
        for continuation in subscribers { continuation.finish() }
    }
}
