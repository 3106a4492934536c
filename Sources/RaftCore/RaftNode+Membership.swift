import CohortCore

/// Why a leadership transfer was refused.
public enum TransferError: Error, Hashable, Sendable {
    /// Only the leader transfers leadership; `leader` is the one this node knows of.
    case notLeader(leader: NodeID?)
    /// The target is not a voter of the configuration in force (standbys never lead).
    case notVoter(NodeID)
    /// The target is a blank replica the leader has not admitted yet: it would not campaign.
    case blank(NodeID)
}

extension RaftNode {
    /// Appends a single-server configuration change; it takes effect on every node as soon as that node
    /// appends it (Raft dissertation §4.1). Refused while another change is uncommitted, before the leader
    /// has committed an entry of its term, and during a leadership transfer. Returns the entry's index.
    @discardableResult
    public mutating func proposeConfigurationChange(_ change: ConfigurationChange) throws(ProposalError) -> LogIndex {
        try checkCanAppend()
        if hasPendingConfigurationChange { throw .configurationChangePending(index: log.configurationIndex) }
        guard log.committed >= termStartIndex else { throw .leaderNotReady }
        let next: Configuration
        do {
            next = try configuration.applying(change)
        } catch {
            throw .invalidChange(error)
        }
        let admitted = next.voters.count { $0 == id || progressByPeer[$0]?.isBlank != true }
        if admitted < next.quorum { throw .tooFewAdmittedVoters(admitted: admitted, quorum: next.quorum) }
        appendAsLeader([.configuration(next)])
        configurationDidChange()
        broadcastAppend()
        return log.lastIndex
    }

    /// Brings the leader's replication state in line with the configuration in force.
    private mutating func configurationDidChange() {
        let members = Set(configuration.members)
        for peer in progressByPeer.keys where !members.contains(peer) && peer != id {
            progressByPeer[peer] = nil
            readAcks[peer] = nil
        }
        for member in configuration.members where progressByPeer[member] == nil {
            progressByPeer[member] = PeerProgress(match: 0, next: log.lastIndex)
        }
        if let transferee, !configuration.isVoter(transferee) { self.transferee = nil }
        // A smaller quorum may commit what is already replicated, and confirm pending reads.
        if maybeCommit() { broadcastAppend() }
        releaseConfirmedReads()
    }

    /// A leader whose committed configuration no longer counts it as a voter hands leadership to the most
    /// up-to-date voter and then steps down.
    mutating func handOverIfNoLongerVoter() {
        guard state == .leader, !configuration.isVoter(id), !hasPendingConfigurationChange, transferee == nil else { return }
        let best = configuration.voters.max { lhs, rhs in
            let left = progressByPeer[lhs]?.countedMatch ?? 0, right = progressByPeer[rhs]?.countedMatch ?? 0
            return left != right ? left < right : lhs > rhs
        }
        guard let best else { return }
        transferee = best
        electionElapsed = 0
        if progressByPeer[best]?.match == log.lastIndex {
            send(.timeoutNow, to: best)
            becomeFollower(term: term, leader: nil)
        } else {
            sendAppend(to: best, evenIfEmpty: true)
        }
    }

    /// Hands leadership to `target`, a voter: once its log is caught up, it is told to campaign at once
    /// (TimeoutNow). Proposals are refused meanwhile; the transfer is abandoned after an election timeout.
    public mutating func transferLeadership(to target: NodeID) throws(TransferError) {
        guard state == .leader else { throw .notLeader(leader: leader) }
        guard configuration.isVoter(target) else { throw .notVoter(target) }
        guard progressByPeer[target]?.isBlank != true else { throw .blank(target) }
        guard target != id else {
            transferee = nil
            return
        }
        if transferee == target { return }
        transferee = target
        electionElapsed = 0
        if progressByPeer[target]?.match == log.lastIndex {
            send(.timeoutNow, to: target)
        } else {
            sendAppend(to: target, evenIfEmpty: true)
        }
    }

    /// The highest index a snapshot may cover now: applied by the state machine **and** durable in the log
    /// (an entry can be applied before the log entries around it are stable again, e.g. while a new
    /// leader's append replaces a suffix that was being written).
    public var compactableIndex: LogIndex { min(log.applied, log.stableIndex) }

    /// Records that the application has a snapshot of its state through `index` (at most
    /// ``compactableIndex``) and discards the log up to `trailing` entries before it (etcd's and
    /// Consul's `trailing_logs`: a follower that lags by fewer entries catches up without a snapshot).
    /// The snapshot, ``RaftLog/latestSnapshot``, carries the configuration in force at `index`.
    public mutating func compact(through index: LogIndex, keepingTrailing trailing: LogIndex = 0) {
        guard index > log.latestSnapshot.index else { return }
        precondition(index <= compactableIndex, "a snapshot can only cover applied, durable entries (\(index) > \(compactableIndex))")
        log.compact(through: index, keepingTrailing: trailing)
    }

    /// The shell could not deliver the snapshot to `peer`, or finished sending it: on failure the leader
    /// probes the peer again (and sends a fresh snapshot if it still needs one).
    public mutating func reportSnapshot(to peer: NodeID, delivered: Bool) {
        guard state == .leader, var progress = progressByPeer[peer], case .snapshot = progress.state else { return }
        if !delivered {
            progress.becomeProbe()
            progressByPeer[peer] = progress
        }
    }
}
