import CohortCore
import RaftCore
import RaftPersistence
import Logging
import Mesh

/// Input from the mesh, and carrying out the core's `Ready`s.
extension RaftService {
    func receive(_ input: RaftInput) {
        guard phase == .running else { return }
        catchUpParkedTicks()
        defer { rearmTicks() }
        switch input {
        case .message(let inbound):
            guard !bootstrapping, let message = decode(inbound.payload, from: inbound.from) else { return }
            if case .snapshot = message.kind {
                // A snapshot without its data (it travels on `.raftSnapshot`) could never be installed.
                metrics?.countDropped(.malformed)
                return
            }
            node.step(message)
            noteContact(from: message.from)
        case .snapshot(let inbound):
            // A whole snapshot in one message (format version 2, from a leader of an earlier release).
            guard !bootstrapping, let (bytes, data) = SnapshotPayload.decode(inbound.payload) else {
                if !bootstrapping { metrics?.countDropped(.malformed) }
                return
            }
            deliverSnapshot(bytes, data: data, from: inbound.from)
        }
        driveSoon()
    }

    /// Has `driveLoop()` carry out the core's Readies unless it is doing so or about to: the caller (the
    /// input loop, the tick loop) goes straight back to stepping input into the core, so a Ready that waits
    /// for an fsync or a snapshot's restore does not hold up the heartbeats, acknowledgements and ticks
    /// behind it (the running `drive()` picks them up next round).
    func driveSoon() {
        guard phase == .running, !driving, !driveScheduled else { return }
        driveScheduled = true
        driveRequestSink.yield()
    }

    /// A core message from `peer`, or nil (counted) when it does not decode or is not addressed from that
    /// peer to this node: the mesh authenticated the peer, so a message claiming another sender is bogus.
    func decode(_ bytes: [UInt8], from peer: NodeID) -> Message? {
        let message: Message
        do {
            message = try codec.decode(bytes)
        } catch {
            metrics?.countDropped(.malformed)
            logger.debug("raft message dropped: does not decode", metadata: ["peer": "\(peer)", "error": "\(error)"])
            return nil
        }
        guard message.from == peer, message.to == settings.nodeID else {
            metrics?.countDropped(.misaddressed)
            logger.debug("raft message dropped: misaddressed", metadata: ["peer": "\(peer)", "message": "\(message)"])
            return nil
        }
        if let metrics {
            metrics.countIn(message.kind)
            if let (kind, duration) = rpcTimer.received(message, at: .now) { metrics.recordRoundTrip(kind, duration) }
        }
        return message
    }

    /// Has the drive loop carry out what a call on this actor just gave the core (a proposal, a read, a
    /// transfer, a snapshot's outcome), as `receive(_:)` does after a message. Not through the inbox: a
    /// proposal's wake-up neither waits behind peer messages nor is dropped when the inbox is full.
    func kick() {
        guard phase == .running else { return }
        catchUpParkedTicks()
        driveSoon()
        rearmTicks()
    }

