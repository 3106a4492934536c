import Observability
import Raft
import ServiceLifecycle
import Synchronization

/// The Raft service's health checks (SPEC section 10), kept current without a polling loop:
/// - liveness `raft.last_contact`: a voter must have heard from its leader within 30 s, a standby within
///   5 minutes; a leader and a node outside the configuration always pass. Evaluated when asked, from the
///   last status and the service's leader-contact clock;
/// - readiness `raft`: Raft has restored its state and, on a member of the configuration, knows a leader.
///   Set on every status change the service publishes.
final class RaftHealth: Service, Sendable {
    static let livenessCheck = "raft.last_contact"
    static let readinessCheck = "raft"
    static let voterLimit = Duration.seconds(30)
    static let standbyLimit = Duration.seconds(300)

    private let raft: RaftService
    private let latest = Mutex<RaftStatus?>(nil)
    private let readiness = HealthFlag(.fail("raft has not started"))

    init(raft: RaftService, health: HealthRegistry) {
        self.raft = raft
        let started = ContinuousClock.now
        health.register(Self.readinessCheck, kind: .readiness) { [readiness] in readiness.status }
        health.register(Self.livenessCheck, kind: .liveness) { [self] in
            guard let status = latest.withLock({ $0 }) else { return .ok }
            let since = ContinuousClock.now - (raft.lastLeaderContactInstant ?? started)
            return Self.liveness(status, sinceContact: since)
        }
    }

    /// Follows the service's status changes until it stops.
    func run() async throws {
        await untilGracefulShutdown { [self] in
            for await status in await raft.statusUpdates() {
                latest.withLock { $0 = status }
                readiness.set(Self.readiness(status))
            }
        }
    }

    /// Ready once running and, on a voter or standby, a leader is known.
    static func readiness(_ status: RaftStatus) -> HealthStatus {
        if status.state == .none { return .fail("raft has not restored its state yet") }
        if status.role == .client || status.leader != nil { return .ok }
        return .fail("no raft leader known (election in progress, or no quorum of voters)")
    }

    /// The last-contact verdict: `sinceContact` is how long ago the leader was heard from (or how long
    /// Raft has run, if never).
    static func liveness(_ status: RaftStatus, sinceContact: Duration) -> HealthStatus {
        guard status.state != .leader else { return .ok }
        let limit: Duration
        switch status.role {
        case .client: return .ok
        case .voter: limit = voterLimit
        case .standby: limit = standbyLimit
        }
        guard sinceContact > limit else { return .ok }
        let seconds = Int(sinceContact.components.seconds)
        return .fail("raft \(status.role.rawValue) has not heard from a leader for \(seconds)s (limit \(limit.components.seconds)s)")
    }

    /// One phrase for systemd's `STATUS=`: role, state, term and leader as of the last check.
    var summary: String {
        guard let status = latest.withLock({ $0 }), status.state != .none else { return "raft starting" }
        if status.role == .client { return "raft: not in the configuration" }
        let leader = status.state == .leader ? "leading" : status.leader.map { "leader \($0)" } ?? "no leader"
        return "raft \(status.role.rawValue), term \(status.term), \(leader), \(status.voters.count) voters"
    }
}
