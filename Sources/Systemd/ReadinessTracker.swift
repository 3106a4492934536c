import Observability

/// Decides which notifications readiness and status changes call for: `READY=1` exactly once, when the readiness
/// checks first all pass, and a `STATUS=` line whenever its text changes.
///
/// The pure core of `ReadinessService`: no clock, no I/O. Each `update` returns the assignments to send now, in
/// order, to be sent as one datagram (empty when nothing changed).
///
/// The status text is generated while starting ("starting: waiting for checks: raft.leader") and taken from the
/// caller's provider once ready; if readiness fails later (systemd has no way to take `READY=1` back) the
/// failing checks are appended, e.g. "leader, term 4, 3 members (not ready: raft.leader)".
public struct ReadinessTracker: Sendable {
    /// The assignments sent on shutdown.
    public static let stoppingAssignments = ["STOPPING=1", "STATUS=stopping"]

    /// Whether `READY=1` has been emitted.
    public private(set) var isReady = false

    /// The last `STATUS=` text emitted, if any.
    public private(set) var lastStatus: String?

    /// A tracker that has emitted nothing yet.
    public init() {}

    /// The assignments to send for this readiness report; `status` is asked only once the node is ready.
    public mutating func update(readiness: HealthReport, status: () -> String) -> [String] {
        var assignments: [String] = []
        if !isReady && readiness.isPassing {
            isReady = true
            assignments.append("READY=1")
        }
        let text: String
        if !isReady {
            text = "starting: waiting for checks: " + readiness.failing.joined(separator: ", ")
        } else if readiness.isPassing {
            text = SystemdNotifier.singleLine(status())
        } else {
            let failing = readiness.failing.joined(separator: ", ")
            text = SystemdNotifier.singleLine(status()) + " (not ready: " + failing + ")"
        }
        if text != lastStatus {
            lastStatus = text
            assignments.append("STATUS=" + text)
        }
        return assignments
    }
}
