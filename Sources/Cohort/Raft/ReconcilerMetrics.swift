import Observability
import Prometheus
import RaftMembership

/// The voter reconciler's metrics: operations by kind and result, and churn bursts. Every labelled
/// counter exists at zero before its first event.
final class ReconcilerMetrics: Sendable {
    static let operations = ["add_standby", "promote", "demote", "remove", "transfer_leadership"]
    static let results = ["ok", "error"]

    private let counters: [String: Counter]
    /// `raft_voter_churn_burst_total`: more than 3 operations within 60 s, counted once per burst.
    let churnBursts: Counter

    init(registry: PrometheusCollectorRegistry) {
        var counters: [String: Counter] = [:]
        for op in Self.operations {
            for result in Self.results {
                counters["\(op)/\(result)"] = registry.counter(
                    "raft_voter_operations_total", labels: [("op", op), ("result", result)],
                    help: "Configuration operations applied by the voter reconciler, by operation and result (ok, error)."
                )
            }
        }
        self.counters = counters
        churnBursts = registry.counter(
            "raft_voter_churn_burst_total",
            help: "Bursts of voter reconciler operations (more than 3 within 60 s); sustained churn is a red flag."
        )
    }

    func count(_ operation: VoterOperation, succeeded: Bool) {
        counters["\(operation.metricLabel)/\(succeeded ? "ok" : "error")"]?.increment()
    }
}
