import CohortTestKit
import Crypto
import Gossip
import NIOCore
import Testing
import Wire

/// Compound, compress, CRC, encryption and stream framing against memberlist 0.2.2's own construction.
@Suite("memberlist framing against Go")
struct GoFrameVectorTests {
    typealias Vectors = GoMemberlistVectors

    @Test("compound messages match Go and split back into their parts")
    func compound() throws {
        let parts = [ExpectedMessages.ping.encodedMessage(), ExpectedMessages.suspect.encodedMessage(),
                     GossipMessage.user(ExpectedMessages.user).encodedMessage()]
        let frame = Vectors.frame("compound(ping,suspect,user)")
        #expect(try CompoundMessage.encode(parts).bytes == frame)
        #expect(try PacketDecoder().decode(ByteBuffer(bytes: frame)).messages == [
            .ping(ExpectedMessages.ping), .suspect(ExpectedMessages.suspect), .user(ExpectedMessages.user),
        ])
    }

    @Test("compress messages match Go's compressPayload")
    func compress() throws {
        let ping = ExpectedMessages.ping.encodedMessage().bytes
        #expect(CompressMessage(compressing: ping).encodedMessage().bytes == Vectors.frame("compress(ping)"))
        let compound = Vectors.frame("compound(ping,suspect,user)")
        let frame = Vectors.frame("compress(compound(ping,suspect,user))")
        #expect(CompressMessage(compressing: compound).encodedMessage().bytes == frame)
        #expect(try PacketDecoder().decode(ByteBuffer(bytes: frame)).messages.count == 3)
    }

    @Test("the CRC header matches Go when the peer speaks protocol 5")
    func crc() throws {
        let encoder = PacketEncoder(compression: false)
        let sealed = try encoder.seal([GossipMessage.ping(ExpectedMessages.ping)], peerProtocolMax: 5)
        #expect(sealed.bytes == Vectors.frame("crc(ping)"))
        let plain = try encoder.seal([GossipMessage.ping(ExpectedMessages.ping)], peerProtocolMax: 4)
        #expect(plain.bytes == Vectors.message("ping"))
    }

    @Test("the full send pipeline matches Go: compound, compress, CRC, encrypt")
    func fullPipeline() throws {
        let keyring = try Vectors.keyring(Vectors.key16)
        let encoder = PacketEncoder(keyring: keyring, compression: true)
        let messages: [GossipMessage] = [
            .ping(ExpectedMessages.pingSource), .alive(ExpectedMessages.alive), .alive(ExpectedMessages.alive),
            .alive(ExpectedMessages.alive), .suspect(ExpectedMessages.suspect),
        ]
        let sealed = try encoder.seal(messages, peerProtocolMax: 5, nonce: [UInt8](hex: Vectors.nonce))
        let frame = Vectors.frame("encrypt-v1-key16(crc(compress(compound(ping-source,alive,alive,alive,suspect))))")
        #expect(sealed.bytes.hex == frame.hex)
        let decoded = try PacketDecoder(keyring: keyring).decode(ByteBuffer(bytes: frame))
        #expect(decoded.messages == messages)
    }

    @Test("AES-GCM payloads match Go's encryptPayload and decrypt", arguments: GoMemberlistVectors.encryptedPings.indices)
    func encryptedPing(index: Int) throws {
        let vector = Vectors.encryptedPings[index]
        let key = [UInt8](hex: vector.key)
        let version = try #require(PayloadEncryption.Version(rawValue: vector.version))
        let sealed = try PayloadEncryption.seal(
            Vectors.message("ping"), key: SymmetricKey(data: key), version: version, nonce: [UInt8](hex: Vectors.nonce)
        )
        #expect(sealed.hex == [UInt8](hex: vector.payload).hex)
        let opened = try PayloadEncryption.open(ByteBuffer(bytes: [UInt8](hex: vector.payload)), keyring: Keyring(primaryKey: key))
        #expect(opened == Vectors.message("ping"))
    }

    @Test("plaintext streams match Go and decode")
    func plaintextStreams() throws {
        let encoder = StreamEncoder(compression: false)
        let cases: [(String, StreamMessage)] = [
            ("stream-push-pull", .pushPull(ExpectedMessages.pushPull)),
            ("stream-user", .user(Array("abc".utf8))),
        ]
        for (name, message) in cases {
            let frame = Vectors.frame(name)
            #expect(try encoder.encode(message).bytes == frame, "\(name)")
            var buffer = ByteBuffer(bytes: frame)
            #expect(try StreamDecoder().decode(&buffer) == message, "\(name)")
            #expect(buffer.readableBytes == 0)
        }
    }

    @Test("compressed and encrypted streams match Go and decode")
    func sealedStreams() throws {
        let compressed = Vectors.frame("stream-compress(push-pull)")
        #expect(try StreamEncoder().encode(.pushPull(ExpectedMessages.pushPull)).bytes == compressed)
        let keyring = try Vectors.keyring(Vectors.key32)
        let encoder = StreamEncoder(keyring: keyring)
        let nonce = [UInt8](hex: Vectors.nonce)
        let cases: [(String, StreamMessage)] = [
            ("stream-encrypt-key32(compress(push-pull))", .pushPull(ExpectedMessages.pushPull)),
            ("stream-encrypt-key32(compress(user))", .user(Array("abc".utf8))),
        ]
        for (name, message) in cases {
            let frame = Vectors.frame(name)
            #expect(try encoder.encode(message, nonce: nonce).bytes == frame, "\(name)")
            var buffer = ByteBuffer(bytes: frame)
            #expect(try StreamDecoder(keyring: keyring).decode(&buffer) == message, "\(name)")
            #expect(buffer.readableBytes == 0)
        }
    }
}
