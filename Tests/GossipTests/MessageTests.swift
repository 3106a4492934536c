import Gossip
import NIOCore
import Testing
import Wire

@Suite("memberlist message types")
struct MessageTests {
    @Test("type bytes are memberlist 0.2.2's")
    func typeBytes() {
        #expect(MessageType.allCases.map(\.rawValue) == Array(0...13))
        #expect(MessageType.compound.rawValue == 7 && MessageType.hasCRC.rawValue == 12)
    }

    @Test("limits default to memberlist's sizes")
    func limitDefaults() {
        let limits = GossipLimits.default
        #expect(limits.maxPacketBytes == 65_536 && limits.maxStreamBytes == 20 << 20 && limits.maxMetaBytes == 512)
        #expect(limits.maxNesting == 4 && limits.maxDecompressedPacketBytes == 1 << 20)
        #expect(ProtocolVersions.cohort.bytes == [1, 5, 2, 0, 0, 0])
    }

    @Test("extreme values round-trip")
    func extremes() throws {
        let long = String(repeating: "n", count: 512)
        let v6 = [UInt8](repeating: 0xfe, count: 16)
        let messages: [GossipMessage] = [
            .ping(PingMessage(sequenceNumber: .max, node: long, sourceAddress: v6, sourcePort: .max, sourceNode: long)),
            .ping(PingMessage(sequenceNumber: 0, node: "")),
            .indirectPing(IndirectPingMessage(sequenceNumber: 0, target: [], port: 0, node: "", wantsNack: false)),
            .ackResponse(AckResponseMessage(sequenceNumber: 1, payload: [UInt8](repeating: 1, count: 65_536))),
            .alive(AliveMessage(incarnation: .max, node: "ü", address: v6, port: 1, meta: [UInt8](repeating: 9, count: 512),
                                versions: [UInt8](repeating: 255, count: 16))),
            .dead(DeadMessage(incarnation: 0, node: "a", from: "b")),
            .user([]),
        ]
        for message in messages {
            #expect(try PacketDecoder(limits: GossipLimits(maxPacketBytes: 1 << 20)).decode(message.encodedMessage()).messages == [message])
        }
        let node = PushNodeState(name: long, address: v6, port: 2, meta: [1], incarnation: 3, state: .suspect, versions: [1])
        #expect(try PushNodeState(body: node.encodedBody()) == node)
        #expect(DeadMessage(incarnation: 1, node: "a", from: "a").isLeave)
        #expect(ProtocolVersions([1, 2, 3]) == nil && ProtocolVersions([1, 5, 2, 0, 0, 0, 9]) == .cohort)
    }

    @Test("fields over their limits are refused with the field's name")
    func fieldLimits() {
        let big = AliveMessage(incarnation: 1, node: "a", address: [1, 2, 3, 4], port: 1, meta: [UInt8](repeating: 0, count: 513))
        #expect(throws: GossipDecodeError.oversized("alive.Meta")) { try AliveMessage(body: big.encodedBody()) }
        let name = SuspectMessage(incarnation: 1, node: String(repeating: "x", count: 513), from: "a")
        #expect(throws: GossipDecodeError.oversized("suspect.Node")) { try SuspectMessage(body: name.encodedBody()) }
        let vsn = AliveMessage(incarnation: 1, node: "a", address: [], port: 1, versions: [UInt8](repeating: 1, count: 17))
        #expect(throws: GossipDecodeError.oversized("alive.Vsn")) { try AliveMessage(body: vsn.encodedBody()) }
        let addr = PingMessage(sequenceNumber: 1, node: "a", sourceAddress: [UInt8](repeating: 1, count: 17))
        #expect(throws: GossipDecodeError.oversized("ping.SourceAddr")) { try PingMessage(body: addr.encodedBody()) }
    }

    @Test("wrong types and unknown states name the field")
    func malformedFields() {
        var writer = MsgPackWriter()
        writer.writeMapHeader(1)
        writer.writeString("SeqNo")
        writer.writeString("not a number")
        #expect(throws: GossipDecodeError.malformed(field: "ping.SeqNo")) { try PingMessage(body: writer.buffer) }
        var state = PushNodeState(name: "a", address: [], port: 1, incarnation: 1, state: .alive).encodedBody().bytes
        // Replace the State value (fixint 0) by 7: it is the byte after the key "State".
        let key = Array("State".utf8)
        guard let at = (0...(state.count - key.count)).first(where: { Array(state[$0..<$0 + key.count]) == key }) else {
            Issue.record("no State key")
            return
        }
        state[at + key.count] = 7
        #expect(throws: GossipDecodeError.malformed(field: "pushNodeState.State")) { try PushNodeState(body: ByteBuffer(bytes: state)) }
    }
}
