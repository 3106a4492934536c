import CohortCore

extension ProcessTable {
    /// Links `a` and `b` (at least one a live local process; the order does not matter).
    ///
    /// Linking to a process that is already dead, of another boot or on a node that is not a member behaves as if
    /// it had just exited abnormally (``ProcessOutcome/noProcess`` or ``ProcessOutcome/nodeDown``), as in Erlang:
    /// the live side gets `LINK_DOWN` if it traps links and is stopped otherwise.
    package mutating func link(_ a: PID, _ b: PID) -> [ProcessEffect] {
        guard a != b else { return [] }
        let (local, other): (PID, PID)
        if record(of: a) != nil {
            (local, other) = (a, b)
        } else if record(of: b) != nil {
            (local, other) = (b, a)
        } else {
            return []
        }
        guard processes[local.serial]?.links.contains(other) == false else { return [] }
        var effects: [ProcessEffect] = []
        let alive = other.node == node ? record(of: other) != nil : reachability(of: other) == .reachable
        guard alive else {
            var pending: [PendingExit] = []
            propagate(from: other, outcome: deadOutcome(of: other), to: local.serial, pending: &pending, effects: &effects)
            drain(&pending, into: &effects)
            return effects
        }
        processes[local.serial]?.links.insert(other)
        if other.node == node {
            processes[other.serial]?.links.insert(local)
        } else {
            nodes[other.node]?.links.insert(RemoteLink(local: local, remote: other))
            effects.append(.signal(.link(local, other), to: other.node))
        }
        return effects
    }

    /// Removes the link between `a` and `b`, on both sides.
    package mutating func unlink(_ a: PID, _ b: PID) -> [ProcessEffect] {
        var effects: [ProcessEffect] = []
        for (local, other) in [(a, b), (b, a)] where record(of: local) != nil {
            guard processes[local.serial]?.links.remove(other) != nil else { continue }
            if other.node != node {
                nodes[other.node]?.links.remove(RemoteLink(local: local, remote: other))
                effects.append(.signal(.unlink(local, other), to: other.node))
            }
        }
        return effects
    }
}
