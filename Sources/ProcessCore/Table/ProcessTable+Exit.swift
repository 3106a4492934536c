import CohortCore

extension ProcessTable {
    /// Removes the pending processes and everything that hangs off them, appending the effects.
    ///
    /// An exit can stop linked processes, whose exits can stop theirs: the cascade is a worklist rather than recursion
    /// so a long chain of links cannot overflow the stack. A process queued twice stops once, with the first outcome.
    package mutating func drain(_ pending: inout [PendingExit], into effects: inout [ProcessEffect]) {
        var index = 0
        while index < pending.count {
            let exit = pending[index]
            index += 1
            guard let record = processes.removeValue(forKey: exit.serial) else { continue }
            let pid = record.pid
            if exit.forced { effects.append(.kill(pid)) }
            effects.append(.exited(pid, exit.outcome))
            for name in record.names where names[name] == pid {
                names[name] = nil
            }
            // Sorted, so the effects of an exit come out in the same order on every run.
            for ref in record.watchers.sorted() {
                fireMonitor(ref, target: pid, outcome: exit.outcome, into: &effects)
            }
            for ref in record.watching.sorted() {
                dropHeldMonitor(ref, into: &effects)
            }
            for other in record.links.sorted() {
                if other.node == node {
                    processes[other.serial]?.links.remove(pid)
                    propagate(from: pid, outcome: exit.outcome, to: other.serial, pending: &pending, effects: &effects)
                } else {
                    nodes[other.node]?.links.remove(RemoteLink(local: pid, remote: other))
                    effects.append(.signal(.linkDown(from: pid, to: other, outcome: exit.outcome), to: other.node))
                }
            }
        }
        pending.removeAll()
    }

    /// Tells the local process `serial` that its linked process `from` exited with `outcome` (the link is already
    /// gone): a process that traps links gets `LINK_DOWN`; any other is stopped by an abnormal outcome and ignores
    /// a normal one (Erlang's exit signals with `trap_exit` on and off).
    package mutating func propagate(
        from: PID, outcome: ProcessOutcome, to serial: UInt64,
        pending: inout [PendingExit], effects: inout [ProcessEffect]
    ) {
        guard let record = processes[serial] else { return }
        if record.trapLinks {
            effects.append(.deliver(.linkDown(from, outcome), to: record.pid))
        } else if !outcome.isNormal {
            pending.append(PendingExit(serial: serial, outcome: .linked(from), forced: true))
        }
    }

    /// The monitor `ref` on the exiting local `target` fires: the watcher learns the outcome, here or on its node.
    private mutating func fireMonitor(
        _ ref: MonitorReference, target: PID, outcome: ProcessOutcome, into effects: inout [ProcessEffect]
    ) {
        guard let monitor = monitors.removeValue(forKey: ref) else { return }
        let watcher = monitor.watcher
        if watcher.node == node {
            guard processes[watcher.serial]?.watching.remove(ref) != nil else { return }
            effects.append(.deliver(.exit(target, outcome), to: watcher))
        } else {
            nodes[watcher.node]?.monitors.remove(ref)
            effects.append(.signal(.down(ref: ref, target: target, outcome: outcome), to: watcher.node))
        }
    }

    /// The exiting process held monitor `ref`: forget it, and tell a remote target's node it is no longer wanted.
    private mutating func dropHeldMonitor(_ ref: MonitorReference, into effects: inout [ProcessEffect]) {
        guard let monitor = monitors.removeValue(forKey: ref) else { return }
        let target = monitor.target
        if target.node == node {
            processes[target.serial]?.watchers.remove(ref)
        } else {
            nodes[target.node]?.monitors.remove(ref)
            effects.append(.signal(.demonitor(ref: ref, target: target), to: target.node))
        }
    }
}
