import CohortCore
import CohortTestKit
@testable import Mesh

/// One peer's link driven by a seeded random sequence of events — sends, writer batches, connections
/// established, lost, replaced or silently broken, keepalive looks, frames heard, relay messages both
/// ways, acknowledgements, membership updates, dial attempts, the peer restarting or being removed —
/// playing the shell and the peer around a ``PeerLinkStateMachine`` and checking after every step:
///
/// - the shell never loses a connection: a new one hands back exactly the one it replaces, at most one
///   is open, and only the live one's writer and keepalive run;
/// - every writer wake goes to the live connection, and a parked keepalive is woken exactly once, by
///   the first batch with news (never by answers alone);
/// - relay messages reach the peer exactly once and in order, across cut connections; until the peer is
///   removed, those not acknowledged stay queued (and without a restart, all of them arrive);
/// - a removed peer never queues, connects or dials again;
/// - a dial loop is asked for exactly when the peer is needed (something queued or unacknowledged), has an
///   address, is unconnected and none runs; the loop dials only while that holds, and a crossed dial is
///   refused exactly while its attempt is in progress;
/// - an idle connection closes only when parked, quiet since parking and with nothing waiting.
///
/// The connection handle is the connection's epoch. Failures name the seed, the step and the last events.
struct PeerLinkSimulation {
    typealias Machine = PeerLinkStateMachine<UInt64>

    private(set) var link: Machine
    private var generator: SplitMix64
    private let seed: UInt64
    private let settings: MeshSettings
    private let failureLog = FailureLog()
    private var history: [String] = []
    private var step = 0

    // The shell's view.
    private var live: UInt64?
    private var lastEpoch: UInt64 = 0
    private var liveDialedByUs = false
    private var liveEstablished: Duration = .zero
    /// Time since `origin`: each step takes 0–400 ms.
    private let origin = ContinuousClock.now
    private var elapsed: Duration = .zero
    private var parked = false
    private var dialing = false
    private var attempting = false
    private var hasAddress = false
    private var heardWhileParked = false
    private var removed = false
    private var removedRelay: Int?
    // The path and the peer.
    private var pathBroken = false
    private var peerIncarnation: UInt64 = 1
    private var liveIncarnation: UInt64 = 0
    private var peerLastDelivered: UInt64 = 0
    private var restarted = false
    private var droppedForRestart = 0
    /// Our relay messages accepted, by sequence − 1 (the payload number), and those the peer delivered.
    private var relayQueued: [Int] = []
    private(set) var delivered: [Int] = []
    private var lastSequenceOnConnection: UInt64 = 0
    private var acknowledgedThrough: UInt64 = 0
    private var nextPayload = 0
    // The peer's relay stream towards us.
    private var inboundDelivered: UInt64 = 0

    /// A disconnected, known link with small queues, driven by `seed`.
    init(seed: UInt64) {
        self.seed = seed
        generator = SplitMix64(seed: seed)
        var settings = MeshSettings(nodeID: NodeID("a"), incarnation: Incarnation(7))
        settings.queues.relay = MeshQueueLimit(maxMessages: 24, maxBytes: 1 << 20)
        settings.queues.raft = MeshQueueLimit(maxMessages: 8, maxBytes: 1 << 20, policy: .dropOldest)
        settings.ackEveryMessages = 4
        self.settings = settings
        link = Machine(streamID: 1, known: true, settings: settings)
    }

    /// Whether the peer restarted during the run (its old incarnation lost what was written to it).
    var peerRestarted: Bool { restarted }

    /// Runs `steps` random events, checking the invariants after each.
    mutating func run(steps: Int) {
        for _ in 0..<steps where failures.isEmpty {
            step += 1
            elapsed += .milliseconds(Int.random(in: 0..<400, using: &generator))
            randomEvent()
            checkInvariants()
        }
    }

    /// The first failure of the run, with the seed, the step and the events that led to it.
    var failures: [String] { failureLog.messages }

    private func check(_ condition: Bool, _ message: @autoclosure () -> String) {
        guard !condition, failureLog.messages.isEmpty else { return }
        failureLog.messages.append("seed \(seed), step \(step): \(message())\n  last events: \(history.suffix(12).joined(separator: ", "))")
    }

