import NIOSupport
import CohortCore
import NIOCore
import Prometheus
import Synchronization

/// The shell's handle of one connection with a finished handshake, as the link's state machine keeps it:
/// what to close, and the doorbells its writer and its parked keepalive wait on.
struct ConnectionHandle: Sendable {
    /// The connection's channel, closed to end it.
    var channel: any Channel
    /// The connection's writer waits here while there is nothing to send.
    var writerBell: Doorbell
    /// The connection's keepalive waits here while parked.
    var keepaliveBell: Doorbell
}

/// Everything the mesh keeps about one peer, shared by `send` (any thread), the connection's reader,
/// writer and keepalive tasks, the dial loop and the actor: a ``PeerLinkStateMachine`` behind one lock.
/// Each method is one event; the actions the machine returns — ringing doorbells, setting depth gauges —
/// are performed after the lock is released. Those that concern the whole service (closing channels,
/// metrics, events, pending requests) are returned to the caller.
final class PeerLink: Sendable {
    /// The link's state machine, with the shell's connection handle.
    typealias StateMachine = PeerLinkStateMachine<ConnectionHandle>

    let id: NodeID
    /// Our reliable relay stream to this peer, named in every handshake.
    let streamID: UInt64
    private let state: Mutex<StateMachine>
    /// Wakes the dial loop out of its backoff pause (removal, a new address).
    let retryBell = Doorbell()
    /// Makes the `internode_queue_depth{class,peer}` gauges, by class raw value; nil without metrics.
    private let makeDepthGauges: (@Sendable () -> [Gauge])?
    /// The gauges, made when something is first queued for the peer (most peers of a large cluster are
    /// never sent anything, and registering 4 series per member costs every node O(N) per member at a
    /// mass start); none once the link was removed.
    private let madeDepthGauges = Mutex<(gauges: [Gauge], removed: Bool)>(([], false))
    /// Starts a dial loop for the link (the service's dial jobs), when the machine asks for one.
    private let startDialLoop: @Sendable (PeerLink) -> Void
    /// Requests from the peer whose handlers are running: an idle connection is not closed under them.
    private let requestsServing = Atomic<Int>(0)

    /// A disconnected link with empty queues; `known` when introduced by `setPeer`. `startDialLoop` runs a
    /// dial loop for it (at most one at a time: the machine asks only when none runs).
    init(
        id: NodeID, settings: MeshSettings, streamID: UInt64, known: Bool, depthGauges: (@Sendable () -> [Gauge])?,
        startDialLoop: @escaping @Sendable (PeerLink) -> Void
    ) {
        self.id = id
        self.streamID = streamID
        state = Mutex(StateMachine(streamID: streamID, known: known, settings: settings))
        makeDepthGauges = depthGauges
        self.startDialLoop = startDialLoop
    }

    // MARK: Sending

    /// What became of a message given to ``enqueue(_:in:)``.
    enum EnqueueOutcome: Equatable {
        case queued(droppedOldest: Int)
        case full
        case removed
    }

    /// Queues a message; wakes the writer if one is connected, else starts dialling if nothing dials yet.
    func enqueue(_ message: OutboundMessage, in trafficClass: TrafficClass) -> EnqueueOutcome {
        switch state.withLock({ $0.enqueue(message, in: trafficClass) }) {
        case .queued(let droppedOldest, let depth, let writer, let startDialing):
            writer?.writerBell.ring()
            if startDialing { startDialLoop(self) }
            setDepth(trafficClass, depth)
            return .queued(droppedOldest: droppedOldest)
        case .full(let depth):
            setDepth(trafficClass, depth)
            return .full
        case .removed:
            setDepth(trafficClass, 0)
            return .removed
        }
    }

    /// A batch for the writer of connection `epoch` (see ``PeerLinkStateMachine/takeBatch(epoch:now:chunkBytes:maxBytes:maxFrames:)``);
    /// wakes the connection's keepalive when the batch unparks it.
    func takeBatch(epoch: UInt64, now: ContinuousClock.Instant, chunkBytes: Int, maxBytes: Int, maxFrames: Int) -> StateMachine.WriterAction {
        let action = state.withLock {
            $0.takeBatch(epoch: epoch, now: now, chunkBytes: chunkBytes, maxBytes: maxBytes, maxFrames: maxFrames)
        }
        if case .write(let batch) = action {
            batch.wakeKeepalive?.keepaliveBell.ring()
            setDepths(batch.depths)
        }
        return action
    }

