import Gossip
import Observability

/// The gossip service's health checks, evaluated when asked (no polling loop: the service publishes its
/// score and join state after every step):
/// - liveness `gossip`: Lifeguard's health score ≤ 4, after a 60 s boot grace;
/// - readiness `gossip.joined`: the node is a seed or has joined at least one peer.
final class GossipHealth: Sendable {
    static let livenessCheck = "gossip"
    static let readinessCheck = "gossip.joined"
    static let maximumHealthScore = 4

    init(gossip: GossipService, health: HealthRegistry, bootGrace: Duration = .seconds(60)) {
        let started = ContinuousClock.now
        health.register(Self.livenessCheck, kind: .liveness) {
            Self.verdict(score: gossip.health.score, sinceStart: .now - started, bootGrace: bootGrace)
        }
        health.register(Self.readinessCheck, kind: .readiness) {
            gossip.health.joined ? .ok : .fail("not joined yet: no seed in join_addrs has answered")
        }
    }

    /// The liveness verdict for a health score at a time since start.
    static func verdict(score: Int, sinceStart: Duration, bootGrace: Duration) -> HealthStatus {
        guard score > maximumHealthScore else { return .ok }
        if sinceStart < bootGrace { return .ok }
        return .fail("gossip health score \(score) > \(maximumHealthScore): this node is missing probes (overloaded or partitioned)")
    }
}
