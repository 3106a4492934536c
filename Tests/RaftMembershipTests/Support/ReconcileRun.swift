import CohortCore
import RaftCore
import RaftMembership

/// Drives the reconciler the way the shell does: apply only the first operation, then re-plan. A node
/// added as a standby (and every other live member) counts as caught up one round later.
struct ReconcileRun {
    /// The current state; `leader`, `configuration` and `caughtUp` change as operations apply.
    var input: ReconcileInput
    /// Every configuration the run went through, the starting one first.
    private(set) var history: [Configuration]
    /// Every operation applied, in order.
    private(set) var applied: [VoterOperation] = []

    init(_ input: ReconcileInput) {
        self.input = input
        history = [input.configuration]
    }

    /// Plans and applies the first operation; when the plan is empty, lets live members catch up and plans
    /// once more. Returns false when nothing is left to do. Throws when an operation does not apply.
    mutating func step() throws -> Bool {
        if try applyFirst(of: VoterPlanner.plan(input)) { return true }
        let before = input.caughtUp
        catchUp()
        guard input.caughtUp != before else { return false }
        return try applyFirst(of: VoterPlanner.plan(input))
    }

    /// Steps until nothing is left, at most `limit` times; returns the steps taken, or nil when the run did
    /// not settle within the limit.
    mutating func settle(limit: Int = 200) throws -> Int? {
        for steps in 0..<limit {
            guard try step() else { return steps }
        }
        return nil
    }

    /// The live members: the leader, and alive members that are not silent.
    func isLive(_ node: NodeID) -> Bool {
        node == input.leader || (isAlive(node) && !input.silent.contains(node))
    }

    func isAlive(_ node: NodeID) -> Bool {
        input.members.contains { $0.id == node && $0.isAlive }
    }

    /// Live voters make a quorum of `configuration`.
    func hasLiveQuorum(_ configuration: Configuration) -> Bool {
        !configuration.voters.isEmpty && configuration.voters.count(where: isLive) >= configuration.quorum
    }

    private mutating func applyFirst(of plan: VoterPlan) throws -> Bool {
        guard let operation = plan.nextOperation else { return false }
        if let change = operation.configurationChange {
            input.configuration = try input.configuration.applying(change)
            history.append(input.configuration)
        } else {
            input.leader = operation.node
        }
        applied.append(operation)
        return true
    }

    /// Configuration members that are alive and not silent have caught up.
    private mutating func catchUp() {
        for node in input.configuration.members where isAlive(node) && !input.silent.contains(node) {
            input.caughtUp.insert(node)
        }
    }
}