    /// Carries out `Ready`s until the core has none, in the order docs/raft.md prescribes. Only one runs at a
    /// time; input arriving meanwhile is stepped into the core (allowed between `ready()` and `advance()`)
    /// and picked up by the next round of this loop.
    func drive() async {
        guard phase == .running, !driving else { return }
        driving = true
        defer { driving = false }
        while phase == .running, node.hasReady {
            let ready = node.ready()
            var snapshot: StoredSnapshot?
            if let metadata = ready.snapshot {
                guard let data = receivedSnapshots[metadata.index] else {
                    fail(.corrupt(path: "snapshot \(metadata.index)", reason: "the core installs a snapshot whose data never arrived"))
                    return
                }
                snapshot = StoredSnapshot(metadata: metadata, data: data)
            }
            // 1. What may leave before the fsync.
            transmit(ready.messages.filter { !$0.afterPersist })
            // Committed entries already durable here apply now, before this round's write: a leader's
            // commit only counts its own durable entries, so the reply to a proposal does not wait for
            // the commit index to be written (as etcd applies while its WAL saves). Not with a snapshot to
            // install first.
            var appliedEarly = 0
            if snapshot == nil {
                let durable = node.log.stableIndex
                appliedEarly = ready.committedEntries.prefix { $0.index <= durable }.count
                for entry in ready.committedEntries.prefix(appliedEarly) { apply(entry) }
            }
            // 2. Persist, off the event loop — except a commit index alone, which the storage writes here
            // when that is quick (no fsync; see `RaftStorage.persistCommitIfQuick`).
            var persisted = false
            if snapshot == nil, ready.entries.isEmpty, let hardState = ready.hardState {
                do {
                    persisted = try storage.persistCommitIfQuick(hardState)
                } catch {
                    fail(error)
                    return
                }
            }
            if !persisted, snapshot != nil || !ready.entries.isEmpty || ready.hardState != nil {
                let storage = storage, entries = ready.entries, hardState = ready.hardState, toStore = snapshot
                let start = ContinuousClock.now
                do {
                    try await offLoop { () throws(RaftStorageError) in try storage.persist(snapshot: toStore, entries: entries, hardState: hardState) }
                } catch {
                    fail(error)
                    return
                }
                metrics?.fsync.record(ContinuousClock.now - start)
            }
            guard phase == .running else { return }
            // 3. What vouches for the durable state.
            transmit(ready.messages.filter(\.afterPersist))
            // 4. Install the snapshot (restored off the event loop; nothing applies meanwhile), apply
            // committed entries.
            if let snapshot {
                do {
                    try await install(snapshot)
                } catch {
                    fail(error)
                    return
                }
                guard phase == .running else { return }
            }
            for entry in ready.committedEntries.dropFirst(appliedEarly) { apply(entry) }
            // 5. Reads.
            for state in ready.readStates {
                reads[state.context]?.index = state.index
            }
            for context in ready.droppedReads {
                reads.removeValue(forKey: context)?.continuation.resume(returning: .failure(.leadershipLost))
            }
            releaseReads()
            report(ready.softState, admitted: ready.admitted)
            // 6. Acknowledge.
            node.advance()
            observe()
            startSnapshotIfNeeded()
            rearmTicks()
        }
    }

    /// Sends core messages: snapshots streamed in chunks on `.raftSnapshot` (bulk, see
    /// `RaftService+Snapshots.swift`), the rest on `.raft`.
    func transmit(_ messages: [OutgoingMessage]) {
        let now = ContinuousClock.now
        for outgoing in messages {
            let message = outgoing.message
            metrics?.countOut(message.kind)
            if metrics != nil { rpcTimer.sent(message, at: now) }
            if case .snapshot(let metadata) = message.kind {
                sendSnapshot(message, metadata)
                continue
            }
            if case .dropped = mesh.send(codec.encode(message), to: message.to, endpoint: .raft, class: .raft) {
                metrics?.countDropped(.sendFailed)
            }
        }
    }

    /// Restores the state machine from `snapshot` on the thread pool, then takes it as this node's
    /// snapshot. A large snapshot takes seconds to decode: meanwhile the event loop stays free (it is the
    /// mesh's: every connection of this node, the ticks, calls into the actor), while `drive()` waits
    /// here, so no entry after the snapshot is applied before it is installed.
    private func install(_ snapshot: StoredSnapshot) async throws(RaftServiceError) {
        let started = ContinuousClock.now
        try await restoreStateMachine(from: snapshot)
        // The service may have stopped during the restore: then nothing more is done.
        guard phase == .running else { return }
        currentSnapshot = hold(snapshot, saved: true)
        appliedBytesSinceSnapshot = 0
        let index = snapshot.metadata.index
        receivedSnapshots = receivedSnapshots.filter { $0.key > index }
        appliedIndex = max(appliedIndex, index)
        // Whatever this node proposed up to there is applied or lost inside the snapshot: unknown which.
        for (waiting, waiter) in proposals where waiting <= index {
            proposals[waiting] = nil
            waiter.answer(.failure(.outcomeUnknown(index: waiting)))
        }
        metrics?.snapshotsInstalled.increment()
        logger.info("raft snapshot installed", metadata: [
            "raft.snapshot_index": "\(index)", "raft.term": "\(node.term)", "bytes": "\(snapshot.data.count)",
            "restore_ms": "\(Int((ContinuousClock.now - started) / .milliseconds(1)))",
        ])
    }

