import CohortCore

/// Where a peer is dialled, from membership.
package struct PeerAddress: Equatable, Sendable {
    package var host: String
    package var port: Int

    package init(host: String, port: Int) {
        self.host = host
        self.port = port
    }
}

/// Everything the mesh keeps about one peer, as one state machine: its queues and the reliable relay
/// streams both ways, the connection that carries them and that connection's keepalive, and the dial
/// loop's address and backoff.
///
/// Connections are made on demand: either side dials when it has something queued for the peer (relay
/// messages count until acknowledged) and no connection, and an idle connection is closed (see
/// ``idleLook(epoch:)``). When both sides dial at once, one connection is kept
/// (``refusesCrossedDial(from:peerIsPreferred:now:)``): while both attempts run, the smaller ID's; once one
/// side's has finished its handshake, that one.
///
/// Each `mutating` handler is one event — a message queued, the writer taking a batch, a frame heard, a
/// connection established or lost, a keepalive look, a dial attempt ending, the peer removed — and returns
/// what the shell must do: wake a writer or a parked keepalive, close a connection, pause before
/// redialling, count drops and set queue depths. ``PeerLink`` keeps it behind one lock and performs the
/// actions after releasing it, so every transition is atomic and testable without a socket.
///
/// `Connection` is the shell's handle of one connection (its channel and the doorbells its tasks wait
/// on). The machine only stores it and hands it back, so it needs no NIO and tests use any value. Time and
/// randomness are parameters: `now:` for request deadlines, a generator for the backoff's jitter.
///
/// What always holds: at most one connection is live, and a connection it replaces is handed back to be
/// closed; only the live connection's writer gets frames; relay messages stay queued across connections
/// until acknowledged (or written to an incarnation that restarted) or the peer is removed; once removed,
/// nothing is queued, connected or dialled again.
package struct PeerLinkStateMachine<Connection: Sendable>: Sendable {
    /// The connection that carries the link's traffic.
    package struct LiveConnection: Sendable {
        /// Unique per connection in the service; stale tasks of a replaced connection recognise themselves.
        package var epoch: UInt64
        /// The shell's handle: what to close and whose tasks to wake.
        package var connection: Connection
        /// The boot of the peer at the other end.
        package var peerIncarnation: Incarnation
        /// What the connection's keepalive has seen, and whether it is parked.
        package var keepalive: KeepaliveWatch
        /// Our dial loop made it (not accepted from the peer).
        package var dialedByUs: Bool
        /// When its handshake finished.
        package var established: ContinuousClock.Instant
    }

    /// Where the link stands.
    package enum Phase: Sendable {
        /// No connection: messages queue for the next one.
        case disconnected
        /// One connection with a finished handshake carries the traffic.
        case connected(LiveConnection)
        /// The peer left membership. Terminal: sends are refused, nothing connects or dials again.
        case removed
    }

    /// Our reliable relay stream to this peer, named in every handshake.
    package let streamID: UInt64
    private(set) var phase: Phase = .disconnected
    private var outbox: PeerOutbox
    private var receiving = ReliableReceiveStream()
    private var ackTimerArmed = false
    private let ackEveryMessages: Int
    /// The peer's address from membership; nil until `setPeer` (a peer known only by its connection to us).
    private(set) var address: PeerAddress?
    /// Introduced by `setPeer`, not only by a connection it made to us.
    package private(set) var isKnown: Bool
    /// A dial loop runs for this peer.
    package private(set) var isDialing = false
    /// The dial loop is connecting or handshaking (not pausing, not serving its connection).
    package private(set) var isAttempting = false
    /// A connection was asked for with nothing to send yet (``connectSoon()``); cleared once one is live.
    private var wantsConnection = false
    private var everConnected = false
    private var backoff: ReconnectBackoff
    private let keepaliveInterval: Duration
    private let deadPeerTimeout: Duration
    /// How long after our own dial's handshake a crossed dial of the peer's may still arrive: its connect
    /// and handshake had started before ours reached the peer.
    private let crossedDialWindow: Duration

    /// A disconnected link with empty queues. `known`: introduced by `setPeer`; `settings` gives the queue
    /// bounds, the keepalive timing, the acknowledgement batch and the redial backoff.
    package init(streamID: UInt64, known: Bool, settings: MeshSettings) {
        self.streamID = streamID
        isKnown = known
        outbox = PeerOutbox(queues: settings.queues, streamID: streamID)
        ackEveryMessages = settings.ackEveryMessages
        backoff = ReconnectBackoff(settings.reconnect)
        keepaliveInterval = settings.keepaliveInterval
        deadPeerTimeout = settings.deadPeerTimeout
        crossedDialWindow = settings.connectTimeout + settings.handshakeTimeout
    }

    // MARK: Queries

    /// The live connection, if any.
    package var live: LiveConnection? {
        guard case .connected(let live) = phase else { return nil }
        return live
    }

    /// Whether the peer was removed.
    package var isRemoved: Bool {
        if case .removed = phase { return true }
        return false
    }

    /// Messages held for `trafficClass` (relay: until acknowledged).
    package func depth(_ trafficClass: TrafficClass) -> Int {
        outbox.depth(trafficClass)
    }

    /// Messages held, by class raw value (for the depth gauges).
    package var depths: [Int] {
        TrafficClass.allCases.map { outbox.depth($0) }
    }

    /// Whether anything waits to go to the peer: a queued message of any class, or a relay message not yet
    /// acknowledged. That is what makes a node dial; signals (pings, pongs, acknowledgements) belong to a
    /// connection and do not.
    package var hasDemand: Bool {
        wantsConnection || TrafficClass.allCases.contains { outbox.depth($0) > 0 }
    }

    /// Asks for a connection with nothing to send yet (a warm-up, so the first message need not wait for
    /// a handshake): the peer is needed until a connection is live. Returns whether to start a dial loop.
    package mutating func connectSoon() -> Bool {
        guard !isRemoved, live == nil else { return false }
        wantsConnection = true
        return dialIfNeeded()
    }

    /// Whether a connection the peer dialled to us, from its incarnation `peerIncarnation`, is refused during
    /// its handshake because it crossed one of ours (`peerIsPreferred`: the peer's ID is the smaller).
    /// While both attempts run, the smaller ID's wins: we refuse a larger peer while our own attempt is in
    /// progress. And whichever ID is smaller, we refuse while our own dialled connection to that
    /// incarnation finished its handshake less than a connect and a handshake timeout ago: the peer's dial
    /// had started before ours reached it, and taking it would replace ours on both sides and fail the
    /// requests already written on ours. Later, a dial from the peer means it lost the connection we still
    /// hold (half-open, or a close still on its way), and it is taken.
    package func refusesCrossedDial(from peerIncarnation: Incarnation, peerIsPreferred: Bool, now: ContinuousClock.Instant) -> Bool {
        if isAttempting, !peerIsPreferred { return true }
        guard let live, live.dialedByUs, live.peerIncarnation == peerIncarnation else { return false }
        return now - live.established < crossedDialWindow
    }

    /// The resume point to state in a handshake for the peer's stream `streamID` (changes nothing).
    package func resumePoint(forStream streamID: UInt64) -> UInt64 {
        receiving.resumePoint(forStream: streamID)
    }

    // MARK: Sending

    /// A message for the peer, in `trafficClass`'s queue (FIFO per class, bounded by its policy).
    package mutating func enqueue(_ message: OutboundMessage, in trafficClass: TrafficClass) -> EnqueueAction {
        if isRemoved { return .removed }
        let (queued, droppedOldest) = outbox.enqueue(message, in: trafficClass)
        let depth = outbox.depth(trafficClass)
        guard queued else { return .full(depth: depth) }
        return .queued(droppedOldest: droppedOldest, depth: depth, wakeWriter: live?.connection, startDialing: dialIfNeeded())
    }

    /// Starts the dial loop when the peer should be dialled and no loop runs: something waits for it, no
    /// connection carries it, and its address is known.
    private mutating func dialIfNeeded() -> Bool {
        guard case .disconnected = phase, !isDialing, address != nil, hasDemand else { return false }
        isDialing = true
        return true
    }

    /// The writer of connection `epoch` asks for up to `maxFrames` frames or about `maxBytes`, taken by
    /// the outbox's priority; payloads leave in chunks of `chunkBytes`. A batch with anything besides
    /// answers (pongs, relay acknowledgements) counts as sending for the keepalive; answers do not, or two
    /// idle sides would keep each other awake.
    package mutating func takeBatch(
        epoch: UInt64, now: ContinuousClock.Instant, chunkBytes: Int, maxBytes: Int, maxFrames: Int
    ) -> WriterAction {
        guard case .connected(var live) = phase, live.epoch == epoch else { return .stop }
        var frames: [OutboundFrame] = []
        var bytes = 0
        while frames.count < maxFrames, bytes < maxBytes, let frame = outbox.nextFrame(now: now, chunkBytes: chunkBytes) {
            bytes += frame.bodyBytes
            frames.append(frame)
        }
        let expired = outbox.takeExpired()
        guard !frames.isEmpty else { return .wait(expired: expired) }
        var wakeKeepalive: Connection?
        if frames.contains(where: { $0.header.kind != .pong && $0.header.kind != .ack }) {
            if live.keepalive.sent() { wakeKeepalive = live.connection }
            phase = .connected(live)
        }
        return .write(WriterBatch(frames: frames, expired: expired, depths: depths, wakeKeepalive: wakeKeepalive))
    }

    /// The peer pinged us (`id`): queue the pong. Returns the writer to wake.
    package mutating func pingArrived(_ id: UInt64) -> Connection? {
        guard !isRemoved else { return nil }
        outbox.pong(id)
        return live?.connection
    }

    /// The peer acknowledged our relay stream through `sequence`. Returns the relay depth after it.
    package mutating func acknowledgementArrived(_ sequence: UInt64) -> Int {
        outbox.peerAcknowledged(sequence)
        return outbox.depth(.relay)
    }

    // MARK: Connections

    /// Connection `epoch` to the peer's incarnation `peerIncarnation` finished its handshake: the peer
    /// resumes our relay stream after `resume`, and its own stream towards us is `peerStreamID`. It
    /// replaces any live connection (the dialler only dials without one, so an older one is dead). The
    /// relay stream rewinds to resend what the peer has not delivered, a partly written message restarts
    /// and the old connection's pings and pongs are dropped.
    /// `dialedByUs`: the connection is the dial loop's own (its attempt is over); `now`: when its handshake
    /// finished.
    package mutating func connectionEstablished(
        _ connection: Connection, epoch: UInt64, peerIncarnation: Incarnation, resume: UInt64, peerStreamID: UInt64,
        dialedByUs: Bool = false, now: ContinuousClock.Instant
    ) -> EstablishAction {
        if dialedByUs { isAttempting = false }
        wantsConnection = false
        let replaced: Connection?
        switch phase {
        case .removed: return .refuse
        case .disconnected: replaced = nil
        case .connected(let old): replaced = old.connection
        }
        let reconnect = everConnected
        everConnected = true
        phase = .connected(LiveConnection(
            epoch: epoch, connection: connection, peerIncarnation: peerIncarnation,
            keepalive: KeepaliveWatch(interval: keepaliveInterval, deadAfter: deadPeerTimeout),
            dialedByUs: dialedByUs, established: now
        ))
        receiving.adopt(stream: peerStreamID)
        let dropped = outbox.connectionStarted(resume: resume, peerIncarnation: peerIncarnation)
        return .activated(Activation(replaced: replaced, droppedForRestart: dropped, reconnect: reconnect, depths: depths))
    }

    /// Connection `epoch` ended. What was queued stays for the next connection, which is dialled at once
    /// when something waits and no dial loop runs (`startDialing`). (The shell fails the non-relay
    /// requests written on it in either case.)
    package mutating func connectionLost(epoch: UInt64) -> LossAction {
        guard case .connected(let live) = phase, live.epoch == epoch else { return .wasNotLive }
        phase = .disconnected
        return .disconnected(live.connection, startDialing: dialIfNeeded())
    }

    /// The idle timer of connection `epoch`, parked since its keepalive last parked, fired. The connection
    /// is closed when it is still parked, nothing arrived from the peer while it was (a peer that only
    /// sends to us keeps the connection), nothing waits to go, and the shell knows of no request in
    /// progress on it either way (`requestsInProgress`). Closing disconnects the link at once, so a message
    /// queued a moment later dials a new connection instead of going to the closing one.
    package mutating func idleLook(epoch: UInt64, requestsInProgress: Bool) -> IdleAction {
        guard case .connected(var live) = phase, live.epoch == epoch else { return .stop }
        guard live.keepalive.isParked else { return .resume }
        guard live.keepalive.takeQuietWhileParked(), !hasDemand, !requestsInProgress else {
            phase = .connected(live)
            return .stayParked
        }
        phase = .disconnected
        return .close(live.connection)
    }

    /// A frame arrived on connection `epoch`: the path works (for the keepalive).
    package mutating func peerHeard(epoch: UInt64) {
        guard case .connected(var live) = phase, live.epoch == epoch else { return }
        live.keepalive.peerHeard()
        phase = .connected(live)
    }

    /// Relay message `sequence` arrived on connection `epoch`. Acknowledged at once after
    /// `ackEveryMessages` deliveries, else by the acknowledgement timer.
    package mutating func relayArrived(_ sequence: UInt64, epoch: UInt64) -> RelayAction {
        guard case .connected(let live) = phase, live.epoch == epoch, receiving.accept(sequence) else { return .drop }
        if receiving.unacknowledged >= UInt64(ackEveryMessages), let ack = receiving.takeAcknowledgement() {
            outbox.acknowledge(ack)
            return .deliver(wakeWriter: live.connection, armAckTimer: false)
        }
        guard !ackTimerArmed else { return .deliver(wakeWriter: nil, armAckTimer: false) }
        ackTimerArmed = true
        return .deliver(wakeWriter: nil, armAckTimer: true)
    }

    /// The acknowledgement timer fired: acknowledge whatever was delivered since the last one. Returns
    /// the writer to wake when an acknowledgement was queued.
    package mutating func ackTimerFired() -> Connection? {
        ackTimerArmed = false
        guard !isRemoved, let ack = receiving.takeAcknowledgement() else { return nil }
        outbox.acknowledge(ack)
        return live?.connection
    }

    /// The keepalive of connection `epoch` looks, every keepalive interval: pings (numbered `pingID`) when
    /// nothing arrived since the last look, closes after the dead-peer timeout of silence, and parks when
    /// the connection is idle — this side sent nothing for a whole interval, the peer was heard after
    /// this side's last send, and no ping is unanswered.
    package mutating func keepaliveLook(epoch: UInt64, pingID: UInt64) -> KeepaliveAction {
        guard case .connected(var live) = phase, live.epoch == epoch else { return .stop }
        let decision = live.keepalive.look()
        phase = .connected(live)
        switch decision {
        case .nothing:
            return .watch
        case .park:
            return .park
        case .ping:
            outbox.ping(pingID)
            return .ping(wakeWriter: live.connection)
        case .close(let silent):
            return .close(live.connection, silentFor: silent)
        }
    }

    // MARK: Membership and dialling

    /// Membership reports the peer at `address`, of `incarnation` when known. Makes the peer known (sends
    /// to it queue from now on); dials it when something already waits for it.
    package mutating func update(address: PeerAddress, incarnation: Incarnation?) -> UpdateAction {
        let moved = self.address != address
        self.address = address
        isKnown = true
        var stale: LiveConnection?
        if let incarnation, let live, live.peerIncarnation < incarnation { stale = live }
        guard !isRemoved else { return UpdateAction(startDialing: false, closeStale: stale, wakeDialer: moved) }
        return UpdateAction(startDialing: dialIfNeeded(), closeStale: stale, wakeDialer: moved)
    }

    /// The dial loop asks where to dial now: the peer's address while it is needed — not removed, no
    /// connection, something waiting. Nil ends the loop (a later need starts a new one).
    package mutating func beginAttempt() -> PeerAddress? {
        guard case .disconnected = phase, let address, hasDemand else {
            isDialing = false
            return nil
        }
        isAttempting = true
        return address
    }

    /// A dial attempt ended (it failed to connect, or its connection ended); `handshakeFinished` when it
    /// got as far as a finished handshake, which resets the backoff. The loop pauses and tries again while
    /// the peer is still needed and unconnected; the pause starts at the initial one and doubles to the
    /// maximum, scaled by a jitter drawn from `generator`.
    package mutating func dialAttemptEnded(handshakeFinished: Bool, using generator: inout some RandomNumberGenerator) -> DialAction {
        isAttempting = false
        if handshakeFinished { backoff.reset() }
        guard case .disconnected = phase, address != nil, hasDemand else {
            isDialing = false
            return .stop
        }
        return .retry(after: backoff.pause(using: &generator))
    }

    /// A dial loop was cancelled (the service is stopping); a loop that ends normally is recorded by
    /// ``beginAttempt()`` or ``dialAttemptEnded(handshakeFinished:using:)``.
    package mutating func dialLoopEnded() {
        isDialing = false
        isAttempting = false
    }

    /// The peer left: drops every queued message and ends the relay streams. Terminal: later sends are
    /// refused, a connection that finishes its handshake is refused and the dial loop stops. (The shell
    /// also wakes a pausing dial loop and fails the requests to the peer.)
    package mutating func remove() -> Removal {
        let connection = live?.connection
        phase = .removed
        return Removal(messages: outbox.removeAll(), connection: connection)
    }
}
