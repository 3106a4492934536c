import CohortCore
import Testing
@testable import Mesh

/// The documented defaults, pinned so docs and code cannot drift, and validation messages.
@Suite struct SettingsTests {
    @Test func defaultsAreTheDocumentedOnes() {
        let settings = MeshSettings(nodeID: NodeID("a"), incarnation: Incarnation(1))
        #expect(settings.bindHost == "0.0.0.0")
        #expect(settings.bindPort == 0)
        #expect(settings.advertiseHost == nil)
        #expect(settings.keyring.isEmpty)
        #expect(settings.maxFrameBytes == 16 * 1024 * 1024)
        #expect(settings.chunkBytes == 64 * 1024)
        #expect(settings.maxMessageBytes == 64 * 1024 * 1024)
        #expect(settings.connectTimeout == .seconds(2))
        #expect(settings.handshakeTimeout == .seconds(5))
        #expect(settings.reconnect.initial == .milliseconds(50))
        #expect(settings.reconnect.maximum == .seconds(5))
        #expect(settings.reconnect.jitter == 0.2)
        #expect(settings.keepaliveInterval == .seconds(5))
        #expect(settings.deadPeerTimeout == .seconds(15))
        #expect(settings.ackInterval == .milliseconds(20))
        #expect(settings.ackEveryMessages == 256)
        #expect(settings.socketBufferBytes == 256 * 1024)
        #expect(settings.maxConcurrentRequests == 4096)
        #expect(settings.maxInboundConnections == 1024)
        #expect(settings.queues.control == MeshQueueLimit(maxMessages: 1024, maxBytes: 8 << 20, policy: .dropNewest))
        #expect(settings.queues.raft == MeshQueueLimit(maxMessages: 8192, maxBytes: 64 << 20, policy: .dropNewest))
        #expect(settings.queues.relay == MeshQueueLimit(maxMessages: 65_536, maxBytes: 128 << 20, policy: .dropNewest))
        #expect(settings.queues.bulk == MeshQueueLimit(maxMessages: 64, maxBytes: 256 << 20, policy: .dropNewest))
        #expect(throws: Never.self) { try settings.validate() }
    }

    @Test func wrongKeySizeIsRefusedWithTheFix() {
        var settings = MeshSettings(nodeID: NodeID("a"), incarnation: Incarnation(1))
        settings.keyring = [[UInt8](repeating: 1, count: 20)]
        #expect(throws: MeshError.invalidSettings("a keyring key is 20 bytes; cluster keys must be 16, 24 or 32 bytes")) {
            try settings.validate()
        }
    }

    @Test func relayCannotDropOldest() {
        var settings = MeshSettings(nodeID: NodeID("a"), incarnation: Incarnation(1))
        settings.queues.relay.policy = .dropOldest
        #expect(throws: MeshError.self) { try settings.validate() }
    }

    @Test func chunksMustFitAFrame() {
        var settings = MeshSettings(nodeID: NodeID("a"), incarnation: Incarnation(1))
        settings.chunkBytes = settings.maxFrameBytes
        #expect(throws: MeshError.self) { try settings.validate() }
    }

    @Test func emptyNodeIDIsRefused() {
        let settings = MeshSettings(nodeID: NodeID(""), incarnation: Incarnation(1))
        #expect(throws: MeshError.self) { try settings.validate() }
    }

    @Test func errorMessagesSayWhatToDo() {
        #expect(MeshError.unknownPeer(NodeID("x")).description.contains("setPeer"))
        #expect(MeshError.tooLarge(bytes: 10, limit: 5).description.contains("maxMessageBytes"))
        #expect(MeshError.timeout(peer: NodeID("x"), after: .seconds(1)).description.contains("retry"))
    }
}

@Suite struct KeepaliveTests {
    @Test func aConnectionThatHearsTrafficIsNeverPingedAndASilentOneIsClosed() {
        var keepalive = Keepalive(interval: .seconds(5), deadAfter: .seconds(15))
        // Traffic both ways at every look: no keepalive traffic at all.
        for _ in 0..<10 { #expect(keepalive.look(heard: true, sent: true, answered: true) == .nothing) }
        // Sending into silence: a ping per look (the ping itself counts as sent), then closed once silent
        // for the timeout.
        #expect(keepalive.look(heard: false, sent: true, answered: false) == .ping)
        #expect(keepalive.look(heard: false, sent: true, answered: false) == .ping)
        #expect(keepalive.look(heard: false, sent: true, answered: false) == .close(silentFor: .seconds(15)))
        // Anything heard resets the count.
        var other = Keepalive(interval: .seconds(5), deadAfter: .seconds(15))
        #expect(other.look(heard: false, sent: true, answered: false) == .ping)
        #expect(other.look(heard: false, sent: true, answered: false) == .ping)
        #expect(other.look(heard: true, sent: true, answered: true) == .nothing)
        #expect(other.look(heard: false, sent: true, answered: false) == .ping)
    }

    @Test func anIdleConnectionParksOnlyOnceThePeerWasHeardAfterTheLastSend() {
        var keepalive = Keepalive(interval: .seconds(5), deadAfter: .seconds(15))
        // Nothing sent and the peer heard after our last send: idle, whether or not it talks now.
        #expect(keepalive.look(heard: false, sent: false, answered: true) == .park)
        #expect(keepalive.look(heard: true, sent: false, answered: true) == .park)
        // A send not yet followed by anything from the peer (heard earlier in the same interval does not
        // count): keep watching, ping, close.
        var sentIntoSilence = Keepalive(interval: .seconds(5), deadAfter: .seconds(15))
        #expect(sentIntoSilence.look(heard: true, sent: true, answered: false) == .nothing)
        #expect(sentIntoSilence.look(heard: false, sent: false, answered: false) == .ping)
        #expect(sentIntoSilence.look(heard: false, sent: true, answered: false) == .ping)
        #expect(sentIntoSilence.look(heard: false, sent: true, answered: false) == .close(silentFor: .seconds(15)))
        // A ping of ours unanswered: keep watching until it is answered or the timeout closes.
        var pinged = Keepalive(interval: .seconds(5), deadAfter: .seconds(15))
        #expect(pinged.look(heard: false, sent: true, answered: false) == .ping)
        #expect(pinged.look(heard: false, sent: false, answered: true) == .ping)
        // Answered (the pong came after the ping): idle again.
        var answered = Keepalive(interval: .seconds(5), deadAfter: .seconds(15))
        #expect(answered.look(heard: false, sent: true, answered: false) == .ping)
        #expect(answered.look(heard: true, sent: true, answered: true) == .nothing)
        #expect(answered.look(heard: false, sent: false, answered: true) == .park)
    }
}
