import CohortConfig
import CohortCore
import GroupsCore
import Synchronization

/// One process-group scope on this node (Erlang's `pg` scope): join, leave, members, broadcast, monitor.
///
/// Every node runs every configured scope, clients included; groups are independent of Raft and spread
/// over the mesh (see ``ScopeCore`` for the protocol). Reads and local operations take one lock, no actor
/// hop; changes reach other nodes in batches, one message per peer, moments later.
///
/// ```swift
/// let jobs = try node.groups("default")
/// try jobs.join("workers", pid)
/// let reached = jobs.broadcast("workers", topic: "job", payload: bytes)
/// ```
public final class GroupScope: Sendable {
    /// The scope's name, from `pg.scopes`.
    public let name: String
    let settings: ProcessGroupScopeSettings
    private let state: Mutex<State>
    private let transport: GroupTransport
    let metrics: GroupMetrics?
    /// Wakes the service's flush of this scope (nil with the cluster disabled: nothing to spread).
    private let doorbell: AsyncStream<Void>.Continuation?
    let flushRequests: AsyncStream<Void>?
    /// Wakes the service's timer when a change brings this scope's next deadline forward.
    private let rearm = Mutex<(@Sendable () -> Void)?>(nil)
    /// The most events a monitor buffers before it gets a `resync` instead.
    static let monitorBuffer = 10_000

    struct State: ~Copyable {
        var core: ScopeCore
        var monitors: [UInt64: MonitorChannel] = [:]
        var nextMonitor: UInt64 = 1
        var flushPending = false
        /// The core's next deadline as the service's timer last learned it (nil: none).
        var armedFor: UInt64?
    }

    init(settings: ProcessGroupScopeSettings, node: NodeID, incarnation: Incarnation, transport: GroupTransport, metrics: GroupMetrics?, clustered: Bool) {
        name = settings.name
        self.settings = settings
        self.transport = transport
        self.metrics = metrics
        let core = ScopeCore(node: node, incarnation: incarnation, settings: Self.coreSettings(settings))
        state = Mutex(State(core: core))
        if clustered {
            let (stream, continuation) = AsyncStream.makeStream(of: Void.self, bufferingPolicy: .bufferingNewest(1))
            flushRequests = stream
            doorbell = continuation
        } else {
            flushRequests = nil
            doorbell = nil
        }
    }

    static func coreSettings(_ settings: ProcessGroupScopeSettings) -> ScopeSettings {
        ScopeSettings(
            syncInterval: milliseconds(settings.syncInterval),
            antiEntropyInterval: settings.antiEntropyInterval.map(milliseconds),
            maxRetries: settings.maxRetries,
            maxGroups: settings.maxGroups,
            // A third of the liveness window, so that two beats may be lost before the check fails.
            beatInterval: settings.broadcastLiveness.map { max(1, milliseconds($0) / 3) }
        )
    }

    static func milliseconds(_ duration: Duration) -> UInt64 {
        let (seconds, attoseconds) = duration.components
        return UInt64(max(0, seconds)) * 1000 + UInt64(max(0, attoseconds) / 1_000_000_000_000_000)
    }

    // MARK: Operations

    /// Joins `pids` to `group`; a PID given twice joins twice (and needs two leaves). Only this node's live
    /// processes join here; a process's memberships go when it exits.
    ///
    /// - Throws: ``GroupError/notLocal(_:)`` for a PID of another node or boot, or a process that is not
    ///   alive; ``GroupError/invalidGroup(_:)``; ``GroupError/tooManyGroups(limit:)`` past `max_groups`.
    public func join(_ group: String, _ pids: [PID]) throws(GroupError) {
        for pid in pids where !transport.isAlive(pid) { throw .notLocal(pid.description) }
        try mutate { core throws(GroupError) in try core.join(group, pids) }
        // A process that exited between the check and the join: its exit found nothing to remove.
        for pid in Set(pids) where !transport.isAlive(pid) { processExited(pid) }
    }

    /// Joins `pid` to `group` once.
    public func join(_ group: String, _ pid: PID) throws(GroupError) {
        try join(group, [pid])
    }

    /// Leaves `group` once for each of `pids`; returns false when none of them was in it (OTP's `not_joined`).
    @discardableResult
    public func leave(_ group: String, _ pids: [PID]) -> Bool {
        !mutate { core in core.leave(group, pids) }.isEmpty
    }

    /// Leaves `group` once.
    @discardableResult
    public func leave(_ group: String, _ pid: PID) -> Bool {
        leave(group, [pid])
    }

    /// Every member of `group` on every node, with multiplicity, sorted.
    public func members(_ group: String) -> [PID] {
        state.withLock { $0.core.members(of: group) }
    }

