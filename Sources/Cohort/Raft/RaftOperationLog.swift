import CohortCore
#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import RaftMembership
import Synchronization

/// One change this node made to the Raft configuration or its leadership: a voter reconciler step, a
/// founding, or an operator's `remove-peer` / `transfer-leader` carried out here.
public struct RaftOperationRecord: Sendable, Hashable, Codable {
    /// Numbers this node's records in order, from 1 at start-up.
    public var sequence: UInt64
    /// When it ended (done or failed), in ms since the Unix epoch.
    public var time: UInt64
    /// `bootstrap`, `add_standby`, `promote`, `demote`, `remove`, `transfer_leadership`.
    public var op: String
    /// The node it is about (for a transfer, the new leader).
    public var node: String
    /// Who decided it: `reconciler`, `bootstrap` or `operator`.
    public var source: String
    /// Why, in one line.
    public var reason: String
    /// The Raft term it was attempted in.
    public var term: UInt64
    /// `ok` or `failed`.
    public var outcome: String
    /// What went wrong, when it failed.
    public var error: String?

    enum CodingKeys: String, CodingKey {
        case sequence, time, op, node, source, reason, term, outcome, error
    }
}

/// The last ``capacity`` configuration and leadership operations this node made, oldest first: what
/// `GET /v1/raft/operations` and `cohort raft operations` show. Kept in memory only (a restart starts
/// empty); callable from any thread.
public final class RaftOperationLog: Sendable {
    /// How many records are kept; the oldest is dropped first.
    public let capacity: Int
    private let state: Mutex<(records: [RaftOperationRecord], next: UInt64)>
    private let now: @Sendable () -> UInt64

    /// An empty log keeping the last `capacity` records (at least 1); `now` reads the wall clock in ms.
    public init(capacity: Int = 64, now: @escaping @Sendable () -> UInt64 = { UInt64(Date().timeIntervalSince1970 * 1000) }) {
        self.capacity = max(1, capacity)
        self.now = now
        state = Mutex(([], 1))
    }

    /// Records one operation and returns its record.
    @discardableResult
    public func record(
        op: String, node: NodeID, source: String, reason: String, term: UInt64, error: String? = nil
    ) -> RaftOperationRecord {
        let time = now()
        return state.withLock { state in
            let record = RaftOperationRecord(
                sequence: state.next, time: time, op: op, node: node.rawValue, source: source, reason: reason, term: term,
                outcome: error == nil ? "ok" : "failed", error: error
            )
            state.next += 1
            state.records.append(record)
            if state.records.count > capacity { state.records.removeFirst(state.records.count - capacity) }
            return record
        }
    }

    /// The records kept, oldest first.
    public var records: [RaftOperationRecord] { state.withLock { $0.records } }
}

extension VoterOperation {
    /// Why the reconciler chose this operation, in one line, from the plan it belongs to and the input
    /// it was planned from.
    func reason(plan: VoterPlan, input: ReconcileInput) -> String {
        let member = input.members.first { $0.id == node }
        let voters = plan.targetVoters.count
        switch self {
        case .addStandby(let node):
            return plan.targetVoters.contains(node)
                ? "alive server outside the configuration and one of the \(voters) target voters: joins as a standby, promoted once caught up"
                : "alive server outside the configuration, a target standby"
        case .promote(let node):
            return plan.targetVoters.contains(node)
                ? "caught-up standby and one of the \(voters) target voters"
                : "caught-up standby standing in for a departed voter until the preferred one is caught up"
        case .demote:
            return "voter not among the \(voters) target voters (\(plan.targetVoters.map(\.rawValue).joined(separator: ", ")))"
        case .remove(let node):
            let wasVoter = input.configuration.isVoter(node)
            let what = wasVoter ? "voter" : "standby"
            guard let member, member.isAlive else {
                let silent = input.silent.contains(node) ? " and silent to the leader" : ""
                return "\(what) gone from gossip (dead, left or unknown)\(silent)"
            }
            if !member.isServer { return "\(what) is no longer a server of this group (a client, or of another group)" }
            return wasVoter ? "voter outside the \(voters) target voters" : "standby outside the target standbys"
        case .transferLeadership(let node):
            return "the leader leaves the voters itself: hands leadership to caught-up voter \(node) first"
        }
    }
}
