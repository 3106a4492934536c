import CohortCore

/// The pure core of the process runtime: which processes live here, their names, monitors and links, and what this
/// node knows of the boots of other nodes.
///
/// No I/O, no clock, no tasks: each mutating handler returns the ``ProcessEffect``s that the shell
/// (``ProcessRuntime``) carries out. Handlers are cheap and run under the runtime's lock, in one total order, which is
/// where per-sender FIFO and "a message before the exit it precedes" come from.
///
/// A monitor or link with one end on another node is also indexed under that node, so `nodeDown` finds what to fire
/// without scanning every process.
package struct ProcessTable: Sendable {
    /// One local, live process.
    package struct Record: Sendable, Hashable {
        let pid: PID
        let trapLinks: Bool
        /// Local names registered to it, released when it exits.
        var names: Set<String> = []
        /// Linked processes, local or remote.
        var links: Set<PID> = []
        /// Monitors whose target is this process.
        var watchers: Set<MonitorReference> = []
        /// Monitors this process holds on others.
        var watching: Set<MonitorReference> = []
    }

    /// A monitor with at least one local end.
    package struct Monitor: Sendable, Hashable {
        let watcher: PID
        let target: PID
    }

    /// A link between a local process and a process on another node.
    package struct RemoteLink: Sendable, Hashable, Comparable {
        let local: PID
        let remote: PID

        package static func < (lhs: RemoteLink, rhs: RemoteLink) -> Bool { (lhs.local, lhs.remote) < (rhs.local, rhs.remote) }
    }

    /// What this node knows of another node.
    package struct RemoteNode: Sendable, Hashable {
        /// The latest boot learnt; PIDs of earlier boots are dead.
        var incarnation: Incarnation
        /// Between `nodeUp` and `nodeDown`: signals can reach it.
        var isUp: Bool
        /// Monitors with one end on that node.
        var monitors: Set<MonitorReference> = []
        /// Links with one end on that node.
        var links: Set<RemoteLink> = []
    }

    /// Where a message for a PID goes.
    package enum Route: Sendable, Hashable {
        /// To the mailbox of this live local process.
        case local(PID)
        /// Through the transport to this node.
        case remote(NodeID)
        /// Nowhere.
        case dropped(DropReason)
    }

    /// A process to remove from the table, in the cascade of one operation.
    package struct PendingExit {
        let serial: UInt64
        let outcome: ProcessOutcome
        let forced: Bool
    }

    /// This node.
    package let node: NodeID
    /// This node's boot; local PIDs of any other boot are dead.
    package let incarnation: Incarnation
    // Internal rather than private(set): the handlers live in extensions, one concern per file.
    /// Live local processes by serial.
    package var processes: [UInt64: Record] = [:]
    /// Local names.
    package var names: [String: PID] = [:]
    /// Every monitor with a local end.
    package var monitors: [MonitorReference: Monitor] = [:]
    /// What is known of other nodes, with the monitors and links that reach them.
    package var nodes: [NodeID: RemoteNode] = [:]
    private var nextSerial: UInt64 = 1
    private var nextMonitorSerial: UInt64 = 1

    package init(node: NodeID, incarnation: Incarnation) {
        self.node = node
        self.incarnation = incarnation
    }

    /// Live local processes.
    package var count: Int { processes.count }

    /// Whether `pid` is a live process of this runtime (remote PIDs are never known alive here).
    package func isAlive(_ pid: PID) -> Bool { record(of: pid) != nil }

    /// The record of `pid` if it is a live local process of this boot.
    package func record(of pid: PID) -> Record? {
        guard pid.node == node, pid.incarnation == incarnation, let record = processes[pid.serial] else { return nil }
        return record
    }

    /// The process registered locally under `name`.
    package func whereis(_ name: String) -> PID? { names[name] }

    /// False when `pid` is surely dead as far as this node can tell: a local PID that is not alive, or a
    /// PID of a node that is not up or of an earlier boot of it. (A remote process may have exited all the
    /// same: only its node knows.)
    package func mayBeAlive(_ pid: PID) -> Bool {
        if pid.node == node { return isAlive(pid) }
        guard let remote = nodes[pid.node] else { return false }
        return remote.isUp && remote.incarnation == pid.incarnation
    }

    /// Adds a process and returns its PID; serials start at 1 and never repeat within this boot.
    package mutating func spawn(trapLinks: Bool) -> PID {
        let pid = PID(node: node, incarnation: incarnation, serial: nextSerial)
        nextSerial += 1
        processes[pid.serial] = Record(pid: pid, trapLinks: trapLinks)
        return pid
    }

    /// Where a message addressed to `pid` goes: a live local mailbox, a reachable node, or nowhere and why.
    package func route(_ pid: PID) -> Route {
        if pid.node == node {
            guard pid.incarnation == incarnation else { return .dropped(.staleIncarnation) }
            return processes[pid.serial] == nil ? .dropped(.noProcess) : .local(pid)
        }
        switch reachability(of: pid) {
        case .reachable: return .remote(pid.node)
        case .stale: return .dropped(.staleIncarnation)
        case .down: return .dropped(.nodeDown)
        }
    }

    /// Whether signals for a remote PID can reach a live boot of its node.
    package enum Reachability: Sendable, Hashable {
        case reachable
        /// Of a boot older than the one learnt: certainly dead.
        case stale
        /// Its node is not a member, so nothing can reach it.
        case down
    }

    /// Reachability of a PID of another node.
    package func reachability(of pid: PID) -> Reachability {
        guard let known = nodes[pid.node] else { return .down }
        if pid.incarnation < known.incarnation { return .stale }
        return known.isUp ? .reachable : .down
    }

    /// The outcome a monitor or link on an unreachable PID reports at once.
    package func deadOutcome(of pid: PID) -> ProcessOutcome {
        pid.node != node && reachability(of: pid) == .down ? .nodeDown : .noProcess
    }

    /// The body of `pid` returned or threw with `outcome`; nothing happens if it was already stopped by force.
    package mutating func exit(_ pid: PID, outcome: ProcessOutcome) -> [ProcessEffect] {
        guard record(of: pid) != nil else { return [] }
        var effects: [ProcessEffect] = []
        var pending = [PendingExit(serial: pid.serial, outcome: outcome, forced: false)]
        drain(&pending, into: &effects)
        return effects
    }

    /// Asks `pid` to stop: a local process gets `CANCEL(reason)`, a remote one is signalled.
    package mutating func cancel(_ pid: PID, reason: String, from: PID?) -> [ProcessEffect] {
        switch route(pid) {
        case .local: [.deliver(.cancel(reason: reason), to: pid)]
        case .remote(let node): [.signal(.cancel(target: pid, reason: reason, from: from), to: node)]
        case .dropped: []
        }
    }

    /// Stops `pid` by force with ``ProcessOutcome/terminated``, here or on its node.
    package mutating func terminate(_ pid: PID, from: PID?) -> [ProcessEffect] {
        switch route(pid) {
        case .local:
            var effects: [ProcessEffect] = []
            var pending = [PendingExit(serial: pid.serial, outcome: .terminated, forced: true)]
            drain(&pending, into: &effects)
            return effects
        case .remote(let node): return [.signal(.terminate(target: pid, from: from), to: node)]
        case .dropped: return []
        }
    }

    /// Stops every local process by force with ``ProcessOutcome/terminated`` (runtime shutdown).
    package mutating func terminateAll() -> [ProcessEffect] {
        var effects: [ProcessEffect] = []
        var pending = processes.keys.sorted().map { PendingExit(serial: $0, outcome: .terminated, forced: true) }
        drain(&pending, into: &effects)
        return effects
    }

    /// A fresh monitor reference of this boot.
    package mutating func makeMonitorReference() -> MonitorReference {
        defer { nextMonitorSerial += 1 }
        return MonitorReference(node: node, incarnation: incarnation, serial: nextMonitorSerial)
    }
}
