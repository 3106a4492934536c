import CohortCore

/// Pauses between dial attempts: the initial pause, doubling up to the maximum, each scaled by a random
/// factor in 1 ± jitter. Reset by a successful handshake.
package struct ReconnectBackoff: Sendable {
    package let settings: MeshBackoffSettings
    private var next: Duration

    package init(_ settings: MeshBackoffSettings) {
        self.settings = settings
        next = settings.initial
    }

    /// The pause before the next attempt; the one after is twice as long (up to the maximum).
    package mutating func pause(using generator: inout some RandomNumberGenerator) -> Duration {
        let base = next
        next = min(next * 2, settings.maximum)
        let jitter = max(0, min(1, settings.jitter))
        guard jitter > 0 else { return base }
        return base * Double.random(in: (1 - jitter)...(1 + jitter), using: &generator)
    }

    /// Back to the initial pause.
    package mutating func reset() {
        next = settings.initial
    }
}

/// Which ports to try, in order: a fixed port alone, or for port 0 the mesh's range 7950…7959 and then
/// an ephemeral port (0).
package enum PortPlan {
    /// The conventional internode ports.
    package static let range = 7950...7959

    package static func candidates(bindPort: Int) -> [Int] {
        bindPort == 0 ? Array(range) + [0] : [bindPort]
    }
}

/// The crossed-dial rule: either node dials when it needs a connection, and when both dial at once the
/// connection dialled by the smaller ID (by UTF-8 bytes) is the one both keep.
package enum DialRule {
    /// Whether a connection dialled by `dialer` to `acceptor` is the kept one of a crossed pair.
    package static func isPreferred(dialer: NodeID, acceptor: NodeID) -> Bool { dialer < acceptor }
}
