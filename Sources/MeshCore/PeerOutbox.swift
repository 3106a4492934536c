import CohortCore

/// Everything waiting to go to one peer: a queue per class, the reliable relay stream and the
/// connection's own signals (acknowledgements, pings, pongs). Pure; the shell guards it with a lock.
///
/// ``nextFrame(now:chunkBytes:)`` is the writer's scheduling policy: signals first, then `control`, then
/// `raft`, then `relay` and `bulk` in turns. Strict priority above relay/bulk is deliberate: a relay flood
/// can never delay Raft, and control and raft traffic is small by nature.
package struct PeerOutbox: Sendable {
    private(set) var control: ClassQueue
    private(set) var raft: ClassQueue
    private(set) var bulk: ClassQueue
    private(set) var relay: ReliableSendStream
    /// Whether relay goes next when both relay and bulk have frames.
    private var relayTurn = true
    /// A cumulative acknowledgement to send (the newest replaces an older one).
    private(set) var pendingAck: UInt64?
    private var pendingPing: UInt64?
    private var pendingPongs: [UInt64] = []

    /// At most this many pongs wait; a peer pinging faster than we write does not grow the outbox.
    package static let maxPendingPongs = 8

    /// An empty outbox with `queues` limits; `streamID` names the relay stream.
    package init(queues: MeshQueueSettings, streamID: UInt64) {
        control = ClassQueue(trafficClass: .control, limit: queues.control)
        raft = ClassQueue(trafficClass: .raft, limit: queues.raft)
        bulk = ClassQueue(trafficClass: .bulk, limit: queues.bulk)
        relay = ReliableSendStream(limit: queues.relay, streamID: streamID)
    }

    /// Queues `message` in `trafficClass`. Returns whether it was queued and how many older messages
    /// the class's drop policy discarded for it.
    package mutating func enqueue(_ message: OutboundMessage, in trafficClass: TrafficClass) -> (queued: Bool, droppedOldest: Int) {
        switch trafficClass {
        case .control: control.enqueue(message)
        case .raft: raft.enqueue(message)
        case .bulk: bulk.enqueue(message)
        case .relay: (relay.enqueue(message), 0)
        }
    }

    /// Messages held for `trafficClass` (for relay: unsent and unacknowledged).
    package func depth(_ trafficClass: TrafficClass) -> Int {
        switch trafficClass {
        case .control: control.count
        case .raft: raft.count
        case .bulk: bulk.count
        case .relay: relay.count
        }
    }

    /// Whether the writer has anything to send.
    package var hasFrames: Bool {
        pendingAck != nil || pendingPing != nil || !pendingPongs.isEmpty || control.count > 0 || raft.count > 0
            || bulk.count > 0 || relay.unsent > 0
    }

    /// Asks for a cumulative acknowledgement of the relay stream up to `sequence`.
    package mutating func acknowledge(_ sequence: UInt64) {
        pendingAck = max(pendingAck ?? 0, sequence)
    }

    /// Asks for a keepalive ping numbered `id`.
    package mutating func ping(_ id: UInt64) {
        pendingPing = id
    }

    /// Asks for a pong answering ping `id`.
    package mutating func pong(_ id: UInt64) {
        if pendingPongs.count < Self.maxPendingPongs { pendingPongs.append(id) }
    }

    /// The peer acknowledged our relay stream up to `sequence`.
    package mutating func peerAcknowledged(_ sequence: UInt64) {
        relay.acknowledge(through: sequence)
    }

    /// A connection to the peer (of `incarnation`, resuming our stream after `resume`) is starting: the
    /// relay stream rewinds, partly sent messages restart, stale signals go. Returns the relay messages
    /// dropped because the peer restarted.
    package mutating func connectionStarted(resume: UInt64, peerIncarnation incarnation: Incarnation) -> Int {
        control.restartHead()
        raft.restartHead()
        bulk.restartHead()
        pendingPing = nil
        pendingPongs.removeAll()
        return relay.resume(after: resume, peerIncarnation: incarnation)
    }

    /// The next frame by priority, or nil when there is nothing to send.
    package mutating func nextFrame(now: ContinuousClock.Instant, chunkBytes: Int) -> OutboundFrame? {
        if let sequence = pendingAck {
            pendingAck = nil
            return OutboundFrame(header: FrameHeader(trafficClass: .control, kind: .ack, sequence: sequence), payload: [])
        }
        if !pendingPongs.isEmpty {
            let id = pendingPongs.removeFirst()
            return OutboundFrame(header: FrameHeader(trafficClass: .control, kind: .pong, requestID: id), payload: [])
        }
        if let id = pendingPing {
            pendingPing = nil
            return OutboundFrame(header: FrameHeader(trafficClass: .control, kind: .ping, requestID: id), payload: [])
        }
        if let frame = control.popFrame(now: now, chunkBytes: chunkBytes) { return frame }
        if let frame = raft.popFrame(now: now, chunkBytes: chunkBytes) { return frame }
        for _ in 0..<2 {
            let useRelay = relayTurn
            relayTurn.toggle()
            let frame = useRelay ? relay.popFrame(now: now, chunkBytes: chunkBytes) : bulk.popFrame(now: now, chunkBytes: chunkBytes)
            if let frame { return frame }
        }
        return nil
    }

    /// Returns and resets the number of requests dropped unsent because their deadline passed, per class.
    package mutating func takeExpired() -> [(TrafficClass, Int)] {
        [(.control, control.takeExpired()), (.raft, raft.takeExpired()), (.bulk, bulk.takeExpired())].filter { $0.1 > 0 }
    }

    /// Drops every queued message (the peer left), returning them by class.
    package mutating func removeAll() -> [(TrafficClass, [OutboundMessage])] {
        pendingAck = nil
        pendingPing = nil
        pendingPongs.removeAll()
        return [(.control, control.removeAll()), (.raft, raft.removeAll()), (.relay, relay.removeAll()), (.bulk, bulk.removeAll())]
    }
}
