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
/// needs a lock except the routing order read by ``RaftService``.
final class RaftMembershipService: Service, Sendable {
    /// What the loop reacts to.
    enum Input: Sendable {
        case gossip(MembershipUpdate)
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
                for await update in self.gossip.events.subscribe() { sink.yield(.gossip(update)) }
            }
            group.addTask {
                for await status in await self.raft.statusUpdates() { sink.yield(.raft(status)) }
            }
            var loop = Loop(service: self, sink: sink)
            for await input in inputs.cancelOnGracefulShutdown() {
                await loop.handle(input)
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
        var members: [NodeID: Member] = [:]
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
        var timer: Task<Void, Never>?

        init(service: RaftMembershipService, sink: AsyncStream<Input>.Continuation) {
            self.service = service
            self.sink = sink
            bootstrap = BootstrapPlanner(
                selfID: service.selfID, expect: service.settings.bootstrapExpect, stabilityWindow: RaftMembershipService.stabilityWindow
            )
            debouncer = ReconcileDebouncer(debounce: service.settings.reconcileDebounce)
        }

        mutating func handle(_ input: Input) async {
            let now = ContinuousClock.now
            switch input {
            case .gossip(let update):
                apply(update)
                service.publishRouting(Self.routingOrder(view))
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
                break
            }
            if !bootstrapDone { await stepBootstrap(now: .now) }
            await withdrawFoundingProposalOnceLed()
            await publishGroup()
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

        /// The gossip view in the planner's terms, this node included.
        var view: [RaftMemberView] { viewWithGroups().map(\.view) }

        /// The view the reconciler plans with: a node that has Raft state of another group (or whose group
        /// this leader cannot confirm yet) and is not in the configuration counts as a client, so two groups
        /// founded apart never mix their logs.
        ///
        /// A node the operator removed counts as a client while its hold lasts and gossip says it is alive
        /// (``RaftMembershipService/holdOut(_:)``).
        func reconcileView(configuration: Set<NodeID>) -> [RaftMemberView] {
            let ours = service.meta.meta.raftGroup
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
            var result: [NodeID: (view: RaftMemberView, group: String)] = [:]
            for member in members.values {
                guard let meta = try? NodeMeta(decoding: member.meta) else { continue }
                result[member.name] = (Self.memberView(member.name, meta: meta, alive: !member.isGone), meta.raftGroup)
            }
            let own = service.meta.meta
            result[service.selfID] = (Self.memberView(service.selfID, meta: own, alive: true), own.raftGroup)
            return result.values.sorted { $0.view.id < $1.view.id }
        }

        static func memberView(_ id: NodeID, meta: NodeMeta, alive: Bool) -> RaftMemberView {
            RaftMemberView(
                id: id, isAlive: alive, isServer: meta.role == .server, eligible: meta.raftEligible,
                priority: Int(meta.raftPriority), failureDomain: meta.failureDomain,
                inCluster: meta.bootstrapStatus == .inCluster, bootstrapExpect: Int(meta.bootstrapExpect),
                bootstrapProposal: meta.bootstrapProposal
            )
        }

        /// Raft members a write can be routed to: alive servers advertising `in`, ranked.
        static func routingOrder(_ view: [RaftMemberView]) -> [NodeID] {
            Ranking.rank(view.filter(\.inCluster)).map(\.id)
        }

        mutating func apply(_ update: MembershipUpdate) {
            switch update {
            case .snapshot(let all), .resync(let all):
                members = Dictionary(all.map { ($0.name, $0) }, uniquingKeysWith: { $1 })
            case .joined(let member), .updated(let member):
                members[member.name] = member
            case .left(let member, _):
                var gone = member
                if !gone.isGone { gone.state = .dead }
                members[member.name] = gone
            }
        }

        /// Wakes the loop at the next deadline: the end of a bootstrap window, the debounce, a re-check.
        mutating func scheduleTimer() {
            timer?.cancel()
            timer = nil
            var deadlines: [ContinuousClock.Instant] = []
            if !bootstrapDone, case .stabilizing(let since, _) = lastBootstrapReport {
                deadlines.append(since + RaftMembershipService.stabilityWindow)
            }
            if !bootstrapDone, service.settings.bootstrapExpect > 1 { deadlines.append(.now + .seconds(1)) }
            if isLeader, let deadline = debouncer.deadline { deadlines.append(deadline) }
            if isLeader, let recheckAt { deadlines.append(recheckAt) }
            // The group id arrives with the log: look again until it has.
            if bootstrapDone, service.settings.role == .server, service.meta.meta.raftGroup.isEmpty {
                deadlines.append(.now + .seconds(1))
            }
            guard let next = deadlines.min() else { return }
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