    private mutating func note(_ event: String) {
        history.append(event)
        if history.count > 64 { history.removeFirst(32) }
    }

    private mutating func chance(_ percent: Int) -> Bool {
        Int.random(in: 0..<100, using: &generator) < percent
    }

    // MARK: Events

    private mutating func randomEvent() {
        switch Int.random(in: 0..<100, using: &generator) {
        case 0..<18: sendRelay()
        case 18..<26: sendOther()
        case 26..<46: writerTakes()
        case 46..<52: peerAcknowledges()
        case 52..<56: connect()
        case 56..<59: loseConnection()
        case 59..<61: breakPath()
        case 61..<69: keepaliveLooks()
        case 69..<75: peerSendsAFrame()
        case 75..<82: peerSendsRelay()
        case 82..<85: ackTimerFires()
        case 85..<88: updateMembership()
        case 88..<90: dialAttemptEnds()
        case 90..<92: dialLoopBegins()
        case 92..<93: idleTimerFires()
        case 93..<95: staleTasksAct()
        case 95..<96 where chance(20): restartPeer()
        case 96..<97 where chance(10): remove()
        default: sendRelay()
        }
    }

    private mutating func sendRelay() {
        nextPayload += 1
        note("sendRelay(\(nextPayload))")
        let message = OutboundMessage(kind: .message, endpoint: .processes, payload: numbered(nextPayload))
        switch link.enqueue(message, in: .relay) {
        case .queued(let dropped, let depth, let wake, let startDialing):
            check(!removed && dropped == 0, "a relay message queued after removal or dropping another")
            dialAsked(startDialing)
            check(wake == live, "enqueue woke \(String(describing: wake)), live is \(String(describing: live))")
            relayQueued.append(nextPayload)
            check(depth == link.depth(.relay), "enqueue reported depth \(depth)")
        case .full(let depth):
            check(depth == 24, "a relay queue refused a message at depth \(depth)")
        case .removed:
            check(removed, "a relay message refused before removal")
        }
    }

    private mutating func sendOther() {
        let trafficClass: TrafficClass = [.control, .raft, .bulk].randomElement(using: &generator)!
        note("send(\(trafficClass))")
        let message = OutboundMessage(kind: .message, endpoint: .processes, payload: [1])
        if case .queued(_, _, let wake, let startDialing) = link.enqueue(message, in: trafficClass) {
            check(wake == live, "enqueue woke \(String(describing: wake)), live is \(String(describing: live))")
            dialAsked(startDialing)
        }
    }

    /// Whether anything waits for the peer, as the shell sees the depths.
    private var demand: Bool { link.depths.contains { $0 > 0 } }

    /// The machine asked (or not) for a dial loop: exactly when the peer is needed, known, unconnected and
    /// none runs.
    private mutating func dialAsked(_ startDialing: Bool) {
        let expected = !removed && live == nil && !dialing && hasAddress && demand
        check(startDialing == expected, "startDialing \(startDialing), expected \(expected) (dialing \(dialing), live \(String(describing: live)))")
        if startDialing { dialing = true }
    }

    /// The dial loop, between attempts, asks where to dial.
    private mutating func dialLoopBegins() {
        guard dialing, !attempting else { return }
        note("beginAttempt")
        let target = link.beginAttempt()
        let expected = !removed && live == nil && hasAddress && demand
        check((target != nil) == expected, "beginAttempt \(String(describing: target)), expected a target: \(expected)")
        if target == nil { dialing = false } else { attempting = true }
        checkCrossedDialRule()
    }

    /// A crossed dial from the peer is refused while our attempt runs (a larger peer's), and from the
    /// incarnation our own connection reaches while that connection is younger than a connect and a
    /// handshake timeout (7 s; any peer's).
    private func checkCrossedDialRule() {
        check(link.isAttempting == attempting, "isAttempting \(link.isAttempting), attempting \(attempting)")
        for incarnation in [peerIncarnation, peerIncarnation + 1] {
            let young = live != nil && liveDialedByUs && liveIncarnation == incarnation && elapsed - liveEstablished < .seconds(7)
            for preferred in [false, true] {
                let refuses = link.refusesCrossedDial(from: Incarnation(incarnation), peerIsPreferred: preferred, now: origin + elapsed)
                check(
                    refuses == ((attempting && !preferred) || young),
                    "refusesCrossedDial(from \(incarnation), preferred \(preferred)) \(refuses), attempting \(attempting), our connection young \(young)"
                )
            }
        }
    }

