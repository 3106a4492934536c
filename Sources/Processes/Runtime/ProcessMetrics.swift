import Observability
import Prometheus

/// The process runtime's Prometheus metrics, built once with HELP texts; every labelled counter exists at zero.
final class ProcessMetrics: Sendable {
    /// Paths of `processes_messages_total{path}`: between local processes, sent to another node, received from one.
    enum Path: String, CaseIterable, Sendable {
        case local
        case remoteOut = "remote_out"
        case remoteIn = "remote_in"
    }

    private let count: Gauge
    private let monitorCount: Gauge
    private let spawned: Counter
    private let exited: [String: Counter]
    private let messages: [Path: Counter]
    private let dropped: [DropReason: Counter]

    /// Registers every metric in `registry`.
    init(registry: PrometheusCollectorRegistry) {
        count = registry.gauge("processes_live", help: "Processes alive on this node.")
        monitorCount = registry.gauge(
            "processes_monitors", help: "Monitors with at least one end on this node (local and remote)."
        )
        spawned = registry.counter("processes_spawned_total", help: "Processes spawned on this node.")
        exited = Dictionary(uniqueKeysWithValues: ProcessOutcome.labels.map { label in
            (label, registry.counter(
                "processes_exited_total", labels: [("outcome", label)],
                help: "Processes of this node that exited, by outcome."
            ))
        })
        messages = Dictionary(uniqueKeysWithValues: Path.allCases.map { path in
            (path, registry.counter(
                "processes_messages_total", labels: [("path", path.rawValue)],
                help: "Messages delivered to a local mailbox (local, remote_in) or handed to the transport (remote_out)."
            ))
        })
        dropped = Dictionary(uniqueKeysWithValues: DropReason.allCases.map { reason in
            (reason, registry.counter(
                "processes_messages_dropped_total", labels: [("reason", reason.rawValue)],
                help: "Messages and signals dropped, by reason."
            ))
        })
    }

    func spawned(alive: Int) {
        spawned.increment()
        count.set(Int64(alive))
    }

    func exited(_ outcome: ProcessOutcome, alive: Int) {
        exited[outcome.label]?.increment()
        count.set(Int64(alive))
    }

    func monitors(_ total: Int) {
        monitorCount.set(Int64(total))
    }

    func message(_ path: Path, count: Int = 1) {
        messages[path]?.increment(by: Int64(count))
    }

    func dropped(_ reason: DropReason) {
        dropped[reason]?.increment()
    }
}
