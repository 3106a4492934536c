import CohortTestKit
import Gossip
import NIOCore
import Testing
import Wire

@Suite("stream encoder and decoder")
struct StreamCodecTests {
    static let key = [UInt8](repeating: 5, count: 32)
    static let messages: [StreamMessage] = [
        .pushPull(ExpectedMessages.pushPull),
        .pushPull(PushPullMessage(join: false, nodes: [])),
        .ping(ExpectedMessages.pingSource),
        .ackResponse(AckResponseMessage(sequenceNumber: 3, payload: [1, 2])),
        .user([UInt8](repeating: 0xab, count: 5_000)),
        .user([]),
        .error(ErrorResponseMessage(error: "Encryption is configured but remote state is not encrypted")),
    ]

    static func codecs(compression: Bool, encrypted: Bool) throws -> (StreamEncoder, StreamDecoder) {
        let keyring = encrypted ? try Keyring(primaryKey: key) : nil
        return (StreamEncoder(keyring: keyring, compression: compression), StreamDecoder(keyring: keyring))
    }

    @Test("every message round-trips and consumes exactly its bytes", arguments: [false, true], [false, true])
    func roundTrip(compression: Bool, encrypted: Bool) throws {
        let (encoder, decoder) = try Self.codecs(compression: compression, encrypted: encrypted)
        for message in Self.messages {
            var buffer = try encoder.encode(message)
            let length = buffer.readableBytes
            buffer.writeBytes([0xEE, 0xEE])
            #expect(try decoder.decode(&buffer) == message)
            #expect(buffer.readableBytes == 2, "consumed \(length) of \(length + 2)")
        }
    }

    @Test("a message arriving byte by byte is nil until its last byte", arguments: [false, true], [false, true])
    func incremental(compression: Bool, encrypted: Bool) throws {
        let (encoder, decoder) = try Self.codecs(compression: compression, encrypted: encrypted)
        let bytes = try encoder.encode(.pushPull(ExpectedMessages.pushPull)).bytes
        var buffer = ByteBuffer()
        for (index, byte) in bytes.enumerated() {
            buffer.writeInteger(byte)
            let result = try decoder.decode(&buffer)
            if index < bytes.count - 1 {
                #expect(result == nil, "after \(index + 1) of \(bytes.count) bytes")
                #expect(buffer.readableBytes == index + 1, "nothing consumed early")
            } else {
                #expect(result == .pushPull(ExpectedMessages.pushPull))
            }
        }
    }

    @Test("a stream cut short by end of input is .truncated, and empty input is .empty")
    func endOfInput() throws {
        let (encoder, decoder) = try Self.codecs(compression: false, encrypted: false)
        let bytes = try encoder.encode(.user(Array("hello".utf8))).bytes
        for cut in 1..<bytes.count {
            var buffer = ByteBuffer(bytes: bytes.prefix(cut))
            #expect(throws: GossipDecodeError.truncated) { try decoder.decode(&buffer, endOfInput: true) }
        }
        var empty = ByteBuffer()
        #expect(throws: GossipDecodeError.empty) { try decoder.decode(&empty, endOfInput: true) }
        #expect(try decoder.decode(&empty) == nil)
    }