    /// The idle timer of a parked keepalive fires.
    private mutating func idleTimerFires() {
        guard let epoch = live else { return }
        let requests = chance(20)
        note("idle(\(epoch), requests \(requests))")
        let action = link.idleLook(epoch: epoch, requestsInProgress: requests)
        if !parked {
            check(action == .resume, "idle look of an unparked connection: \(action)")
        } else if heardWhileParked || demand || requests {
            check(action == .stayParked, "idle look with traffic or work: \(action)")
        } else {
            check(action == .close(epoch), "idle look of an idle connection: \(action)")
        }
        heardWhileParked = false
        if case .close = action {
            live = nil
            parked = false
            check(link.live == nil, "an idle close left the link connected")
        }
    }

    private mutating func writerTakes() {
        guard let epoch = live else { return }
        note("take(\(epoch))")
        let maxFrames = Int.random(in: 1...6, using: &generator)
        switch link.takeBatch(epoch: epoch, now: .now, chunkBytes: 1024, maxBytes: 1 << 20, maxFrames: maxFrames) {
        case .stop:
            check(false, "the live connection's writer was stopped")
        case .wait:
            break
        case .write(let batch):
            let news = batch.frames.contains { $0.header.kind != .pong && $0.header.kind != .ack }
            check(batch.wakeKeepalive == ((parked && news) ? epoch : nil), "wakeKeepalive \(String(describing: batch.wakeKeepalive)) (parked \(parked), news \(news))")
            if news { parked = false }
            check(batch.depths == link.depths, "the batch reported depths \(batch.depths), not \(link.depths)")
            for frame in batch.frames where frame.header.trafficClass == .relay && frame.header.kind == .message {
                deliverToPeer(frame)
            }
        }
    }

    /// The peer receives our relay frame (unless the path is broken) and delivers it if it is new.
    private mutating func deliverToPeer(_ frame: OutboundFrame) {
        let sequence = frame.header.sequence
        check(sequence > lastSequenceOnConnection, "relay sequence \(sequence) after \(lastSequenceOnConnection) on one connection")
        lastSequenceOnConnection = sequence
        check(number(of: Array(frame.payload)) == relayQueued[Int(sequence) - 1], "relay sequence \(sequence) carries another message")
        guard !pathBroken, liveIncarnation == peerIncarnation, sequence > peerLastDelivered else { return }
        peerLastDelivered = sequence
        check(delivered.last.map { $0 < relayQueued[Int(sequence) - 1] } ?? true, "relay delivered out of order or twice")
        delivered.append(relayQueued[Int(sequence) - 1])
    }

    private mutating func peerAcknowledges() {
        guard live != nil, !pathBroken, liveIncarnation == peerIncarnation else { return }
        note("ack(\(peerLastDelivered))")
        let depth = link.acknowledgementArrived(peerLastDelivered)
        acknowledgedThrough = max(acknowledgedThrough, peerLastDelivered)
        check(depth == link.depth(.relay), "the acknowledgement reported relay depth \(depth)")
    }

    private mutating func connect() {
        lastEpoch += 1
        let epoch = lastEpoch
        note("connect(\(epoch), resume \(peerLastDelivered))")
        check(link.resumePoint(forStream: 100 + peerIncarnation) == inboundDelivered, "resume point of the peer's stream")
        let dialedByUs = attempting && chance(70)
        let action = link.connectionEstablished(
            epoch, epoch: epoch, peerIncarnation: Incarnation(peerIncarnation), resume: peerLastDelivered,
            peerStreamID: 100 + peerIncarnation, dialedByUs: dialedByUs, now: origin + elapsed
        )
        if dialedByUs { attempting = false }
        guard case .activated(let activation) = action else {
            check(removed, "a connection was refused before removal")
            return
        }
        check(!removed, "a removed peer accepted a connection")
        check(activation.replaced == live, "replaced \(String(describing: activation.replaced)), live was \(String(describing: live))")
        check(activation.reconnect == (epoch > 1), "reconnect flag wrong")
        let restartedSinceLastConnection = liveIncarnation != 0 && liveIncarnation != peerIncarnation
        check(activation.droppedForRestart == 0 || restartedSinceLastConnection, "relay messages dropped without a restart")
        droppedForRestart += activation.droppedForRestart
        acknowledgedThrough = max(acknowledgedThrough, peerLastDelivered)
        live = epoch
        liveIncarnation = peerIncarnation
        liveDialedByUs = dialedByUs
        liveEstablished = elapsed
        parked = false
        heardWhileParked = false
        pathBroken = false
        lastSequenceOnConnection = 0
    }

