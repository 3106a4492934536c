import CohortCore

extension RaftNode {
    /// Handles a message from a peer. Messages not addressed to this node, and stale ones, are dropped.
    public mutating func step(_ message: Message) {
        guard message.to == id, message.from != id else { return }
        if message.term > term {
            switch message.kind {
            case .preVote(let lastLog), .vote(let lastLog, _):
                // A candidate this node's configuration no longer lists, with a log no newer than ours: it
                // was removed and cannot win. Tell it so, without taking its term (it must not depose a
                // healthy leader, with or without PreVote and CheckQuorum).
                if !configuration.members.isEmpty, configuration.role(of: message.from) == nil, !isBlank, lastLog <= log.lastPosition {
                    send(.outsideConfiguration(lastLog: log.lastPosition), to: message.from, term: message.term)
                    return
                }
                let transfer = if case .vote(_, true) = message.kind { true } else { false }
                if ignoresVoteRequest(from: message.from, transfer: transfer) { return }
            default:
                break
            }
            switch message.kind {
            case .preVote:
                break  // a pre-vote changes nothing here
            case .outsideConfiguration:
                break  // carries the pre-vote's term, which this node has not taken
            case .preVoteResponse(granted: true):
                break  // a granted pre-vote carries the term we asked about
            case .append, .heartbeat, .snapshot:
                becomeFollower(term: message.term, leader: message.from)
            default:
                becomeFollower(term: message.term, leader: nil)
            }
        } else if message.term < term {
            switch message.kind {
            case .append, .heartbeat:
                // A leader of an older term (e.g. back from a partition): tell it our term so it steps
                // down, rather than leave it cut off from the group.
                send(.heartbeatResponse(readSequence: 0), to: message.from)
            case .preVote:
                send(.preVoteResponse(granted: false), to: message.from)
            default:
                break
            }
            return
        }

        switch message.kind {
        case .preVote(let lastLog):
            handleVoteRequest(message, lastLog: lastLog, pre: true)
        case .vote(let lastLog, _):
            handleVoteRequest(message, lastLog: lastLog, pre: false)
        case .preVoteResponse(let granted):
            handleVoteResponse(message, granted: granted, pre: true)
        case .voteResponse(let granted):
            handleVoteResponse(message, granted: granted, pre: false)
        case .append(let request):
            followLeader(message.from)
            handleAppend(request, from: message.from)
        case .heartbeat(let commit, let sequence):
            followLeader(message.from)
            log.commit(to: commit)
            send(.heartbeatResponse(readSequence: sequence), to: message.from)
        case .snapshot(let metadata):
            followLeader(message.from)
            handleSnapshot(metadata, from: message.from)
        case .appendResponse(let response):
            guard state == .leader else { return }
            handleAppendResponse(response, from: message.from)
        case .heartbeatResponse(let sequence):
            guard state == .leader else { return }
            handleHeartbeatResponse(sequence, from: message.from)
        case .timeoutNow:
            // The leader of our term hands over: campaign at once, past any lease. Only from the leader this
            // node follows: a late one from a transfer this node no longer knows about (it restarted, or
            // has not heard from that leader since) would depose a healthy leader.
            guard state == .follower, message.from == leader else { return }
            campaign(transfer: true)
        case .readIndex(let context):
            guard state == .leader else { return }
            startRead(context: context, requester: message.from)
        case .readIndexResponse(let context, let index):
            receiveReadIndexResponse(context: context, index: index, from: message.from)
        case .admit(let position):
            guard state == .follower, message.from == leader else { return }
            handleAdmission(through: position)
        case .outsideConfiguration(let lastLog):
            // Only from a peer that has seen at least everything this node has: its configuration is then
            // at least as new as ours.
            guard lastLog >= log.lastPosition, !isKnownRemoved else { return }
            isKnownRemoved = true
            if state != .follower { becomeFollower(term: term, leader: nil) }
        }
    }

    /// An append, heartbeat or snapshot of our term comes from its leader.
    private mutating func followLeader(_ sender: NodeID) {
        if state != .follower || leader != sender {
            becomeFollower(term: term, leader: sender)
        }
        // Leaders only contact members: whatever this node was told, it is one again.
        isKnownRemoved = false
        electionElapsed = 0
    }

    private mutating func handleAppend(_ request: AppendRequest, from leader: NodeID) {
        if request.previous.index < log.committed {
            // Everything up to our commit index matches the leader's log already.
            send(.appendResponse(.accept(log.committed)), to: leader)
            return
        }
        if let lastNew = log.tryAppend(after: request.previous, request.entries) {
            log.commit(to: min(request.commit, lastNew))
            send(.appendResponse(.accept(lastNew)), to: leader)
        } else {
            let hint = log.lastIndex(
                atOrBelow: min(request.previous.index, log.lastIndex), withTermAtMost: request.previous.term
            )
            send(.appendResponse(.reject(request.previous.index, hint: hint)), to: leader)
        }
    }

    private mutating func handleSnapshot(_ metadata: SnapshotMetadata, from leader: NodeID) {
        if metadata.index <= log.committed {
            send(.appendResponse(.accept(log.committed)), to: leader)
        } else if log.matches(metadata.position) {
            // Our log already holds the snapshot's last entry: keep the log, move the commit index.
            log.commit(to: metadata.index)
            send(.appendResponse(.accept(metadata.index)), to: leader)
        } else {
            // The log conflicts with (or stops before) the snapshot: discard all of it.
            log.restore(metadata)
            send(.appendResponse(.accept(metadata.index)), to: leader)
        }
    }
}
