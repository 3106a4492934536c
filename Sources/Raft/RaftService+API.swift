import CohortCore
import RaftCore
import RaftPersistence
import Logging
import Mesh

/// The public API: proposals (forwarded from followers), linearizable reads, status, configuration changes,
/// leadership transfer and bootstrap.
extension RaftService {
    /// Replicates `command` and returns its log index and the state machine's result once it is committed
    /// and applied **on the leader**. On the leader that is this node. On a follower or client the
    /// proposal is forwarded (at most ``RaftServiceSettings/maxForwardHops`` times) and the leader's
    /// answer is returned: this node may apply the entry a little later, so a read here that must see
    /// the write goes through ``linearizableRead(timeout:)`` (which waits until this node has applied
    /// at least that far).
    ///
    /// Never retried behind the caller's back: a failure says whether the write may have committed (see
    /// ``RaftServiceError``).
    ///
    /// Nonisolated: the proposal steps into the core on the service's event loop, and the caller resumes
    /// on its own executor when the entry applies, without passing through the actor (or Swift's pool) on
    /// the way back. A proposal that goes to the leader is forwarded from the caller's task, as before.
    public nonisolated func propose(_ command: [UInt8], timeout: Duration) async throws(RaftServiceError) -> (index: LogIndex, result: [UInt8]) {
        let hopsLeft = settings.maxForwardHops
        let start = await withCheckedContinuation { continuation in
            executor.eventLoop.execute {
                self.assumeIsolated { service in service.beginProposal(command, timeout: timeout, hopsLeft: hopsLeft, continuation) }
            }
        }
        return try await finish(start, command, timeout: timeout, hopsLeft: hopsLeft)
    }

    func propose(_ command: [UInt8], timeout: Duration, hopsLeft: Int) async throws(RaftServiceError) -> (index: LogIndex, result: [UInt8]) {
        let start = await withCheckedContinuation { continuation in
            beginProposal(command, timeout: timeout, hopsLeft: hopsLeft, continuation)
        }
        return try await finish(start, command, timeout: timeout, hopsLeft: hopsLeft)
    }

    /// Appends `command` when this node leads (stamped with its clock) and has `continuation` answered once
    /// it applies; otherwise answers at once where the caller must send it, or why it cannot go anywhere now.
    private func beginProposal(_ command: [UInt8], timeout: Duration, hopsLeft: Int, _ continuation: CheckedContinuation<ProposalStart, Never>) {
        guard phase == .running else { return continuation.resume(returning: .answered(.failure(.stopped))) }
        let index: LogIndex
        do {
            var command = command
            // Only the leader's clock goes into the log (a follower forwards the command unstamped).
            if node.state == .leader, let stamp = settings.stampProposal { stamp(&command) }
            index = try node.propose(command)
        } catch {
            let refusal: RaftServiceError
            switch error {
            case .notLeader(let leader):
                if leader == nil, node.memberRole == nil { return continuation.resume(returning: .outside) }
                guard let target = leader, target != settings.nodeID else { refusal = .noLeader; break }
                guard hopsLeft > 0 else { refusal = .notLeader(leader: target); break }
                // A follower heard its leader over the mesh; with that connection gone the leader has likely
                // failed, and a forward would only wait out its timeout for a reconnect that may never come.
                // Fail at once ("nothing was written"): the caller retries, and finds the next leader.
                guard mesh.isConnected(to: target) else {
                    refusal = .forwardFailed(leader: target, cause: .noConnection, maybeCommitted: false)
                    break
                }
                return continuation.resume(returning: .forward(to: target))
            case .transferInProgress(let transferee):
                refusal = .transferInProgress(transferee: transferee)
            default:
                refusal = .proposalRefused(error)
            }
            return continuation.resume(returning: .answered(.failure(refusal)))
        }
        awaitApply(index: index, timeout: timeout, continuation)
    }

    /// The answer of a proposal begun on the loop: as it came, or from the leader it is forwarded to.
    private nonisolated func finish(
        _ start: ProposalStart, _ command: [UInt8], timeout: Duration, hopsLeft: Int
    ) async throws(RaftServiceError) -> (index: LogIndex, result: [UInt8]) {
        switch start {
        case .answered(let outcome): return try outcome.get()
        case .forward(let leader): return try await forward(command, to: leader, timeout: timeout, hopsLeft: hopsLeft - 1)
        case .outside: return try await forwardFromOutside(command, timeout: timeout, hopsLeft: hopsLeft)
        }
    }

