import NIOSupport
import CohortCore
import NIOCore
import Prometheus
import Synchronization

/// The connection that currently carries a link's traffic.
struct ActiveConnection: Sendable {
    /// Unique per connection in this service; stale tasks of a replaced connection recognise themselves.
    var epoch: UInt64
    var channel: any Channel
    var incarnation: Incarnation
    /// What its keepalive watches.
    var activity: ConnectionActivity
}

/// Everything the mesh keeps about one peer, shared by `send` (any thread), the connection's reader and
/// writer tasks, the dial loop and the actor. Three locks, so senders contend only with the writer:
/// `outbound` (queues), `inbound` (relay receive state), `status` (address and connection).
final class PeerLink: Sendable {
    /// What became of a message given to ``enqueue(_:in:)``.
    enum EnqueueOutcome: Equatable {
        case queued(droppedOldest: Int)
        case full
        case removed
    }

    /// A batch of frames for the writer and the queue state after taking it.
    struct Batch {
        var frames: [OutboundFrame]
        var expired: [(TrafficClass, Int)]
        var depths: [Int]
    }

    /// What activating a connection changed.
    struct Activation {
        /// The connection it replaces, to be closed.
        var replaced: ActiveConnection?
        /// Relay messages dropped because the peer restarted.
        var droppedForRestart: Int
        /// Whether the peer had been connected before (a reconnect).
        var reconnect: Bool
        var depths: [Int]
    }

    private struct Outbound {
        var outbox: PeerOutbox
        /// The connection whose writer may take frames; nil while disconnected.
        var epoch: UInt64?
        var writerBell: Doorbell?
        var removed = false
    }

    private struct Inbound {
        var stream = ReliableReceiveStream()
        var epoch: UInt64?
        var ackTimerArmed = false
    }

    private struct Status {
        var host: String?
        var port: Int?
        var incarnationHint: Incarnation?
        var connection: ActiveConnection?
        var dialing = false
        /// Known through `setPeer`, not only through a connection it made to us.
        var known: Bool
        var removed = false
        var everConnected = false
    }

    let id: NodeID
    /// Our reliable relay stream to this peer, named in every handshake.
    let streamID: UInt64
    private let outbound: Mutex<Outbound>
    private let inbound = Mutex(Inbound())
    private let status: Mutex<Status>
    /// Wakes the dial loop out of its backoff pause (removal, a new address).
    let retryBell = Doorbell()
    /// `internode_queue_depth{class,peer}` by class raw value; empty without metrics.
    let depthGauges: [Gauge]

    init(id: NodeID, queues: MeshQueueSettings, streamID: UInt64, known: Bool, depthGauges: [Gauge]) {
        self.id = id
        self.streamID = streamID
        outbound = Mutex(Outbound(outbox: PeerOutbox(queues: queues, streamID: streamID)))
        status = Mutex(Status(known: known))
        self.depthGauges = depthGauges
    }

    // MARK: Sending

    /// Queues a message; wakes the writer if one is connected.
    func enqueue(_ message: OutboundMessage, in trafficClass: TrafficClass) -> EnqueueOutcome {
        let (outcome, bell, depth) = outbound.withLock { state -> (EnqueueOutcome, Doorbell?, Int) in
            guard !state.removed else { return (.removed, nil, 0) }
            let (queued, droppedOldest) = state.outbox.enqueue(message, in: trafficClass)
            guard queued else { return (.full, nil, state.outbox.depth(trafficClass)) }
            return (.queued(droppedOldest: droppedOldest), state.writerBell, state.outbox.depth(trafficClass))
        }
        bell?.ring()
        setDepth(trafficClass, depth)
        return outcome
    }

