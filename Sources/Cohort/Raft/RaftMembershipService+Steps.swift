import CohortCore
import CoordinationCore
import RaftCore
import Gossip
import Logging
import RaftMembership
import Raft

extension RaftMembershipService.Loop {
    // MARK: Bootstrap

    /// Advances the bootstrap: advertise `in` once the node has Raft state (with the group id, see
    /// ``advertiseInCluster(now:)``); otherwise ask the planner and found the group when it says so.
    mutating func stepBootstrap(now: ContinuousClock.Instant) async {
        guard let status, status.state != .none else { return }
        guard service.settings.role == .server else {
            bootstrapDone = true
            return
        }
        if await service.raft.hasState {
            bootstrapDone = true
            metaChanges.bootstrapProposal = 0
            advertiseInBy = now + RaftMembershipService.groupIDWait
            service.logger.info("raft state present; advertising bootstrap status in once the group id is known", metadata: [
                "raft.term": "\(status.term)", "raft.voters": "\(status.voters.map(\.rawValue))",
            ])
            return
        }
        // With bootstrap_expect 0 the planner answers `never` without looking: no view to build.
        let decision = bootstrap.decide(view: service.settings.bootstrapExpect > 0 ? view : [], now: now)
        report(decision)
        if decision.advertisedProposal != ownMeta.bootstrapProposal {
            metaChanges.bootstrapProposal = decision.advertisedProposal
        }
        guard case .bootstrap(let voters) = decision else { return }
        var founded = true
        do {
            try await service.raft.bootstrap(voters: voters)
            service.operations.record(
                op: "bootstrap", node: service.selfID, source: "bootstrap",
                reason: "bootstrap_expect \(service.settings.bootstrapExpect): founders \(voters.map(\.rawValue).joined(separator: ", ")) visible and agreeing for \(RaftMembershipService.stabilityWindow.components.seconds)s",
                term: 1
            )
            service.logger.notice("raft group founded", metadata: [
                "raft.voters": "\(voters.map(\.rawValue))", "bootstrap_expect": "\(service.settings.bootstrapExpect)",
            ])
        } catch .alreadyBootstrapped {
            // A leader added this node between the check and the write: its state stands.
            founded = false
        } catch {
            service.logger.error("raft bootstrap failed", metadata: ["error": "\(error)"])
            return
        }
        bootstrapDone = true
        // A founder keeps its proposal next to `in` until the group has a leader, so a fellow founder that
        // sees the `in` first still joins the same founding (``BootstrapPlanner``). It advertises `in` at
        // once: a fellow founder must see it now, not once a group id exists.
        metaChanges.bootstrapStatus = .inCluster
        if !founded { metaChanges.bootstrapProposal = 0 }
    }

    /// A server that found Raft state (added by a leader, or restarted) advertises `in` together with the
    /// group id once its replica has it, or without it after ``RaftMembershipService/groupIDWait``: one
    /// announcement instead of `in` and, moments later, the group id. Nothing waits on this node's `in`
    /// meanwhile — it is already in the configuration; `in` only makes it a routing target and tells nodes
    /// with `bootstrap_expect` that a group exists, which its fellow members tell them too.
    mutating func advertiseInCluster(now: ContinuousClock.Instant) {
        guard let advertiseInBy else { return }
        guard groupIDInStore != nil || now >= advertiseInBy else { return }
        self.advertiseInBy = nil
        metaChanges.bootstrapStatus = .inCluster
    }

    /// A founder stops advertising its founding proposal as soon as an election has started (its term moved
    /// past the founding term 1) or a leader is known: from then on votes may have been cast, and a founder
    /// that missed the founding (or comes back with its data lost) waits to be added and admitted.
    mutating func withdrawFoundingProposalOnceLed() {
        guard bootstrapDone, ownMeta.bootstrapProposal != 0, let status, status.leader != nil || status.term > 1 else { return }
        metaChanges.bootstrapProposal = 0
    }

    /// Logs a bootstrap decision when it differs from the last one reported.
    private mutating func report(_ decision: BootstrapDecision) {
        defer { lastBootstrapReport = decision }
        if let last = lastBootstrapReport, Self.sameKind(last, decision) { return }
        let logger = service.logger
        switch decision {
        case .never:
            logger.info("bootstrap_expect is 0: waiting to be added to an existing Raft group by its leader")
        case .waiting(let visible, let expect):
            logger.info("raft bootstrap waiting for peers", metadata: ["visible": "\(visible)", "bootstrap_expect": "\(expect)"])
        case .proposing(let qualifying, _):
            logger.info("raft bootstrap: expected peers visible; proposing them as the founding set and waiting for each to agree", metadata: [
                "peers": "\(qualifying.map(\.rawValue))",
            ])
        case .stabilizing(_, let qualifying):
            logger.info("raft bootstrap: every founder agrees; waiting for the stability window", metadata: [
                "peers": "\(qualifying.map(\.rawValue))", "window": "\(RaftMembershipService.stabilityWindow)",
            ])
        case .bootstrap:
            break
        case .clusterExists(let seenIn):
            logger.info("a Raft group already exists; not bootstrapping, waiting to be added", metadata: ["seen": "\(seenIn)"])
        case .mismatch(let expected, let others):
            let nodes = others.sorted { $0.key < $1.key }.map { "\($0.key) (\($0.value))" }.joined(separator: ", ")
            logger.error(
                "bootstrap_expect mismatch: this node expects \(expected), but \(nodes) expect otherwise; not bootstrapping until every founding node has the same bootstrap_expect",
                metadata: ["bootstrap_expect": "\(expected)", "mismatched": "\(nodes)"]
            )
        }
    }

