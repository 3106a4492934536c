import CohortCore

extension RaftNode {
    /// Starts an election: a pre-vote first (unless disabled or forced by a leadership transfer).
    mutating func campaign(transfer: Bool) {
        guard isPromotable else { return }
        if settings.preVote, !transfer {
            becomePreCandidate()
            requestVotes(pre: true, transfer: false)
        } else {
            becomeCandidate()
            requestVotes(pre: false, transfer: transfer)
        }
    }

    private mutating func requestVotes(pre: Bool, transfer: Bool) {
        // Our own vote counts at once (for a real vote, it is durable before any request leaves).
        votes[id] = true
        if tallyVotes() { return }
        let lastLog = log.lastPosition
        for voter in configuration.voters where voter != id {
            if pre {
                send(.preVote(lastLog: lastLog), to: voter, term: term + 1)
            } else {
                send(.vote(lastLog: lastLog, transfer: transfer), to: voter)
            }
        }
    }

    /// Counts the answers; wins or gives up when a majority decided. Returns true when decided.
    @discardableResult
    mutating func tallyVotes() -> Bool {
        var granted = 0, rejected = 0
        for voter in configuration.voters {
            switch votes[voter] {
            case true?: granted += 1
            case false?: rejected += 1
            case nil: break
            }
        }
        let quorum = configuration.quorum
        guard quorum > 0 else { return false }
        if granted >= quorum {
            if state == .preCandidate {
                becomeCandidate()
                requestVotes(pre: false, transfer: false)
            } else {
                becomeLeader()
            }
            return true
        }
        if rejected > configuration.voters.count - quorum {
            becomeFollower(term: term, leader: nil)
            return true
        }
        return false
    }

    /// Answers a vote or pre-vote request whose term is at least ours (the lease check already passed).
    mutating func handleVoteRequest(_ message: Message, lastLog: LogPosition, pre: Bool) {
        // A blank replica may have voted in this term in a life it forgot: it never votes.
        let canVote = !isBlank && (vote == message.from || (vote == nil && leader == nil) || (pre && message.term > term))
        let upToDate = lastLog >= log.lastPosition
        if canVote, upToDate {
            if pre {
                send(.preVoteResponse(granted: true), to: message.from, term: message.term)
            } else {
                electionElapsed = 0
                vote = message.from
                send(.voteResponse(granted: true), to: message.from)
            }
        } else if pre {
            send(.preVoteResponse(granted: false), to: message.from)
        } else {
            send(.voteResponse(granted: false), to: message.from)
        }
    }

    /// True when this node must ignore a vote request from a higher term: it heard from a live leader
    /// within the election timeout (CheckQuorum's lease), and the request is not a transfer's forced
    /// campaign.
    ///
    /// Requests from candidates that are not voters of *our* configuration are still answered: with
    /// configurations in force on append, a voter may lag behind the change that made the candidate a
    /// voter, and ignoring it deadlocked elections in the simulation (seeds 916 and 980). A removed node
    /// cannot disrupt anyway: the lease makes a live group ignore it, and it cannot win once its removal
    /// is committed (the majority that committed it has a longer log).
    func ignoresVoteRequest(from candidate: NodeID, transfer: Bool) -> Bool {
        if transfer { return false }
        return settings.checkQuorum && leader != nil && electionElapsed < settings.electionTicks
    }

    /// A vote or pre-vote answer while campaigning.
    mutating func handleVoteResponse(_ message: Message, granted: Bool, pre: Bool) {
        guard pre ? state == .preCandidate : state == .candidate else { return }
        // A granted pre-vote carries the term we would campaign in; anything else is stale.
        if pre, granted, message.term != term + 1 { return }
        guard configuration.isVoter(message.from) else { return }
        votes[message.from] = granted
        tallyVotes()
    }
}

extension RaftNode {
    /// The shell lost its connection to `peer` (or membership declared it gone). If that is this
    /// follower's leader, the follower campaigns as soon as the leader's lease allows — `electionTicks`
    /// after it last heard from it — instead of at a random point in `[electionTicks, 2 × electionTicks)`.
    /// The other voters go in the order of their IDs, one tick apart, so two survivors do not split the
    /// vote. Only a timer moves: a follower that keeps hearing the leader (the connection came back) never
    /// campaigns, and one that campaigns while the others still hear the leader is refused by their lease.
    public mutating func leaderUnreachable(_ peer: NodeID) {
        guard state == .follower, leader == peer, isPromotable else { return }
        let survivors = configuration.voters.filter { $0 != peer }.sorted()
        guard let rank = survivors.firstIndex(of: id) else { return }
        randomizedElectionTimeout = min(randomizedElectionTimeout, settings.electionTicks + min(rank, settings.electionTicks - 1))
    }

    /// Starts an election now (a pre-vote first when enabled), as if the election timeout had passed.
    /// Does nothing on a leader or on a node that may not campaign (a standby, or outside the configuration).
    public mutating func campaign() {
        guard state != .leader else { return }
        campaign(transfer: false)
    }
}