    /// This node's members of `group`, with multiplicity, sorted.
    public func localMembers(_ group: String) -> [PID] {
        state.withLock { $0.core.localMembers(of: group) }
    }

    /// Every group with members on some node, sorted (OTP's `which_groups/1`).
    public func whichGroups() -> [String] {
        state.withLock { $0.core.groups }
    }

    /// The groups `pid` is a member of, sorted.
    public func groups(of pid: PID) -> [String] {
        state.withLock { $0.core.groups(of: pid) }
    }

    /// Sends one message to every distinct member of `group` on every node: one packet per node that has
    /// members (that node delivers to its own), in order per sender. Best-effort: a member that exits or
    /// a node that leaves meanwhile misses it. Returns the number of recipients as this node sees the
    /// group now.
    @discardableResult
    public func broadcast(_ group: String, topic: String, payload: [UInt8] = [], from sender: PID? = nil) -> Int {
        let now = transport.now()
        let (recipients, nodes) = state.withLock { state -> ([PID], [(node: NodeID, members: Int)]) in
            let targets = state.core.broadcastTargets(of: group)
            state.core.noteBroadcast(to: targets.remote.map(\.node), now: now)
            return (state.core.localRecipients(of: group).map(Array.init) ?? [], targets.remote)
        }
        var reached = recipients.count
        if !nodes.isEmpty {
            let frame = GroupFrame.broadcast(scope: name, group: group, from: sender, topic: topic, payload: payload)
            for (node, members) in nodes where transport.send(frame, node) == nil { reached += members }
        }
        deliver(recipients, from: sender, topic: topic, payload: payload)
        metrics?.broadcasts.increment()
        return reached
    }

    /// Sends one message to every distinct member of `group` on this node only; returns how many.
    @discardableResult
    public func broadcastLocal(_ group: String, topic: String, payload: [UInt8] = [], from sender: PID? = nil) -> Int {
        let recipients = state.withLock { $0.core.localRecipients(of: group).map(Array.init) ?? [] }
        deliver(recipients, from: sender, topic: topic, payload: payload)
        metrics?.broadcasts.increment()
        return recipients.count
    }

    private func deliver(_ recipients: [PID], from sender: PID?, topic: String, payload: [UInt8]) {
        guard !recipients.isEmpty else { return }
        let delivered = transport.deliver(sender, recipients, topic, payload)
        if delivered > 0 { metrics?.deliveries.increment(by: Int64(delivered)) }
    }

    /// Monitors `group`: its members now, then each join and leave, atomically (OTP 25's `pg:monitor/2`).
    public func monitor(_ group: String) -> GroupMonitor {
        subscribe(group: group)
    }

    /// Monitors every group of the scope (OTP 25's `pg:monitor_scope/1`).
    public func monitorScope() -> GroupMonitor {
        subscribe(group: nil)
    }

    private func subscribe(group: String?) -> GroupMonitor {
        let channel = MonitorChannel(group: group, limit: Self.monitorBuffer)
        let (id, snapshot) = state.withLock { state in
            let id = state.nextMonitor
            state.nextMonitor += 1
            state.monitors[id] = channel
            return (id, Self.snapshot(of: state.core, group: group))
        }
        return GroupMonitor(snapshot: snapshot, channel: channel) { [weak self] in
            _ = self?.state.withLock { $0.monitors.removeValue(forKey: id) }
        }
    }

    private static func snapshot(of core: ScopeCore, group: String?) -> [String: [PID]] {
        if let group {
            return [group: core.members(of: group)]
        }
        return Dictionary(uniqueKeysWithValues: core.groups.map { ($0, core.members(of: $0)) })
    }

    /// Open monitors (for tests and metrics).
    var monitorCount: Int { state.withLock { $0.monitors.count } }

    // MARK: Inputs from the node

    func processExited(_ pid: PID) {
        mutate { core in core.processExited(pid) }
    }

    func nodeUp(_ node: NodeID, incarnation: Incarnation) {
        let now = transport.now()
        mutate { core in core.nodeUp(node, incarnation: incarnation, now: now) }
    }

    func connected(_ node: NodeID) {
        let now = transport.now()
        mutate { core in core.connected(node, now: now) }
    }

    func nodeDown(_ node: NodeID) {
        mutate { core in core.nodeDown(node) }
    }

    func tick(random: UInt64) {
        let now = transport.now()
        mutate { core in core.tick(now: now, random: random) }
    }

    /// Ticks if a deadline fell due; returns the next deadline (ms on ``GroupTransport/now``), which the
    /// service's timer sleeps until.
    func tickIfDue(random: UInt64) -> UInt64? {
        let now = transport.now()
        if let due = state.withLock({ $0.core.nextDeadline() }), due <= now { tick(random: random) }
        return state.withLock { state in
            state.armedFor = state.core.nextDeadline()
            return state.armedFor
        }
    }