    /// A node outside the configuration (a client) knows no leader: it hands the proposal to the Raft
    /// members in routing order, moving on from one that knows no leader either, is stopping, or cannot be
    /// reached — nothing was written there — to the next (at most ``maxOutsideCandidates``), so one member that
    /// restarts or lags does not fail every client's writes. (A member without a leader is in an election:
    /// waiting is better than bouncing the write around, so members never do this.)
    private func forwardFromOutside(
        _ command: [UInt8], timeout: Duration, hopsLeft: Int
    ) async throws(RaftServiceError) -> (index: LogIndex, result: [UInt8]) {
        let candidates = (forwardingCandidates?() ?? []).filter { $0 != settings.nodeID }.prefix(Self.maxOutsideCandidates)
        guard hopsLeft > 0, !candidates.isEmpty else { throw .noLeader }
        let deadline = ContinuousClock.now + timeout
        var last = RaftServiceError.noLeader
        for target in candidates {
            let remaining = ContinuousClock.now.duration(to: deadline)
            guard remaining > .zero else { break }
            do {
                return try await forward(command, to: target, timeout: remaining, hopsLeft: hopsLeft - 1)
            } catch {
                switch error {
                // `.stopped` before anything was proposed there (a member shutting down; a proposal it had
                // appended answers `.outcomeUnknown`).
                case .noLeader, .stopped, .forwardFailed(_, _, maybeCommitted: false): last = error
                default: throw error
                }
            }
        }
        throw last
    }

    /// How many members a client tries for one proposal.
    static let maxOutsideCandidates = 3

    /// Has `continuation` answered once the entry this leader appended at `index` in its current term is
    /// applied here (or lost, or late).
    private func awaitApply(index: LogIndex, timeout: Duration, _ continuation: CheckedContinuation<ProposalStart, Never>) {
        let waiter = ProposalWaiter(term: node.term, deadline: ContinuousClock.now + timeout, continuation: continuation)
        // A leader appends at `index` only after its log lost whatever was there before: an earlier
        // proposal of this node at that index was never committed (leader completeness).
        proposals.updateValue(waiter, forKey: index)?.answer(.failure(.dropped(index: index)))
        kick()
    }

    /// Sends the proposal to `leader` as a request and maps every failure to whether it may have committed.
    private func forward(
        _ command: [UInt8], to leader: NodeID, timeout: Duration, hopsLeft: Int
    ) async throws(RaftServiceError) -> (index: LogIndex, result: [UInt8]) {
        let request = ForwardedProposal(hopsLeft: hopsLeft, timeout: timeout, command: command).encode()
        let start = ContinuousClock.now
        metrics?.countForward(in: false)
        let reply: [UInt8]
        do {
            reply = try await mesh.request(request, to: leader, endpoint: .raft, class: .raft, timeout: timeout)
        } catch let error as MeshError {
            switch error {
            case .timeout: throw .timeout(maybeCommitted: true)
            case .unknownPeer, .dropped, .tooLarge, .noHandler, .overloaded, .invalidSettings, .bindFailed:
                // Refused before the leader could see it.
                throw .forwardFailed(leader: leader, cause: .mesh(error), maybeCommitted: false)
            case .stopped, .peerRemoved, .connectionLost, .remote:
                throw .forwardFailed(leader: leader, cause: .mesh(error), maybeCommitted: true)
            }
        } catch {
            // Cancelled while waiting: the caller is going away, and the leader may have the write.
            throw .forwardFailed(leader: leader, cause: .mesh(.stopped), maybeCommitted: true)
        }
        metrics?.forwardDuration.record(ContinuousClock.now - start)
        guard let outcome = ForwardReply.decode(reply, leader: leader) else {
            throw .forwardFailed(leader: leader, cause: .malformedReply, maybeCommitted: true)
        }
        return try outcome.get()
    }

    /// A proposal forwarded by a follower: propose it here (or forward once more) and answer.
    func handleForwarded(_ inbound: MeshInbound) async -> [UInt8] {
        guard let request = ForwardedProposal.decode(inbound.payload) else {
            metrics?.countDropped(.malformed)
            return ForwardReply.encode(.failure(.malformedRequest))
        }
        metrics?.countForward(in: true)
        do {
            let value = try await propose(request.command, timeout: request.timeout, hopsLeft: request.hopsLeft)
            return ForwardReply.encode(.success(value))
        } catch {
            return ForwardReply.encode(.failure(error))
        }
    }

    /// A linearizable read (ReadIndex): returns the index this node's state machine has applied through
    /// once reading it is linearizable, i.e. once the leader confirmed its leadership with a quorum and
    /// this node applied up to the leader's commit index at the time of the request. Works on any voter or
    /// standby that knows a leader.
    ///
    /// Nonisolated for the same reason as ``propose(_:timeout:)``: the caller resumes on its own executor.
    public nonisolated func linearizableRead(timeout: Duration) async throws(RaftServiceError) -> LogIndex {
        let outcome = await withCheckedContinuation { continuation in
            executor.eventLoop.execute {
                self.assumeIsolated { service in service.beginRead(timeout: timeout, continuation) }
            }
        }
        return try outcome.get()
    }

