import CohortCore
import CoordinationCore
import Raft

/// Why a store, lock or name call failed. Each case has a machine-readable ``code`` (the `/v1` error
/// bodies carry it) and says whether a write may have happened.
public enum CoordinationError: Error, Hashable, Sendable, CustomStringConvertible {
    /// The request is malformed (a bad key, name, duration or PID); nothing was written.
    case badRequest(String)
    /// No such store, key, lock or name.
    case notFound(String)
    /// The name is registered, or the lock is held (fail-fast), by someone else; `by` is who, when known.
    case alreadyExists(String, by: PID?)
    /// A conditional write's condition did not hold; the key's current value, if any.
    case conflict(key: String, current: StoredValue?)
    /// Only the lock's holder may release it; who holds it, if anyone.
    case notHolder(lock: String, holder: PID?)
    /// Only the name's owner may unregister it.
    case notOwner(name: String, owner: PID)
    /// No leader is known (an election, or too few servers); nothing was written: retry shortly.
    case noLeader(String)
    /// The leader could not reach a quorum in time; the write may still commit when `maybeCommitted`
    /// (read before retrying).
    case noQuorum(String, maybeCommitted: Bool)
    /// A lock wait ran out.
    case timeout(String)
    /// A strong name's registration was not acknowledged by every live node in time (`missing`: those
    /// that did not answer); the name was not registered. Retry once they answer (or have left).
    case notAcknowledged(String, missing: [NodeID])
    /// A watch asked for history that is gone; `oldest` is the earliest version a watch can start from.
    case compacted(oldest: UInt64)
    /// A key, value, name or transaction is over its limit.
    case tooLarge(String)
    /// Not available on this node, or not built yet.
    case unsupported(String)
    /// The node is stopping, or its storage failed.
    case unavailable(String)

    /// The machine-readable code of the `/v1` error bodies.
    public var code: String {
        switch self {
        case .badRequest: "BAD_REQUEST"
        case .notFound: "NOT_FOUND"
        case .alreadyExists: "ALREADY_EXISTS"
        case .conflict: "CONFLICT"
        case .notHolder, .notOwner: "NOT_HOLDER"
        case .noLeader, .unavailable: "NO_LEADER"
        case .noQuorum: "NO_QUORUM"
        case .timeout, .notAcknowledged: "TIMEOUT"
        case .compacted: "COMPACTED"
        case .tooLarge: "TOO_LARGE"
        case .unsupported: "UNSUPPORTED"
        }
    }

    public var description: String {
        switch self {
        case .badRequest(let message), .notFound(let message), .noLeader(let message), .timeout(let message),
             .tooLarge(let message), .unsupported(let message), .unavailable(let message):
            message
        case .alreadyExists(let message, _): message
        case .conflict(let key, let current):
            "condition failed for key \"\(key)\"" + (current.map { " (its version is \($0.version))" } ?? " (it has no value)")
        case .notHolder(let lock, let holder):
            "lock \"\(lock)\" is not held by the caller" + (holder.map { " (held by \($0))" } ?? "")
        case .notOwner(let name, let owner): "name \"\(name)\" belongs to \(owner), not the caller"
        case .noQuorum(let message, _), .notAcknowledged(let message, _): message
        case .compacted(let oldest): "the history before version \(oldest) is compacted: list, then watch from \(oldest)"
        }
    }

    /// The error for a failed Raft call.
    init(_ error: RaftServiceError) {
        switch error {
        case .timeout(let maybeCommitted):
            self = .noQuorum("\(error)", maybeCommitted: maybeCommitted)
        case .outcomeUnknown, .dropped, .leadershipLost:
            self = .noQuorum("\(error)", maybeCommitted: true)
        case .forwardFailed(_, _, let maybeCommitted):
            self = maybeCommitted ? .noQuorum("\(error)", maybeCommitted: true) : .noLeader("\(error)")
        case .notLeader, .noLeader, .transferInProgress, .proposalRefused:
            self = .noLeader("\(error)")
        case .malformedRequest:
            self = .badRequest("\(error)")
        default:
            self = .unavailable("\(error)")
        }
    }
}
