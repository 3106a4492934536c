import Crypto
import Gossip
import NIOCore
import Testing
import Wire

/// Keyring trial decryption, rotation and the encryption edge cases of the packet path.
@Suite("packet encryption")
struct PacketEncryptionTests {
    static let oldKey = [UInt8](repeating: 1, count: 16)
    static let newKey = [UInt8](repeating: 2, count: 32)
    let ping = GossipMessage.ping(ExpectedMessages.ping)

    func sealed(with key: [UInt8], version: PayloadEncryption.Version = .unpadded) throws -> ByteBuffer {
        try PacketEncoder(keyring: Keyring(primaryKey: key), encryptionVersion: version).seal([ping], peerProtocolMax: 2)
    }

    @Test("every installed key is tried, so rotation needs no downtime")
    func rotation() throws {
        var receiver = try Keyring(primaryKey: Self.oldKey)
        let fromOld = try sealed(with: Self.oldKey)
        try receiver.add(Self.newKey)
        try receiver.use(Self.newKey)
        #expect(receiver.primaryKey == SymmetricKey(data: Self.newKey))
        let decoder = PacketDecoder(keyring: receiver)
        #expect(try decoder.decode(fromOld).messages == [ping])
        #expect(try decoder.decode(try sealed(with: Self.newKey)).messages == [ping])
        try receiver.remove(Self.oldKey)
        #expect(throws: GossipDecodeError.decryptFailed) { try PacketDecoder(keyring: receiver).decode(fromOld) }
    }

    @Test("a wrong key is rejected unless incoming verification is off, which falls back to plaintext")
    func wrongKey() throws {
        let stranger = try PacketDecoder(keyring: Keyring(primaryKey: Self.newKey))
        #expect(throws: GossipDecodeError.decryptFailed) { try stranger.decode(try sealed(with: Self.oldKey)) }
        let migrating = try PacketDecoder(keyring: Keyring(primaryKey: Self.newKey), verifyIncoming: false)
        #expect(try migrating.decode(ExpectedMessages.ping.encodedMessage()).messages == [ping])
        // Plaintext read as ciphertext: a ping's type byte 0 reads as version 0 and is too short for it; an
        // alive's type byte 4 is no encryption version at all.
        #expect(throws: GossipDecodeError.truncated) { try stranger.decode(ExpectedMessages.ping.encodedMessage()) }
        #expect(throws: GossipDecodeError.unsupportedEncryptionVersion(4)) {
            try stranger.decode(ExpectedMessages.alive.encodedMessage())
        }
    }

    @Test("padded version 0 payloads decode; bad padding and unknown versions are typed")
    func versions() throws {
        let keyring = try Keyring(primaryKey: Self.oldKey)
        let decoder = PacketDecoder(keyring: keyring)
        #expect(try decoder.decode(try sealed(with: Self.oldKey, version: .padded)).messages == [ping])
        // The version byte is not authenticated: relabel an unpadded payload as padded. The plaintext ends in
        // 0x2a (SeqNo 42), which is no valid PKCS7 padding; memberlist 0.2.2 would slice out of range here.
        var relabelled = try sealed(with: Self.oldKey).bytes
        relabelled[0] = 0
        #expect(throws: GossipDecodeError.malformed(field: "encryption.padding")) {
            try decoder.decode(ByteBuffer(bytes: relabelled))
        }
        relabelled[0] = 2
        #expect(throws: GossipDecodeError.unsupportedEncryptionVersion(2)) {
            try decoder.decode(ByteBuffer(bytes: relabelled))
        }
    }

    @Test("any flipped bit in a sealed packet fails authentication")
    func tampering() throws {
        let keyring = try Keyring(primaryKey: Self.oldKey)
        let bytes = try sealed(with: Self.oldKey).bytes
        for index in 1..<bytes.count {
            var tampered = bytes
            tampered[index] ^= 0x40
            #expect(throws: GossipDecodeError.decryptFailed) { try PacketDecoder(keyring: keyring).decode(ByteBuffer(bytes: tampered)) }
        }
    }

    @Test("nonces are fresh for every packet")
    func freshNonces() throws {
        let first = try sealed(with: Self.oldKey).bytes
        let second = try sealed(with: Self.oldKey).bytes
        #expect(first[1..<13] != second[1..<13])
        #expect(first.count == ExpectedMessages.ping.encodedMessage().readableBytes + PayloadEncryption.overhead(.unpadded))
    }

    @Test("sealing with a malformed key or nonce is a typed error")
    func badSealParameters() {
        #expect(throws: GossipEncodeError.encryptionFailed) {
            try PayloadEncryption.seal([1], key: SymmetricKey(data: [UInt8](repeating: 0, count: 20)))
        }
        #expect(throws: GossipEncodeError.encryptionFailed) {
            try PayloadEncryption.seal([1], key: SymmetricKey(size: .bits128), nonce: [1, 2, 3])
        }
    }
}
