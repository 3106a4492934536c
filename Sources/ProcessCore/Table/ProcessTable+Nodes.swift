import CohortCore

extension ProcessTable {
    /// `node` is a member in boot `incarnation`. A newer boot than the one known means the old boot's processes are
    /// dead: their monitors fire ``ProcessOutcome/nodeDown`` and their links propagate it. An older boot is ignored.
    package mutating func nodeUp(_ remote: NodeID, incarnation: Incarnation) -> [ProcessEffect] {
        guard remote != node else { return [] }
        guard let known = nodes[remote] else {
            nodes[remote] = RemoteNode(incarnation: incarnation, isUp: true)
            return []
        }
        guard incarnation >= known.incarnation else { return [] }
        var effects: [ProcessEffect] = []
        if incarnation > known.incarnation {
            forget(remote, into: &effects) { $0.incarnation < incarnation }
        }
        nodes[remote]?.incarnation = incarnation
        nodes[remote]?.isUp = true
        return effects
    }

    /// `node` left membership: monitors on its processes fire ``ProcessOutcome/nodeDown`` and links to them propagate
    /// it, here and now, without any word from that node; what its processes held here (monitors, links) is dropped.
    /// Its boot is remembered, so its PIDs stay recognisably old after it comes back with a new one.
    package mutating func nodeDown(_ remote: NodeID) -> [ProcessEffect] {
        guard nodes[remote]?.isUp == true else { return [] }
        var effects: [ProcessEffect] = []
        forget(remote, into: &effects) { _ in true }
        nodes[remote]?.isUp = false
        return effects
    }

    /// Accepts a signal from `pid`'s node that creates state here (a monitor or link), learning the node from the PID
    /// if it was unknown or is a newer boot: the sender's runtime may know us before our membership view knows it.
    /// Returns why it is refused, if it is.
    package mutating func admit(_ pid: PID, into effects: inout [ProcessEffect]) -> DropReason? {
        guard let known = nodes[pid.node] else {
            nodes[pid.node] = RemoteNode(incarnation: pid.incarnation, isUp: true)
            return nil
        }
        if pid.incarnation < known.incarnation { return .staleIncarnation }
        if pid.incarnation > known.incarnation {
            effects += nodeUp(pid.node, incarnation: pid.incarnation)
            return nil
        }
        // The same boot after an explicit nodeDown: a late signal from a node that left.
        return known.isUp ? nil : .nodeDown
    }

    /// Drops every monitor and link between local processes and the processes of `remote` that `isGone`, firing
    /// the local ends with ``ProcessOutcome/nodeDown``.
    private mutating func forget(
        _ remote: NodeID, into effects: inout [ProcessEffect], where isGone: (PID) -> Bool
    ) {
        guard let known = nodes[remote] else { return }
        for ref in known.monitors.sorted() {
            guard let monitor = monitors[ref] else { continue }
            let weWatch = monitor.target.node == remote
            guard isGone(weWatch ? monitor.target : monitor.watcher) else { continue }
            monitors[ref] = nil
            nodes[remote]?.monitors.remove(ref)
            if weWatch {
                if processes[monitor.watcher.serial]?.watching.remove(ref) != nil {
                    effects.append(.deliver(.exit(monitor.target, .nodeDown), to: monitor.watcher))
                }
            } else {
                processes[monitor.target.serial]?.watchers.remove(ref)
            }
        }
        var pending: [PendingExit] = []
        for link in known.links.sorted() where isGone(link.remote) {
            nodes[remote]?.links.remove(link)
            guard processes[link.local.serial]?.links.remove(link.remote) != nil else { continue }
            propagate(from: link.remote, outcome: .nodeDown, to: link.local.serial, pending: &pending, effects: &effects)
        }
        drain(&pending, into: &effects)
    }
}
