import CohortTestKit
import CohortCore
import Gossip
@testable import GossipCore

/// How SWIM trace files print times, messages and views. Members print in name order, so outputs are stable.
enum SWIMTraceFormat {
    /// `1.311s`: the time since `origin`, to the millisecond, rounded up — so `advance` to a printed
    /// time (from a whole millisecond) includes what happened at that time.
    static func time(_ instant: ContinuousClock.Instant, since origin: ContinuousClock.Instant) -> String {
        let elapsed = instant - origin
        let milliseconds = self.milliseconds(elapsed) + (elapsed > .milliseconds(self.milliseconds(elapsed)) ? 1 : 0)
        let sign = milliseconds < 0 ? "-" : ""
        let magnitude = abs(milliseconds)
        let fraction = String(magnitude % 1000)
        return "\(sign)\(magnitude / 1000).\(String(repeating: "0", count: 3 - fraction.count))\(fraction)s"
    }

    /// `4s` or `1500ms`.
    static func describe(_ duration: Duration) -> String {
        let milliseconds = self.milliseconds(duration)
        return milliseconds % 1000 == 0 ? "\(milliseconds / 1000)s" : "\(milliseconds)ms"
    }

    /// Parses `500ms`, `2s` or `1.5s`.
    static func duration(_ text: String) throws(TraceError) -> Duration {
        if text.hasSuffix("ms"), let value = Int(text.dropLast(2)), value >= 0 { return .milliseconds(value) }
        if text.hasSuffix("s"), let value = Double(text.dropLast()), value >= 0 { return .milliseconds(Int((value * 1000).rounded())) }
        throw TraceError("`\(text)` is not a duration such as 500ms or 2s")
    }

    /// One message, briefly: `ping #3`, `indirect-ping c #3`, `ack #3`, `nack #3`, `suspect c@1 by a`,
    /// `alive c@2`, `dead c@1 by a`, `left c@1`.
    static func describe(_ message: GossipMessage) -> String {
        switch message {
        case .ping(let ping): "ping #\(ping.sequenceNumber)"
        case .indirectPing(let request): "indirect-ping \(request.node) #\(request.sequenceNumber)"
        case .ackResponse(let ack): "ack #\(ack.sequenceNumber)"
        case .nackResponse(let nack): "nack #\(nack.sequenceNumber)"
        case .suspect(let accusation): "suspect \(accusation.node)@\(accusation.incarnation) by \(accusation.from)"
        case .alive(let announcement): "alive \(announcement.node)@\(announcement.incarnation)"
        case .dead(let death):
            death.isLeave ? "left \(death.node)@\(death.incarnation)" : "dead \(death.node)@\(death.incarnation) by \(death.from)"
        case .user(let payload): "user message (\(payload.count) bytes)"
        }
    }

    /// `members a`: awareness, then every member a knows with its state, incarnation and suspicion.
    static func members(of instance: SWIMInstance, origin: ContinuousClock.Instant) -> [String] {
        let name = instance.localName
        let interval = describe(instance.awareness.scale(instance.settings.probeInterval))
        var lines = ["\(name): awareness \(instance.awareness.score), probes every \(interval)"]
        for member in instance.members.values.sorted(by: { $0.name < $1.name }) {
            var line = "\(name): \(member.name) \(member.state), incarnation \(member.incarnation)"
            if let suspicion = instance.suspicions[member.name] {
                line += ", " + describe(suspicion, origin: origin)
            }
            lines.append(line)
        }
        return lines
    }

    /// `accused by a,b (1 of 2 confirmations), dead at 12.692s unless refuted`.
    static func describe(_ suspicion: Suspicion, origin: ContinuousClock.Instant) -> String {
        let accusers = suspicion.accusers.sorted().map(\.rawValue).joined(separator: ",")
        return "accused by \(accusers) (\(suspicion.confirmations) of \(suspicion.wantedConfirmations) confirmations), "
            + "dead at \(time(suspicion.deadline, since: origin)) unless refuted"
    }

    private static func milliseconds(_ duration: Duration) -> Int64 {
        duration.components.seconds * 1000 + duration.components.attoseconds / 1_000_000_000_000_000
    }
}

/// What the trace reports about a node's view when it changes: every member's state and incarnation, the
/// suspicions it runs, and its awareness.
struct SWIMNodeView: Sendable {
    /// The node whose view this is.
    var name: NodeID
    /// Every member it knows, itself included.
    var members: [NodeID: Member]
    /// The suspicion timers it runs.
    var suspicions: [NodeID: Suspicion]
    /// Its local health score.
    var awareness: Awareness
    /// Its probe interval before awareness stretches it.
    var probeInterval: Duration

    /// The view of `instance` now.
    init(_ instance: SWIMInstance) {
        name = instance.localName
        members = instance.members
        suspicions = instance.suspicions
        awareness = instance.awareness
        probeInterval = instance.settings.probeInterval
    }

    /// Lines describing what differs in `after`, in member name order, e.g.
    /// `a: c alive → suspect, incarnation 1, accused by a (0 of 2 confirmations), dead at 25.311s unless refuted`.
    func changes(to after: SWIMNodeView, origin: ContinuousClock.Instant) -> [String] {
        var lines: [String] = []
        for member in Set(members.keys).union(after.members.keys).sorted() {
            let old = members[member], new = after.members[member]
            var parts: [String] = []
            switch (old, new) {
            case (nil, let new?):
                parts.append("\(member) joins: \(new.state), incarnation \(new.incarnation)")
            case (_?, nil):
                parts.append("forgets \(member)")
            case (let old?, let new?) where member == name && old.incarnation != new.incarnation:
                parts.append("refutes: incarnation \(old.incarnation) → \(new.incarnation)")
            case (let old?, let new?) where old.state != new.state || old.incarnation != new.incarnation:
                let state = old.state == new.state ? "\(new.state)" : "\(old.state) → \(new.state)"
                let incarnation = old.incarnation == new.incarnation
                    ? "incarnation \(new.incarnation)" : "incarnation \(old.incarnation) → \(new.incarnation)"
                parts.append("\(member) \(state), \(incarnation)")
            default:
                break
            }
            let oldSuspicion = suspicions[member], newSuspicion = after.suspicions[member]
            if let newSuspicion, oldSuspicion?.start != newSuspicion.start {
                parts.append(SWIMTraceFormat.describe(newSuspicion, origin: origin))
            } else if let newSuspicion, let oldSuspicion, newSuspicion.accusers != oldSuspicion.accusers {
                let confirmers = newSuspicion.accusers.subtracting(oldSuspicion.accusers).sorted().map(\.rawValue)
                parts.append("\(member) suspicion confirmed by \(confirmers.joined(separator: ","))")
                parts.append(SWIMTraceFormat.describe(newSuspicion, origin: origin))
            }
            if !parts.isEmpty { lines.append("\(name): " + parts.joined(separator: ", ")) }
        }
        if awareness != after.awareness {
            let interval = SWIMTraceFormat.describe(after.awareness.scale(probeInterval))
            lines.append("\(name): awareness \(awareness.score) → \(after.awareness.score), probes every \(interval)")
        }
        return lines
    }
}
