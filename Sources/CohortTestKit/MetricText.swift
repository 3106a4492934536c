/// The value of the first sample of metric `name` in Prometheus text whose labels include every pair of
/// `labels`; nil when there is none.
public func metricValue(in text: String, _ name: String, _ labels: [String: String] = [:]) -> Double? {
    for line in text.split(separator: "\n") where !line.hasPrefix("#") {
        let parts = line.split(separator: " ")
        guard parts.count == 2, parts[0] == name || parts[0].hasPrefix("\(name){") else { continue }
        if labels.allSatisfy({ parts[0].contains("\($0.key)=\"\($0.value)\"") }) { return Double(parts[1]) }
    }
    return nil
}
