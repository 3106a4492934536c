import CohortTestKit
import Gossip
import NIOCore
import Testing

/// The SWIM core budgets datagrams with `encodedLength`, computed from the values; the encoder in
/// `Sources/Gossip/Wire` is the truth it must match byte for byte.
@Suite("encoded lengths the core computes")
struct MessageLengthTests {
    /// Lengths on each side of every msgpack header boundary (fixstr/str16/str32, fixint/uint8/16/32).
    static let textLengths = [0, 1, 31, 32, 255, 256, 65_535, 65_536]
    static let integers: [UInt32] = [0, 1, 127, 128, 255, 256, 65_535, 65_536, .max]
    static let ports: [UInt16] = [0, 1, 127, 128, 255, 256, .max]

    static func text(_ count: Int) -> String { String(repeating: "n", count: count) }
    static func bytes(_ count: Int) -> [UInt8] { [UInt8](repeating: 0xfe, count: count) }

    @Test("every field at every encoding boundary")
    func boundaries() {
        for count in Self.textLengths {
            let text = Self.text(count), bytes = Self.bytes(count)
            check(.ping(PingMessage(sequenceNumber: 1, node: text)))
            check(.ping(PingMessage(sequenceNumber: 1, node: "a", sourceAddress: bytes, sourcePort: 7946, sourceNode: text)))
            check(.indirectPing(IndirectPingMessage(
                sequenceNumber: 2, target: bytes, port: 7946, node: text, wantsNack: count.isMultiple(of: 2),
                sourceAddress: bytes, sourcePort: 1, sourceNode: text
            )))
            check(.ackResponse(AckResponseMessage(sequenceNumber: 3, payload: bytes)))
            check(.suspect(SuspectMessage(incarnation: 4, node: text, from: text)))
            check(.dead(DeadMessage(incarnation: 5, node: text, from: "b")))
            check(.alive(AliveMessage(incarnation: 6, node: text, address: bytes, port: 1, meta: bytes, versions: bytes)))
            check(.user(bytes))
        }
        for number in Self.integers {
            check(.ping(PingMessage(sequenceNumber: number, node: "a")))
            check(.indirectPing(IndirectPingMessage(sequenceNumber: number, target: [], port: 0, node: "", wantsNack: false)))
            check(.ackResponse(AckResponseMessage(sequenceNumber: number)))
            check(.nackResponse(NackResponseMessage(sequenceNumber: number)))
            check(.suspect(SuspectMessage(incarnation: number, node: "a", from: "b")))
            check(.dead(DeadMessage(incarnation: number, node: "a", from: "a")))
            check(.alive(AliveMessage(incarnation: number, node: "a", address: [127, 0, 0, 1], port: 7946)))
        }
        for port in Self.ports {
            check(.ping(PingMessage(sequenceNumber: 1, node: "a", sourceAddress: [10, 0, 0, 1], sourcePort: port)))
            check(.indirectPing(IndirectPingMessage(
                sequenceNumber: 1, target: [10, 0, 0, 2], port: port, node: "b", wantsNack: true, sourcePort: port
            )))
            check(.alive(AliveMessage(incarnation: 1, node: "a", address: [], port: port, meta: [], versions: [])))
        }
        check(.ping(PingMessage(sequenceNumber: 1, node: "ü", sourceNode: "日本")))
    }

    /// About a second of CPU (strings up to 64 KiB): on a thread of its own, not the cooperative pool.
    @Test("seeded random messages")
    func random() async {
        let mismatches = await onDedicatedThread { () -> [String] in
            var generator = SplitMix64(seed: 0x5EED)
            return (0 ..< 2_000).compactMap { _ in
                let message = Self.randomMessage(using: &generator)
                let encoded = Self.encoded(message).readableBytes
                return message.encodedLength == encoded ? nil : "\(message.messageType): \(message.encodedLength), encoded \(encoded)"
            }
        }
        #expect(mismatches.isEmpty, "\(mismatches.count) mismatches, first: \(mismatches.prefix(5))")
    }

    @Test("the msgpack integer rules, negative numbers included")
    func integerRules() {
        let cases: [(Int64, Int)] = [
            (0, 1), (127, 1), (128, 2), (255, 2), (256, 3), (65_535, 3), (65_536, 5), (Int64(UInt32.max), 5),
            (Int64(UInt32.max) + 1, 9), (-1, 1), (-32, 1), (-33, 2), (-128, 2), (-129, 3), (-32_768, 3),
            (-32_769, 5), (Int64(Int32.min), 5), (Int64(Int32.min) - 1, 9), (.min, 9), (.max, 9),
        ]
        for (value, length) in cases {
            #expect(MsgPackLength.integer(value) == length, "\(value)")
        }
        #expect(MsgPackLength.integer(UInt64.max) == 9)
    }

    private func check(_ message: GossipMessage, sourceLocation: SourceLocation = #_sourceLocation) {
        #expect(message.encodedLength == Self.encoded(message).readableBytes, "\(message.messageType)", sourceLocation: sourceLocation)
    }

    /// What the encoder writes for `message`.
    private static func encoded(_ message: GossipMessage) -> ByteBuffer {
        switch message {
        case .ping(let body): body.encodedMessage()
        case .indirectPing(let body): body.encodedMessage()
        case .ackResponse(let body): body.encodedMessage()
        case .nackResponse(let body): body.encodedMessage()
        case .suspect(let body): body.encodedMessage()
        case .alive(let body): body.encodedMessage()
        case .dead(let body): body.encodedMessage()
        case .user(let payload): ByteBuffer(bytes: [MessageType.user.rawValue] + payload)
        }
    }

    private static func randomMessage(using generator: inout SplitMix64) -> GossipMessage {
        func length() -> Int { textLengths.randomElement(using: &generator)! + Int.random(in: -1 ... 1, using: &generator) }
        func text() -> String { Self.text(max(0, length())) }
        func bytes() -> [UInt8] { Self.bytes(max(0, length())) }
        func number() -> UInt32 { integers.randomElement(using: &generator)! &+ UInt32.random(in: 0 ... 1, using: &generator) }
        func port() -> UInt16 { ports.randomElement(using: &generator)! }
        switch Int.random(in: 0 ..< 8, using: &generator) {
        case 0: return .ping(PingMessage(
            sequenceNumber: number(), node: text(), sourceAddress: bytes(), sourcePort: port(), sourceNode: text()
        ))
        case 1: return .indirectPing(IndirectPingMessage(
            sequenceNumber: number(), target: bytes(), port: port(), node: text(), wantsNack: Bool.random(using: &generator),
            sourceAddress: bytes(), sourcePort: port(), sourceNode: text()
        ))
        case 2: return .ackResponse(AckResponseMessage(sequenceNumber: number(), payload: bytes()))
        case 3: return .nackResponse(NackResponseMessage(sequenceNumber: number()))
        case 4: return .suspect(SuspectMessage(incarnation: number(), node: text(), from: text()))
        case 5: return .dead(DeadMessage(incarnation: number(), node: text(), from: text()))
        case 6: return .alive(AliveMessage(
            incarnation: number(), node: text(), address: bytes(), port: port(), meta: bytes(), versions: bytes()
        ))
        default: return .user(bytes())
        }
    }
}
