import CohortCore
import CohortTestKit
import Testing
@testable import Mesh
@testable import MeshCore

/// One peer's link as a pure state machine: each event and the actions it returns, no socket. The
/// connection handles are names ("c1", "c2"); epochs are the numbers the shell would hand out.
@Suite struct PeerLinkStateMachineTests {
    typealias Machine = PeerLinkStateMachine<String>

    let now = ContinuousClock.now
    let first = Incarnation(1)

    static func settings(_ configure: (inout MeshSettings) -> Void = { _ in }) -> MeshSettings {
        var settings = MeshSettings(nodeID: NodeID("a"), incarnation: Incarnation(7))
        settings.keepaliveInterval = .seconds(5)
        settings.deadPeerTimeout = .seconds(15)
        configure(&settings)
        return settings
    }

    func machine(_ configure: (inout MeshSettings) -> Void = { _ in }) -> Machine {
        Machine(streamID: 42, known: true, settings: Self.settings(configure))
    }

    func message(_ index: Int) -> OutboundMessage {
        OutboundMessage(kind: .message, endpoint: .processes, payload: numbered(index))
    }

    /// Connects `connection` as `epoch`, expecting it to be accepted; returns the activation.
    @discardableResult
    func connect(
        _ link: inout Machine, _ connection: String, epoch: UInt64, incarnation: Incarnation? = nil, resume: UInt64 = 0,
        dialedByUs: Bool = false, at instant: ContinuousClock.Instant? = nil
    ) -> Machine.Activation? {
        let action = link.connectionEstablished(
            connection, epoch: epoch, peerIncarnation: incarnation ?? first, resume: resume, peerStreamID: 9,
            dialedByUs: dialedByUs, now: instant ?? now
        )
        guard case .activated(let activation) = action else { return nil }
        return activation
    }

    /// What the writer of `epoch` gets: nil for `.stop`, the frames otherwise (empty for `.wait`).
    func take(_ link: inout Machine, epoch: UInt64) -> Machine.WriterBatch? {
        switch link.takeBatch(epoch: epoch, now: now, chunkBytes: 1024, maxBytes: 1 << 20, maxFrames: 1024) {
        case .stop: nil
        case .wait(let expired): Machine.WriterBatch(frames: [], expired: expired, depths: [], wakeKeepalive: nil)
        case .write(let batch): batch
        }
    }

    /// The kinds of the frames the writer of `epoch` gets.
    func kinds(_ link: inout Machine, epoch: UInt64) -> [FrameKind]? {
        take(&link, epoch: epoch)?.frames.map(\.header.kind)
    }

    // MARK: Sending and connections

    @Test func messagesQueueWhileDisconnectedAndTheWriterIsWokenOnceConnected() {
        var link = machine()
        #expect(link.enqueue(message(1), in: .raft) == .queued(droppedOldest: 0, depth: 1, wakeWriter: nil, startDialing: false))
        #expect(take(&link, epoch: 1) == nil, "no writer runs without a connection")
        let activation = connect(&link, "c1", epoch: 1)
        #expect(activation?.replaced == nil && activation?.reconnect == false)
        #expect(activation?.depths == [0, 1, 0, 0])
        #expect(link.enqueue(message(2), in: .raft) == .queued(droppedOldest: 0, depth: 2, wakeWriter: "c1", startDialing: false))
        let batch = take(&link, epoch: 1)
        #expect(batch?.frames.map { number(of: Array($0.payload)) } == [1, 2])
        #expect(batch?.depths == [0, 0, 0, 0])
        #expect(kinds(&link, epoch: 1) == [], "an empty outbox makes the writer wait")
    }

    @Test func aNewConnectionReplacesTheLiveOneWhoseWriterThenStops() {
        var link = machine()
        connect(&link, "c1", epoch: 1)
        let second = connect(&link, "c2", epoch: 2)
        #expect(second?.replaced == "c1", "the replaced connection is handed back to be closed")
        #expect(second?.reconnect == true)
        _ = link.enqueue(message(1), in: .control)
        #expect(take(&link, epoch: 1) == nil, "the replaced writer stops")
        #expect(kinds(&link, epoch: 2) == [.message])
        // The replaced connection's end changes nothing; the live one's end disconnects.
        #expect(link.connectionLost(epoch: 1) == .wasNotLive)
        #expect(link.live?.epoch == 2)
        #expect(link.connectionLost(epoch: 2) == .disconnected("c2", startDialing: false))
        #expect(link.live == nil)
        #expect(take(&link, epoch: 2) == nil)
    }

