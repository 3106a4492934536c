import Gossip
import Observability
import ServiceLifecycle

/// Mirrors the gossip service's state into health checks once a second:
/// - liveness `gossip`: Lifeguard's health score ≤ 4, after a 60 s boot grace;
/// - readiness `gossip.joined`: the node is a seed or has joined at least one peer.
final class GossipHealth: Service, Sendable {
    static let livenessCheck = "gossip"
    static let readinessCheck = "gossip.joined"
    static let maximumHealthScore = 4

    private let gossip: GossipService
    private let checks: PolledChecks
    private let bootGrace: Duration
    private let interval: Duration

    init(gossip: GossipService, health: HealthRegistry, bootGrace: Duration = .seconds(60), interval: Duration = .seconds(1)) {
        self.gossip = gossip
        self.bootGrace = bootGrace
        self.interval = interval
        checks = PolledChecks(health: health, liveness: Self.livenessCheck, readiness: Self.readinessCheck, notReadyYet: "not joined yet")
    }

    func run() async throws {
        let started = ContinuousClock.now
        await checks.poll(every: interval) {
            let score = await gossip.healthScore
            let joined = await gossip.hasJoined
            checks.readiness.set(joined ? .ok : .fail("not joined yet: no seed in join_addrs has answered"))
            checks.liveness.set(Self.verdict(score: score, sinceStart: .now - started, bootGrace: bootGrace))
        }
    }

    /// The liveness verdict for a health score at a time since start.
    static func verdict(score: Int, sinceStart: Duration, bootGrace: Duration) -> HealthStatus {
        guard score > maximumHealthScore else { return .ok }
        if sinceStart < bootGrace { return .ok }
        return .fail("gossip health score \(score) > \(maximumHealthScore): this node is missing probes (overloaded or partitioned)")
    }
}