    private static func sameKind(_ a: BootstrapDecision, _ b: BootstrapDecision) -> Bool {
        switch (a, b) {
        case (.stabilizing(_, let x), .stabilizing(_, let y)): x == y
        case (.proposing(let x, _), .proposing(let y, _)): x == y
        default: a == b
        }
    }

    // MARK: Group id

    /// The store key holding the Raft group's id, written once by the group's first leader.
    static let groupKey = "_sys:raft_group"

    /// The group id in this node's replica, if it has one.
    var groupIDInStore: String? {
        guard let entry = service.store.state.value(store: "default", key: Self.groupKey) else { return nil }
        return String(validating: entry.value, as: UTF8.self)
    }

    /// Advertises the group id (with this round's other changes) once this node's replica has it.
    mutating func publishGroup() {
        guard service.settings.role == .server, let group = groupIDInStore, group != ownMeta.raftGroup else { return }
        metaChanges.raftGroup = group
        service.logger.info("raft group id known", metadata: ["raft.group": "\(group)"])
    }

    /// On a leader of a group without an id: writes one (set-if-absent, so a racing earlier leader wins).
    mutating func ensureGroupID() async {
        guard service.store.state.value(store: "default", key: Self.groupKey) == nil else { return }
        let id = String(UInt64.random(in: 1...UInt64.max), radix: 16)
        let command = CoordinationCommand(.put(store: "default", key: Self.groupKey, value: Array(id.utf8), condition: .absent, ttl: 0))
        do {
            _ = try await service.raft.propose(command.encoded(), timeout: .seconds(5))
        } catch {
            service.logger.warning("cannot write the raft group id yet", metadata: ["error": "\(error)"])
        }
        // The group id, `in` and the withdrawn founding proposal of a new leader: one announcement, before
        // the reconciler's changes (which may take a while).
        publishGroup()
        advertiseInCluster(now: .now)
        withdrawFoundingProposalOnceLed()
        await publishMetaChanges()
    }

    // MARK: Reconcile

    /// On the leader: plans and applies operations one at a time until the configuration matches the plan
    /// or an operation has to wait (a new standby catching up), then re-checks later.
    mutating func reconcile(now: ContinuousClock.Instant) async {
        let raft = service.raft
        await ensureGroupID()
        // Bounded: each pass applies at most one operation per configuration slot and re-plans.
        for _ in 0..<32 {
            guard let replication = await raft.replication else { return }
            let current = await raft.status
            let input = ReconcileInput(
                leader: service.selfID, members: reconcileView(configuration: Set(current.voters + current.standbys)),
                configuration: Configuration(voters: current.voters, standbys: current.standbys),
                caughtUp: replication.caughtUp(maxLag: RaftMembershipService.promotionLag).union([service.selfID]),
                silent: replication.silent(),
                maxVoters: service.settings.maxVoters,
                maxStandbys: service.unbounded ? Int.max : service.settings.maxStandbys
            )
            let plan = VoterPlanner.plan(input)
            guard let operation = plan.operations.first else {
                let settled = Set(plan.targetVoters) == Set(current.voters) && Set(plan.targetStandbys) == Set(current.standbys)
                // A target not reached yet waits on something outside the plan (a standby catching up); a
                // removed node held out is looked at again when its hold ends.
                recheckAt = settled ? service.currentHolds().values.min() : .now + .seconds(1)
                return
            }
            guard await apply(operation, reason: operation.reason(plan: plan, input: input), term: current.term) else {
                recheckAt = .now + service.settings.reconcileDebounce
                return
            }
            if case .transferLeadership = operation { return }
        }
        recheckAt = .now + .seconds(1)
    }

    /// Applies one operation; true when it succeeded.
    private mutating func apply(_ operation: VoterOperation, reason: String, term: UInt64) async -> Bool {
        let raft = service.raft
        let logger = service.logger
        if churn.record(at: .now) { service.metrics.churnBursts.increment() }
        do {
            switch operation {
            case .transferLeadership(let target):
                try await raft.transferLeadership(to: target)
            default:
                guard let change = operation.configurationChange else { return false }
                try await raft.changeConfiguration(change)
            }
            service.metrics.count(operation, succeeded: true)
            service.operations.record(op: operation.metricLabel, node: operation.node, source: "reconciler", reason: reason, term: term)
            logger.notice("raft voter reconciler: \(operation)", metadata: ["op": "\(operation.metricLabel)", "reason": "\(reason)"])
            return true
        } catch {
            service.metrics.count(operation, succeeded: false)
            service.operations.record(
                op: operation.metricLabel, node: operation.node, source: "reconciler", reason: reason, term: term, error: "\(error)"
            )
            logger.warning("raft voter reconciler: \(operation) failed", metadata: ["op": "\(operation.metricLabel)", "error": "\(error)"])
            return false
        }
    }
}