    /// Up to `maxFrames` frames or about `maxBytes` for the writer of connection `epoch`; nil when that
    /// connection is no longer the active one (the writer should stop).
    func takeBatch(epoch: UInt64, now: ContinuousClock.Instant, chunkBytes: Int, maxBytes: Int, maxFrames: Int) -> Batch? {
        let batch = outbound.withLock { state -> Batch? in
            guard state.epoch == epoch, !state.removed else { return nil }
            var frames: [OutboundFrame] = []
            var bytes = 0
            while frames.count < maxFrames, bytes < maxBytes, let frame = state.outbox.nextFrame(now: now, chunkBytes: chunkBytes) {
                bytes += frame.bodyBytes
                frames.append(frame)
            }
            let depths = frames.isEmpty ? [] : TrafficClass.allCases.map { state.outbox.depth($0) }
            return Batch(frames: frames, expired: state.outbox.takeExpired(), depths: depths)
        }
        if let depths = batch?.depths { setDepths(depths) }
        return batch
    }

    /// Asks the writer to send a ping.
    func queuePing(_ id: UInt64) {
        signal { $0.ping(id) }
    }

    /// Asks the writer to answer a ping.
    func queuePong(_ id: UInt64) {
        signal { $0.pong(id) }
    }

    private func signal(_ change: (inout PeerOutbox) -> Void) {
        let bell = outbound.withLock { state -> Doorbell? in
            change(&state.outbox)
            return state.writerBell
        }
        bell?.ring()
    }

    /// The peer acknowledged our relay stream through `sequence`.
    func peerAcknowledged(_ sequence: UInt64) {
        let depth = outbound.withLock { state -> Int in
            state.outbox.peerAcknowledged(sequence)
            return state.outbox.depth(.relay)
        }
        setDepth(.relay, depth)
    }

    // MARK: Receiving relay

    /// The resume point to state for the peer's stream `streamID` (read only).
    func resumePoint(forStream streamID: UInt64) -> UInt64 {
        inbound.withLock { $0.stream.resumePoint(forStream: streamID) }
    }

    /// Whether relay message `sequence`, received on connection `epoch`, is new and should be delivered.
    /// Also decides the acknowledgement: at once after `ackEvery` messages (queued here), or by a timer
    /// the caller arms when `armTimer` is true.
    func acceptRelay(_ sequence: UInt64, epoch: UInt64, ackEvery: Int) -> (deliver: Bool, armTimer: Bool) {
        let (deliver, ack, armTimer) = inbound.withLock { state -> (Bool, UInt64?, Bool) in
            guard state.epoch == epoch, state.stream.accept(sequence) else { return (false, nil, false) }
            if state.stream.unacknowledged >= UInt64(ackEvery) {
                return (true, state.stream.takeAcknowledgement(), false)
            }
            guard !state.ackTimerArmed else { return (true, nil, false) }
            state.ackTimerArmed = true
            return (true, nil, true)
        }
        if let ack { signal { $0.acknowledge(ack) } }
        return (deliver, armTimer)
    }

    /// The acknowledgement timer fired: acknowledge whatever was delivered since the last one.
    func flushAcknowledgement() {
        let ack = inbound.withLock { state -> UInt64? in
            state.ackTimerArmed = false
            return state.stream.takeAcknowledgement()
        }
        if let ack { signal { $0.acknowledge(ack) } }
    }

    // MARK: Connections

    /// Makes `connection` the active one: the peer resumes our relay stream after `resume`, and its own
    /// stream towards us is `peerStreamID`. The writer of the new connection waits on `bell`.
    /// Returns nil when the peer was removed meanwhile (the caller closes the connection).
    func activate(_ connection: ActiveConnection, resume: UInt64, peerStreamID: UInt64, bell: Doorbell) -> Activation? {
        let activated = status.withLock { state -> (ActiveConnection?, Bool)? in
            guard !state.removed else { return nil }
            let replaced = state.connection
            let reconnect = state.everConnected
            state.connection = connection
            state.everConnected = true
            state.incarnationHint = connection.incarnation
            return (replaced, reconnect)
        }
        guard let (replaced, reconnect) = activated else { return nil }
        inbound.withLock { state in
            state.stream.adopt(stream: peerStreamID)
            state.epoch = connection.epoch
        }
        let (dropped, oldBell, depths) = outbound.withLock { state -> (Int, Doorbell?, [Int]) in
            let dropped = state.outbox.connectionStarted(resume: resume, peerIncarnation: connection.incarnation)
            let oldBell = state.writerBell
            state.epoch = connection.epoch
            state.writerBell = bell
            return (dropped, oldBell, TrafficClass.allCases.map { state.outbox.depth($0) })
        }
        // The replaced writer sees its epoch is stale and stops.
        oldBell?.ring()
        bell.ring()
        setDepths(depths)
        return Activation(replaced: replaced, droppedForRestart: dropped, reconnect: reconnect, depths: depths)
    }

