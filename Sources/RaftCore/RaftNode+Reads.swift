import CohortCore

/// Why a linearizable read cannot be started here.
public enum ReadIndexError: Error, Hashable, Sendable {
    /// No leader is known to forward the read to; retry after an election.
    case noLeader
}

extension RaftNode {
    /// Starts a linearizable read named `context`. On the leader: once it has committed an entry of its
    /// term and a majority of voters confirmed its leadership by a heartbeat round, a ``ReadState`` with the
    /// commit index comes out in a ``Ready``. On a follower: the request goes to the leader and its answer
    /// comes back as the ``ReadState``. A stale leader never answers (its reads are dropped when it learns).
    public mutating func readIndex(context: ReadContext) throws(ReadIndexError) {
        if state == .leader {
            startRead(context: context, requester: id)
        } else if let leader, state == .follower {
            forwardedReads[context] = leader
            send(.readIndex(context: context), to: leader)
        } else {
            throw .noLeader
        }
    }

    mutating func startRead(context: ReadContext, requester: NodeID) {
        let read = PendingRead(context: context, requester: requester, index: 0, sequence: 0)
        if log.term(at: log.committed) != term {
            // The commit index is only known to be current once an entry of this term commits.
            readsAwaitingCommit.append(read)
        } else {
            confirmLeadership(for: read)
        }
    }

    private mutating func confirmLeadership(for read: PendingRead) {
        readSequence += 1
        var read = read
        read.index = log.committed
        read.sequence = readSequence
        pendingReads.append(read)
        releaseConfirmedReads()
        // Only voters confirm leadership, so standbys are left out of read rounds.
        if !pendingReads.isEmpty { broadcastHeartbeat(toStandbys: false) }
    }

    mutating func releaseReadsAwaitingCommit() {
        guard !readsAwaitingCommit.isEmpty, log.term(at: log.committed) == term else { return }
        let waiting = readsAwaitingCommit
        readsAwaitingCommit = []
        for read in waiting { startRead(context: read.context, requester: read.requester) }
    }

    mutating func acknowledgeRead(_ sequence: UInt64, from peer: NodeID) {
        guard sequence > 0, sequence > readAcks[peer] ?? 0 else { return }
        readAcks[peer] = sequence
        releaseConfirmedReads()
    }

    /// Answers every pending read, and admits every blank replica, whose heartbeat round a majority of
    /// voters has echoed.
    mutating func releaseConfirmedReads() {
        guard state == .leader, !pendingReads.isEmpty || !admissions.isEmpty else { return }
        let quorum = configuration.quorum
        guard quorum > 0 else { return }
        let acks = configuration.voters.map { $0 == id ? readSequence : readAcks[$0] ?? 0 }.sorted(by: >)
        let confirmed = acks[quorum - 1]
        for (peer, admission) in admissions.sorted(by: { $0.key < $1.key }) where admission.sequence <= confirmed {
            admissions[peer] = nil
            guard let progress = progressByPeer[peer], progress.isBlank, progress.match >= admission.position.index else { continue }
            send(.admit(through: admission.position), to: peer)
        }
        while let read = pendingReads.first, read.sequence <= confirmed {
            pendingReads.removeFirst()
            if read.requester == id {
                readStates.append(ReadState(context: read.context, index: read.index))
            } else {
                send(.readIndexResponse(context: read.context, index: read.index), to: read.requester)
            }
        }
    }

    /// A follower's answer from its leader: only for a read this node forwarded to that leader and has not
    /// had answered yet (a duplicate, or an answer to a read of an earlier boot or another leader, is
    /// dropped).
    mutating func receiveReadIndexResponse(context: ReadContext, index: LogIndex, from sender: NodeID) {
        guard state == .follower, sender == leader, forwardedReads[context] == sender else { return }
        forwardedReads[context] = nil
        readStates.append(ReadState(context: context, index: index))
    }

    /// The caller gave up on the read named `context` (its deadline passed): forget it, so a late answer is
    /// dropped and nothing is kept for it.
    public mutating func abandonRead(context: ReadContext) {
        forwardedReads[context] = nil
    }
}
