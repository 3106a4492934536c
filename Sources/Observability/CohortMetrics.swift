import Prometheus
import Synchronization

/// The node's Prometheus registry and the metrics that belong to the node as a whole.
///
/// Every subsystem builds its metrics once from `registry` with a `help` text (so `promtool check
/// metrics` passes) and creates each labelled counter at zero before its first event. `factory` routes
/// metrics made through the generic swift-metrics API (e.g. by libraries) into the same registry.
public final class CohortMetrics: Sendable {
    /// The registry `/metrics` renders.
    public let registry: PrometheusCollectorRegistry
    /// A swift-metrics factory writing into `registry`; pass it to `MetricsSystem.bootstrap` once per process.
    public let factory: PrometheusMetricsFactory

    private let processCPU: Prometheus.Counter
    private let processResident: Prometheus.Gauge
    private let processVirtual: Prometheus.Gauge
    private let processOpenFDs: Prometheus.Gauge
    private let processMaxFDs: Prometheus.Gauge
    private let processStart: Prometheus.Gauge
    private let lastCPUSeconds = Mutex<Double>(0)
    private let adminRequests: [String: Prometheus.Counter]
    private let adminRejected: Prometheus.Counter
    private let renderHooks = Mutex<[@Sendable () -> Void]>([])

    /// The admin endpoints counted by `cohort_admin_requests_total{endpoint}`.
    public static let adminEndpoints = ["livez", "readyz", "metrics", "v1", "other"]

    /// Creates the registry and the node-level metrics; `version` labels `cohort_build_info`.
    public init(version: String) {
        let registry = PrometheusCollectorRegistry()
        self.registry = registry
        factory = PrometheusMetricsFactory(registry: registry)
        processCPU = registry.counter("process_cpu_seconds_total", help: "Total user and system CPU time spent in seconds.")
        processResident = registry.gauge("process_resident_memory_bytes", help: "Resident memory size in bytes.")
        processVirtual = registry.gauge("process_virtual_memory_bytes", help: "Virtual memory size in bytes.")
        processOpenFDs = registry.gauge("process_open_fds", help: "Number of open file descriptors.")
        processMaxFDs = registry.gauge("process_max_fds", help: "Maximum number of open file descriptors.")
        processStart = registry.gauge("process_start_time_seconds", help: "Start time of the process since unix epoch in seconds.")
        registry.gauge(
            "cohort_build_info", labels: [("version", version)],
            help: "Always 1; the version label names the running build."
        ).set(1.0)
        var requests: [String: Prometheus.Counter] = [:]
        for endpoint in Self.adminEndpoints {
            requests[endpoint] = registry.counter(
                "cohort_admin_requests_total", labels: [("endpoint", endpoint)],
                help: "HTTP requests served on admin.address, by endpoint."
            )
        }
        adminRequests = requests
        adminRejected = registry.counter(
            "cohort_admin_unauthorized_total",
            help: "Requests to /v1 rejected for a missing or wrong bearer token."
        )
    }

    /// Counts one admin request for `endpoint` (one of `adminEndpoints`; anything else counts as `other`).
    public func countAdminRequest(_ endpoint: String) {
        (adminRequests[endpoint] ?? adminRequests["other"])?.increment()
    }

    /// Counts one `/v1` request rejected by the token guard.
    public func countUnauthorized() {
        adminRejected.increment()
    }

    /// Runs `hook` before every render, to bring gauges that are read rather than pushed up to date.
    public func beforeRender(_ hook: @escaping @Sendable () -> Void) {
        renderHooks.withLock { $0.append(hook) }
    }

    /// Refreshes the process metrics from `/proc` (and runs the ``beforeRender(_:)`` hooks), then renders the
    /// whole registry in Prometheus text format.
    public func render() -> String {
        refreshProcessMetrics()
        for hook in renderHooks.withLock({ $0 }) { hook() }
        return registry.emitToString()
    }

    private func refreshProcessMetrics() {
        let sample = ProcessSample.current()
        let delta = lastCPUSeconds.withLock { last -> Double in
            let delta = max(0, sample.cpuSeconds - last)
            last = max(last, sample.cpuSeconds)
            return delta
        }
        if delta > 0 { processCPU.increment(by: delta) }
        processResident.set(Double(sample.residentBytes))
        processVirtual.set(Double(sample.virtualBytes))
        processOpenFDs.set(Double(sample.openFileDescriptors))
        processMaxFDs.set(Double(sample.maxFileDescriptors))
        processStart.set(sample.startTimeSeconds)
    }
}
