import Observability
import Prometheus

/// `name_conflicts_total`: eventual registrations of this node's processes revoked because an earlier
/// registration of the same name won (each counted once, on the loser's node). At zero from the start.
/// (`names_registered{scope}` is in ``CoordinationMetrics``.)
final class NameMetrics: Sendable {
    let conflicts: Counter

    init(registry: PrometheusCollectorRegistry) {
        conflicts = registry.counter(
            "name_conflicts_total",
            help: "Eventual names of this node's processes revoked because an earlier registration of the name won."
        )
    }
}
