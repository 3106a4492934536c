import CohortCore
import RaftCore
import RaftPersistence
import Logging
import Mesh
import NIOCore
import NIOPosix
import NIOSupport
import Prometheus
import ServiceLifecycle
import Synchronization

/// The Raft shell: owns one ``RaftNode`` core, ticks it, feeds it messages from the mesh and carries out
/// every `Ready` exactly as `docs/raft.md` orders it — send what may go at once, persist through
/// ``RaftStorage`` off the event loop (timed into `raft_fsync_seconds`), send what had to wait for the
/// fsync, install snapshots and apply committed entries to the ``RaftStateMachine``, answer reads, then
/// `advance()`.
///
/// Core messages travel on the mesh's `.raft` endpoint in the `raft` class (``MessageCodec``); snapshots
/// as a stream of resumable chunk requests on `.raftSnapshot` in the `bulk` class; proposals made on a follower are
/// forwarded to the leader as `.raft` requests with a hop limit and never retried blindly.
///
/// `run()` loads the storage, restores the state machine from the newest snapshot and serves until
/// graceful shutdown — a leader then hands leadership to its most caught-up voter (bounded by
/// ``RaftServiceSettings/shutdownTransferTimeout``) — or cancellation, which stops at once like a crash.
/// The actor and its loops run on one NIO event loop; storage calls run on `NIOThreadPool.singleton`.
public actor RaftService: Service {
    nonisolated let settings: RaftServiceSettings
    nonisolated let storage: any RaftStorage
    nonisolated let mesh: MeshService
    nonisolated let stateMachine: any RaftStateMachine
    nonisolated let logger: Logger
    nonisolated let metrics: RaftMetrics?
    nonisolated let executor: EventLoopTaskExecutor
    nonisolated let codec = MessageCodec()
    nonisolated let inputs: AsyncStream<RaftInput>
    nonisolated let inputSink: AsyncStream<RaftInput>.Continuation
    /// Inputs in the inbox not yet taken by `inputLoop()`: while any wait, a new one queues behind them.
    nonisolated let queuedInputs = Atomic<Int>(0)
    /// Wakes `driveLoop()` (see `driveSoon()`): one pending request at most.
    nonisolated let driveRequests: AsyncStream<Void>
    nonisolated let driveRequestSink: AsyncStream<Void>.Continuation

    enum Phase { case idle, loading, running, stopped }

    var phase = Phase.idle
    var node: RaftNode
    /// True while a `Ready` is being carried out (only one at a time).
    var driving = false
    /// While the tick loop is parked (see ``tickPark(from:)``): the instant its next missed tick counts
    /// from. Nil while it ticks.
    var ticksParkedSince: ContinuousClock.Instant?
    /// What the parked tick loop waits for.
    var ticksParkedUntil: TickPark?
    /// Wakes the parked tick loop.
    nonisolated let tickBell = Doorbell()
    /// The parked tick loop's deadline; it rings ``tickBell`` (see `tickLoop()`).
    var parkTimer: LoopTimer?
    /// How many times the parked tick loop woke (the tests count a follower's).
    var parkedWakeUps = 0
    /// A task that will call `drive()` is queued (see `driveSoon()`).
    var driveScheduled = false
    /// True while `bootstrap(voters:)` writes the founding state; incoming messages are dropped meanwhile.
    var bootstrapping = false
    /// `run()` waiting for a bootstrap made before it to finish writing.
    var bootstrapWaiters: [CheckedContinuation<Void, Never>] = []
    /// A bootstrap waiting for `run()` to finish loading the storage (see `finishLoading(as:)`).
    var loadingWaiters: [CheckedContinuation<Void, Never>] = []
    /// The newest snapshot, as stored: what a leader ships to a follower that needs it (its data only while
    /// storage cannot read it back in parts, or until it is saved; see ``HeldSnapshot``).
    var currentSnapshot: HeldSnapshot?
    /// A snapshot is being serialized off the event loop: no second one starts meanwhile.
    var isTakingSnapshot = false
    /// Bytes of the entries applied since the last snapshot was captured or installed (`LogEntry.byteCount`):
    /// the next snapshot waits until they add up to half the last one's size.
    var appliedBytesSinceSnapshot = 0
    /// The snapshot being taken, if any: `run()` waits for it before it stops, so a save is never cut off
    /// by the service's own end.
    var snapshotTask: Task<Void, Never>?
    /// Snapshot data received from a leader, by the index of the snapshot, until the core installs it.
    var receivedSnapshots: [LogIndex: [UInt8]] = [:]
    /// Snapshots being received in chunks, one per sender.
    var snapshotAssembly: SnapshotAssembly
    /// Snapshots being streamed to followers, by peer.
    var outgoingSnapshots: [NodeID: OutgoingSnapshot] = [:]
    var nextOutgoingSnapshot: UInt64 = 0
    /// The checksum of the stored snapshot's data, once computed.
    var snapshotChecksum: (snapshot: SnapshotIdentity, checksum: UInt32)?
    /// The highest index the state machine applied.
    var appliedIndex: LogIndex = 0
    var proposals: [LogIndex: ProposalWaiter] = [:]
    var reads: [ReadContext: ReadWaiter] = [:]
    /// Contexts of this boot's linearizable reads, unique across restarts.
    var readContexts: ReadContextSequence
    var failure: RaftServiceError?
    /// When this node last heard from the leader of its term (or led itself): the liveness check's input,
    /// kept where a health check can read it without hopping to the actor.
    nonisolated let leaderContact = Mutex<ContinuousClock.Instant?>(nil)
    /// Whether this node leads: set before each entry is applied and after each Ready, so that the state
    /// machine (and what it calls) can ask while it applies without hopping to the actor.
    nonisolated let leading = Atomic<Bool>(false)
    /// Subscribers of ``statusUpdates()``, by subscription number.
    var statusWatchers: [Int: AsyncStream<RaftStatus>.Continuation] = [:]
    var nextStatusWatcher = 0
    /// The status last published to the watchers.
    var publishedStatus: RaftStatus?
    /// Where a proposal goes when no leader is known (a client node, or a follower during an election):
    /// Raft members in the routing order, best first.
    var forwardingCandidates: (@Sendable () -> [NodeID])?
    /// Round trips of requests to peers, for `raft_rpc_duration_seconds`.
    var rpcTimer = RPCTimer()

    struct ProposalWaiter {
        var term: Term
        var deadline: ContinuousClock.Instant
        var continuation: CheckedContinuation<ProposalStart, Never>

        /// Answers the proposal.
        func answer(_ outcome: Result<(index: LogIndex, result: [UInt8]), RaftServiceError>) {
            continuation.resume(returning: .answered(outcome))
        }
    }

    /// What a proposal stepped in on the event loop comes back with: its answer (it was appended here and
    /// applied, or refused), or where the caller must send it.
    enum ProposalStart {
        case answered(Result<(index: LogIndex, result: [UInt8]), RaftServiceError>)
        case forward(to: NodeID)
        case outside
    }

    struct ReadWaiter {
        /// Set once the core answered with the index to wait for.
        var index: LogIndex?
        var deadline: ContinuousClock.Instant
        var continuation: CheckedContinuation<Result<LogIndex, RaftServiceError>, Never>
    }

    /// Creates the service and registers its mesh handlers (`.raft` messages and requests, `.raftSnapshot`
    /// requests — chunks — and messages — whole snapshots from an earlier release); nothing runs until `run()`.
    ///
    /// - Parameters:
    ///   - settings: Identity, core tuning and timing.
    ///   - storage: Durable Raft state; its calls may block and are made off the event loop.
    ///   - mesh: The internode mesh the node's peers are reachable on (membership feeds it separately).
    ///   - stateMachine: The replicated application.
    ///   - logger: One line per leadership change, snapshot and problem.
    ///   - metrics: Where the `raft_*` metrics are registered; nil records none.
    public init(
        settings: RaftServiceSettings, storage: any RaftStorage, mesh: MeshService, stateMachine: any RaftStateMachine,
        logger: Logger, metrics: PrometheusCollectorRegistry? = nil
    ) {
        var settings = settings
        if settings.raft.randomSeed == 0 { settings.raft.randomSeed = UInt64.random(in: 1...UInt64.max) }
        self.settings = settings
        self.storage = storage
        self.mesh = mesh
        self.stateMachine = stateMachine
        var logger = logger
        logger[metadataKey: "raft.node"] = "\(settings.nodeID)"
        self.logger = logger
        let metrics = metrics.map { RaftMetrics(registry: $0) }
        self.metrics = metrics
        // The mesh's own loop: a Raft message and its answer are handed between the connection and the
        // actor without waking another thread (an idle leader's heartbeat rounds are most of its work).
        executor = EventLoopTaskExecutor(eventLoop: mesh.eventLoop)
        node = RaftNode(id: settings.nodeID, settings: settings.raft, storage: .empty)
        // A random incarnation still keeps this boot's contexts apart from another boot's (2⁴³ ranges).
        snapshotAssembly = SnapshotAssembly(idleTimeout: settings.snapshotTransferIdleTimeout)
        readContexts = ReadContextSequence(incarnation: settings.incarnation != 0 ? settings.incarnation : UInt64.random(in: 1...(1 << 43)))
        (inputs, inputSink) = AsyncStream.makeStream(of: RaftInput.self, bufferingPolicy: .bufferingOldest(settings.inboxCapacity))
        (driveRequests, driveRequestSink) = AsyncStream.makeStream(of: Void.self, bufferingPolicy: .bufferingNewest(1))
        metrics?.setState(.none)
        mesh.setMessageHandler(for: .raft) { [weak self] inbound in
            self?.deliver(.message(inbound))
        }
        mesh.setMessageHandler(for: .raftSnapshot) { [weak self] inbound in
            self?.deliver(.snapshot(inbound))
        }
        mesh.setRequestHandler(for: .raftSnapshot) { [weak self] inbound in
            guard let self else { throw RaftServiceError.stopped }
            return try await self.receiveSnapshotChunk(inbound)
        }
        mesh.setRequestHandler(for: .raft) { [weak self] inbound in
            guard let self else { return ForwardReply.encode(.failure(.stopped)) }
            return await self.handleForwarded(inbound)
        }
    }

    /// The actor runs on the service's event loop (see ``EventLoopTaskExecutor``).
    public nonisolated var unownedExecutor: UnownedSerialExecutor {
        executor.eventLoop.executor.asUnownedSerialExecutor()
    }

    // MARK: Lifecycle

    /// Loads the storage, restores the state machine and serves until graceful shutdown (a leader hands
    /// over leadership first) or cancellation (stops at once). Throws ``RaftServiceError/storage(_:)`` when
    /// storage fails, then or later.
    public func run() async throws {
        guard phase == .idle else { throw RaftServiceError.alreadyStarted }
        phase = .loading
        if bootstrapping {
            // Load what the bootstrap is writing, not what was there before it.
            await withCheckedContinuation { bootstrapWaiters.append($0) }
        }
        let storage = storage
        let loaded: (LogStorage, StoredSnapshot?)
        do {
            loaded = try await offLoop { () throws(RaftStorageError) in (try storage.load(), try storage.latestSnapshot()) }
        } catch {
            finishLoading(as: .stopped)
            throw error
        }
        let (state, snapshot) = loaded
        if let snapshot {
            // On the thread pool, as a leader's snapshot is: the event loop is the mesh's, serving already.
            do {
                try await restoreStateMachine(from: snapshot)
            } catch {
                finishLoading(as: .stopped)
                if case .storage = error {
                    logger.critical("raft snapshot does not restore; refusing to start", metadata: [
                        "raft.snapshot_index": "\(snapshot.metadata.index)", "error": "\(error)",
                    ])
                }
                throw error
            }
        }
        currentSnapshot = snapshot.map { hold($0, saved: true) }
        node = makeNode(state)
        appliedIndex = state.applied
        finishLoading(as: .running)
        observe()
        logger.info("raft started", metadata: [
            "raft.term": "\(node.term)", "raft.last_index": "\(node.lastIndex)", "raft.voters": "\(node.voters.count)",
        ])
        if node.isBlank {
            logger.info("raft state is blank (a new server, or its data was lost): it neither votes nor counts until a leader has brought it up to date and admitted it")
        }
        await withTaskExecutorPreference(executor) {
            await withThrowingTaskGroup(of: Void.self) { group in
                group.addTask { try await self.tickLoop() }
                group.addTask { await self.inputLoop() }
                group.addTask { await self.driveLoop() }
                group.addTask { await self.watchConnections() }
                group.addTask {
                    // Graceful shutdown hands leadership over first; cancellation (a crash) does not.
                    guard (try? await gracefulShutdown()) != nil else { return }
                    await self.handOverLeadership()
                }
                // Whichever loop ends first ends them all; a storage failure is kept in `failure`.
                _ = try? await group.next()
                group.cancelAll()
            }
        }
        await snapshotTask?.value
        stop()
        if let failure { throw failure }
    }

    /// Ends the `loading` phase and lets a bootstrap that came meanwhile go on (to find the state loaded).
    private func finishLoading(as next: Phase) {
        phase = next
        for waiter in loadingWaiters { waiter.resume() }
        loadingWaiters = []
    }

    private func tickLoop() async throws {
        let timer = await LoopTimer.make(on: executor.eventLoop) { [tickBell] in tickBell.ring() }
        parkTimer = timer
        defer { parkTimer = nil }
        // The timer's descriptor is closed however the loop ends.
        let outcome: Result<Void, any Error>
        do {
            try await tickOrPark(timer)
            outcome = .success(())
        } catch {
            outcome = .failure(error)
        }
        await timer.close()
        try outcome.get()
    }

    private func tickOrPark(_ timer: LoopTimer) async throws {
        while !Task.isCancelled {
            // The loop's own timer: one thread woken per tick, not three (see `EventLoop.sleep(for:)`).
            try await executor.eventLoop.sleep(for: settings.tickInterval)
            if let failure { throw failure }
            await tick()
            // Parked: sleep until the election timeout would come (or for good), and count the skipped
            // ticks when woken. A step that moves that moment moves the timer (later: a heartbeat that
            // resets the election timeout; earlier: a new timeout), and one that needs ticks every interval
            // again rings the bell (see `rearmTicks()`).
            while let plan = parkTicks() {
                switch plan {
                case .untilRung: timer.disarm()
                case .until(let deadline): timer.arm(at: deadline)
                }
                await tickBell.wait()
                parkedWakeUps += 1
                if Task.isCancelled { return }
                if let failure { throw failure }
                guard ticksParkedSince != nil else { break }  // resumed: tick every interval again
                catchUpParkedTicks()
                driveSoon()
            }
        }
    }

    /// What a parked tick loop waits for.
    enum TickPark: Equatable {
        /// Nothing counted in ticks can happen: a ring (a promotion, a waiter).
        case untilRung
        /// The tick at which the core would campaign (or a ring, if that comes first).
        case until(ContinuousClock.Instant)
    }

    /// How the tick loop may park, counting from `since`; nil: it ticks every interval. The leader ticks
    /// (it heartbeats), and so does any node with a proposal, read or snapshot transfer waiting on a
    /// deadline. Any other node's ticks only count towards an election (`RaftNode.tick()`): a voter that
    /// could campaign sleeps until the tick at which it would, a standby, client or blank replica until
    /// rung. The ticks skipped are given to the core before the next message (``catchUpParkedTicks()``),
    /// so it sees the same ticks between the same messages as if it had ticked all along.
    func tickPark(from since: ContinuousClock.Instant) -> TickPark? {
        guard phase == .running, node.state != .leader, proposals.isEmpty, reads.isEmpty,
              snapshotAssembly.transfers.isEmpty, outgoingSnapshots.isEmpty else { return nil }
        guard let ticks = node.ticksUntilCampaign else { return .untilRung }
        return .until(since + settings.tickInterval * max(1, ticks))
    }

    /// Parks the tick loop (or re-parks it, from where its count stands) when ``tickPark(from:)`` allows;
    /// returns what to wait for, or nil to tick every interval.
    private func parkTicks() -> TickPark? {
        let since = ticksParkedSince ?? .now
        guard let plan = tickPark(from: since) else {
            ticksParkedSince = nil
            return nil
        }
        ticksParkedSince = since
        ticksParkedUntil = plan
        return plan
    }

    /// Gives the core the ticks a parked loop skipped, so that what it counts in ticks (the time since it
    /// last heard its leader) reads as if it had ticked all along; a voter campaigns at the tick it would
    /// have. Called before a message is stepped and when the parked loop wakes.
    func catchUpParkedTicks() {
        guard let since = ticksParkedSince else { return }
        let missed = Int((ContinuousClock.now - since) / settings.tickInterval)
        guard missed > 0 else { return }
        // A gap longer than this (a paused process) counts as this many ticks, as a late timer would.
        for _ in 0..<min(missed, 2 * settings.raft.electionTicks + 2) { node.tick() }
        ticksParkedSince = since + settings.tickInterval * missed
    }

    /// After a step: wakes the parked tick loop when ticks are needed every interval again (leadership, a
    /// waiter, a transfer), and moves its timer when the tick it waits for moved — later (a heartbeat reset
    /// the election timeout: a follower that hears its leader never wakes for it) or earlier (a promotion
    /// to voter, a new election timeout) — or cancels it (nothing counted in ticks can happen any more).
    func rearmTicks() {
        guard let since = ticksParkedSince else { return }
        guard let plan = tickPark(from: since) else {
            catchUpParkedTicks()
            ticksParkedSince = nil
            tickBell.ring()
            return
        }
        guard plan != ticksParkedUntil else { return }
        ticksParkedUntil = plan
        guard let parkTimer else {
            tickBell.ring()
            return
        }
        switch plan {
        case .until(let deadline): parkTimer.arm(at: deadline)
        case .untilRung: parkTimer.disarm()
        }
    }

    /// Carries out the core's Readies whenever `driveSoon()` asks, on the actor's event loop (a task of
    /// the service's own: waking it costs no thread hop).
    private func driveLoop() async {
        for await _ in driveRequests {
            driveScheduled = false
            await drive()
        }
    }

    private func inputLoop() async {
        for await input in inputs {
            queuedInputs.subtract(1, ordering: .relaxed)
            receive(input)
        }
    }

    /// Takes input from the mesh. The mesh dispatches on its event loop, which is this actor's: there a
    /// running service steps the input into the core at once (`assumeIsolated`; the actor is not running
    /// while the loop reads a socket). Otherwise — before the service runs, or behind inputs still queued,
    /// so that none overtakes another — it goes through the bounded inbox to `inputLoop()`. Through the
    /// inbox every message (a heartbeat, its answer, each append's acknowledgement) cost a yield and the
    /// resumption of the input loop's task.
    nonisolated func deliver(_ input: RaftInput) {
        if executor.eventLoop.inEventLoop, queuedInputs.load(ordering: .relaxed) == 0,
           assumeIsolated({ $0.receiveIfRunning(input) }) {
            return
        }
        queuedInputs.add(1, ordering: .relaxed)
        switch inputSink.yield(input) {
        case .enqueued:
            break
        case .dropped:
            queuedInputs.subtract(1, ordering: .relaxed)
            metrics?.countDropped(.inboxFull)
        case .terminated:
            queuedInputs.subtract(1, ordering: .relaxed)
        @unknown default:
            queuedInputs.subtract(1, ordering: .relaxed)
        }
    }

    private func receiveIfRunning(_ input: RaftInput) -> Bool {
        guard phase == .running else { return false }
        receive(input)
        return true
    }

    /// Tells the core when the connection to a peer ends (or membership forgets it): if that was the
    /// leader, a follower campaigns as soon as the lease allows (see `RaftNode.leaderUnreachable`). Runs
    /// until cancelled, also after the mesh has stopped.
    private func watchConnections() async {
        for await event in mesh.peerEvents {
            switch event {
            case .disconnected(let peer), .removed(let peer):
                guard phase == .running else { continue }
                node.leaderUnreachable(peer)
            case .connected:
                continue
            }
        }
        await Doorbell().wait()  // until the group is cancelled
    }

    func tick() async {
        guard phase == .running else { return }
        node.tick()
        let now = ContinuousClock.now
        expireWaiters(now: now)
        expireSnapshotTransfers(now: now)
        driveSoon()
    }

    /// Fails every waiter, publishes state `none` and stops taking input.
    private func stop() {
        phase = .stopped
        inputSink.finish()
        driveRequestSink.finish()
        failAllWaiters(.stopped)
        cancelOutgoingSnapshots()
        metrics?.setState(.none)
        publishStatus()
        for watcher in statusWatchers.values { watcher.finish() }
        statusWatchers = [:]
        logger.info("raft stopped", metadata: ["raft.term": "\(node.term)"])
    }

    /// A graceful stop of a leader: hand leadership to the most caught-up voter and wait (bounded) until
    /// it has taken over.
    func handOverLeadership() async {
        guard phase == .running, node.state == .leader else { return }
        let progress = node.progress
        let candidates = node.voters.filter { $0 != settings.nodeID && progress[$0]?.isBlank != true }
        // The most caught-up voter (ties: the smallest ID), so the hand-over needs the fewest appends.
        guard let target = candidates.max(by: { (progress[$0]?.match ?? 0, $1) < (progress[$1]?.match ?? 0, $0) }) else { return }
        logger.info("raft leader stopping; transferring leadership", metadata: ["raft.term": "\(node.term)", "peer": "\(target)"])
        do {
            try node.transferLeadership(to: target)
        } catch {
            return
        }
        // Watch from before the transfer is sent, so its outcome cannot slip past unseen.
        let updates = statusUpdates()
        await drive()
        let timeout = settings.shutdownTransferTimeout
        // True when this node stops leading; false when the service stops (the stream finishes) or the
        // timeout passes first.
        let handedOver = await trueWithin(timeout) {
            for await status in updates where status.state != .leader { return true }
            return false
        }
        if handedOver {
            logger.info("raft leadership handed over", metadata: ["raft.term": "\(node.term)", "raft.leader": "\(node.leader.map(\.rawValue) ?? "")"])
        } else if phase == .running, node.state == .leader {
            logger.warning("raft leadership transfer did not finish before shutdown", metadata: ["peer": "\(target)"])
        }
    }

    // MARK: Helpers

    /// A core restored from `storage`, letting applied entries go from memory beyond
    /// ``RaftServiceSettings/inMemoryLogBytes`` when the storage can read them back.
    func makeNode(_ state: LogStorage) -> RaftNode {
        var node = RaftNode(id: settings.nodeID, settings: settings.raft, storage: state)
        if let reader = storage.entryReader { node.keepEntries(inMemoryBytes: settings.inMemoryLogBytes, reader: reader) }
        return node
    }

    /// Runs blocking storage work on NIO's thread pool, never on an event loop. Not cancellable once
    /// submitted: a write that started is waited for, so the core is never left with a `Ready` whose
    /// persistence is unknown.
    /// A storage error comes back as ``RaftServiceError/storage(_:)`` with its cause; a thread pool that no
    /// longer runs (the process is shutting down) as ``RaftServiceError/stopped``.
    ///
    /// Isolated, and awaited through a continuation made here: the answer (a future completed on the
    /// event loop) resumes the actor on the loop directly. Awaiting the future's `get()` from a
    /// nonisolated function passed it through Swift's pool first, a thread woken and another hop back to
    /// the loop after every fsync (seen in `strace` of a follower's append).
    func offLoop<T: Sendable>(_ work: @escaping @Sendable () throws(RaftStorageError) -> T) async throws(RaftServiceError) -> T {
        let future = NIOThreadPool.singleton.runIfActive(eventLoop: executor.eventLoop) { () -> Result<T, RaftStorageError> in
            do throws(RaftStorageError) {
                return .success(try work())
            } catch {
                return .failure(error)
            }
        }
        let outcome = await withCheckedContinuation { continuation in
            future.whenComplete { continuation.resume(returning: $0) }
        }
        switch outcome {
        case .success(.success(let value)): return value
        case .success(.failure(let error)): throw .storage(error)
        case .failure: throw .stopped
        }
    }
}

/// Work for the actor from the mesh (the bounded inbox): a message, or a whole snapshot.
enum RaftInput: Sendable {
    case message(MeshInbound)
    /// A whole snapshot in one message (format version 2); chunked ones arrive as requests.
    case snapshot(MeshInbound)
}
