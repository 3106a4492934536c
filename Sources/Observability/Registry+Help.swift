import Prometheus

/// Metric constructors that always carry a HELP text, so `promtool check metrics` passes.
extension PrometheusCollectorRegistry {
    private func descriptor(_ name: String, _ help: String) -> MetricNameDescriptor {
        MetricNameDescriptor(metricName: name, unitName: "", helpText: help)
    }

    /// A counter named exactly `name` (which ends in `_total`), created at zero.
    public func counter(_ name: String, labels: [(String, String)] = [], help: String) -> Prometheus.Counter {
        makeCounter(descriptor: descriptor(name, help), labels: labels)
    }

    /// A gauge named exactly `name`.
    public func gauge(_ name: String, labels: [(String, String)] = [], help: String) -> Prometheus.Gauge {
        makeGauge(descriptor: descriptor(name, help), labels: labels)
    }

    /// A histogram of durations in seconds named exactly `name`.
    public func durationHistogram(
        _ name: String, labels: [(String, String)] = [], buckets: [Duration], help: String
    ) -> Prometheus.DurationHistogram {
        makeDurationHistogram(descriptor: descriptor(name, help), labels: labels, buckets: buckets)
    }
}
