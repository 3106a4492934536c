import CohortCore

/// The voters and standbys the reconciler aims for, and the operations that get there from the current
/// configuration without ever losing a live quorum.
public struct VoterPlan: Sendable, Hashable {
    /// The voters wanted, in rank order (best first).
    public var targetVoters: [NodeID]
    /// The standbys wanted, in rank order (best first).
    public var targetStandbys: [NodeID]
    /// In the order to apply; the caller applies ONLY the first, waits for it, then re-plans. May stop
    /// short of the targets (e.g. at an `addStandby` while the new standby catches up); empty when there is
    /// nothing to do now.
    public var operations: [VoterOperation]

    /// A plan.
    public init(targetVoters: [NodeID], targetStandbys: [NodeID], operations: [VoterOperation]) {
        self.targetVoters = targetVoters
        self.targetStandbys = targetStandbys
        self.operations = operations
    }

    /// The operation to apply now, if any.
    public var nextOperation: VoterOperation? { operations.first }
}
