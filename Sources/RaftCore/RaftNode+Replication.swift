import CohortCore

/// Why a proposal or configuration change was refused. Nothing was appended; the core never retries.
public enum ProposalError: Error, Hashable, Sendable {
    /// Only the leader appends; `leader` is the leader this node knows of, if any (forward it there).
    case notLeader(leader: NodeID?)
    /// Leadership is being handed to `transferee`; retry at the new leader.
    case transferInProgress(transferee: NodeID)
    /// A configuration change is not committed yet; one change at a time.
    case configurationChangePending(index: LogIndex)
    /// A new leader must commit an entry of its own term before changing the configuration (the fix to
    /// single-server changes in Ongaro's 2015 errata); retry shortly.
    case leaderNotReady
    /// The change does not apply to the configuration in force.
    case invalidChange(ConfigurationChangeError)
    /// After the change, the voters this leader may count (not blank replicas awaiting admission) would be
    /// fewer than a quorum: the group could commit nothing, not even a change that undoes it. Wait until
    /// the blank replicas are caught up and admitted.
    case tooFewAdmittedVoters(admitted: Int, quorum: Int)
}

extension RaftNode {
    /// Appends an application command; returns its index. Only a leader accepts proposals.
    @discardableResult
    public mutating func propose(_ command: [UInt8]) throws(ProposalError) -> LogIndex {
        try checkCanAppend()
        appendAsLeader([.command(command)])
        broadcastAppend()
        return log.lastIndex
    }

    func checkCanAppend() throws(ProposalError) {
        guard state == .leader else { throw .notLeader(leader: leader) }
        if let transferee { throw .transferInProgress(transferee: transferee) }
    }

    mutating func appendAsLeader(_ payloads: [LogEntry.Payload]) {
        let first = log.lastIndex + 1
        log.append(payloads.enumerated().map { LogEntry(term: term, index: first + LogIndex($0), payload: $1) })
    }

    // MARK: Sending

    /// Sends what each member lacks, as far as its flow control allows.
    mutating func broadcastAppend() {
        for peer in configuration.members where peer != id {
            sendAppend(to: peer, evenIfEmpty: true)
        }
    }

    /// Sends one append (or the snapshot) to `peer` unless its flow control is paused; returns true when
    /// something was sent.
    @discardableResult
    mutating func sendAppend(to peer: NodeID, evenIfEmpty: Bool) -> Bool {
        guard var progress = progressByPeer[peer], !progress.isPaused(window: settings.maxInflightAppends) else { return false }
        let previousIndex = progress.next - 1
        guard let previousTerm = log.term(at: previousIndex),
              let entries = log.entries(from: progress.next, maxCount: settings.maxEntriesPerAppend, maxBytes: settings.maxBytesPerAppend)
        else {
            // What the peer lacks is compacted away: it needs the newest snapshot.
            progress.becomeSnapshot(log.latestSnapshot.index)
            progressByPeer[peer] = progress
            send(.snapshot(log.latestSnapshot), to: peer)
            return true
        }
        if entries.isEmpty, !evenIfEmpty { return false }
        let commit = log.committed
        send(.append(AppendRequest(previous: LogPosition(term: previousTerm, index: previousIndex), entries: entries, commit: commit)), to: peer)
        progress.sent(through: entries.last?.index)
        progress.sentCommit = max(progress.sentCommit, min(commit, previousIndex + LogIndex(entries.count)))
        progressByPeer[peer] = progress
        return true
    }

    /// Heartbeats every voter, and the standbys too when `toStandbys`.
    mutating func broadcastHeartbeat(toStandbys: Bool) {
        for peer in configuration.members where peer != id && (toStandbys || !configuration.isStandby(peer)) {
            let match = progressByPeer[peer]?.match ?? 0
            let commit = min(match, log.committed)
            send(.heartbeat(commit: commit, readSequence: readSequence), to: peer)
            if let sent = progressByPeer[peer]?.sentCommit, sent < commit { progressByPeer[peer]?.sentCommit = commit }
        }
    }

    // MARK: Answers

