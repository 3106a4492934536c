import CohortCore
import Synchronization

/// The peers by ID, looked up on every `send` from any thread.
final class PeerDirectory: Sendable {
    private struct State {
        var links: [NodeID: PeerLink] = [:]
        var stopped = false
    }

    private let state = Mutex(State())

    init() {}

    /// The link of `id`, if known.
    func link(_ id: NodeID) -> PeerLink? {
        state.withLock { $0.links[id] }
    }

    /// Whether the service has stopped (sends are refused).
    var isStopped: Bool {
        state.withLock { $0.stopped }
    }

    /// The link of `id`, created with `make` if there is none; nil after stop.
    func link(_ id: NodeID, orCreate make: () -> PeerLink) -> (link: PeerLink, created: Bool)? {
        state.withLock { state in
            guard !state.stopped else { return nil }
            if let link = state.links[id] { return (link, false) }
            let link = make()
            state.links[id] = link
            return (link, true)
        }
    }

    /// Forgets `id`, returning its link.
    func remove(_ id: NodeID) -> PeerLink? {
        state.withLock { $0.links.removeValue(forKey: id) }
    }

    /// Forgets `link` if it is still the one for its ID, was never introduced by `setPeer` and has no
    /// connection: the leftovers of a connection from an unknown peer that failed its handshake.
    func removeIfUnknown(_ link: PeerLink) {
        state.withLock { state in
            guard state.links[link.id] === link, link.isUnconnectedStranger else { return }
            state.links[link.id] = nil
        }
    }

    /// Every link.
    var all: [PeerLink] {
        state.withLock { Array($0.links.values) }
    }

    /// Stops: refuses new links and returns the existing ones.
    func stop() -> [PeerLink] {
        state.withLock { state in
            state.stopped = true
            defer { state.links.removeAll() }
            return Array(state.links.values)
        }
    }
}
