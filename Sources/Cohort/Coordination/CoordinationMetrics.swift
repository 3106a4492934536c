import CohortConfig
import CoordinationCore
import Observability
import Prometheus

/// The coordination metrics (SPEC §10), every series at zero from the start. Gauges of the replicated
/// state (`store_keys`, `locks_held`, `names_registered{scope="consistent"|"strong"}`) follow this node's replica
/// (a client node holds none: they stay 0 there); counters count the calls made through this node.
/// A `kv.crdt` store's keys are `crdt_keys` (every node holds its copy), not `store_keys`.
final class CoordinationMetrics: Sendable {
    static let writeOperations = ["put", "delete", "txn"]
    static let writeResults = ["ok", "conflict", "error"]
    static let acquireResults = ["granted", "busy", "timeout", "error"]

    private let storeKeys: [String: Gauge]
    private let crdtKeys: [String: Gauge]
    private let writes: [String: Counter]
    private let locksHeld: Gauge
    private let acquires: [String: Counter]
    let lockWait: DurationHistogram
    private let names: [NameScope: Gauge]
    let watchStreams: Gauge

    init(registry: PrometheusCollectorRegistry, stores: [StoreSettings]) {
        crdtKeys = Dictionary(uniqueKeysWithValues: stores.filter { $0.kind == .crdt }.map { store in
            (store.name, registry.gauge("crdt_keys", labels: [("store", store.name)], help: "Live keys of each kv.crdt store, as this node's copy holds them."))
        })
        storeKeys = Dictionary(uniqueKeysWithValues: stores.filter { $0.kind != .crdt }.map { store in
            (store.name, registry.gauge("store_keys", labels: [("store", store.name)], help: "Keys in each store, as this node's replica holds them."))
        })
        var writes: [String: Counter] = [:]
        for store in stores {
            for operation in Self.writeOperations {
                for result in Self.writeResults {
                    writes["\(store.name)/\(operation)/\(result)"] = registry.counter(
                        "store_writes_total", labels: [("store", store.name), ("op", operation), ("result", result)],
                        help: "Writes made through this node, by store, operation (put, delete, txn) and result (ok, conflict, error)."
                    )
                }
            }
        }
        self.writes = writes
        locksHeld = registry.gauge("locks_held", help: "Locks that have a holder, as this node's replica holds them.")
        acquires = Dictionary(uniqueKeysWithValues: Self.acquireResults.map { result in
            (result, registry.counter(
                "lock_acquire_total", labels: [("result", result)],
                help: "Lock acquisitions asked through this node, by result (granted, busy, timeout, error)."
            ))
        })
        lockWait = registry.durationHistogram(
            "lock_wait_seconds",
            buckets: [.milliseconds(1), .milliseconds(5), .milliseconds(25), .milliseconds(100), .milliseconds(500), .seconds(2), .seconds(10), .seconds(60)],
            help: "Time from an acquire through this node to its grant, queueing included."
        )
        names = Dictionary(uniqueKeysWithValues: NameScope.allCases.map { scope in
            (scope, registry.gauge("names_registered", labels: [("scope", scope.rawValue)], help: "Registered names by scope (consistent, strong: this node's replica; local: this node)."))
        })
        watchStreams = registry.gauge("watch_streams", help: "Open watches of this node's stores.")
    }

    /// Follows the replica after an apply or a restore.
    func observe(_ state: CoordinationState) {
        for (store, gauge) in storeKeys { gauge.set(Int64(state.count(store: store))) }
        locksHeld.set(Int64(state.heldLocks))
        // The consistent scope counts the names bound without the strong scope's acknowledgements.
        names[.consistent]?.set(Int64(state.names.count - state.strongNames))
        names[.strong]?.set(Int64(state.strongNames))
    }

    /// Follows a `kv.crdt` store's live keys.
    func crdtKeys(store: String, count: Int) {
        crdtKeys[store]?.set(Int64(count))
    }

    func write(store: String, operation: String, result: String) {
        writes["\(store)/\(operation)/\(result)"]?.increment()
    }

    func acquired(_ result: String) {
        acquires[result]?.increment()
    }

    func localNames(_ count: Int) {
        names[.local]?.set(Int64(count))
    }

    func eventualNames(_ count: Int) {
        names[.eventual]?.set(Int64(count))
    }
}