    private mutating func loseConnection() {
        guard let epoch = live else { return }
        note("lost(\(epoch))")
        live = nil
        parked = false
        guard case .disconnected(let connection, let startDialing) = link.connectionLost(epoch: epoch) else {
            check(false, "the live connection's end did not disconnect")
            return
        }
        check(connection == epoch, "the end of \(epoch) handed back \(connection)")
        dialAsked(startDialing)
    }

    private mutating func breakPath() {
        guard live != nil else { return }
        note("breakPath")
        pathBroken = true
    }

    private mutating func keepaliveLooks() {
        guard let epoch = live, !parked else { return }
        note("look(\(epoch))")
        switch link.keepaliveLook(epoch: epoch, pingID: UInt64(step)) {
        case .stop: check(false, "the live connection's keepalive was stopped")
        case .watch: break
        case .park: parked = true
        case .ping(let wake): check(wake == epoch, "a ping woke \(wake)")
        case .close(let connection, _):
            check(connection == epoch, "the keepalive closed \(connection)")
            loseConnection()
        }
    }

    private mutating func peerSendsAFrame() {
        guard let epoch = live, !pathBroken else { return }
        note("heard(\(epoch))")
        if chance(30) {
            check(link.pingArrived(UInt64(step)) == epoch, "a pong woke another writer")
        }
        link.peerHeard(epoch: epoch)
        if parked { heardWhileParked = true }
    }

    private mutating func peerSendsRelay() {
        guard let epoch = live, !pathBroken, liveIncarnation == peerIncarnation else { return }
        // The peer's stream resumes after what we delivered; now and then it resends one we have.
        let sequence = chance(15) && inboundDelivered > 0 ? inboundDelivered : inboundDelivered + 1
        note("relayIn(\(sequence))")
        link.peerHeard(epoch: epoch)
        if parked { heardWhileParked = true }
        switch link.relayArrived(sequence, epoch: epoch) {
        case .drop:
            check(sequence <= inboundDelivered, "relay \(sequence) dropped though new")
        case .deliver(let wake, _):
            check(sequence > inboundDelivered, "relay \(sequence) delivered twice")
            check(wake == nil || wake == epoch, "an acknowledgement woke \(String(describing: wake))")
            inboundDelivered = sequence
        }
    }

    private mutating func ackTimerFires() {
        note("ackTimer")
        let wake = link.ackTimerFired()
        check(wake == nil || (wake == live && !removed), "the ack timer woke \(String(describing: wake))")
    }

    private mutating func updateMembership() {
        note("update(incarnation \(peerIncarnation))")
        let action = link.update(
            address: PeerAddress(host: "10.0.0.2", port: 7950), incarnation: Incarnation(peerIncarnation)
        )
        hasAddress = true
        dialAsked(action.startDialing)
        let stale = live != nil && liveIncarnation < peerIncarnation
        check(action.closeStale?.epoch == (stale ? live : nil), "closeStale \(String(describing: action.closeStale?.epoch))")
        if stale { loseConnection() }
    }

    private mutating func dialAttemptEnds() {
        guard dialing, attempting else { return }
        note("dialEnded")
        attempting = false
        let expected = !removed && live == nil && hasAddress && demand
        switch link.dialAttemptEnded(handshakeFinished: chance(50), using: &generator) {
        case .retry(let pause):
            check(expected, "a dial loop retries a peer that is removed, connected or not needed")
            check(pause >= settings.reconnect.initial * 0.8 && pause <= settings.reconnect.maximum * 1.2, "pause \(pause)")
        case .stop:
            check(!expected, "the dial loop stopped while the peer is needed and unconnected")
            dialing = false
        }
    }

