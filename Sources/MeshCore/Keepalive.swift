/// The keepalive's decision at each look: nothing (something arrived), ping (silent since the last look),
/// close (silent for the dead-peer timeout), or park (idle: this side sent nothing, the peer was heard
/// after its last send, and no ping is unanswered).
package struct Keepalive: Sendable {
    /// What one look decides.
    package enum Action: Equatable, Sendable {
        case nothing
        case ping
        case close(silentFor: Duration)
        case park
    }

    /// The time between looks.
    package let interval: Duration
    /// Silence after which the connection is closed.
    package let deadAfter: Duration
    private var silent: Duration = .zero

    /// A keepalive looking every `interval` that gives up after `deadAfter` of silence.
    package init(interval: Duration, deadAfter: Duration) {
        self.interval = interval
        self.deadAfter = deadAfter
    }

    /// `heard`: a frame arrived since the last look; `sent`: this side wrote one (a ping included);
    /// `answered`: a frame arrived after this side's last write.
    package mutating func look(heard: Bool, sent: Bool, answered: Bool) -> Action {
        if !sent, answered, silent == .zero { return .park }
        silent = heard ? .zero : silent + interval
        if silent >= deadAfter { return .close(silentFor: silent) }
        return heard ? .nothing : .ping
    }
}

/// What the keepalive of one connection has seen between its looks, and whether it is parked: whether a
/// frame arrived since the last look, how many batches with news (anything but pongs and relay
/// acknowledgements) this side wrote, and whether the peer was heard after the last of them.
///
/// Part of the connection's state in ``PeerLinkStateMachine``, so a frame heard, a batch taken and a look
/// are each one transition under the link's lock.
package struct KeepaliveWatch: Sendable {
    private var keepalive: Keepalive
    /// A frame arrived since the last look; true at first, for the handshake just heard.
    private var heard = true
    /// Batches with news taken by the writer so far.
    private var sends: UInt64 = 0
    /// `sends` when the last frame arrived.
    private var sendsWhenLastHeard: UInt64 = 0
    /// `sends` at the previous look.
    private var sendsAtLastLook: UInt64 = 0
    /// Parked: no look is scheduled until the writer next takes a batch with news.
    package private(set) var isParked = false
    /// A frame arrived while parked, since the idle timer last looked.
    private var heardWhileParked = false

    /// A watch for a connection whose handshake just finished.
    package init(interval: Duration, deadAfter: Duration) {
        keepalive = Keepalive(interval: interval, deadAfter: deadAfter)
    }

    /// The time between looks.
    package var interval: Duration { keepalive.interval }

    /// A frame arrived from the peer.
    package mutating func peerHeard() {
        heard = true
        sendsWhenLastHeard = sends
        if isParked { heardWhileParked = true }
    }

    /// For the idle timer: whether nothing arrived since the keepalive parked or since the last call.
    package mutating func takeQuietWhileParked() -> Bool {
        defer { heardWhileParked = false }
        return !heardWhileParked
    }

    /// The writer took a batch with news. Returns true when that unparks the keepalive, which then starts
    /// a fresh window: what arrived while it was parked does not count.
    package mutating func sent() -> Bool {
        sends += 1
        guard isParked else { return false }
        isParked = false
        heard = false
        return true
    }

    /// The periodic look: decides, and parks when the decision is to park.
    package mutating func look() -> Keepalive.Action {
        let sent = sends != sendsAtLastLook
        sendsAtLastLook = sends
        let action = keepalive.look(heard: heard, sent: sent, answered: sendsWhenLastHeard == sends)
        heard = false
        if action == .park {
            isParked = true
            heardWhileParked = false
        }
        return action
    }
}
