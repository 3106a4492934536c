import CohortCore
import Observability
import Prometheus

/// The mesh's Prometheus metrics, built once with HELP texts; every labelled counter exists at zero.
final class MeshMetrics: Sendable {
    private let registry: PrometheusCollectorRegistry
    /// `[class][reason]`, indexed by raw values and ``MeshDropReason/allCases`` order.
    private let dropped: [[Counter]]
    private let bytesIn: [Counter]
    private let bytesOut: [Counter]
    private let framesIn: [Counter]
    private let framesOut: [Counter]
    private let handshakeFailures: [String: Counter]
    private let frameErrors: [String: Counter]
    /// Connections with a finished handshake.
    let connections: Gauge
    let reconnects: Counter
    let idleClosed: Counter
    let peers: Gauge
    let unknownReplies: Counter
    let requestDuration: DurationHistogram

    /// Registers every metric in `registry`.
    init(registry: PrometheusCollectorRegistry) {
        self.registry = registry
        dropped = TrafficClass.allCases.map { trafficClass in
            MeshDropReason.allCases.map { reason in
                registry.counter(
                    "internode_dropped_total", labels: [("class", "\(trafficClass)"), ("reason", reason.rawValue)],
                    help: "Internode messages not sent or not delivered, by class and reason."
                )
            }
        }
        func perClass(_ name: String, direction: String, help: String) -> [Counter] {
            TrafficClass.allCases.map { registry.counter(name, labels: [("class", "\($0)"), ("direction", direction)], help: help) }
        }
        let bytesHelp = "Internode frame bytes on the wire (sealed, with length prefix), by class and direction."
        let framesHelp = "Internode frames (chunks and signals included), by class and direction."
        bytesIn = perClass("internode_bytes_total", direction: "in", help: bytesHelp)
        bytesOut = perClass("internode_bytes_total", direction: "out", help: bytesHelp)
        framesIn = perClass("internode_frames_total", direction: "in", help: framesHelp)
        framesOut = perClass("internode_frames_total", direction: "out", help: framesHelp)
        handshakeFailures = Dictionary(uniqueKeysWithValues: HandshakeFailure.reasons.map { reason in
            (reason, registry.counter(
                "internode_handshake_failures_total", labels: [("reason", reason)],
                help: "Internode connections refused or lost during the handshake, by reason."
            ))
        })
        frameErrors = Dictionary(uniqueKeysWithValues: FrameError.reasons.map { reason in
            (reason, registry.counter(
                "internode_frame_errors_total", labels: [("reason", reason)],
                help: "Internode connections closed for a bad frame, by reason."
            ))
        })
        connections = registry.gauge("internode_connections", help: "Internode connections with a finished handshake.")
        reconnects = registry.counter(
            "internode_reconnects_total", help: "Internode connections established to a peer that had been connected before."
        )
        peers = registry.gauge(
            "internode_peers", help: "Peers the mesh knows from membership (it dials them when it has something to send)."
        )
        idleClosed = registry.counter(
            "internode_idle_closed_total", help: "Internode connections closed after the idle timeout (the next message dials again)."
        )
        unknownReplies = registry.counter(
            "internode_unknown_replies_total", help: "Internode replies to no pending request (timed out, failed or bogus)."
        )
        requestDuration = registry.durationHistogram(
            "internode_request_duration_seconds",
            buckets: [.microseconds(100), .microseconds(250), .microseconds(500), .milliseconds(1), .milliseconds(2500),
                      .milliseconds(5), .milliseconds(10), .milliseconds(25), .milliseconds(100), .milliseconds(500),
                      .seconds(1), .seconds(5)],
            help: "Time from an internode request to its reply (successful or error reply)."
        )
    }

    func countDropped(_ trafficClass: TrafficClass, _ reason: MeshDropReason, by count: Int = 1) {
        guard count > 0, let index = MeshDropReason.allCases.firstIndex(of: reason) else { return }
        dropped[Int(trafficClass.rawValue)][index].increment(by: Int64(count))
    }

    func countOut(_ trafficClass: TrafficClass, frames: Int, bytes: Int) {
        framesOut[Int(trafficClass.rawValue)].increment(by: Int64(frames))
        bytesOut[Int(trafficClass.rawValue)].increment(by: Int64(bytes))
    }

    func countIn(_ trafficClass: TrafficClass, bytes: Int) {
        framesIn[Int(trafficClass.rawValue)].increment()
        bytesIn[Int(trafficClass.rawValue)].increment(by: Int64(bytes))
    }

    func countHandshakeFailure(_ reason: String) {
        handshakeFailures[reason]?.increment()
    }

    func countFrameError(_ reason: String) {
        (frameErrors[reason] ?? frameErrors["malformed"])?.increment()
    }

    /// The `internode_queue_depth{class,peer}` gauges of one peer, by class raw value.
    func depthGauges(peer: NodeID) -> [Gauge] {
        TrafficClass.allCases.map { trafficClass in
            registry.gauge(
                "internode_queue_depth", labels: [("class", "\(trafficClass)"), ("peer", peer.rawValue)],
                help: "Internode messages queued for a peer, by class (relay counts unacknowledged ones too)."
            )
        }
    }

    /// Removes a departed peer's series, so peer labels stay bounded by membership.
    func removeDepthGauges(_ gauges: [Gauge]) {
        for gauge in gauges { registry.unregisterGauge(gauge) }
    }
}
