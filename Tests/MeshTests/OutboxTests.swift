import CohortCore
import CohortTestKit
import Testing
@testable import Mesh
@testable import MeshCore

/// The writer's scheduling policy and the per-class drop policies, on the pure outbox.
@Suite struct OutboxTests {
    let now = ContinuousClock.now

    func message(_ index: Int, bytes: Int = 4, kind: FrameKind = .message) -> OutboundMessage {
        OutboundMessage(kind: kind, endpoint: .processes, requestID: kind == .request ? UInt64(index + 1) : 0, payload: numbered(index, size: bytes))
    }

    func drain(_ outbox: inout PeerOutbox, chunkBytes: Int = 1024) -> [(TrafficClass, FrameKind, Int)] {
        var frames: [(TrafficClass, FrameKind, Int)] = []
        while let frame = outbox.nextFrame(now: now, chunkBytes: chunkBytes) {
            frames.append((frame.header.trafficClass, frame.header.kind, frame.payload.isEmpty ? -1 : number(of: Array(frame.payload))))
        }
        return frames
    }

    @Test func raftGoesBeforeRelayAndControlBeforeRaft() {
        var outbox = PeerOutbox(queues: MeshQueueSettings(), streamID: 1)
        for index in 0..<3 { _ = outbox.enqueue(message(index), in: .relay) }
        _ = outbox.enqueue(message(10), in: .raft)
        _ = outbox.enqueue(message(20), in: .control)
        _ = outbox.enqueue(message(11), in: .raft)
        let order = drain(&outbox).map(\.0)
        #expect(order == [.control, .raft, .raft, .relay, .relay, .relay])
    }

    @Test func signalsGoFirst() {
        var outbox = PeerOutbox(queues: MeshQueueSettings(), streamID: 1)
        _ = outbox.enqueue(message(0), in: .control)
        outbox.acknowledge(5)
        outbox.acknowledge(3)
        outbox.pong(9)
        outbox.ping(4)
        let frames = drain(&outbox)
        #expect(frames.map(\.1) == [.ack, .pong, .ping, .message])
    }

    @Test func relayAndBulkAlternate() {
        var outbox = PeerOutbox(queues: MeshQueueSettings(), streamID: 1)
        for index in 0..<4 { _ = outbox.enqueue(message(index), in: .relay) }
        for index in 0..<2 { _ = outbox.enqueue(message(100 + index), in: .bulk) }
        #expect(drain(&outbox).map(\.0) == [.relay, .bulk, .relay, .bulk, .relay, .relay])
    }

    @Test func bigMessagesAreChunkedSoRaftInterleaves() {
        var outbox = PeerOutbox(queues: MeshQueueSettings(), streamID: 1)
        _ = outbox.enqueue(message(1, bytes: 3000), in: .bulk)
        var first = outbox.nextFrame(now: now, chunkBytes: 1024)
        #expect(first?.header.kind == .chunk && first?.payload.count == 1024)
        // Raft arrives while the snapshot is half sent: it goes next, not after the whole snapshot.
        _ = outbox.enqueue(message(2), in: .raft)
        #expect(outbox.nextFrame(now: now, chunkBytes: 1024)?.header.trafficClass == .raft)
        var payload = Array(first!.payload)
        while let frame = outbox.nextFrame(now: now, chunkBytes: 1024) {
            payload += frame.payload
            first = frame
        }
        #expect(first?.header.kind == .message && first?.header.trafficClass == .bulk)
        #expect(payload == numbered(1, size: 3000))
    }

    @Test func raftDropsTheNewestWhenFull() {
        var queues = MeshQueueSettings()
        queues.raft = MeshQueueLimit(maxMessages: 2, maxBytes: 1 << 20)
        var outbox = PeerOutbox(queues: queues, streamID: 1)
        #expect(outbox.enqueue(message(0), in: .raft) == (true, 0))
        #expect(outbox.enqueue(message(1), in: .raft) == (true, 0))
        #expect(outbox.enqueue(message(2), in: .raft) == (false, 0))
        #expect(drain(&outbox).map(\.2) == [0, 1])
    }

    @Test func dropOldestMakesRoomButNeverDropsAHalfSentMessage() {
        var queues = MeshQueueSettings()
        queues.bulk = MeshQueueLimit(maxMessages: 2, maxBytes: 1 << 20, policy: .dropOldest)
        var outbox = PeerOutbox(queues: queues, streamID: 1)
        _ = outbox.enqueue(message(0, bytes: 2000), in: .bulk)
        _ = outbox.enqueue(message(1), in: .bulk)
        #expect(outbox.nextFrame(now: now, chunkBytes: 1024)?.header.kind == .chunk)
        #expect(outbox.enqueue(message(2), in: .bulk) == (true, 1))
        let rest = drain(&outbox)
        #expect(rest.map(\.1) == [.message, .message])
        #expect(rest.last?.2 == 2)
    }