    @Test func whatIsQueuedWaitsForTheNextConnectionAndAPartlySentMessageRestarts() {
        var link = machine()
        connect(&link, "c1", epoch: 1)
        _ = link.enqueue(OutboundMessage(kind: .message, endpoint: .processes, payload: numbered(1, size: 3000)), in: .bulk)
        let chunk = link.takeBatch(epoch: 1, now: now, chunkBytes: 1024, maxBytes: 1, maxFrames: 1)
        guard case .write(let partial) = chunk else { Issue.record("expected a chunk"); return }
        #expect(partial.frames.map(\.header.kind) == [.chunk])
        #expect(link.connectionLost(epoch: 1) == .disconnected("c1", startDialing: false), "no address: nothing to dial")
        _ = link.enqueue(message(2), in: .bulk)
        #expect(link.depth(.bulk) == 2)
        connect(&link, "c2", epoch: 2)
        #expect(kinds(&link, epoch: 2) == [.chunk, .chunk, .message, .message], "the big message is resent whole")
    }

    @Test func aFullQueueRefusesTheNewestAndReportsItsDepth() {
        var link = machine { $0.queues.bulk = MeshQueueLimit(maxMessages: 2, maxBytes: 1 << 20) }
        _ = link.enqueue(message(1), in: .bulk)
        _ = link.enqueue(message(2), in: .bulk)
        #expect(link.enqueue(message(3), in: .bulk) == .full(depth: 2))
        var oldest = machine { $0.queues.bulk = MeshQueueLimit(maxMessages: 2, maxBytes: 1 << 20, policy: .dropOldest) }
        _ = oldest.enqueue(message(1), in: .bulk)
        _ = oldest.enqueue(message(2), in: .bulk)
        #expect(oldest.enqueue(message(3), in: .bulk) == .queued(droppedOldest: 1, depth: 2, wakeWriter: nil, startDialing: false))
    }

    // MARK: The reliable relay stream

    @Test func relayMessagesSurviveReconnectsAndResumeAfterThePeersResumePoint() {
        var link = machine()
        for index in 1...5 { _ = link.enqueue(message(index), in: .relay) }
        connect(&link, "c1", epoch: 1)
        #expect(take(&link, epoch: 1)?.frames.map(\.header.sequence) == [1, 2, 3, 4, 5])
        #expect(link.acknowledgementArrived(1) == 4)
        #expect(link.connectionLost(epoch: 1) == .disconnected("c1", startDialing: false))
        #expect(link.depth(.relay) == 4, "unacknowledged relay messages stay queued while disconnected")
        // The peer had delivered up to 3: 4 and 5 are resent, 2 and 3 released.
        let activation = connect(&link, "c2", epoch: 2, resume: 3)
        #expect(activation?.depths[Int(TrafficClass.relay.rawValue)] == 2)
        #expect(take(&link, epoch: 2)?.frames.map(\.header.sequence) == [4, 5])
        #expect(link.acknowledgementArrived(5) == 0)
    }

    @Test func aRestartedPeerLosesWhatWasWrittenToItsOldIncarnation() {
        var link = machine()
        for index in 1...3 { _ = link.enqueue(message(index), in: .relay) }
        connect(&link, "c1", epoch: 1)
        _ = take(&link, epoch: 1)
        _ = link.enqueue(message(4), in: .relay)
        _ = link.connectionLost(epoch: 1)
        let activation = connect(&link, "c2", epoch: 2, incarnation: Incarnation(2))
        #expect(activation?.droppedForRestart == 3)
        #expect(take(&link, epoch: 2)?.frames.map(\.header.sequence) == [4])
    }

