import Observability
import Prometheus

/// `name_conflicts_total`: eventual registrations of this node's processes revoked because an earlier
/// registration of the same name won (each counted once, on the loser's node); `name_cache_lookups_total
/// {result="hit"|"miss"}`: a client's consistent-name cache (0 on a Raft server). At zero from the start.
/// (`names_registered{scope}` is in ``CoordinationMetrics``.)
final class NameMetrics: Sendable {
    let conflicts: Counter
    let cacheHits: Counter
    let cacheMisses: Counter

    init(registry: PrometheusCollectorRegistry) {
        conflicts = registry.counter(
            "name_conflicts_total",
            help: "Eventual names of this node's processes revoked because an earlier registration of the name won."
        )
        let help = "Consistent-name lookups a client node answered from its cache (hit) or had to ask a member for (miss)."
        cacheHits = registry.counter("name_cache_lookups_total", labels: [("result", "hit")], help: help)
        cacheMisses = registry.counter("name_cache_lookups_total", labels: [("result", "miss")], help: help)
    }

    /// Counts one cache lookup.
    func cacheLookup(hit: Bool) {
        (hit ? cacheHits : cacheMisses).increment()
    }
}
