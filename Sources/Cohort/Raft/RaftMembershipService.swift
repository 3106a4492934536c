import CohortConfig
import CohortCore
import RaftCore
import Gossip
import Logging
import Prometheus
import RaftMembership
import Raft
import ServiceLifecycle
import Synchronization

/// Joins the node's Raft service to the gossip view (SPEC sections 7 and 8):
///
/// - **bootstrap**: with no Raft state, `bootstrap_expect` 1 founds a group at once, N waits for exactly N
///   eligible `pre` nodes with the same N to be stable for the window, 0 waits to be added
///   (``BootstrapPlanner``); a mismatched N is logged as an error naming the nodes;
/// - advertises `in` in gossip as soon as the node has Raft state (founded, added, or restored);
/// - on the leader, the **voter reconciler**: on every membership change, debounced (trailing, capped),
///   and once on becoming leader, plans with ``VoterPlanner`` and applies the first operation, then plans
///   again, until the configuration matches the plan;
/// - keeps the **routing order** (ranked Raft members) a client node forwards its writes along.
///
/// One loop handles every input (gossip events, Raft status changes, timers) in order, so nothing here
/// needs a lock except the routing order read by ``RaftService``. Gossip events arrive in batches (all
/// that queued while the loop was busy) and cost O(1) each (``RaftGossipView``); what looks at the whole
/// view — the bootstrap decision, the reconciler — runs once per batch or per debounce.
///
/// The node's own metadata changes of one round (bootstrap status, proposal, group id) are published
/// together, as one gossip announcement: every announcement is an alive broadcast to every node and an
/// `updated` event in each of them.
final class RaftMembershipService: Service, Sendable {
    /// What the loop reacts to.
    enum Input: Sendable {
        /// Every membership update queued since the last batch, in order.
        case gossip([MembershipUpdate])
        case raft(RaftStatus)
        case timer
    }

    let selfID: NodeID
    let settings: RaftSettings
    let gossip: GossipService
    let raft: RaftService
    let meta: NodeMetaPublisher
    let store: CoordinationStore
    let logger: Logger
    let metrics: ReconcilerMetrics
    /// Every node kept in the configuration when true (the unbounded benchmark: `COHORT_UNBOUNDED_RAFT=1`).
    let unbounded: Bool
    /// The last 64 operations the reconciler (and the bootstrap) carried out here.
    let operations: RaftOperationLog
    private let routing = Mutex<[NodeID]>([])
    /// Nodes the operator removed (`remove-peer`), each with when its hold ends: see ``holdOut(_:)``.
    private let removalHolds = Mutex<[NodeID: ContinuousClock.Instant]>([:])

    /// How long exactly N founders must stay visible before they bootstrap (SPEC section 7).
    static let stabilityWindow = Duration.seconds(5)
    /// A standby is promoted only when within this many entries of the leader (SPEC section 8).
    static let promotionLag: LogIndex = 250
    /// How long a node the operator removed is kept out while gossip still says it is alive.
    static let removalHold = Duration.seconds(60)
    /// How long a server that found Raft state it did not found here (added by a leader, or restarted)
    /// waits for its replica to learn the group id before advertising `in` without it: `in` and the group
    /// id then go out as one announcement instead of two.
    static let groupIDWait = Duration.seconds(2)

    init(
        selfID: NodeID, settings: RaftSettings, gossip: GossipService, raft: RaftService, meta: NodeMetaPublisher,
        store: CoordinationStore, logger: Logger, registry: PrometheusCollectorRegistry, unbounded: Bool = false,
        operations: RaftOperationLog = RaftOperationLog()
    ) {
        self.operations = operations
        self.store = store
        self.selfID = selfID
        self.settings = settings
        self.gossip = gossip
        self.raft = raft
        self.meta = meta
        self.logger = logger
        metrics = ReconcilerMetrics(registry: registry)
        self.unbounded = unbounded
    }

    /// Raft members (servers advertising `in`), best first: where a node that knows no leader sends a write.
    var routingOrder: [NodeID] { routing.withLock { $0 } }