    /// Hands `snapshot`'s data to ``RaftStateMachine/restore(_:)`` on the thread pool, never on the event
    /// loop. Throws ``RaftServiceError/storage(_:)`` (`corrupt`, naming the snapshot) when the state
    /// machine refuses the data, or ``RaftServiceError/stopped`` when the thread pool no longer runs.
    func restoreStateMachine(from snapshot: StoredSnapshot) async throws(RaftServiceError) {
        let stateMachine = stateMachine, data = snapshot.data
        let outcome = try await offLoop { () throws(RaftStorageError) -> Result<Void, any Error> in
            Result { try stateMachine.restore(data) }
        }
        if case .failure(let error) = outcome {
            throw .storage(.corrupt(path: "snapshot \(snapshot.metadata.index)", reason: "the state machine cannot restore it: \(error)"))
        }
    }

    private func apply(_ entry: LogEntry) {
        guard entry.index > appliedIndex else { return }
        var result: [UInt8] = []
        leading.store(node.state == .leader, ordering: .relaxed)
        if case .command = entry.payload { result = stateMachine.apply(entry) }
        appliedIndex = entry.index
        appliedBytesSinceSnapshot += entry.byteCount
        guard let waiter = proposals.removeValue(forKey: entry.index) else { return }
        if waiter.term == entry.term {
            waiter.answer(.success((entry.index, result)))
        } else {
            waiter.answer(.failure(.dropped(index: entry.index)))
        }
    }

    /// Answers every read whose index the state machine has reached.
    private func releaseReads() {
        for (context, waiter) in reads {
            guard let index = waiter.index, index <= appliedIndex else { continue }
            reads[context] = nil
            waiter.continuation.resume(returning: .success(index))
        }
    }

    /// Starts a snapshot once enough entries were applied since the last one: the state machine's state
    /// is captured now (at the applied index, the only index it can cover), then serialized, the log
    /// compacted and the snapshot saved in a task of its own, so `drive()` goes on carrying out Readies
    /// (heartbeats included) while a large state is written. While an applied entry is not durable in the
    /// log again (a new leader's append replaced a suffix during the write), the snapshot waits for a
    /// later round. One at a time.
    ///
    /// Besides `snapshotThreshold` entries, a snapshot waits until the entries applied since the last one
    /// add up to half its size: a large state is not rewritten whole every few thousand small writes (at
    /// 1 M keys, about 100 MB every 8,192 puts), so writing snapshots costs at most about twice the bytes
    /// written to the log, and the log kept in memory meanwhile is at most about half the state.
    private func startSnapshotIfNeeded() {
        let applied = node.appliedIndex
        let latest = node.log.latestSnapshot.index
        guard !isTakingSnapshot, applied > latest, applied - latest >= UInt64(max(1, settings.snapshotThreshold)),
              appliedBytesSinceSnapshot >= (currentSnapshot?.size ?? 0) / 2,
              node.compactableIndex == applied else { return }
        isTakingSnapshot = true
        appliedBytesSinceSnapshot = 0
        let capture = stateMachine.snapshot()
        snapshotTask = Task {
            await self.takeSnapshot(capture, at: applied)
            self.isTakingSnapshot = false
        }
    }

    /// Serializes `capture` on the thread pool, compacts the log through `applied` and saves the snapshot
    /// (off the event loop). Entries keep applying meanwhile.
    private func takeSnapshot(_ capture: @escaping @Sendable () -> [UInt8], at applied: LogIndex) async {
        let started = ContinuousClock.now
        let data: [UInt8]
        do {
            data = try await offLoop { () throws(RaftStorageError) in capture() }
        } catch {
            fail(error)
            return
        }
        let serialized = ContinuousClock.now
        // A snapshot from the leader may have been installed meanwhile, or (rarely) the captured index may
        // not be durable in the log any more: then this one is not needed, or not yet allowed.
        guard phase == .running, node.log.latestSnapshot.index < applied, node.compactableIndex >= applied else { return }
        node.compact(through: applied, keepingTrailing: LogIndex(max(0, settings.trailingLogs)))
        let snapshot = StoredSnapshot(metadata: node.log.latestSnapshot, data: data)
        currentSnapshot = hold(snapshot, saved: false)
        let storage = storage
        // Saved while later Readies persist: `FileRaftStorage` takes one call at a time, and the snapshot
        // covers only entries durable in the log already (`compactableIndex`).
        do {
            let keepingAfter = node.log.snapshot.index
            try await offLoop { () throws(RaftStorageError) in try storage.saveSnapshot(snapshot, keepingEntriesAfter: keepingAfter) }
        } catch {
            fail(error)
            return
        }
        // Saved: from now on its data is read from the file when a follower needs it.
        if let held = currentSnapshot, held.metadata == snapshot.metadata { currentSnapshot = hold(snapshot, saved: true) }
        metrics?.snapshotsTaken.increment()
        let saved = ContinuousClock.now
        logger.info("raft snapshot taken", metadata: [
            "raft.snapshot_index": "\(applied)", "bytes": "\(data.count)",
            "serialize_ms": "\(Int((serialized - started) / .milliseconds(1)))", "save_ms": "\(Int((saved - serialized) / .milliseconds(1)))",
        ])
    }