    /// Connection `epoch` ended. Returns false when it was not the active one (it had been replaced).
    func deactivate(epoch: UInt64) -> Bool {
        let wasActive = status.withLock { state -> Bool in
            guard state.connection?.epoch == epoch else { return false }
            state.connection = nil
            return true
        }
        guard wasActive else { return false }
        inbound.withLock { state in
            if state.epoch == epoch { state.epoch = nil }
        }
        let bell = outbound.withLock { state -> Doorbell? in
            guard state.epoch == epoch else { return nil }
            state.epoch = nil
            defer { state.writerBell = nil }
            return state.writerBell
        }
        bell?.ring()
        return true
    }

    /// The active connection, if any.
    var connection: ActiveConnection? {
        status.withLock { $0.connection }
    }

    // MARK: Membership

    /// Records the peer's address from membership. Returns whether a dial loop should be started (we dial
    /// and none is running), and closes a connection to an older incarnation.
    func update(host: String, port: Int, incarnation: Incarnation?, weDial: Bool) -> (startDialing: Bool, stale: ActiveConnection?) {
        let result = status.withLock { state -> (Bool, ActiveConnection?, Bool) in
            let moved = state.host != host || state.port != port
            state.host = host
            state.port = port
            state.known = true
            var stale: ActiveConnection?
            if let incarnation {
                if let connection = state.connection, connection.incarnation < incarnation { stale = connection }
                state.incarnationHint = max(state.incarnationHint ?? incarnation, incarnation)
            }
            guard weDial, !state.removed else { return (false, stale, moved) }
            let start = !state.dialing
            state.dialing = true
            return (start, stale, moved)
        }
        // A dial loop pausing before its next attempt should use the new address now.
        if result.2 { retryBell.ring() }
        return (result.0, result.1)
    }

    /// Where to dial next; nil once removed (the dial loop ends).
    func dialTarget() -> (host: String, port: Int)? {
        status.withLock { state in
            guard !state.removed, let host = state.host, let port = state.port else { return nil }
            return (host, port)
        }
    }

    /// The dial loop ended.
    func dialLoopEnded() {
        status.withLock { $0.dialing = false }
    }

    /// Whether a dial loop runs for this peer (for tests of the dialling rule).
    var isDialing: Bool {
        status.withLock { $0.dialing }
    }

    /// Whether the peer was introduced by `setPeer` (rather than only by connecting to us).
    var isKnown: Bool {
        status.withLock { $0.known }
    }

    /// The peer left: drops every queued message (returned by class) and returns the connection to
    /// close. Later sends are refused.
    func remove() -> (messages: [(TrafficClass, [OutboundMessage])], connection: ActiveConnection?) {
        let connection = status.withLock { state -> ActiveConnection? in
            state.removed = true
            defer { state.connection = nil }
            return state.connection
        }
        let (messages, bell) = outbound.withLock { state in
            state.removed = true
            state.epoch = nil
            defer { state.writerBell = nil }
            return (state.outbox.removeAll(), state.writerBell)
        }
        inbound.withLock { $0.epoch = nil }
        bell?.ring()
        retryBell.ring()
        return (messages, connection)
    }

    /// Messages held for `trafficClass`.
    func depth(_ trafficClass: TrafficClass) -> Int {
        outbound.withLock { $0.outbox.depth(trafficClass) }
    }

    private func setDepth(_ trafficClass: TrafficClass, _ depth: Int) {
        guard !depthGauges.isEmpty else { return }
        depthGauges[Int(trafficClass.rawValue)].set(Int64(depth))
    }

    private func setDepths(_ depths: [Int]) {
        guard !depthGauges.isEmpty else { return }
        for (gauge, depth) in zip(depthGauges, depths) { gauge.set(Int64(depth)) }
    }
}
