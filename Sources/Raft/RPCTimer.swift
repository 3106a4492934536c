import CohortCore
import RaftCore

/// Times Raft's request/response pairs: from sending a request to a peer until that peer's answer of the
/// matching kind arrives. Messages of one class travel in order over one connection and a peer answers in
/// order, so answers are matched to the oldest outstanding request of their kind; a lost message
/// desynchronises at most `limit` entries, which are dropped once that many are outstanding (and all of
/// them on a new term).
struct RPCTimer {
    /// The request kinds timed, by their `raft_rpc_duration_seconds{type}` label.
    enum Kind: String, CaseIterable {
        case append, heartbeat, preVote = "pre_vote", vote, readIndex = "read_index"
    }

    private struct Key: Hashable {
        var peer: NodeID
        var kind: Kind
    }

    private var outstanding: [Key: [ContinuousClock.Instant]] = [:]
    private var term: Term = 0
    let limit = 64

    /// Notes a request sent now.
    mutating func sent(_ message: Message, at now: ContinuousClock.Instant) {
        guard let kind = Self.request(message.kind) else { return }
        if message.term != term {
            term = message.term
            outstanding = [:]
        }
        let key = Key(peer: message.to, kind: kind)
        var queue = outstanding[key, default: []]
        if queue.count >= limit { queue.removeAll() }
        queue.append(now)
        outstanding[key] = queue
    }

    /// The round trip of the request `message` answers, if one is outstanding.
    mutating func received(_ message: Message, at now: ContinuousClock.Instant) -> (Kind, Duration)? {
        guard let kind = Self.response(message.kind) else { return nil }
        let key = Key(peer: message.from, kind: kind)
        guard var queue = outstanding[key], !queue.isEmpty else { return nil }
        let sentAt = queue.removeFirst()
        outstanding[key] = queue
        return (kind, now - sentAt)
    }

    static func request(_ kind: MessageKind) -> Kind? {
        switch kind {
        case .append: .append
        case .heartbeat: .heartbeat
        case .preVote: .preVote
        case .vote: .vote
        case .readIndex: .readIndex
        default: nil
        }
    }

    static func response(_ kind: MessageKind) -> Kind? {
        switch kind {
        case .appendResponse(let response): response.isBlankNotice ? .heartbeat : .append
        case .heartbeatResponse: .heartbeat
        case .preVoteResponse: .preVote
        case .voteResponse: .vote
        case .readIndexResponse: .readIndex
        default: nil
        }
    }
}