    /// Storage failed: nothing can continue safely. Fails every waiter; `run()` ends with the error.
    func fail(_ error: RaftStorageError) {
        fail(.storage(error))
    }

    /// The service cannot go on (storage failed, or the thread pool stopped under it): fails every waiter;
    /// `run()` ends with the error.
    func fail(_ error: RaftServiceError) {
        logger.critical("raft stopping after a failure", metadata: ["error": "\(error)"])
        failure = error
        failAllWaiters(error)
        cancelOutgoingSnapshots()
        phase = .stopped
        inputSink.finish()
    }

    /// Fails every waiter with `error`, except that a proposal already appended may still commit (through
    /// another leader, or this one's log after a restart): it learns that its outcome is unknown, never
    /// that "nothing was written".
    func failAllWaiters(_ error: RaftServiceError) {
        let proposals = proposals, reads = reads
        self.proposals = [:]
        self.reads = [:]
        for (index, waiter) in proposals {
            waiter.answer(.failure(error == .stopped ? .outcomeUnknown(index: index) : error))
        }
        for waiter in reads.values { waiter.continuation.resume(returning: .failure(error)) }
    }

    /// Times out waiters whose deadline passed (checked once per tick).
    func expireWaiters(now: ContinuousClock.Instant) {
        for (index, waiter) in proposals where waiter.deadline <= now {
            proposals[index] = nil
            // It is in a leader's log: it may still commit.
            waiter.answer(.failure(.timeout(maybeCommitted: true)))
        }
        for (context, waiter) in reads where waiter.deadline <= now {
            reads[context] = nil
            node.abandonRead(context: context)
            waiter.continuation.resume(returning: .failure(.timeout(maybeCommitted: false)))
        }
    }

    /// Updates the gauges and notes leadership changes.
    /// Counts and logs what the core reported changing: a new leader, this replica's admission.
    func report(_ softState: SoftState?, admitted: Bool) {
        if softState != nil, node.state != .leader { cancelOutgoingSnapshots() }
        if let softState, let leader = softState.leader {
            metrics?.leaderChanges.increment()
            logger.info("raft leader changed", metadata: ["raft.term": "\(node.term)", "raft.leader": "\(leader)"])
        }
        if admitted {
            logger.info("raft replica admitted by its leader: it votes and counts from now on", metadata: ["raft.term": "\(node.term)"])
        }
    }

    func observe() {
        leading.store(node.state == .leader, ordering: .relaxed)
        if node.state == .leader { leaderContact.withLock { $0 = .now } }
        publishStatus()
        guard let metrics else { return }
        metrics.setState(Self.state(of: node.state))
        metrics.term.set(Int64(clamping: node.term))
        metrics.commitIndex.set(Int64(clamping: node.commitIndex))
        metrics.appliedIndex.set(Int64(clamping: appliedIndex))
        metrics.lastLogIndex.set(Int64(clamping: node.lastIndex))
        metrics.logMemoryBytes.set(Int64(clamping: node.log.memoryBytes))
        metrics.voters.set(Int64(node.voters.count))
        metrics.nonVoters.set(Int64(node.standbys.count))
    }

    static func state(of role: RaftNodeState) -> RaftStatus.State {
        switch role {
        case .follower: .follower
        case .preCandidate, .candidate: .candidate
        case .leader: .leader
        }
    }
}
