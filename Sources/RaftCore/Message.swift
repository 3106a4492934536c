import CohortCore

/// A Raft message between two members of a group. `term` is the sender's term (for a pre-vote request, the
/// term the sender would campaign in; for a granted pre-vote, that same term).
public struct Message: Hashable, Sendable, CustomStringConvertible {
    /// The sender.
    public var from: NodeID
    /// The destination.
    public var to: NodeID
    /// The sender's term (see the type's note on pre-votes).
    public var term: Term
    /// What the message says.
    public var kind: MessageKind

    /// Creates a message.
    public init(from: NodeID, to: NodeID, term: Term, kind: MessageKind) {
        self.from = from
        self.to = to
        self.term = term
        self.kind = kind
    }

    public var description: String { "\(from)→\(to) t\(term) \(kind)" }
}

/// The messages of the protocol.
public enum MessageKind: Hashable, Sendable, CustomStringConvertible {
    /// "Would you vote for me in `term`?" — asked before a real election; changes no state.
    case preVote(lastLog: LogPosition)
    /// The answer to a pre-vote.
    case preVoteResponse(granted: Bool)
    /// A vote request; `transfer` marks the forced campaign of a leadership transfer, which bypasses the
    /// leader lease.
    case vote(lastLog: LogPosition, transfer: Bool)
    /// The answer to a vote request.
    case voteResponse(granted: Bool)
    /// Entries following `previous`, and the leader's commit index.
    case append(AppendRequest)
    /// The answer to an append or a snapshot.
    case appendResponse(AppendResponse)
    /// The leader's heartbeat; `commit` is capped at what the follower is known to have, `readSequence`
    /// is the latest ReadIndex round the leader started (echoed back to confirm leadership).
    case heartbeat(commit: LogIndex, readSequence: UInt64)
    /// The answer to a heartbeat, echoing its `readSequence`.
    case heartbeatResponse(readSequence: UInt64)
    /// "Install the snapshot described here": the shell carries the data alongside.
    case snapshot(SnapshotMetadata)
    /// "Campaign now" from a leader handing over leadership.
    case timeoutNow
    /// A follower forwarding a linearizable read to the leader.
    case readIndex(context: ReadContext)
    /// The leader's answer to a forwarded read: the index to wait for before reading.
    case readIndexResponse(context: ReadContext, index: LogIndex)
    /// The leader admits a blank replica that holds its log through `through`, after a quorum confirmed
    /// its leadership: from now on the replica votes and counts.
    case admit(through: LogPosition)
    /// The answer to a vote or pre-vote request from a node the responder's configuration does not list,
    /// by a responder whose log is at least as up to date (`lastLog`): the candidate was removed. It stops
    /// campaigning and acts as a node outside the configuration until a leader contacts it again. Carries
    /// the request's term.
    case outsideConfiguration(lastLog: LogPosition)

    public var description: String {
        switch self {
        case .preVote(let lastLog): "preVote(last \(lastLog))"
        case .preVoteResponse(let granted): "preVoteResponse(\(granted ? "granted" : "rejected"))"
        case .vote(let lastLog, let transfer): "vote(last \(lastLog)\(transfer ? ", transfer" : ""))"
        case .voteResponse(let granted): "voteResponse(\(granted ? "granted" : "rejected"))"
        case .append(let request): "append(prev \(request.previous), \(request.entries.count) entries, commit \(request.commit))"
        case .appendResponse(let response):
            response.accepted
                ? "appendResponse(match \(response.index))"
                : "appendResponse(reject \(response.index), hint \(response.hint))"
        case .heartbeat(let commit, let sequence): "heartbeat(commit \(commit), read \(sequence))"
        case .heartbeatResponse(let sequence): "heartbeatResponse(read \(sequence))"
        case .snapshot(let metadata): "snapshot(\(metadata))"
        case .timeoutNow: "timeoutNow"
        case .readIndex(let context): "readIndex(\(context))"
        case .readIndexResponse(let context, let index): "readIndexResponse(\(context), index \(index))"
        case .admit(let position): "admit(through \(position))"
        case .outsideConfiguration(let lastLog): "outsideConfiguration(last \(lastLog))"
        }
    }
}

/// Raft's AppendEntries request.
public struct AppendRequest: Hashable, Sendable {
    /// The entry just before `entries`; the follower must hold it to accept.
    public var previous: LogPosition
    /// Consecutive entries from `previous.index + 1`; empty for a probe.
    public var entries: [LogEntry]
    /// The leader's commit index.
    public var commit: LogIndex

    /// Creates a request.
    public init(previous: LogPosition, entries: [LogEntry], commit: LogIndex) {
        self.previous = previous
        self.entries = entries
        self.commit = commit
    }
}

/// Raft's AppendEntries (and InstallSnapshot) response.
public struct AppendResponse: Hashable, Sendable {
    /// True when the follower's log now matches the leader's up to `index`.
    public var accepted: Bool
    /// Accepted: the highest index known to match. Rejected: the `previous.index` that did not match.
    public var index: LogIndex
    /// Rejected: the follower's best guess of where the logs may agree — the last entry at or below the
    /// rejected index whose term is at most the leader's `previous.term` (fast backtracking).
    public var hint: LogPosition
    /// The sender is a blank replica (``RaftNode/isBlank``): the leader replicates to it but counts it
    /// towards nothing until it has admitted it.
    public var blank: Bool = false

    /// What a blank replica answers to a heartbeat: it is alive and wants the log, and says nothing about
    /// where it matches.
    public static let blankNotice = AppendResponse(accepted: false, index: 0, hint: .zero, blank: true)

    /// True for ``blankNotice``.
    public var isBlankNotice: Bool { blank && !accepted && index == 0 }

    /// An acceptance up to `index`.
    public static func accept(_ index: LogIndex) -> AppendResponse {
        AppendResponse(accepted: true, index: index, hint: .zero)
    }

    /// A rejection of `index` with a conflict hint.
    public static func reject(_ index: LogIndex, hint: LogPosition) -> AppendResponse {
        AppendResponse(accepted: false, index: index, hint: hint)
    }

    /// Creates a response.
    public init(accepted: Bool, index: LogIndex, hint: LogPosition, blank: Bool = false) {
        self.accepted = accepted
        self.index = index
        self.hint = hint
        self.blank = blank
    }
}