    mutating func handleAppendResponse(_ response: AppendResponse, from peer: NodeID) {
        guard var progress = progressByPeer[peer] else { return }
        progress.ticksSinceContact = 0
        if response.blank {
            if !progress.isBlank {
                // The peer lost its state (or is new): what it acknowledged before is gone. Replicate to it
                // from what it says now (an acceptance is true of its current log) or from the start, and
                // count it nowhere until it is admitted.
                var fresh = PeerProgress(match: 0, next: 1)
                fresh.isBlank = true
                fresh.ticksSinceContact = 0
                if response.accepted, fresh.acknowledge(response.index) { fresh.becomeReplicate() }
                progressByPeer[peer] = fresh
                readAcks[peer] = nil
                sendAppend(to: peer, evenIfEmpty: true)
                considerAdmission(of: peer)
                return
            }
        } else {
            progress.isBlank = false
            progress.recentActive = true
        }
        if response.isBlankNotice {
            // The answer to a heartbeat: send what the replica lacks.
            progressByPeer[peer] = progress
            if progress.match < log.lastIndex { sendAppend(to: peer, evenIfEmpty: true) }
            considerAdmission(of: peer)
            return
        }
        if !response.accepted {
            var probeFrom = response.hint.index
            if response.hint.term > 0 {
                probeFrom = log.lastIndex(atOrBelow: response.hint.index, withTermAtMost: response.hint.term).index
            }
            if progress.rejected(response.index, probeFrom: probeFrom) {
                if progress.state == .replicate { progress.becomeProbe() }
                progressByPeer[peer] = progress
                sendAppend(to: peer, evenIfEmpty: true)
            } else {
                progressByPeer[peer] = progress
            }
            return
        }
        let wasPaused = progress.isPaused(window: settings.maxInflightAppends)
        let updated = progress.acknowledge(response.index)
        switch progress.state {
        case .probe:
            if updated || progress.match + 1 >= progress.next { progress.becomeReplicate() }
        case .snapshot(let index):
            if progress.match >= index || progress.match + 1 >= log.firstIndex {
                progress.becomeProbe()
                progress.becomeReplicate()
            }
        case .replicate:
            break
        }
        progressByPeer[peer] = progress
        if updated, maybeCommit() {
            broadcastAppend()
        } else if wasPaused {
            sendAppend(to: peer, evenIfEmpty: false)
        }
        // Keep the pipeline full, and tell the peer about a commit it has not heard of.
        while sendAppend(to: peer, evenIfEmpty: false) {}
        if let known = progressByPeer[peer], known.sentCommit < min(log.committed, known.match) {
            sendAppend(to: peer, evenIfEmpty: true)
        }
        if response.blank { considerAdmission(of: peer) }
        if updated, peer == transferee, progress.match == log.lastIndex {
            send(.timeoutNow, to: peer)
            // A leader that left the voters has handed over: it leaves now rather than wait to be told.
            if !configuration.isVoter(id), !hasPendingConfigurationChange { becomeFollower(term: term, leader: nil) }
        }
    }

    mutating func handleHeartbeatResponse(_ sequence: UInt64, from peer: NodeID) {
        guard var progress = progressByPeer[peer] else { return }
        // A blank replica answers heartbeats with a blank notice: a plain answer means it was admitted.
        progress.isBlank = false
        progress.recentActive = true
        progress.ticksSinceContact = 0
        progress.probeSent = false
        // An append may have been lost: make room so the next one can go (and reveal the gap).
        if progress.state == .replicate, progress.inflights.count >= settings.maxInflightAppends {
            progress.inflights.removeFirst()
        }
        progressByPeer[peer] = progress
        if progress.match < log.lastIndex {
            sendAppend(to: peer, evenIfEmpty: true)
        }
        acknowledgeRead(sequence, from: peer)
    }

    // MARK: Commit

    /// Advances the commit index to the highest index a majority of voters hold, if it is of this term
    /// (Raft §5.4.2: older entries commit only indirectly). Returns true when it moved.
    @discardableResult
    mutating func maybeCommit() -> Bool {
        let quorum = configuration.quorum
        guard quorum > 0 else { return false }
        let matches = configuration.voters.map { progressByPeer[$0]?.countedMatch ?? 0 }.sorted(by: >)
        let candidate = matches[quorum - 1]
        guard candidate > log.committed, log.term(at: candidate) == term else { return false }
        log.commit(to: candidate)
        commitAdvanced()
        return true
    }

    /// Work that waits for a commit of the leader's own term.
    mutating func commitAdvanced() {
        releaseReadsAwaitingCommit()
        for (peer, progress) in progressByPeer where progress.isBlank { considerAdmission(of: peer) }
        handOverIfNoLongerVoter()
    }

    // MARK: Blank replicas

    /// Starts admitting a blank replica once it holds every committed entry and this leader has committed an
    /// entry of its term (so every entry of an earlier term that may have been committed with the
    /// replica's forgotten acknowledgements is at or below the commit index): a heartbeat round that a
    /// quorum must confirm (as for a read), so that a deposed leader cannot admit a replica into a log the
    /// group has moved past. ``releaseConfirmedReads()`` sends the admission once confirmed.
    mutating func considerAdmission(of peer: NodeID) {
        guard state == .leader, admissions[peer] == nil, let progress = progressByPeer[peer], progress.isBlank,
              progress.match >= log.committed, log.term(at: log.committed) == term,
              let lastTerm = log.term(at: progress.match) else { return }
        readSequence += 1
        admissions[peer] = PendingAdmission(position: LogPosition(term: lastTerm, index: progress.match), sequence: readSequence)
        broadcastHeartbeat(toStandbys: false)
        releaseConfirmedReads()
    }

    /// On a blank replica: its leader admits it, holding the log through `position`.
    mutating func handleAdmission(through position: LogPosition) {
        guard isBlank else { return }
        // The leader checked the replica's match; a position it no longer holds (a reordered message after
        // a snapshot install or a truncation) is ignored, and the leader tries again.
        let holds = log.matches(position) || (position.index < log.snapshot.index && log.unstableSnapshot == nil)
        guard holds else { return }
        isBlank = false
    }
}
