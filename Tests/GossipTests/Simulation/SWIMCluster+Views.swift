import CohortCore
import CohortTestKit
import Gossip

/// What the tests check: views, departures, accusations, and a readable dump for failure messages.
extension SWIMCluster {
    /// True when every running node sees exactly `expected` alive (itself included) and nothing else alive.
    func hasConverged(on expected: Set<NodeID>) -> Bool {
        nodes.allSatisfy { node in
            guard node.isRunning, let members = node.instance?.members else { return true }
            let alive = members.values.lazy.filter { $0.state == .alive }
            return alive.count == expected.count && alive.allSatisfy { expected.contains($0.name) }
        }
    }

    /// True when every running node sees every running node alive, and only them.
    var hasConverged: Bool {
        hasConverged(on: Set(running))
    }

    /// How `observer` sees `subject`.
    func state(of subject: NodeID, seenBy observer: NodeID) -> MemberStateKind? {
        self[observer].instance?.members[subject]?.state
    }

    /// The first time `observer` published `subject`'s departure, and why.
    func departure(of subject: NodeID, seenBy observer: NodeID) -> (at: Duration, reason: DepartureReason)? {
        firstDepartures[observer]?[subject]
    }

    /// Every `.left(_, reason: .dead)` event about one of `subjects`, by anyone.
    func deaths(of subjects: Set<NodeID>) -> [ObservedEvent] {
        events.filter { entry in
            if case .left(let member, .dead) = entry.event { subjects.contains(member.name) } else { false }
        }
    }

    /// Accusations made by `accuser` against one of `accused`, at or after `since`.
    func accusations(by accuser: NodeID? = nil, against accused: Set<NodeID>, since: Duration = .zero) -> [Accusation] {
        accusations.filter { accusation, at in
            at >= since && accused.contains(accusation.accused) && (accuser.map { $0 == accusation.accuser } ?? true)
        }.keys.sorted { ($0.accuser, $0.accused, $0.incarnation) < ($1.accuser, $1.accused, $1.incarnation) }
    }

    /// Each node's view, one line per node, for failure messages.
    var summary: String {
        nodes.map { node in
            guard let instance = node.instance else { return "\(node.name): not started" }
            let members = instance.members.values.sorted { $0.name < $1.name }
                .map { "\($0.name.rawValue.dropFirst(5)):\($0.state)@\($0.incarnation)" }
                .joined(separator: " ")
            let status = node.killed ? " [killed]" : ""
            return "\(node.name)\(status) awareness \(instance.awareness.score): \(members)"
        }.joined(separator: "\n")
    }
}

/// Short, so that a failed expectation that mentions a cluster prints a line, not the whole world; tests put
/// ``SWIMCluster/summary`` in their failure comments instead.
extension SWIMCluster: CustomStringConvertible {
    var description: String {
        "SWIMCluster(\(nodes.count) nodes, \(running.count) running, at \(elapsed))"
    }
}

/// memberlist's bounds on failure detection for a cluster of `members`, from ``SWIMTiming``.
struct SWIMBounds {
    let settings: SWIMSettings
    let members: Int

    /// The shortest suspicion timeout: mult × max(1, log10 N) × probeInterval.
    var suspicionMinimum: Duration {
        SWIMTiming.suspicionMinimum(multiplier: settings.suspicionMultiplier, members: members, probeInterval: settings.probeInterval)
    }

    /// The longest suspicion timeout: maxTimeoutMult × minimum.
    var suspicionMaximum: Duration {
        suspicionMinimum * settings.suspicionMaxTimeoutMultiplier
    }

    /// A generous bound on how long a broadcast takes to reach every member: `retransmitLimit` gossip
    /// rounds (each holder sends it for limit ÷ gossipNodes rounds, and it crosses the cluster in about
    /// log N such hops).
    var dissemination: Duration {
        let limit = SWIMTiming.retransmitLimit(multiplier: settings.retransmitMultiplier, members: members)
        return settings.gossipInterval * limit
    }

    /// The latest a crashed member is declared dead by every survivor, from the crash: each survivor walks
    /// all N−1 members once per probe cycle, so someone has probed the crashed member and failed within one
    /// cycle plus the failing round (one probe interval); its suspicion reaches everyone and no survivor's
    /// timer runs longer than the maximum; the death then spreads.
    var crashToDeadEverywhere: Duration {
        settings.probeInterval * (members - 1) + settings.probeInterval + dissemination + suspicionMaximum + dissemination
    }
}
