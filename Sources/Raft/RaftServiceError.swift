import CohortCore
import Mesh
import RaftCore
import RaftPersistence

/// Why a ``RaftService`` call failed; each case says whether a write may have happened and what to do.
/// Every public call of the service throws this type only (`throws(RaftServiceError)`), with the
/// underlying error carried where there is one.
public enum RaftServiceError: Error, Sendable, Equatable, CustomStringConvertible {
    /// This node is not the leader and cannot forward (hop limit reached, or the call is leader-only);
    /// `leader` is the one it knows of (``noLeader`` when it knows none).
    case notLeader(leader: NodeID)
    /// No leader is known (an election is running, or there is no quorum). Nothing was written.
    case noLeader
    /// Leadership is being handed to `transferee`. Nothing was written.
    case transferInProgress(transferee: NodeID)
    /// No answer within the timeout. With `maybeCommitted` the write reached a leader's log and may still
    /// commit: do not retry a non-idempotent write blindly, read first.
    case timeout(maybeCommitted: Bool)
    /// Another entry took the proposal's place in the log (leadership changed): it will never commit.
    /// Safe to retry.
    case dropped(index: LogIndex)
    /// The entry at `index` reached this node inside a snapshot, so its result is unknown; it may have
    /// been applied. Read the state before retrying.
    case outcomeUnknown(index: LogIndex)
    /// Forwarding to `leader` failed (`cause`). With `maybeCommitted` the leader may have appended it.
    case forwardFailed(leader: NodeID, cause: ForwardFailure, maybeCommitted: Bool)
    /// The read was dropped because the leader lost leadership; retry it.
    case leadershipLost
    /// The core refused a proposal or configuration change (one change at a time, leader not ready, an
    /// invalid change, too few admitted voters). Nothing was written.
    case proposalRefused(ProposalError)
    /// The core refused a leadership transfer (not the leader, not a voter, a blank replica).
    case transferRefused(TransferError)
    /// A forwarded proposal that did not decode (a peer of another version, or corruption). Nothing was
    /// written.
    case malformedRequest
    /// `bootstrap(voters:)` on a node that already has Raft state, or while it is starting.
    case alreadyBootstrapped
    /// `bootstrap(voters:)` with a voter set that does not contain this node.
    case notInVoters(NodeID)
    /// `run()` was called twice; create a new service instead.
    case alreadyStarted
    /// Storage failed; the service stopped because it cannot continue safely.
    case storage(RaftStorageError)
    /// The service is not running (not started yet, or stopped) and took nothing: nothing was written. (A
    /// proposal it had appended before stopping answers ``outcomeUnknown(index:)`` instead.)
    case stopped

    public var description: String {
        switch self {
        case .notLeader(let leader):
            "this node is not the Raft leader (leader: \(leader)); send the request there"
        case .noLeader:
            "no Raft leader is known (election in progress or no quorum); nothing was written — retry shortly"
        case .transferInProgress(let transferee):
            "leadership is moving to \(transferee); nothing was written — retry shortly"
        case .timeout(let maybeCommitted):
            maybeCommitted
                ? "timed out waiting for a quorum of voters; the write may still commit — read before retrying a non-idempotent write"
                : "timed out waiting for a quorum of voters; nothing was written — retry"
        case .dropped(let index):
            "the proposal at index \(index) was superseded by a new leader and will never commit; retry"
        case .outcomeUnknown(let index):
            "the entry at index \(index) arrived inside a snapshot; its result is unknown — read before retrying"
        case .forwardFailed(let leader, let cause, let maybeCommitted):
            "forwarding to leader \(leader) failed: \(cause)\(maybeCommitted ? "; the write may have committed — read before retrying" : "; nothing was written")"
        case .leadershipLost:
            "the leader lost leadership before confirming the read; retry"
        case .proposalRefused(let error):
            "the leader refused the proposal: \(error); nothing was written"
        case .transferRefused(let error):
            "the leadership transfer was refused: \(error)"
        case .malformedRequest:
            "the forwarded proposal did not decode; nothing was written"
        case .alreadyBootstrapped:
            "this node already has Raft state (or is starting); bootstrap only an empty node, once"
        case .notInVoters(let node):
            "bootstrap voters must include this node (\(node))"
        case .alreadyStarted:
            "the Raft service was already started; run() is called once per instance"
        case .storage(let error):
            "Raft storage failed, the service stopped: \(error)"
        case .stopped:
            "the Raft service is not running"
        }
    }
}

/// Why a proposal forwarded to the leader got no answer from it.
public enum ForwardFailure: Sendable, Equatable, CustomStringConvertible {
    /// The mesh could not deliver the request or its answer.
    case mesh(MeshError)
    /// This node has no connection to the leader (it may have failed; an election follows if so).
    case noConnection
    /// The leader's answer did not decode.
    case malformedReply
    /// The leader failed with an error it could only describe (`description`).
    case remote(String)

    public var description: String {
        switch self {
        case .mesh(let error): "\(error)"
        case .noConnection: "no connection to the leader (it may have failed; an election follows if so)"
        case .malformedReply: "the leader's reply does not decode"
        case .remote(let text): text
        }
    }
}