    /// The peer acknowledged our relay stream through `sequence`.
    func peerAcknowledged(_ sequence: UInt64) {
        setDepth(.relay, state.withLock { $0.acknowledgementArrived(sequence) })
    }

    /// The peer pinged: the writer answers.
    func queuePong(_ id: UInt64) {
        state.withLock { $0.pingArrived(id) }?.writerBell.ring()
    }

    // MARK: Receiving

    /// The resume point to state for the peer's stream `streamID` (read only).
    func resumePoint(forStream streamID: UInt64) -> UInt64 {
        state.withLock { $0.resumePoint(forStream: streamID) }
    }

    /// A frame arrived on connection `epoch`.
    func peerHeard(epoch: UInt64) {
        state.withLock { $0.peerHeard(epoch: epoch) }
    }

    /// Whether relay message `sequence`, received on connection `epoch`, is new and should be delivered;
    /// `armTimer` when the caller should call ``flushAcknowledgement()`` after the ack interval.
    func acceptRelay(_ sequence: UInt64, epoch: UInt64) -> (deliver: Bool, armTimer: Bool) {
        switch state.withLock({ $0.relayArrived(sequence, epoch: epoch) }) {
        case .drop:
            return (false, false)
        case .deliver(let writer, let armTimer):
            writer?.writerBell.ring()
            return (true, armTimer)
        }
    }

    /// The acknowledgement timer fired: acknowledge whatever was delivered since the last one.
    func flushAcknowledgement() {
        state.withLock { $0.ackTimerFired() }?.writerBell.ring()
    }

    // MARK: Connections

    /// Makes connection `epoch` (`handle`, to the peer's `peerIncarnation`) the live one; see
    /// ``PeerLinkStateMachine/connectionEstablished(_:epoch:peerIncarnation:resume:peerStreamID:dialedByUs:now:)``.
    /// Wakes the replaced writer (it stops) and the new one. Nil when the peer was removed meanwhile (the
    /// caller closes the connection).
    func activate(
        _ handle: ConnectionHandle, epoch: UInt64, peerIncarnation: Incarnation, resume: UInt64, peerStreamID: UInt64,
        dialedByUs: Bool
    ) -> StateMachine.Activation? {
        let action = state.withLock {
            $0.connectionEstablished(
                handle, epoch: epoch, peerIncarnation: peerIncarnation, resume: resume, peerStreamID: peerStreamID,
                dialedByUs: dialedByUs, now: .now
            )
        }
        guard case .activated(let activation) = action else { return nil }
        activation.replaced?.writerBell.ring()
        handle.writerBell.ring()
        setDepths(activation.depths)
        return activation
    }

    /// Connection `epoch` ended. Returns false when it was not the live one (it had been replaced, or
    /// closed as idle). Dials again at once when something still waits for the peer.
    func deactivate(epoch: UInt64) -> Bool {
        guard case .disconnected(let handle, let startDialing) = state.withLock({ $0.connectionLost(epoch: epoch) }) else {
            return false
        }
        handle.writerBell.ring()
        if startDialing { startDialLoop(self) }
        return true
    }

    /// The idle timer of connection `epoch` fired (see ``PeerLinkStateMachine/idleLook(epoch:requestsInProgress:)``);
    /// `requestsPending`: requests of ours to the peer wait for replies. On `.close` the link is already
    /// disconnected; the caller closes the channel.
    func idleLook(epoch: UInt64, requestsPending: Bool) -> StateMachine.IdleAction {
        let serving = requestsServing.load(ordering: .relaxed) > 0
        let action = state.withLock { $0.idleLook(epoch: epoch, requestsInProgress: requestsPending || serving) }
        if case .close(let handle) = action { handle.writerBell.ring() }
        return action
    }

    /// A request from the peer started (`true`) or ended (`false`) running its handler.
    func servingRequest(_ started: Bool) {
        requestsServing.add(started ? 1 : -1, ordering: .relaxed)
    }

    /// Dials the peer soon unless it is connected or being dialled (see ``PeerLinkStateMachine/connectSoon()``).
    func connectSoon() {
        if state.withLock({ $0.connectSoon() }) { startDialLoop(self) }
    }

    /// Whether a connection dialled by the peer from `peerIncarnation` crossed ours and is refused
    /// (`peerIsPreferred`: the peer's ID is the smaller; see
    /// ``PeerLinkStateMachine/refusesCrossedDial(from:peerIsPreferred:now:)``).
    func refusesCrossedDial(from peerIncarnation: Incarnation, peerIsPreferred: Bool) -> Bool {
        state.withLock { $0.refusesCrossedDial(from: peerIncarnation, peerIsPreferred: peerIsPreferred, now: .now) }
    }

