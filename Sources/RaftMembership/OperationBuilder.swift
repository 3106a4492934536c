import CohortCore
import RaftCore

/// Orders the operations from the current configuration towards the targets, applying each to a working
/// copy so that every later check sees the configuration the earlier operations leave.
struct OperationBuilder {
    let view: PlanningView
    /// Target voters and standbys in rank order.
    let targetVoters: [NodeID]
    let targetStandbys: [NodeID]
    private let voterSet: Set<NodeID>
    private let standbySet: Set<NodeID>
    /// The configuration after the operations so far.
    private var working: Configuration
    private var operations: [VoterOperation] = []

    init(view: PlanningView, targetVoters: [NodeID], targetStandbys: [NodeID]) {
        self.view = view
        self.targetVoters = targetVoters
        self.targetStandbys = targetStandbys
        voterSet = Set(targetVoters)
        standbySet = Set(targetStandbys)
        working = view.configuration
    }

    /// Adds and promotions, then demotions, then removals; the leader's own change last.
    mutating func build() -> [VoterOperation] {
        for node in targetVoters where working.isStandby(node) && view.isPromotable(node) {
            apply(.promote(node))
        }
        promoteStandIns()
        for node in targetVoters + targetStandbys where working.role(of: node) == nil {
            apply(.addStandby(node))
        }
        // Alive voters that are not targets (the leader is handled last); gossip-dead ones that still
        // answer heartbeats are left alone, dead ones are removed below.
        let leaving = worstFirst(working.voters.filter {
            $0 != view.leader && !voterSet.contains($0) && view.isAlive($0)
        })
        for node in leaving where standbySet.contains(node) {
            dropAliveVoter(.demote(node))
        }
        removeDeadVoters()
        for node in leaving where !standbySet.contains(node) {
            dropAliveVoter(.remove(node))
        }
        for node in working.standbys where !voterSet.contains(node) && !standbySet.contains(node) {
            apply(.remove(node))
        }
        stepAside()
        return operations
    }

    /// Fills voter slots that no gossip-alive voter holds, while the preferred target still catches up,
    /// with the best caught-up candidate standby.
    private mutating func promoteStandIns() {
        let standIns = view.ranked
            .filter { working.isStandby($0.id) && !voterSet.contains($0.id) && view.isPromotable($0.id) }
            .sorted(by: view.votesBefore)
        for standIn in standIns where aliveVoterCount < targetVoters.count {
            apply(.promote(standIn.id))
        }
    }

    /// Removes heartbeat-silent, gossip-dead voters, at most (voters − 1) / 2 in one plan.
    private mutating func removeDeadVoters() {
        var budget = (view.configuration.voters.count - 1) / 2
        for node in working.voters where budget > 0 && node != view.leader && view.isDead(node) {
            if applyIfQuorumHolds(.remove(node)) { budget -= 1 }
        }
    }

    /// Demotes or removes an alive voter that is no longer a target, if the target count of alive voters
    /// remains and a live quorum does.
    private mutating func dropAliveVoter(_ operation: VoterOperation) {
        guard !targetVoters.isEmpty, aliveVoterCount - 1 >= targetVoters.count else { return }
        applyIfQuorumHolds(operation)
    }

    /// The leader's own demote/remove, behind a leadership transfer to the best caught-up live voter.
    private mutating func stepAside() {
        let leader = view.leader
        guard working.isVoter(leader), !voterSet.contains(leader) else { return }
        if view.isAlive(leader) {
            guard !targetVoters.isEmpty, aliveVoterCount - 1 >= targetVoters.count else { return }
        }
        let successor = targetVoters.first {
            $0 != leader && working.isVoter($0) && view.input.caughtUp.contains($0) && view.isLive($0)
        }
        let change: VoterOperation = standbySet.contains(leader) ? .demote(leader) : .remove(leader)
        guard let successor, let next = resulting(change), quorumHolds(in: next) else { return }
        operations.append(.transferLeadership(to: successor))
        operations.append(change)
        working = next
    }

    /// Gossip-alive voters in the working configuration.
    private var aliveVoterCount: Int { working.voters.count(where: view.isAlive) }

    /// At least one voter, and live voters make a quorum.
    private func quorumHolds(in configuration: Configuration) -> Bool {
        !configuration.voters.isEmpty && configuration.voters.count(where: view.isLive) >= configuration.quorum
    }

    private func resulting(_ operation: VoterOperation) -> Configuration? {
        guard let change = operation.configurationChange else { return working }
        return try? working.applying(change)
    }

    private mutating func apply(_ operation: VoterOperation) {
        guard let next = resulting(operation) else { return }
        operations.append(operation)
        working = next
    }

    @discardableResult
    private mutating func applyIfQuorumHolds(_ operation: VoterOperation) -> Bool {
        guard let next = resulting(operation), quorumHolds(in: next) else { return false }
        operations.append(operation)
        working = next
        return true
    }

    /// Non-candidates first, then by reverse voter preference (nodes absent from the view last).
    private func worstFirst(_ nodes: [NodeID]) -> [NodeID] {
        let present = nodes.compactMap { view.views[$0] }.sorted { lhs, rhs in
            if lhs.isVoterCandidate != rhs.isVoterCandidate { return !lhs.isVoterCandidate }
            return view.votesBefore(rhs, lhs)
        }
        return present.map(\.id) + nodes.filter { view.views[$0] == nil }.sorted()
    }
}