    @Test func relayMessagesAreDeliveredOnceAndAcknowledgedInBatchesOrByTheTimer() {
        var link = machine { $0.ackEveryMessages = 3 }
        #expect(link.resumePoint(forStream: 9) == 0)
        connect(&link, "c1", epoch: 1)
        #expect(link.relayArrived(1, epoch: 1) == .deliver(wakeWriter: nil, armAckTimer: true))
        #expect(link.relayArrived(2, epoch: 1) == .deliver(wakeWriter: nil, armAckTimer: false), "the timer is armed once")
        #expect(link.relayArrived(2, epoch: 1) == .drop, "a duplicate is dropped")
        #expect(link.relayArrived(3, epoch: 1) == .deliver(wakeWriter: "c1", armAckTimer: false), "every 3rd is acked at once")
        #expect(take(&link, epoch: 1)?.frames.map { [$0.header.kind.rawValue, UInt8($0.header.sequence)] } == [[FrameKind.ack.rawValue, 3]])
        #expect(link.ackTimerFired() == nil, "nothing new to acknowledge")
        #expect(link.relayArrived(4, epoch: 1) == .deliver(wakeWriter: nil, armAckTimer: true))
        #expect(link.ackTimerFired() == "c1")
        #expect(take(&link, epoch: 1)?.frames.map(\.header.sequence) == [4])
        #expect(link.resumePoint(forStream: 9) == 4 && link.resumePoint(forStream: 10) == 0)
        // A frame read on a replaced connection is not delivered.
        connect(&link, "c2", epoch: 2)
        #expect(link.relayArrived(5, epoch: 1) == .drop)
        #expect(link.relayArrived(5, epoch: 2) == .deliver(wakeWriter: nil, armAckTimer: true))
    }

    // MARK: The keepalive

    @Test func anIdleConnectionParksAtTheFirstLookAndOnlyNewsWakesIt() {
        var link = machine()
        connect(&link, "c1", epoch: 1)
        // The handshake was heard after our (no) last send, and we sent nothing: idle.
        #expect(link.keepaliveLook(epoch: 1, pingID: 1) == .park)
        #expect(link.live?.keepalive.isParked == true)
        // Answers — a pong, an acknowledgement — leave it parked.
        #expect(link.pingArrived(7) == "c1")
        #expect(link.relayArrived(1, epoch: 1) == .deliver(wakeWriter: nil, armAckTimer: true))
        _ = link.ackTimerFired()
        let answers = take(&link, epoch: 1)
        #expect(answers?.frames.map(\.header.kind) == [.ack, .pong])
        #expect(answers?.wakeKeepalive == nil)
        #expect(link.live?.keepalive.isParked == true)
        // News wakes it, once.
        _ = link.enqueue(message(1), in: .raft)
        #expect(take(&link, epoch: 1)?.wakeKeepalive == "c1")
        #expect(link.live?.keepalive.isParked == false)
        _ = link.enqueue(message(2), in: .raft)
        #expect(take(&link, epoch: 1)?.wakeKeepalive == nil)
    }

    @Test func aWokenKeepalivePingsUntilAnsweredThenParksAgain() {
        var link = machine()
        connect(&link, "c1", epoch: 1)
        #expect(link.keepaliveLook(epoch: 1, pingID: 1) == .park)
        _ = link.enqueue(message(1), in: .raft)
        _ = take(&link, epoch: 1)
        // A fresh window: nothing heard since the send, so a ping (which the writer takes as news).
        #expect(link.keepaliveLook(epoch: 1, pingID: 2) == .ping(wakeWriter: "c1"))
        let ping = take(&link, epoch: 1)?.frames.first?.header
        #expect(ping?.kind == .ping && ping?.requestID == 2)
        // The pong arrives: something was heard, so no ping; then idle again.
        link.peerHeard(epoch: 1)
        #expect(link.keepaliveLook(epoch: 1, pingID: 3) == .watch)
        #expect(link.keepaliveLook(epoch: 1, pingID: 4) == .park)
    }