    /// Whether the dial loop is connecting or handshaking now.
    var isAttempting: Bool {
        state.withLock { $0.isAttempting }
    }

    /// The keepalive of connection `epoch` looks (see
    /// ``PeerLinkStateMachine/keepaliveLook(epoch:pingID:)``); wakes the writer for a ping.
    func keepaliveLook(epoch: UInt64, pingID: UInt64) -> StateMachine.KeepaliveAction {
        let action = state.withLock { $0.keepaliveLook(epoch: epoch, pingID: pingID) }
        if case .ping(let writer) = action { writer.writerBell.ring() }
        return action
    }

    /// The live connection, if any.
    var liveConnection: StateMachine.LiveConnection? {
        state.withLock { $0.live }
    }

    // MARK: Membership

    /// Records the peer's address from membership (starting a dial loop when something already waits for
    /// it). Returns a live connection to an older incarnation, to close.
    func update(host: String, port: Int, incarnation: Incarnation?) -> StateMachine.LiveConnection? {
        let action = state.withLock { $0.update(address: PeerAddress(host: host, port: port), incarnation: incarnation) }
        if action.wakeDialer { retryBell.ring() }
        if action.startDialing { startDialLoop(self) }
        return action.closeStale
    }

    /// Where to dial now; nil when the peer no longer needs dialling (the dial loop ends).
    func beginAttempt() -> PeerAddress? {
        state.withLock { $0.beginAttempt() }
    }

    /// A dial attempt ended; whether and after what pause to dial again.
    func dialAttemptEnded(handshakeFinished: Bool, using generator: inout some RandomNumberGenerator) -> StateMachine.DialAction {
        state.withLock { $0.dialAttemptEnded(handshakeFinished: handshakeFinished, using: &generator) }
    }

    /// The dial loop ended.
    func dialLoopEnded() {
        state.withLock { $0.dialLoopEnded() }
    }

    /// Whether a dial loop runs for this peer (for tests of the dialling rule).
    var isDialing: Bool {
        state.withLock { $0.isDialing }
    }

    /// Whether the peer was introduced by `setPeer` (not only known by a connection it made to us).
    var isKnown: Bool {
        state.withLock { $0.isKnown }
    }

    /// Whether the peer was never introduced by `setPeer` and has no connection: what a stranger that
    /// failed its handshake leaves behind.
    var isUnconnectedStranger: Bool {
        state.withLock { !$0.isKnown && $0.live == nil }
    }

    /// The peer left: drops every queued message (returned by class) and returns the live connection, to
    /// close. Wakes its writer (it stops) and a pausing dial loop (it ends). Later sends are refused.
    func remove() -> (messages: [(TrafficClass, [OutboundMessage])], connection: ConnectionHandle?) {
        let removal = state.withLock { $0.remove() }
        removal.connection?.writerBell.ring()
        retryBell.ring()
        return (removal.messages, removal.connection)
    }

    /// Messages held for `trafficClass`.
    func depth(_ trafficClass: TrafficClass) -> Int {
        state.withLock { $0.depth(trafficClass) }
    }

    /// Ends the link's depth series: returns the gauges to unregister; none are made after this.
    func removeDepthGauges() -> [Gauge] {
        madeDepthGauges.withLock { made in
            made.removed = true
            defer { made.gauges = [] }
            return made.gauges
        }
    }

    /// The depth gauges, made now when `make` and not made yet; empty without metrics or after removal.
    private func depthGauges(make: Bool) -> [Gauge] {
        guard let makeDepthGauges else { return [] }
        return madeDepthGauges.withLock { made in
            if made.gauges.isEmpty, make, !made.removed { made.gauges = makeDepthGauges() }
            return made.gauges
        }
    }

    private func setDepth(_ trafficClass: TrafficClass, _ depth: Int) {
        let gauges = depthGauges(make: depth > 0)
        guard !gauges.isEmpty else { return }
        gauges[Int(trafficClass.rawValue)].set(Int64(depth))
    }

    private func setDepths(_ depths: [Int]) {
        let gauges = depthGauges(make: depths.contains { $0 > 0 })
        guard !gauges.isEmpty else { return }
        for (gauge, depth) in zip(gauges, depths) { gauge.set(Int64(depth)) }
    }
}