    /// The clock deadlines are on.
    func now() -> UInt64 { transport.now() }

    /// Sets what wakes the service's timer (once, before the service runs).
    func onRearm(_ wake: @escaping @Sendable () -> Void) {
        rearm.withLock { $0 = wake }
    }

    /// Sends the batched local changes (the service calls it when the doorbell rings).
    func flush() {
        mutate { core in core.flush() }
    }

    /// A decoded message from `node`; a broadcast is delivered to this node's members of its group.
    func receive(_ message: GroupMessage, from node: NodeID, incarnation: Incarnation) {
        let now = transport.now()
        if case .broadcast(let group, let sender, let topic, let payload) = message {
            let recipients = state.withLock { state in
                state.core.receive(message, from: node, incarnation: incarnation, now: now)
                return state.core.localRecipients(of: group).map(Array.init) ?? []
            }
            deliver(recipients, from: sender, topic: topic, payload: payload)
            return
        }
        mutate { core in core.receive(message, from: node, incarnation: incarnation, now: now) }
    }

    /// Why `pg.broadcast_recent.<scope>` fails now, or nil.
    func livenessFailure() -> String? {
        guard let window = settings.broadcastLiveness else { return nil }
        let now = transport.now()
        return state.withLock { $0.core.livenessFailure(now: now, window: Self.milliseconds(window)) }
    }

    /// Runs `body` on the core, then carries out what it asked for, all under the lock: sends leave in
    /// the core's order and monitors see events in the order the core made them.
    @discardableResult
    private func mutate<T, E: Error>(_ body: (inout ScopeCore) throws(E) -> T) throws(E) -> T {
        let (result, ring, earlier): (T, Bool, Bool) = try state.withLock { (state) throws(E) -> (T, Bool, Bool) in
            let result = try body(&state.core)
            let output = state.core.takeOutput()
            var lastMessage: GroupMessage?
            var lastFrame: [UInt8] = []
            var failed: Set<NodeID> = []
            var refusals: [String: Int] = [:]
            for (peer, message) in output.sends {
                if message != lastMessage {
                    lastFrame = GroupFrame.encode(scope: name, message)
                    lastMessage = message
                }
                if let reason = transport.send(lastFrame, peer) {
                    failed.insert(peer)
                    refusals[reason, default: 0] += 1
                }
            }
            if !failed.isEmpty {
                let now = transport.now()
                for peer in failed { state.core.sendFailed(to: peer, now: now) }
            }
            if !output.events.isEmpty, !state.monitors.isEmpty {
                publish(output.events, to: state.monitors, core: state.core)
            }
            metrics?.observe(state.core, tally: output.tally, refused: refusals)
            var ring = false
            if state.core.hasPending, !state.flushPending {
                state.flushPending = true
                ring = true
            }
            var earlier = false
            if let next = state.core.nextDeadline(), state.armedFor.map({ next < $0 }) ?? true {
                state.armedFor = next
                earlier = true
            }
            return (result, ring, earlier)
        }
        if ring { doorbell?.yield() }
        if earlier { rearm.withLock { $0 }?() }
        return result
    }

    /// Marks the doorbell answered (the service's flush loop calls it before flushing).
    func doorbellAnswered() {
        state.withLock { $0.flushPending = false }
    }

    private func publish(_ events: [GroupEvent], to monitors: [UInt64: MonitorChannel], core: ScopeCore) {
        for event in events {
            let shown: GroupMonitorEvent = switch event {
            case .join(let group, let pids): .join(group: group, pids: pids)
            case .leave(let group, let pids): .leave(group: group, pids: pids)
            }
            for channel in monitors.values where channel.group == nil || channel.group == event.group {
                channel.push(shown) { Self.snapshot(of: core, group: channel.group) }
            }
        }
    }
}

/// How a scope reaches the rest of the node: the mesh, the process runtime and the clock.
struct GroupTransport: Sendable {
    /// Queues a frame for a peer on the mesh's relay class; nil when queued, else why not (a
    /// `pg_dropped_total` reason: `queue_full`, `too_large` or `unreachable`).
    var send: @Sendable ([UInt8], NodeID) -> String?
    /// Delivers one message to each of these local processes; returns how many received it.
    var deliver: @Sendable (PID?, [PID], String, [UInt8]) -> Int
    /// Whether a local process is alive.
    var isAlive: @Sendable (PID) -> Bool
    /// Milliseconds of a monotonic clock.
    var now: @Sendable () -> UInt64
}
