import NIOCore
import Wire

/// The send pipeline for datagrams, memberlist 0.2.2's `sendMsg` and `rawSendMsgPacket`:
/// compound several messages → LZW-compress if that makes the packet smaller → CRC header if the
/// destination understands protocol 5 → encrypt with the primary key.
///
/// Choosing which broadcasts fit the 1400-byte budget is the caller's job; ``overhead(partCount:)`` says
/// what the wrappers add.
public struct PacketEncoder: Sendable {
    /// Encrypts with the primary key when set.
    public var keyring: Keyring?
    /// Tries LZW compression (memberlist's `EnableCompression`, default true there).
    public var compression: Bool
    /// The encryption version to send; memberlist at protocol version ≥ 2 sends `.unpadded`.
    public var encryptionVersion: PayloadEncryption.Version

    /// Creates an encoder.
    public init(keyring: Keyring? = nil, compression: Bool = true, encryptionVersion: PayloadEncryption.Version = .unpadded) {
        self.keyring = keyring
        self.compression = compression
        self.encryptionVersion = encryptionVersion
    }

    /// The most bytes the compound header and encryption add around `partCount` messages (compression
    /// only ever shrinks; the CRC header adds 5 more when used).
    public func overhead(partCount: Int) -> Int {
        let compound = partCount > 1 ? CompoundMessage.headerOverhead + CompoundMessage.partOverhead * partCount : 0
        return compound + (keyring == nil ? 0 : PayloadEncryption.overhead(encryptionVersion))
    }

    /// Seals encoded messages (each starting with its type byte) into one datagram.
    ///
    /// - Parameters:
    ///   - messages: one or more messages; several become a compound message.
    ///   - peerProtocolMax: the destination's advertised maximum protocol version; ≥ 5 adds the CRC header.
    ///   - nonce: a fixed nonce for reproducible tests; random when nil.
    public func seal(
        _ messages: [ByteBuffer],
        peerProtocolMax: UInt8,
        nonce: [UInt8]? = nil
    ) throws(GossipEncodeError) -> ByteBuffer {
        var packet = messages.count == 1 ? messages[0] : try CompoundMessage.encode(messages)
        if compression {
            let compressed = CompressMessage(compressing: packet.readableBytesView).encodedMessage()
            if compressed.readableBytes < packet.readableBytes { packet = compressed }
        }
        if peerProtocolMax >= 5 {
            var framed = ByteBuffer()
            framed.reserveCapacity(5 + packet.readableBytes)
            framed.writeInteger(MessageType.hasCRC.rawValue)
            framed.writeInteger(CRC32.checksum(packet))
            framed.writeBuffer(&packet)
            packet = framed
        }
        if let keyring {
            let sealed = try PayloadEncryption.seal(
                packet.readableBytesView, key: keyring.primaryKey, version: encryptionVersion, nonce: nonce
            )
            packet = ByteBuffer(bytes: sealed)
        }
        return packet
    }

    /// Seals decoded messages; see ``seal(_:peerProtocolMax:nonce:)``.
    public func seal(
        _ messages: [GossipMessage],
        peerProtocolMax: UInt8,
        nonce: [UInt8]? = nil
    ) throws(GossipEncodeError) -> ByteBuffer {
        try seal(messages.map { $0.encodedMessage() }, peerProtocolMax: peerProtocolMax, nonce: nonce)
    }
}