    @Test func aConnectionSilentForTheDeadPeerTimeoutIsClosed() {
        var link = machine()
        connect(&link, "c1", epoch: 1)
        _ = link.enqueue(message(1), in: .raft)
        _ = take(&link, epoch: 1)
        // Heard at the handshake, so the first look sees traffic; then silence: pings, then closed.
        #expect(link.keepaliveLook(epoch: 1, pingID: 1) == .watch)
        #expect(link.keepaliveLook(epoch: 1, pingID: 2) == .ping(wakeWriter: "c1"))
        _ = take(&link, epoch: 1)
        #expect(link.keepaliveLook(epoch: 1, pingID: 3) == .ping(wakeWriter: "c1"))
        _ = take(&link, epoch: 1)
        #expect(link.keepaliveLook(epoch: 1, pingID: 4) == .close("c1", silentFor: .seconds(15)))
    }

    @Test func aReplacedConnectionsKeepaliveStopsAndItsFramesDoNotCount() {
        var link = machine()
        connect(&link, "c1", epoch: 1)
        connect(&link, "c2", epoch: 2)
        #expect(link.keepaliveLook(epoch: 1, pingID: 1) == .stop)
        _ = link.enqueue(message(1), in: .raft)
        _ = take(&link, epoch: 2)
        #expect(link.keepaliveLook(epoch: 2, pingID: 2) == .watch, "the new connection's handshake was heard")
        link.peerHeard(epoch: 1)
        #expect(link.keepaliveLook(epoch: 2, pingID: 3) == .ping(wakeWriter: "c2"), "a frame on the old connection proves nothing")
    }

    // MARK: Membership and dialling

    @Test func aPeerIsDialledOnlyWhenSomethingWaitsForItAndOneLoopAtATime() {
        var link = Machine(streamID: 42, known: false, settings: Self.settings())
        #expect(!link.isKnown && !link.hasDemand)
        let address = PeerAddress(host: "10.0.0.2", port: 7950)
        let added = link.update(address: address, incarnation: nil)
        #expect(!added.startDialing && added.wakeDialer && link.isKnown && !link.isDialing, "known but not needed: no dial")
        #expect(link.beginAttempt() == nil, "a loop started anyway ends at once")
        #expect(link.enqueue(message(1), in: .control) == .queued(droppedOldest: 0, depth: 1, wakeWriter: nil, startDialing: true))
        #expect(link.isDialing && link.hasDemand)
        #expect(link.enqueue(message(2), in: .raft) == .queued(droppedOldest: 0, depth: 1, wakeWriter: nil, startDialing: false), "one dial loop per peer")
        let again = link.update(address: address, incarnation: nil)
        #expect(!again.startDialing && !again.wakeDialer)
        let moved = link.update(address: PeerAddress(host: "10.0.0.3", port: 7950), incarnation: nil)
        #expect(!moved.startDialing && moved.wakeDialer)
        #expect(link.beginAttempt()?.host == "10.0.0.3" && link.isAttempting)
        #expect(link.refusesCrossedDial(from: first, peerIsPreferred: false, now: now), "the smaller ID's attempt wins")
        #expect(!link.refusesCrossedDial(from: first, peerIsPreferred: true, now: now), "the smaller ID's attempt wins")
        #expect(connect(&link, "c1", epoch: 1, dialedByUs: true) != nil)
        #expect(!link.isAttempting, "the attempt is over once its connection is live")
    }

    @Test(arguments: [false, true])
    func aCrossedDialArrivingJustAfterOurOwnConnectionIsRefused(peerIsPreferred: Bool) {
        // Both dialled: ours finished its handshake first, and the peer's own dial, started before ours reached
        // it, arrives now. Taking it would replace ours on both sides and fail what was written on ours; for
        // a connect and a handshake timeout (2 + 5 s here) it is refused, whichever ID is smaller.
        var link = machine()
        _ = link.update(address: PeerAddress(host: "10.0.0.2", port: 7950), incarnation: first)
        _ = link.enqueue(message(1), in: .control)
        #expect(link.beginAttempt() != nil)
        #expect(connect(&link, "ours", epoch: 1, dialedByUs: true, at: now) != nil)
        #expect(link.refusesCrossedDial(from: first, peerIsPreferred: peerIsPreferred, now: now + .seconds(1)))
        #expect(link.refusesCrossedDial(from: first, peerIsPreferred: peerIsPreferred, now: now + .milliseconds(6_999)))
        // Later, a dial from the peer means it lost the connection we hold (a close on its way, a half-open
        // path): taken, as is a dial from a new incarnation at any time.
        #expect(!link.refusesCrossedDial(from: first, peerIsPreferred: peerIsPreferred, now: now + .seconds(7)))
        #expect(!link.refusesCrossedDial(from: Incarnation(2), peerIsPreferred: peerIsPreferred, now: now + .seconds(1)))
        // A connection the peer dialled to us is no reason to refuse its next one.
        #expect(connect(&link, "theirs", epoch: 2, dialedByUs: false, at: now + .seconds(8)) != nil)
        #expect(!link.refusesCrossedDial(from: first, peerIsPreferred: peerIsPreferred, now: now + .seconds(8)))
    }

