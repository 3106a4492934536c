import CohortCore

/// What the handlers of ``PeerLinkStateMachine`` ask the shell to do.
extension PeerLinkStateMachine {
    /// What became of a message given to ``enqueue(_:in:)``.
    package enum EnqueueAction {
        /// Queued; `droppedOldest` older messages of the class made room for it (count them as
        /// `queue_full`). Set the class's depth gauge to `depth` and wake `wakeWriter`'s writer; start a
        /// dial loop when `startDialing` (the peer is unconnected and nothing dials it yet).
        case queued(droppedOldest: Int, depth: Int, wakeWriter: Connection?, startDialing: Bool)
        /// The class's queue is full and its policy drops the newest: this one.
        case full(depth: Int)
        /// The peer was removed.
        case removed
    }

    /// Frames for one socket write, and what else the writer reports.
    package struct WriterBatch {
        /// The frames, in the order to write them.
        package var frames: [OutboundFrame]
        /// Requests dropped unsent because their deadline passed, by class (count them as `expired`).
        package var expired: [(TrafficClass, Int)]
        /// Every class's depth after the take, by raw value.
        package var depths: [Int]
        /// A parked keepalive this batch wakes: it carries news the peer must confirm.
        package var wakeKeepalive: Connection?
    }

    /// What the writer of a connection does next.
    package enum WriterAction {
        /// Its connection is no longer the live one (replaced, lost, or the peer removed): stop.
        case stop
        /// Nothing to send: wait on the writer's doorbell. Count `expired` first.
        case wait(expired: [(TrafficClass, Int)])
        /// Write the batch with one flush.
        case write(WriterBatch)
    }

    /// What activating a connection changed.
    package struct Activation {
        /// The connection it replaces: close it and wake its writer, which sees it is stale and stops.
        package var replaced: Connection?
        /// Relay messages dropped because they were written to an incarnation of the peer that restarted.
        package var droppedForRestart: Int
        /// Whether the peer had been connected before (a reconnect).
        package var reconnect: Bool
        /// Every class's depth after the rewind, by raw value.
        package var depths: [Int]
    }

    /// What became of a connection whose handshake finished.
    package enum EstablishAction {
        /// The peer was removed meanwhile: close the connection.
        case refuse
        /// It is the live connection now; its writer may start.
        case activated(Activation)
    }

    /// What the end of a connection changed.
    package enum LossAction {
        /// It was not the live one (replaced, or the peer removed): nothing changes.
        case wasNotLive
        /// The link is disconnected: wake the connection's writer (it stops), count and publish it; start
        /// a dial loop when `startDialing` (something still waits for the peer).
        case disconnected(Connection, startDialing: Bool)
    }

    /// What to do with a relay message that arrived.
    package enum RelayAction {
        /// A duplicate (already delivered), or from a connection no longer live: drop it.
        case drop
        /// New: deliver it. An acknowledgement was queued when `wakeWriter` is set (wake it); arm the
        /// acknowledgement timer (``ackTimerFired()`` after the ack interval) when `armAckTimer`.
        case deliver(wakeWriter: Connection?, armAckTimer: Bool)
    }

    /// What the keepalive of a connection does after a look.
    package enum KeepaliveAction {
        /// Its connection is no longer the live one: the keepalive ends.
        case stop
        /// Something arrived: look again after the interval.
        case watch
        /// Silent since the last look: a ping is queued; wake the writer and look again after the interval.
        case ping(wakeWriter: Connection)
        /// Idle: wait until the writer's next batch with news wakes it (``WriterBatch/wakeKeepalive``),
        /// then look again after the interval.
        case park
        /// Nothing arrived for the dead-peer timeout: close the connection.
        case close(Connection, silentFor: Duration)
    }

    /// What the idle timer of a parked keepalive decides.
    package enum IdleAction {
        /// Its connection is no longer the live one: the keepalive ends.
        case stop
        /// The keepalive was unparked meanwhile: it watches again.
        case resume
        /// The peer talked to us, or something is under way: stay parked for another idle timeout.
        case stayParked
        /// Idle: the link is disconnected already; close the connection (count and publish it).
        case close(Connection)
    }

    /// What a membership update asks of the shell.
    package struct UpdateAction {
        /// Start a dial loop: something waits for this peer, it is unconnected and none runs.
        package var startDialing: Bool
        /// The live connection goes to an older incarnation than membership reports (the peer restarted
        /// without our noticing): close it.
        package var closeStale: LiveConnection?
        /// The address changed: wake a dial loop pausing before its next attempt, so it uses it now.
        package var wakeDialer: Bool
    }

    /// What the dial loop does after an attempt.
    package enum DialAction: Equatable {
        /// Pause this long (or until woken by a new address or the removal), then dial again.
        case retry(after: Duration)
        /// The peer is connected, no longer needed, or removed: the loop ends.
        case stop
    }

    /// What removing the peer leaves for the shell.
    package struct Removal {
        /// Every message still queued, by class (count them as dropped).
        package var messages: [(TrafficClass, [OutboundMessage])]
        /// The live connection: close it, wake its writer (it stops) and count it gone.
        package var connection: Connection?
    }
}

extension PeerLinkStateMachine.EnqueueAction: Equatable where Connection: Equatable {}
extension PeerLinkStateMachine.LossAction: Equatable where Connection: Equatable {}
extension PeerLinkStateMachine.RelayAction: Equatable where Connection: Equatable {}
extension PeerLinkStateMachine.KeepaliveAction: Equatable where Connection: Equatable {}
extension PeerLinkStateMachine.IdleAction: Equatable where Connection: Equatable {}
