import CohortCore

extension ProcessTable {
    /// Applies a signal that arrived from `sender`.
    ///
    /// Each signal is checked against the node that sent it (a watcher or linking process must be on `sender`, a
    /// target on this node); an inconsistent one is dropped as ``DropReason/invalidSignal`` rather than trusted.
    package mutating func receive(_ signal: ProcessSignal, from sender: NodeID) -> [ProcessEffect] {
        var effects: [ProcessEffect] = []
        switch signal {
        case .message(let from, let to, let topic, let payload):
            guard to.node == node else { return [.dropped(.invalidSignal)] }
            switch route(to) {
            case .local: effects.append(.deliver(.message(ProcessMessage(from: from, topic: topic, payload: payload)), to: to))
            case .dropped(let reason): effects.append(.dropped(reason))
            case .remote: effects.append(.dropped(.invalidSignal))
            }

        case .monitor(let ref, let watcher, let target):
            guard watcher.node == sender, ref.node == sender, target.node == node else { return [.dropped(.invalidSignal)] }
            if let refused = admit(watcher, into: &effects) { return effects + [.dropped(refused)] }
            guard monitors[ref] == nil else { return effects }  // a duplicate: the first one stands
            if record(of: target) != nil {
                monitors[ref] = Monitor(watcher: watcher, target: target)
                processes[target.serial]?.watchers.insert(ref)
                nodes[sender]?.monitors.insert(ref)
            } else {
                effects.append(.signal(.down(ref: ref, target: target, outcome: .noProcess), to: sender))
            }

        case .demonitor(let ref, let target):
            guard ref.node == sender, target.node == node else { return [.dropped(.invalidSignal)] }
            guard let monitor = monitors[ref], monitor.target == target else { return [] }
            monitors[ref] = nil
            processes[target.serial]?.watchers.remove(ref)
            nodes[sender]?.monitors.remove(ref)

        case .down(let ref, let target, let outcome):
            guard target.node == sender, ref.node == node else { return [.dropped(.invalidSignal)] }
            guard let monitor = monitors[ref], monitor.target == target else { return [] }  // demonitored meanwhile
            monitors[ref] = nil
            nodes[sender]?.monitors.remove(ref)
            if processes[monitor.watcher.serial]?.watching.remove(ref) != nil {
                effects.append(.deliver(.exit(target, outcome), to: monitor.watcher))
            }

        case .link(let remote, let local):
            guard remote.node == sender, local.node == node else { return [.dropped(.invalidSignal)] }
            if let refused = admit(remote, into: &effects) { return effects + [.dropped(refused)] }
            if record(of: local) != nil {
                processes[local.serial]?.links.insert(remote)
                nodes[sender]?.links.insert(RemoteLink(local: local, remote: remote))
            } else {
                effects.append(.signal(.linkDown(from: local, to: remote, outcome: .noProcess), to: sender))
            }

        case .unlink(let remote, let local):
            guard remote.node == sender, local.node == node else { return [.dropped(.invalidSignal)] }
            guard record(of: local) != nil, processes[local.serial]?.links.remove(remote) != nil else { return [] }
            nodes[sender]?.links.remove(RemoteLink(local: local, remote: remote))

        case .linkDown(let remote, let local, let outcome):
            guard remote.node == sender, local.node == node else { return [.dropped(.invalidSignal)] }
            // No link (never made, or unlinked meanwhile): the exit is not ours to hear about.
            guard record(of: local) != nil, processes[local.serial]?.links.remove(remote) != nil else { return [] }
            nodes[sender]?.links.remove(RemoteLink(local: local, remote: remote))
            var pending: [PendingExit] = []
            propagate(from: remote, outcome: outcome, to: local.serial, pending: &pending, effects: &effects)
            drain(&pending, into: &effects)

        case .cancel(let target, let reason, _):
            guard target.node == node else { return [.dropped(.invalidSignal)] }
            if record(of: target) != nil { effects.append(.deliver(.cancel(reason: reason), to: target)) }

        case .terminate(let target, _):
            guard target.node == node else { return [.dropped(.invalidSignal)] }
            if record(of: target) != nil {
                var pending = [PendingExit(serial: target.serial, outcome: .terminated, forced: true)]
                drain(&pending, into: &effects)
            }
        }
        return effects
    }
}