    private func beginRead(timeout: Duration, _ continuation: CheckedContinuation<Result<LogIndex, RaftServiceError>, Never>) {
        guard phase == .running else { return continuation.resume(returning: .failure(.stopped)) }
        let context = readContexts.take()
        do {
            try node.readIndex(context: context)
        } catch {
            return continuation.resume(returning: .failure(.noLeader))
        }
        reads[context] = ReadWaiter(index: nil, deadline: ContinuousClock.now + timeout, continuation: continuation)
        kick()
    }

    /// What this node is doing now.
    public var status: RaftStatus {
        let role: RaftStatus.Membership = switch node.memberRole {
        case .voter: .voter
        case .standby: .standby
        case nil: .client
        }
        return RaftStatus(
            state: phase == .running ? Self.state(of: node.state) : .none,
            term: node.term, leader: phase == .running ? node.leader : nil, commitIndex: node.commitIndex,
            appliedIndex: appliedIndex, lastLogIndex: node.lastIndex, role: role, voters: node.voters, standbys: node.standbys
        )
    }

    /// Proposes one single-server configuration change on the leader and returns its index once applied
    /// here (the change is in force on each node as soon as it appends it).
    ///
    /// - Throws: ``RaftServiceError/notLeader(leader:)`` or ``RaftServiceError/noLeader`` on a follower
    ///   (changes are not forwarded), ``RaftServiceError/proposalRefused(_:)`` with the core's reason,
    ///   ``RaftServiceError/timeout(maybeCommitted:)``.
    @discardableResult
    public func changeConfiguration(_ change: ConfigurationChange, timeout: Duration = .seconds(10)) async throws(RaftServiceError) -> LogIndex {
        guard phase == .running else { throw .stopped }
        let index: LogIndex
        do {
            index = try node.proposeConfigurationChange(change)
        } catch {
            switch error {
            case .notLeader(let leader): throw leader.map { .notLeader(leader: $0) } ?? .noLeader
            case .transferInProgress(let transferee): throw .transferInProgress(transferee: transferee)
            default: throw .proposalRefused(error)
            }
        }
        logger.info("raft configuration change proposed", metadata: ["change": "\(change)", "raft.index": "\(index)"])
        let start = await withCheckedContinuation { continuation in awaitApply(index: index, timeout: timeout, continuation) }
        guard case .answered(let outcome) = start else { preconditionFailure("an appended change is answered here") }
        return try outcome.get().index
    }

    /// Starts handing leadership to `target`, a voter; returns at once. Watch ``status`` for the outcome
    /// (the transfer is abandoned after an election timeout).
    public func transferLeadership(to target: NodeID) throws(RaftServiceError) {
        guard phase == .running else { throw .stopped }
        do {
            try node.transferLeadership(to: target)
        } catch {
            throw .transferRefused(error)
        }
        kick()
    }

    /// Forms a new group with `voters` (which must include this node) from empty storage: writes term 1
    /// and the founding configuration entry. Every founder must be given the same set. Call it before
    /// `run()` or once `run()` has started (a call while `run()` loads the storage waits for what it
    /// finds); a node with any Raft state refuses (``RaftServiceError/alreadyBootstrapped``), so a group is
    /// bootstrapped at most once.
    public func bootstrap(voters: [NodeID]) async throws(RaftServiceError) {
        let configuration = Configuration(voters: voters)
        guard configuration.isVoter(settings.nodeID) else { throw .notInVoters(settings.nodeID) }
        // Refusing here would say "already bootstrapped" of a node that may well be blank.
        while phase == .loading {
            await withCheckedContinuation { loadingWaiters.append($0) }
        }
        guard phase == .idle || phase == .running, !bootstrapping, !driving, Self.isPristine(node) else {
            throw .alreadyBootstrapped
        }
        bootstrapping = true
        defer {
            bootstrapping = false
            for waiter in bootstrapWaiters { waiter.resume() }
            bootstrapWaiters = []
        }
        let storage = storage
        let founding = LogStorage.bootstrap(configuration)
        let written = try await offLoop { () throws(RaftStorageError) -> Bool in
            let current = try storage.load()
            guard current.hardState.term == 0, current.entries.isEmpty, current.snapshot.index == 0 else { return false }
            try storage.persist(snapshot: nil, entries: founding.entries, hardState: founding.hardState)
            return true
        }
        guard written else { throw .alreadyBootstrapped }
        if phase == .running {
            node = makeNode(founding)
            observe()
            // A founding voter campaigns: its parked tick loop (it had no configuration) wakes, with no
            // ticks to catch up for the new core.
            if ticksParkedSince != nil { ticksParkedSince = .now }
            rearmTicks()
        }
        logger.info("raft group bootstrapped", metadata: ["raft.voters": "\(configuration.voters.map(\.rawValue))"])
    }

    private static func isPristine(_ node: RaftNode) -> Bool {
        node.term == 0 && node.lastIndex == 0 && node.log.snapshot.index == 0 && node.vote == nil
    }
}