    @Test("encryption must match on both ends")
    func encryptionMismatch() throws {
        let plain = try StreamEncoder().encode(.ping(ExpectedMessages.ping))
        let sealed = try StreamEncoder(keyring: Keyring(primaryKey: Self.key)).encode(.ping(ExpectedMessages.ping))
        var buffer = sealed
        #expect(throws: GossipDecodeError.encryptionNotConfigured) { try StreamDecoder().decode(&buffer) }
        buffer = plain
        #expect(throws: GossipDecodeError.encryptionRequired) { try StreamDecoder(keyring: Keyring(primaryKey: Self.key)).decode(&buffer) }
        let lenient = try StreamDecoder(keyring: Keyring(primaryKey: Self.key), verifyIncoming: false)
        #expect(try lenient.decode(&buffer) == .ping(ExpectedMessages.ping))
        buffer = sealed
        #expect(throws: GossipDecodeError.decryptFailed) {
            try StreamDecoder(keyring: Keyring(primaryKey: [UInt8](repeating: 6, count: 32))).decode(&buffer)
        }
    }

    @Test("the 5-byte header is authenticated")
    func headerIsAuthenticated() throws {
        let keyring = try Keyring(primaryKey: Self.key)
        var bytes = try StreamEncoder(keyring: keyring).encode(.user([1, 2, 3])).bytes
        bytes.append(0)
        bytes[4] += 1  // claim one more byte: the length is part of the AAD
        var buffer = ByteBuffer(bytes: bytes)
        #expect(throws: GossipDecodeError.decryptFailed) { try StreamDecoder(keyring: keyring).decode(&buffer) }
    }

    @Test("declared sizes over the limits are refused at once, before any bytes arrive")
    func sizeLimits() throws {
        let decoder = try StreamDecoder(keyring: Keyring(primaryKey: Self.key))
        var encrypted = ByteBuffer(bytes: [10, 0x01, 0x40, 0x00, 0x01])
        #expect(throws: GossipDecodeError.oversized("stream")) { try decoder.decode(&encrypted) }
        var nodes = PushPullHeader(nodeCount: 1_000_000, userStateLength: 0, join: false).encodedMessage()
        #expect(throws: GossipDecodeError.oversized("pushPullHeader.Nodes")) { try StreamDecoder().decode(&nodes) }
        var state = PushPullHeader(nodeCount: 0, userStateLength: Int(Int32.max), join: false).encodedMessage()
        #expect(throws: GossipDecodeError.oversized("pushPullHeader.UserStateLen")) { try StreamDecoder().decode(&state) }
        var negative = PushPullHeader(nodeCount: -1, userStateLength: 0, join: false).encodedMessage()
        #expect(throws: GossipDecodeError.malformed(field: "pushPullHeader.Nodes")) { try StreamDecoder().decode(&negative) }
        var user = UserMessageHeader(length: 1 << 30).encodedMessage()
        #expect(throws: GossipDecodeError.oversized("userMsgHeader.UserMsgLen")) { try StreamDecoder().decode(&user) }
        let huge = StreamEncoder(keyring: try Keyring(primaryKey: Self.key), compression: false)
        // type byte 1 + {"UserMsgLen": uint32} 17 + payload + encryption 29
        #expect(throws: GossipEncodeError.oversized((20 << 20) + 18 + 29)) { try huge.encode(.user([UInt8](repeating: 0, count: 20 << 20))) }
    }

    @Test("datagram-only types, nested compression and a short compressed body are refused")
    func unexpectedContent() throws {
        var alive = ExpectedMessages.alive.encodedMessage()
        #expect(throws: GossipDecodeError.unexpectedMessageType(.alive)) { try StreamDecoder().decode(&alive) }
        let inner = try StreamEncoder().encode(.ping(ExpectedMessages.ping))
        var twice = CompressMessage(compressing: inner.bytes).encodedMessage()
        #expect(throws: GossipDecodeError.unexpectedMessageType(.compress)) { try StreamDecoder().decode(&twice) }
        let shortInner = StreamEncoder.plaintext(.ping(ExpectedMessages.ping)).bytes.dropLast()
        var short = CompressMessage(compressing: Array(shortInner)).encodedMessage()
        #expect(throws: GossipDecodeError.malformed(field: "compress.Buf")) { try StreamDecoder().decode(&short, endOfInput: true) }
        var unknown = ByteBuffer(bytes: [99, 0])
        #expect(throws: GossipDecodeError.unknownMessageType(99)) { try StreamDecoder().decode(&unknown) }
    }

    @Test("seeded random streams give a message, nil or a typed error")
    func randomStreams() {
        var generator = SplitMix64(seed: 99)
        for _ in 0..<10_000 {
            var bytes = generator.bytes(Int.random(in: 0...80, using: &generator))
            if !bytes.isEmpty { bytes[0] = [0, 2, 6, 8, 9, 10, 13].randomElement(using: &generator)! }
            var buffer = ByteBuffer(bytes: bytes)
            let before = buffer.readableBytes
            if let message = try? StreamDecoder().decode(&buffer, endOfInput: Bool.random(using: &generator)) {
                #expect(buffer.readableBytes < before, "\(String(describing: message)) consumed bytes")
            }
        }
    }
}