    func run() async throws {
        await raft.setForwardingCandidates { [self] in routingOrder }
        let (inputs, sink) = AsyncStream.makeStream(of: Input.self)
        await withDiscardingTaskGroup { group in
            group.addTask {
                for await batch in self.gossip.events.subscribeBatches() { sink.yield(.gossip(batch)) }
            }
            group.addTask {
                for await status in await self.raft.statusUpdates() { sink.yield(.raft(status)) }
            }
            var loop = Loop(service: self, sink: sink)
            // Graceful shutdown finishes the inputs, which ends this loop (see `untilGracefulShutdown`).
            await withGracefulShutdownHandler {
                for await input in inputs {
                    await loop.handle(input)
                }
            } onGracefulShutdown: {
                sink.finish()
            }
            loop.cancelTimer()
            group.cancelAll()
        }
    }

    /// Keeps `node`, which the operator is removing, out of the configuration while gossip still says it
    /// is alive: until gossip declares it dead or left (a SIGKILLed node takes a few probe rounds), or for
    /// ``removalHold`` at most. After that the usual rules apply: a dead node stays out, a live eligible
    /// server is added back (as Consul's autopilot does). Held on this node only (the leader that removed it).
    func holdOut(_ node: NodeID) {
        removalHolds.withLock { $0[node] = .now + Self.removalHold }
    }

    /// The holds in force now (expired ones are dropped).
    func currentHolds(now: ContinuousClock.Instant = .now) -> [NodeID: ContinuousClock.Instant] {
        removalHolds.withLock { holds in
            holds = holds.filter { $0.value > now }
            return holds
        }
    }

    /// Ends `node`'s hold (gossip declared it gone).
    func releaseHold(_ node: NodeID) {
        removalHolds.withLock { _ = $0.removeValue(forKey: node) }
    }

    fileprivate func publishRouting(_ order: [NodeID]) {
        routing.withLock { $0 = order }
    }
}

extension RaftMembershipService {
    /// The loop's state: the gossip view, the Raft status, the bootstrap and reconcile progress.
    struct Loop {
        let service: RaftMembershipService
        let sink: AsyncStream<Input>.Continuation
        var members: RaftGossipView
        var status: RaftStatus?
        var bootstrap: BootstrapPlanner
        /// Bootstrap is over: the node has Raft state, or is a client node (which never founds a group).
        var bootstrapDone = false
        var lastBootstrapReport: BootstrapDecision?
        var debouncer: ReconcileDebouncer
        var churn = ChurnTracker()
        /// The plan last seen incomplete (operations waiting for a standby to catch up): checked again
        /// on the next timer.
        var recheckAt: ContinuousClock.Instant?
        /// A server with Raft state it did not found here advertises `in` once its replica knows the group
        /// id, or at this instant without it (``RaftMembershipService/groupIDWait``).
        var advertiseInBy: ContinuousClock.Instant?
        /// This round's changes to the node's own metadata, published together at its end.
        var metaChanges = OwnMetaChanges()
        var timer: Task<Void, Never>?
        /// When `timer` fires; an earlier one is never replaced by a later one (it wakes the loop, which
        /// arms the next).
        var timerDeadline: ContinuousClock.Instant?

        init(service: RaftMembershipService, sink: AsyncStream<Input>.Continuation) {
            self.service = service
            self.sink = sink
            members = RaftGossipView(selfID: service.selfID)
            bootstrap = BootstrapPlanner(
                selfID: service.selfID, expect: service.settings.bootstrapExpect, stabilityWindow: RaftMembershipService.stabilityWindow
            )
            debouncer = ReconcileDebouncer(debounce: service.settings.reconcileDebounce)
        }

