import PlaneCore
import Prometheus

/// The `plane_*` metrics: per plane, bytes in and out (deltas, digests, pulls), entries and tombstones;
/// node-wide, shards found different in peers' digests and messages dropped by reason. Every series is
/// registered when its plane is, so it reads zero from the start.
final class PlaneMetrics: Sendable {
    static let dropReasons = ["unknown_version", "malformed", "unknown_plane", "owner_refused"]

    private let registry: PrometheusCollectorRegistry
    let digestMismatches: Counter
    let dropped: [String: Counter]

    init(registry: PrometheusCollectorRegistry) {
        self.registry = registry
        digestMismatches = registry.counter(
            "plane_digest_mismatches_total", help: "Plane shards found different from a peer's in its push/pull digest (each one pulled)."
        )
        dropped = Dictionary(uniqueKeysWithValues: Self.dropReasons.map { reason in
            (reason, registry.counter(
                "plane_dropped_total", labels: [("reason", reason)],
                help: "Plane messages or entries not applied: unknown version, malformed, unknown plane, refused by an owner rule."
            ))
        })
    }

    /// One plane's series.
    struct PlaneSeries: Sendable {
        let bytesIn: Counter
        let bytesOut: Counter
        let entries: Gauge
        let tombstones: Gauge
    }

    func series(plane: String) -> PlaneSeries {
        let bytesHelp = "Bytes of plane traffic (deltas, digests, pulls and their replies), by direction."
        return PlaneSeries(
            bytesIn: registry.counter("plane_bytes_total", labels: [("plane", plane), ("direction", "in")], help: bytesHelp),
            bytesOut: registry.counter("plane_bytes_total", labels: [("plane", plane), ("direction", "out")], help: bytesHelp),
            entries: registry.gauge("plane_entries", labels: [("plane", plane)], help: "Entries (values and tombstones) this node holds, by plane."),
            tombstones: registry.gauge("plane_tombstones", labels: [("plane", plane)], help: "Tombstones this node holds, by plane.")
        )
    }

    /// Adds what the sync counted since the last call.
    func record(counters now: PlaneSync.Counters, since before: PlaneSync.Counters) {
        guard now != before else { return }
        if now.digestMismatches > before.digestMismatches { digestMismatches.increment(by: Int64(now.digestMismatches - before.digestMismatches)) }
        for (reason, delta) in [
            ("unknown_version", now.unknownVersion - before.unknownVersion), ("malformed", now.malformed - before.malformed),
            ("unknown_plane", now.unknownPlane - before.unknownPlane), ("owner_refused", now.refusedOwner - before.refusedOwner),
        ] where delta > 0 {
            dropped[reason]?.increment(by: Int64(delta))
        }
    }
}