    @Test func membershipDialsAPeerWhoseMessagesWereQueuedBeforeItsAddressWasKnown() {
        // A peer known only by a connection it made to us: what is queued after that connection ends waits
        // for an address.
        var link = Machine(streamID: 42, known: false, settings: Self.settings())
        _ = link.enqueue(message(1), in: .relay)
        #expect(!link.isDialing)
        #expect(link.update(address: PeerAddress(host: "h", port: 1), incarnation: nil).startDialing)
    }

    @Test func aLostConnectionIsRedialledOnlyWhileSomethingWaits() {
        var link = machine()
        var generator = SplitMix64(seed: 3)
        _ = link.update(address: PeerAddress(host: "h", port: 1), incarnation: nil)
        connect(&link, "c1", epoch: 1)
        #expect(link.connectionLost(epoch: 1) == .disconnected("c1", startDialing: false), "nothing waits: no redial")
        connect(&link, "c2", epoch: 2)
        _ = link.enqueue(message(1), in: .relay)
        _ = take(&link, epoch: 2)
        #expect(link.connectionLost(epoch: 2) == .disconnected("c2", startDialing: true), "an unacknowledged relay message waits")
        // The dial loop's attempt fails; it retries while the message waits, and stops once it is acknowledged
        // over a connection the peer dialled.
        #expect(link.beginAttempt() != nil)
        guard case .retry = link.dialAttemptEnded(handshakeFinished: false, using: &generator) else {
            Issue.record("expected a retry while the message waits")
            return
        }
        #expect(link.beginAttempt() != nil)
        connect(&link, "c3", epoch: 3)
        #expect(link.dialAttemptEnded(handshakeFinished: false, using: &generator) == .stop, "connected another way")
        #expect(!link.isDialing)
        _ = take(&link, epoch: 3)
        #expect(link.acknowledgementArrived(1) == 0 && !link.hasDemand)
        #expect(link.connectionLost(epoch: 3) == .disconnected("c3", startDialing: false))
    }

