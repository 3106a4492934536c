import Observability
import Prometheus

/// The gossip subsystem's Prometheus metrics, built once with HELP texts; every labelled counter exists at
/// zero before its first event.
final class GossipMetrics: Sendable {
    /// Message kinds of `gossip_messages_total{kind}`.
    static let messageKinds = [
        "ping", "indirect_ping", "ack", "nack", "suspect", "alive", "dead", "user", "push_pull", "error",
    ]
    /// Results of `gossip_probes_total{result}`: a direct ack, an ack relayed by a helper, only the TCP
    /// fallback answered (UDP blocked), or no answer (the member is now suspect).
    static let probeResults = ProbeResult.allCases.map(\.rawValue)
    /// Reasons of `gossip_dropped_total{reason}`: every ``GossipDecodeError/reason`` plus the shell's own.
    static let dropReasons = [
        "empty", "truncated", "unknown_type", "unexpected_type", "bad_crc", "decrypt_failed",
        "encryption_version", "encryption_not_configured", "encryption_required", "too_many_parts", "oversized",
        "unknown_compression", "decompression_failed", "nesting_too_deep", "malformed",
        // The shell's: a full send queue, a push/pull with incompatible versions, a ping for another node,
        // a stream that missed its deadline, too many TCP connections or jobs, a message we could not encode.
        "queue_full", "cluster_mismatch", "incompatible_version", "wrong_node", "timeout", "overloaded", "encode_failed",
    ]

    private let members: [MemberStateKind: Gauge]
    private let convergence: DurationHistogram
    private let messages: [String: Counter]
    private let bytes: [String: Counter]
    private let probes: [String: Counter]
    private let dropped: [String: Counter]
    private let udpUnreachable: Counter

    /// Registers every metric in `registry`.
    init(registry: PrometheusCollectorRegistry) {
        var members: [MemberStateKind: Gauge] = [:]
        for state in MemberStateKind.allCases {
            members[state] = registry.gauge(
                "gossip_members", labels: [("state", Self.label(state))],
                help: "Members in this node's gossip view, by state (dead and left until reaped)."
            )
        }
        self.members = members
        convergence = registry.durationHistogram(
            "gossip_convergence_seconds",
            buckets: [.milliseconds(5), .milliseconds(25), .milliseconds(100), .milliseconds(250), .milliseconds(500),
                      .seconds(1), .milliseconds(2500), .seconds(5), .seconds(10), .seconds(30), .seconds(60)],
            help: "Time between consecutive membership events seen by this node."
        )
        var messages: [String: Counter] = [:]
        for kind in Self.messageKinds {
            for direction in ["in", "out"] {
                messages["\(kind)/\(direction)"] = registry.counter(
                    "gossip_messages_total", labels: [("kind", kind), ("direction", direction)],
                    help: "Gossip messages received (in) and sent (out), by kind."
                )
            }
        }
        self.messages = messages
        var bytes: [String: Counter] = [:]
        for transport in ["udp", "tcp"] {
            for direction in ["in", "out"] {
                bytes["\(transport)/\(direction)"] = registry.counter(
                    "gossip_bytes_total", labels: [("transport", transport), ("direction", direction)],
                    help: "Gossip bytes received (in) and sent (out), by transport."
                )
            }
        }
        self.bytes = bytes
        probes = Dictionary(uniqueKeysWithValues: Self.probeResults.map { result in
            (result, registry.counter(
                "gossip_probes_total", labels: [("result", result)],
                help: "Completed failure-detector probes, by result."
            ))
        })
        dropped = Dictionary(uniqueKeysWithValues: Self.dropReasons.map { reason in
            (reason, registry.counter(
                "gossip_dropped_total", labels: [("reason", reason)],
                help: "Gossip packets, streams and messages dropped, by reason."
            ))
        })
        udpUnreachable = registry.counter(
            "gossip_udp_unreachable_total",
            help: "Probes answered over TCP but not UDP: UDP is blocked between this node and a member."
        )
    }

    /// Sets `gossip_members{state}` from the current view.
    func setMembers(_ counts: [MemberStateKind: Int]) {
        for (state, gauge) in members { gauge.set(Int64(counts[state] ?? 0)) }
    }

    /// Observes the time since the previous membership event.
    func observeConvergence(_ interval: Duration) {
        convergence.record(interval)
    }

    /// Counts one message of `kind` (one of ``messageKinds``) in `direction` (`in` or `out`).
    func countMessage(_ kind: String, _ direction: String) {
        messages["\(kind)/\(direction)"]?.increment()
    }

    /// Counts `count` bytes on `transport` (`udp` or `tcp`) in `direction`.
    func countBytes(_ count: Int, _ transport: String, _ direction: String) {
        bytes["\(transport)/\(direction)"]?.increment(by: Int64(count))
    }

    /// Counts one probe ending with `result` (one of ``probeResults``).
    func countProbe(_ result: String) {
        probes[result]?.increment()
    }

    /// Counts one drop for `reason` (one of ``dropReasons``; anything else counts as `malformed`).
    func countDropped(_ reason: String) {
        (dropped[reason] ?? dropped["malformed"])?.increment()
    }

    /// Counts one "UDP blocked, TCP works" probe.
    func countUDPUnreachable() {
        udpUnreachable.increment()
    }

    /// The Prometheus label of a member state.
    static func label(_ state: MemberStateKind) -> String {
        switch state {
        case .alive: "alive"
        case .suspect: "suspect"
        case .dead: "dead"
        case .left: "left"
        }
    }

    /// The `kind` label of a datagram message.
    static func kind(_ message: GossipMessage) -> String {
        switch message {
        case .ping: "ping"
        case .indirectPing: "indirect_ping"
        case .ackResponse: "ack"
        case .nackResponse: "nack"
        case .suspect: "suspect"
        case .alive: "alive"
        case .dead: "dead"
        case .user: "user"
        }
    }

    /// The `kind` label of a stream message.
    static func kind(_ message: StreamMessage) -> String {
        switch message {
        case .pushPull: "push_pull"
        case .ping: "ping"
        case .ackResponse: "ack"
        case .user: "user"
        case .error: "error"
        }
    }
}