        mutating func handle(_ input: Input) async {
            let now = ContinuousClock.now
            switch input {
            case .gossip(let batch):
                for update in batch { members.apply(update) }
                if isLeader { debouncer.signal(at: now) }
            case .raft(let newStatus):
                let becameLeader = newStatus.state == .leader && status?.state != .leader
                let configurationChanged = newStatus.voters != status?.voters || newStatus.standbys != status?.standbys
                status = newStatus
                if becameLeader {
                    // Once on becoming leader, without waiting for the debounce.
                    debouncer.fired()
                    await reconcile(now: now)
                } else if isLeader, configurationChanged {
                    debouncer.signal(at: now)
                }
            case .timer:
                if let timerDeadline, timerDeadline <= .now { self.timerDeadline = nil }
            }
            if !bootstrapDone { await stepBootstrap(now: .now) }
            advertiseInCluster(now: .now)
            withdrawFoundingProposalOnceLed()
            publishGroup()
            await publishMetaChanges()
            if let order = members.routingOrderIfChanged(own: service.meta.meta) { service.publishRouting(order) }
            if isLeader, let deadline = debouncer.deadline, deadline <= .now {
                debouncer.fired()
                await reconcile(now: .now)
            } else if isLeader, let recheckAt, recheckAt <= .now {
                self.recheckAt = nil
                await reconcile(now: .now)
            }
            scheduleTimer()
        }

        var isLeader: Bool { status?.state == .leader }

        /// This node's metadata with this round's changes applied.
        var ownMeta: NodeMeta { metaChanges.applied(to: service.meta.meta) }

        /// Publishes this round's changes to the node's metadata, as one announcement.
        mutating func publishMetaChanges() async {
            guard !metaChanges.isEmpty else { return }
            let changes = metaChanges
            metaChanges = OwnMetaChanges()
            await service.meta.update { changes.apply(to: &$0) }
        }

        /// The gossip view in the planner's terms, this node included.
        var view: [RaftMemberView] { viewWithGroups().map(\.view) }

        /// The view the reconciler plans with: a node that has Raft state of another group (or whose group
        /// this leader cannot confirm yet) and is not in the configuration counts as a client, so two groups
        /// founded apart never mix their logs.
        ///
        /// A node the operator removed counts as a client while its hold lasts and gossip says it is alive
        /// (``RaftMembershipService/holdOut(_:)``).
        func reconcileView(configuration: Set<NodeID>) -> [RaftMemberView] {
            let ours = ownMeta.raftGroup
            let holds = service.currentHolds()
            return viewWithGroups().map { member, group in
                var member = member
                if member.inCluster, !configuration.contains(member.id), ours.isEmpty || group != ours {
                    member.isServer = false
                }
                if holds[member.id] != nil, !configuration.contains(member.id) {
                    if member.isAlive { member.isServer = false } else { service.releaseHold(member.id) }
                }
                return member
            }
        }

        /// Every member's view with the Raft group it advertises, sorted by node ID.
        private func viewWithGroups() -> [(view: RaftMemberView, group: String)] {
            members.viewWithGroups(own: ownMeta)
        }

        /// Wakes the loop at the next deadline: the end of a bootstrap window, the debounce, a re-check.
        /// A timer already armed for that deadline or an earlier one is kept (when it fires the loop looks
        /// again and arms the next), so a burst of inputs does not start and cancel a task each.
        mutating func scheduleTimer() {
            var deadlines: [ContinuousClock.Instant] = []
            if !bootstrapDone, case .stabilizing(let since, _) = lastBootstrapReport {
                deadlines.append(since + RaftMembershipService.stabilityWindow)
            }
            if !bootstrapDone, service.settings.bootstrapExpect > 1 { deadlines.append(.now + .seconds(1)) }
            if isLeader, let deadline = debouncer.deadline { deadlines.append(deadline) }
            if isLeader, let recheckAt { deadlines.append(recheckAt) }
            if let advertiseInBy { deadlines.append(advertiseInBy) }
            // The group id arrives with the log: look again until it has.
            if bootstrapDone, service.settings.role == .server, service.meta.meta.raftGroup.isEmpty {
                deadlines.append(.now + .seconds(1))
            }
            guard let next = deadlines.min() else {
                timer?.cancel()
                timer = nil
                timerDeadline = nil
                return
            }
            if timer != nil, let timerDeadline, timerDeadline <= next { return }
            timer?.cancel()
            timerDeadline = next
            let sink = sink
            timer = Task {
                try? await Task.sleep(until: next, clock: .continuous)
                if !Task.isCancelled { sink.yield(.timer) }
            }
        }

        func cancelTimer() {
            timer?.cancel()
        }
    }
}