    @Test func anIdleConnectionClosesOnlyWhenParkedQuietAndUnused() {
        var link = machine()
        _ = link.update(address: PeerAddress(host: "h", port: 1), incarnation: nil)
        connect(&link, "c1", epoch: 1)
        #expect(link.idleLook(epoch: 2, requestsInProgress: false) == .stop, "another connection's timer ends")
        #expect(link.idleLook(epoch: 1, requestsInProgress: false) == .resume, "not parked: the keepalive watches")
        // Nothing sent, and the handshake heard after it: the first look parks.
        #expect(link.keepaliveLook(epoch: 1, pingID: 1) == .park)
        #expect(link.idleLook(epoch: 1, requestsInProgress: true) == .stayParked, "a request under way keeps it")
        link.peerHeard(epoch: 1)
        #expect(link.idleLook(epoch: 1, requestsInProgress: false) == .stayParked, "the peer talked while we were parked")
        _ = link.enqueue(message(1), in: .relay)
        _ = take(&link, epoch: 1)
        #expect(link.idleLook(epoch: 1, requestsInProgress: false) == .resume, "our send unparked it")
        // Parked again (a look after our send pings; the pong and one quiet look later it parks), but the
        // relay message is not acknowledged yet: it stays.
        #expect(link.keepaliveLook(epoch: 1, pingID: 3) == .ping(wakeWriter: "c1"))
        link.peerHeard(epoch: 1)
        #expect(link.keepaliveLook(epoch: 1, pingID: 4) == .watch)
        link.peerHeard(epoch: 1)
        #expect(link.keepaliveLook(epoch: 1, pingID: 5) == .park)
        #expect(link.idleLook(epoch: 1, requestsInProgress: false) == .stayParked, "an unacknowledged relay message keeps it")
        _ = link.acknowledgementArrived(1)
        #expect(link.idleLook(epoch: 1, requestsInProgress: false) == .close("c1"))
        #expect(link.live == nil, "closing disconnects at once")
        #expect(link.connectionLost(epoch: 1) == .wasNotLive, "so its end changes nothing")
        #expect(link.enqueue(message(2), in: .raft) == .queued(droppedOldest: 0, depth: 1, wakeWriter: nil, startDialing: true),
                "the next message dials a new connection")
    }

    @Test func redialsBackOffDoublingToTheMaximumAndAFinishedHandshakeResets() {
        var link = machine { $0.reconnect.jitter = 0; $0.reconnect.maximum = .milliseconds(400) }
        var generator = SplitMix64(seed: 1)
        _ = link.update(address: PeerAddress(host: "h", port: 1), incarnation: nil)
        _ = link.enqueue(message(1), in: .relay)
        let pauses = (0..<5).map { _ in link.dialAttemptEnded(handshakeFinished: false, using: &generator) }
        #expect(pauses == [50, 100, 200, 400, 400].map { Machine.DialAction.retry(after: .milliseconds($0)) })
        #expect(link.dialAttemptEnded(handshakeFinished: true, using: &generator) == .retry(after: .milliseconds(50)))
        // With jitter, each pause stays within ±20 % of the doubling base.
        var jittered = machine()
        _ = jittered.update(address: PeerAddress(host: "h", port: 1), incarnation: nil)
        _ = jittered.enqueue(message(1), in: .relay)
        for base in [50.0, 100, 200, 400, 800, 1600, 3200, 5000, 5000] {
            guard case .retry(let pause) = jittered.dialAttemptEnded(handshakeFinished: false, using: &generator) else {
                Issue.record("expected a retry")
                return
            }
            #expect(pause >= .milliseconds(base * 0.8) && pause <= .milliseconds(base * 1.2))
        }
    }

    @Test func aNewerIncarnationFromMembershipClosesTheConnectionToTheOldOne() {
        var link = machine()
        connect(&link, "c1", epoch: 1, incarnation: Incarnation(5))
        let address = PeerAddress(host: "h", port: 1)
        #expect(link.update(address: address, incarnation: Incarnation(5)).closeStale == nil)
        #expect(link.update(address: address, incarnation: Incarnation(4)).closeStale == nil)
        #expect(link.update(address: address, incarnation: Incarnation(6)).closeStale?.connection == "c1")
    }

    @Test func aRemovedPeerRefusesSendsConnectionsAndDials() {
        var link = machine()
        var generator = SplitMix64(seed: 2)
        _ = link.update(address: PeerAddress(host: "h", port: 1), incarnation: nil)
        connect(&link, "c1", epoch: 1)
        _ = link.enqueue(message(1), in: .relay)
        _ = link.enqueue(message(2), in: .raft)
        let removal = link.remove()
        #expect(removal.connection == "c1")
        #expect(removal.messages.map { "\($0.0)=\($0.1.count)" } == ["control=0", "raft=1", "relay=1", "bulk=0"])
        #expect(link.enqueue(message(3), in: .relay) == .removed)
        #expect(take(&link, epoch: 1) == nil)
        #expect(link.connectionLost(epoch: 1) == .wasNotLive, "the removal counted the connection gone")
        #expect(connect(&link, "c2", epoch: 2) == nil, "a connection to a removed peer is refused")
        #expect(link.beginAttempt() == nil)
        #expect(link.dialAttemptEnded(handshakeFinished: true, using: &generator) == .stop)
        #expect(!link.isDialing)
        #expect(!link.update(address: PeerAddress(host: "h", port: 2), incarnation: nil).startDialing)
        #expect(link.keepaliveLook(epoch: 1, pingID: 1) == .stop)
    }
}