    @Test func byteBoundRefusesAMessageThatCannotFit() {
        var queues = MeshQueueSettings()
        queues.control = MeshQueueLimit(maxMessages: 10, maxBytes: 100, policy: .dropOldest)
        var outbox = PeerOutbox(queues: queues, streamID: 1)
        _ = outbox.enqueue(message(0, bytes: 60), in: .control)
        #expect(outbox.enqueue(message(1, bytes: 101), in: .control) == (false, 0))
        #expect(outbox.depth(.control) == 1)
    }

    @Test func expiredRequestsAreNotWritten() {
        var outbox = PeerOutbox(queues: MeshQueueSettings(), streamID: 1)
        var expired = message(0, kind: .request)
        expired.deadline = now - .milliseconds(1)
        var live = message(1, kind: .request)
        live.deadline = now + .milliseconds(1500)
        _ = outbox.enqueue(expired, in: .raft)
        _ = outbox.enqueue(live, in: .raft)
        let frame = outbox.nextFrame(now: now, chunkBytes: 1024)
        #expect(frame?.header.requestID == 2)
        #expect(frame?.header.deadlineMilliseconds == 1500)
        #expect(outbox.takeExpired().map(\.1) == [1])
    }

    @Test func aNewConnectionRestartsHalfSentMessages() {
        var outbox = PeerOutbox(queues: MeshQueueSettings(), streamID: 1)
        _ = outbox.enqueue(message(7, bytes: 3000), in: .raft)
        _ = outbox.nextFrame(now: now, chunkBytes: 1024)
        _ = outbox.connectionStarted(resume: 0, peerIncarnation: Incarnation(1))
        var payload: [UInt8] = []
        while let frame = outbox.nextFrame(now: now, chunkBytes: 1024) { payload += frame.payload }
        #expect(payload == numbered(7, size: 3000))
    }

    @Test func removeAllEmptiesEveryClass() {
        var outbox = PeerOutbox(queues: MeshQueueSettings(), streamID: 1)
        for trafficClass in TrafficClass.allCases { _ = outbox.enqueue(message(1), in: trafficClass) }
        let removed = outbox.removeAll()
        #expect(removed.map(\.1.count) == [1, 1, 1, 1])
        #expect(!outbox.hasFrames)
        #expect(TrafficClass.allCases.allSatisfy { outbox.depth($0) == 0 })
    }

    @Test func deadlinesRoundUpAndNeverReadAsNone() {
        #expect(MessageFraming.millisecondsLeft(until: now + .microseconds(1), now: now) == 1)
        #expect(MessageFraming.millisecondsLeft(until: now - .seconds(1), now: now) == 1)
        #expect(MessageFraming.millisecondsLeft(until: now + .milliseconds(2) + .nanoseconds(1), now: now) == 3)
        #expect(MessageFraming.millisecondsLeft(until: now + .seconds(100_000_000), now: now) == UInt32.max)
    }
}

/// Backoff, port choice and the dialling rule.
@Suite struct DialPolicyTests {
    @Test func backoffDoublesToTheMaximumWithinJitterAndResets() {
        var settings = MeshBackoffSettings()
        settings.jitter = 0
        var backoff = ReconnectBackoff(settings)
        var generator = SplitMix64(seed: 1)
        let pauses = (0..<9).map { _ in backoff.pause(using: &generator) }
        #expect(pauses == [50, 100, 200, 400, 800, 1600, 3200, 5000, 5000].map { Duration.milliseconds($0) })
        backoff.reset()
        #expect(backoff.pause(using: &generator) == .milliseconds(50))

        var jittered = ReconnectBackoff(MeshBackoffSettings())
        for step in 0..<20 {
            let pause = jittered.pause(using: &generator)
            let base = min(Duration.milliseconds(50) * (1 << min(step, 10)), .seconds(5))
            #expect(pause >= base * 0.8 && pause <= base * 1.2)
        }
    }

    @Test func portZeroTriesTheMeshRangeThenAnyPort() {
        #expect(PortPlan.candidates(bindPort: 0) == Array(7950...7959) + [0])
        #expect(PortPlan.candidates(bindPort: 8000) == [8000])
    }

    @Test func ofACrossedPairTheSmallerIDsConnectionIsKept() {
        #expect(DialRule.isPreferred(dialer: NodeID("a"), acceptor: NodeID("b")))
        #expect(!DialRule.isPreferred(dialer: NodeID("b"), acceptor: NodeID("a")))
        #expect(!DialRule.isPreferred(dialer: NodeID("a"), acceptor: NodeID("a")))
        // Byte order, not locale order: "Z" (0x5A) sorts before "a" (0x61).
        #expect(DialRule.isPreferred(dialer: NodeID("Z"), acceptor: NodeID("a")))
    }
}
