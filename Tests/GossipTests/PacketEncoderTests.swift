import Gossip
import NIOCore
import Testing
import Wire

@Suite("packet encoder")
struct PacketEncoderTests {
    static let messages: [GossipMessage] = ExpectedMessages.named.map(\.message)

    @Test("everything it seals decodes back, for every combination of options", arguments: [false, true], [0, 1, 2])
    func roundTrip(compression: Bool, encryption: Int) throws {
        let keyring: Keyring? = switch encryption {
        case 0: nil
        case 1: try Keyring(primaryKey: [UInt8](repeating: 9, count: 16))
        default: try Keyring(primaryKey: [UInt8](repeating: 9, count: 24))
        }
        let encoder = PacketEncoder(keyring: keyring, compression: compression)
        let decoder = PacketDecoder(keyring: keyring)
        for peerProtocolMax: UInt8 in [4, 5] {
            for message in Self.messages {
                #expect(try decoder.decode(try encoder.seal([message], peerProtocolMax: peerProtocolMax)).messages == [message])
            }
            let all = try encoder.seal(Self.messages, peerProtocolMax: peerProtocolMax)
            #expect(try decoder.decode(all) == DecodedPacket(messages: Self.messages))
        }
    }

    @Test("compresses only when that makes the packet smaller")
    func compressionOnlyWhenSmaller() throws {
        let encoder = PacketEncoder(compression: true)
        let small = try encoder.seal([GossipMessage.ping(ExpectedMessages.ping)], peerProtocolMax: 4)
        #expect(small.bytes.first == MessageType.ping.rawValue)
        let repetitive = [GossipMessage](repeating: .alive(ExpectedMessages.alive), count: 10)
        let packed = try encoder.seal(repetitive, peerProtocolMax: 4)
        #expect(packed.bytes.first == MessageType.compress.rawValue)
        #expect(packed.readableBytes < (try PacketEncoder(compression: false).seal(repetitive, peerProtocolMax: 4)).readableBytes)
    }

    @Test("adds the CRC header only for peers that understand protocol 5")
    func crcByPeerVersion() throws {
        let encoder = PacketEncoder(compression: false)
        let message = [GossipMessage.suspect(ExpectedMessages.suspect)]
        #expect(try encoder.seal(message, peerProtocolMax: 5).bytes.first == MessageType.hasCRC.rawValue)
        #expect(try encoder.seal(message, peerProtocolMax: 4).bytes.first == MessageType.suspect.rawValue)
    }

    @Test("refuses compounds memberlist 0.2.2 would misread, more than 255 parts, and parts over 64 KiB")
    func compoundLimits() throws {
        let part = ExpectedMessages.ping.encodedMessage()
        #expect(throws: Never.self) { try CompoundMessage.encode(Array(repeating: part, count: 127)) }
        #expect(throws: GossipEncodeError.tooManyParts(128)) { try CompoundMessage.encode(Array(repeating: part, count: 128)) }
        #expect(throws: GossipEncodeError.tooManyParts(128)) {
            try PacketEncoder().seal(Array(repeating: part, count: 128), peerProtocolMax: 5)
        }
        #expect(throws: GossipEncodeError.tooManyParts(256)) {
            try CompoundMessage.encode(Array(repeating: part, count: 256), maxParts: 1_000)
        }
        let full = try CompoundMessage.encode(Array(repeating: part, count: 255), maxParts: 255)
        #expect(try PacketDecoder().decode(full).messages.count == 255)
        #expect(throws: GossipEncodeError.partTooLarge(65_536)) {
            try CompoundMessage.encode([part, ByteBuffer(bytes: [UInt8](repeating: 8, count: 65_536))])
        }
    }

    @Test("reports the overhead its wrappers add")
    func overhead() throws {
        #expect(PacketEncoder().overhead(partCount: 1) == 0)
        #expect(PacketEncoder().overhead(partCount: 3) == 2 + 3 * 2)
        let encrypted = PacketEncoder(keyring: try Keyring(primaryKey: [UInt8](repeating: 1, count: 16)), compression: false)
        #expect(encrypted.overhead(partCount: 2) == 6 + 29)
        let messages = [GossipMessage.ping(ExpectedMessages.ping), .suspect(ExpectedMessages.suspect)]
        let payload = messages.reduce(0) { $0 + $1.encodedMessage().readableBytes }
        #expect(try encrypted.seal(messages, peerProtocolMax: 4).readableBytes == payload + encrypted.overhead(partCount: 2))
    }
}