    /// Tasks of a replaced connection act: they are refused.
    private mutating func staleTasksAct() {
        guard lastEpoch > 0 else { return }
        let epoch = UInt64.random(in: 1...lastEpoch, using: &generator)
        guard epoch != live else { return }
        note("stale(\(epoch))")
        if case .stop = link.takeBatch(epoch: epoch, now: .now, chunkBytes: 1024, maxBytes: 1 << 20, maxFrames: 8) {} else {
            check(false, "the writer of replaced connection \(epoch) got frames")
        }
        check(link.keepaliveLook(epoch: epoch, pingID: 0) == .stop, "the keepalive of replaced connection \(epoch) ran")
        check(link.connectionLost(epoch: epoch) == .wasNotLive, "the end of replaced connection \(epoch) disconnected")
        check(link.relayArrived(inboundDelivered + 1, epoch: epoch) == .drop, "a relay message on replaced connection \(epoch) was delivered")
    }

    private mutating func restartPeer() {
        note("restart")
        restarted = true
        peerIncarnation += 1
        peerLastDelivered = 0
        inboundDelivered = 0
        pathBroken = true
    }

    private mutating func remove() {
        note("remove")
        let relay = link.depth(.relay)
        let removal = link.remove()
        check(!removed || removal.connection == nil, "a second removal returned a connection")
        check(removal.connection == live, "removal returned \(String(describing: removal.connection)), live was \(String(describing: live))")
        if !removed {
            check(removal.messages.first { $0.0 == .relay }?.1.count == relay, "removal returned another relay count")
            removedRelay = relay
        }
        removed = true
        live = nil
        parked = false
        // The dial loop ends at its next step: the attempt in progress ends, or the loop asks for a target.
        if attempting {
            check(link.dialAttemptEnded(handshakeFinished: false, using: &generator) == .stop, "a removed peer is redialled")
        } else if dialing {
            check(link.beginAttempt() == nil, "a removed peer gave its dial loop a target")
        }
        dialing = false
        attempting = false
    }

    // MARK: Invariants

    private mutating func checkInvariants() {
        check(link.live?.epoch == live, "the machine's live connection \(String(describing: link.live?.epoch)) is not the shell's \(String(describing: live))")
        check((link.live?.keepalive.isParked ?? false) == parked, "parked \(link.live?.keepalive.isParked ?? false), expected \(parked)")
        check(link.isRemoved == removed, "removed \(link.isRemoved)")
        check(link.isDialing == dialing, "dialing \(link.isDialing), expected \(dialing)")
        checkCrossedDialRule()
        if removed {
            check(link.live == nil && !link.isDialing && link.depth(.relay) == 0, "a removed peer holds a connection, a dial loop or messages")
        } else if !restarted {
            check(link.depth(.relay) == relayQueued.count - Int(acknowledgedThrough), "relay depth \(link.depth(.relay)) with \(relayQueued.count) queued, \(acknowledgedThrough) acknowledged")
        }
    }

    /// Ends the run as the shell and the peer would once the network heals: a fresh connection, the writer
    /// drained, the peer's acknowledgement. Then, unless the peer was removed, every relay message queued
    /// has been delivered exactly once (less those lost to a restart) and nothing is left queued.
    mutating func heal() {
        guard failures.isEmpty else { return }
        step += 1
        if removed {
            connect()
            check(link.depth(.relay) == 0 && removedRelay != nil, "a removed peer kept relay messages")
            return
        }
        connect()
        while case .write(let batch) = link.takeBatch(epoch: live!, now: .now, chunkBytes: 1024, maxBytes: 1 << 20, maxFrames: 1024) {
            for frame in batch.frames where frame.header.trafficClass == .relay && frame.header.kind == .message {
                deliverToPeer(frame)
            }
        }
        peerAcknowledges()
        check(link.depth(.relay) == 0, "\(link.depth(.relay)) relay messages still queued after the heal")
        if restarted {
            check(delivered.count + droppedForRestart >= relayQueued.count, "relay messages lost without a restart to blame")
        } else {
            check(delivered == relayQueued, "delivered \(delivered.count) of \(relayQueued.count) relay messages")
        }
    }
}

/// Where a simulation records its failures; a reference, so a check can read the simulation's state
/// while recording.
private final class FailureLog {
    var messages: [String] = []
}
