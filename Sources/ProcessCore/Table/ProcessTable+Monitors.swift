import CohortCore

extension ProcessTable {
    /// `watcher` (a live local process) monitors `target`: it will get `EXIT(target, outcome)` once.
    ///
    /// A target that is already dead, of another boot, or on a node that is not a member fires at once
    /// (``ProcessOutcome/noProcess`` or ``ProcessOutcome/nodeDown``). A watcher that is not a live local process
    /// gets a reference that never fires.
    package mutating func monitor(_ target: PID, by watcher: PID) -> (MonitorReference, [ProcessEffect]) {
        let ref = makeMonitorReference()
        guard record(of: watcher) != nil else { return (ref, []) }
        if target.node == node {
            guard record(of: target) != nil else { return (ref, [.deliver(.exit(target, .noProcess), to: watcher)]) }
            monitors[ref] = Monitor(watcher: watcher, target: target)
            processes[target.serial]?.watchers.insert(ref)
            processes[watcher.serial]?.watching.insert(ref)
            return (ref, [])
        }
        guard reachability(of: target) == .reachable else {
            return (ref, [.deliver(.exit(target, deadOutcome(of: target)), to: watcher)])
        }
        monitors[ref] = Monitor(watcher: watcher, target: target)
        nodes[target.node]?.monitors.insert(ref)
        processes[watcher.serial]?.watching.insert(ref)
        return (ref, [.signal(.monitor(ref: ref, watcher: watcher, target: target), to: target.node)])
    }

    /// Removes a monitor created here; an `EXIT` already queued in the watcher's mailbox stays there.
    package mutating func demonitor(_ ref: MonitorReference) -> [ProcessEffect] {
        guard ref.node == node, ref.incarnation == incarnation, let monitor = monitors.removeValue(forKey: ref) else {
            return []
        }
        processes[monitor.watcher.serial]?.watching.remove(ref)
        let target = monitor.target
        if target.node == node {
            processes[target.serial]?.watchers.remove(ref)
            return []
        }
        nodes[target.node]?.monitors.remove(ref)
        return [.signal(.demonitor(ref: ref, target: target), to: target.node)]
    }
}
