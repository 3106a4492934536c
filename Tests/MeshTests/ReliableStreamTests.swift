import CohortCore
import CohortTestKit
import Testing
@testable import Mesh
@testable import MeshCore

/// The reliable relay stream as pure state machines: numbering, acknowledgement, resend and dedupe.
@Suite struct ReliableStreamTests {
    let now = ContinuousClock.now
    let limit = MeshQueueLimit(maxMessages: 100, maxBytes: 10_000)

    func message(_ index: Int) -> OutboundMessage {
        OutboundMessage(kind: .message, endpoint: .processes, payload: numbered(index))
    }

    func drain(_ stream: inout ReliableSendStream) -> [UInt64] {
        var sequences: [UInt64] = []
        while let frame = stream.popFrame(now: now, chunkBytes: 1024) { sequences.append(frame.header.sequence) }
        return sequences
    }

    @Test func messagesAreNumberedFromOneAndKeptUntilAcknowledged() {
        var stream = ReliableSendStream(limit: limit, streamID: 1)
        for index in 0..<10 {
            let queued = stream.enqueue(message(index))
            #expect(queued)
        }
        let sequences = drain(&stream)
        #expect(sequences == Array(1...10))
        #expect(stream.count == 10 && stream.unsent == 0)
        let released = stream.acknowledge(through: 4)
        #expect(released == 4)
        #expect(stream.count == 6)
        // Acknowledging beyond what was written is clamped: a confused peer cannot release unsent messages.
        _ = stream.enqueue(message(10))
        let clamped = stream.acknowledge(through: 100)
        #expect(clamped == 6)
        #expect(stream.count == 1 && stream.unsent == 1)
    }

    @Test func reconnectResendsAfterTheResumePoint() {
        var stream = ReliableSendStream(limit: limit, streamID: 1)
        for index in 0..<10 { _ = stream.enqueue(message(index)) }
        _ = stream.resume(after: 0, peerIncarnation: Incarnation(1))
        let first = drain(&stream)
        #expect(first == Array(1...10))
        stream.acknowledge(through: 3)
        // The connection is cut; the peer had delivered up to 6 (its last ack said 3).
        let dropped = stream.resume(after: 6, peerIncarnation: Incarnation(1))
        #expect(dropped == 0)
        let resent = drain(&stream)
        #expect(resent == Array(7...10))
    }

    @Test func peerRestartDropsWhatWasWrittenAndKeepsTheRest() {
        var stream = ReliableSendStream(limit: limit, streamID: 1)
        for index in 0..<10 { _ = stream.enqueue(message(index)) }
        _ = stream.resume(after: 0, peerIncarnation: Incarnation(1))
        for _ in 0..<4 { _ = stream.popFrame(now: now, chunkBytes: 1024) }
        let dropped = stream.resume(after: 0, peerIncarnation: Incarnation(2))
        #expect(dropped == 4)
        let rest = drain(&stream)
        #expect(rest == Array(5...10))
    }

    @Test func fullStreamRefusesNewMessages() {
        var stream = ReliableSendStream(limit: MeshQueueLimit(maxMessages: 3, maxBytes: 10_000), streamID: 1)
        let accepted = (0..<4).map { stream.enqueue(message($0)) }
        #expect(accepted == [true, true, true, false])
        var bytesBound = ReliableSendStream(limit: MeshQueueLimit(maxMessages: 100, maxBytes: 10), streamID: 1)
        let fits = bytesBound.enqueue(OutboundMessage(kind: .message, endpoint: .processes, payload: [UInt8](repeating: 0, count: 10)))
        let overflows = bytesBound.enqueue(message(1))
        #expect(fits && !overflows)
    }

    @Test func receiverDeliversEachSequenceOnce() {
        var receiver = ReliableReceiveStream()
        receiver.adopt(stream: 7)
        let accepted = [1, 2, 2, 1, 3].map { receiver.accept(UInt64($0)) }
        #expect(accepted == [true, true, false, false, true])
        let ack = receiver.takeAcknowledgement()
        let again = receiver.takeAcknowledgement()
        #expect(ack == 3 && again == nil)
        #expect(receiver.resumePoint(forStream: 7) == 3)
        #expect(receiver.resumePoint(forStream: 8) == 0)
        // Reading the resume point changes nothing; adopting another stream starts afresh.
        receiver.adopt(stream: 8)
        let fresh = receiver.accept(1)
        #expect(fresh)
    }

    @Test func senderAndReceiverGiveExactlyOnceAcrossManyCuts() {
        // A simulated link that loses everything in flight at each cut.
        var sender = ReliableSendStream(limit: MeshQueueLimit(maxMessages: 10_000, maxBytes: 1 << 30), streamID: 42)
        var receiver = ReliableReceiveStream()
        var delivered: [Int] = []
        var generator = SplitMix64(seed: 3)
        var next = 0
        for _ in 0..<200 {
            // A new connection: handshake states the resume point, then traffic until a cut.
            let resume = receiver.resumePoint(forStream: sender.streamID)
            receiver.adopt(stream: sender.streamID)
            _ = sender.resume(after: resume, peerIncarnation: Incarnation(1))
            for _ in 0..<Int(generator.next() % 20) {
                _ = sender.enqueue(message(next))
                next += 1
            }
            var inFlight: [OutboundFrame] = []
            while let frame = sender.popFrame(now: now, chunkBytes: 1024) { inFlight.append(frame) }
            let arrives = Int(generator.next() % UInt64(inFlight.count + 1))
            for frame in inFlight.prefix(arrives) where receiver.accept(frame.header.sequence) {
                delivered.append(number(of: Array(frame.payload)))
            }
            if generator.next() % 2 == 0, let ack = receiver.takeAcknowledgement() { sender.acknowledge(through: ack) }
        }
        let resume = receiver.resumePoint(forStream: sender.streamID)
        receiver.adopt(stream: sender.streamID)
        _ = sender.resume(after: resume, peerIncarnation: Incarnation(1))
        while let frame = sender.popFrame(now: now, chunkBytes: 1024) {
            if receiver.accept(frame.header.sequence) { delivered.append(number(of: Array(frame.payload))) }
        }
        #expect(delivered == Array(0..<next))
    }
}
