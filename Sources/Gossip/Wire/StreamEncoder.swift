import NIOCore
import Wire

/// Writes stream messages as memberlist 0.2.2's `rawSendMsgStream` does: the plaintext message, then the
/// whole of it LZW-compressed into a `compress` message (always, when compression is on), then encrypted
/// inside the stream wrapper `[10][length u32 BE][version][nonce][ciphertext+tag]`, whose 5-byte header is
/// the additional authenticated data.
public struct StreamEncoder: Sendable {
    /// Encrypts with the primary key when set.
    public var keyring: Keyring?
    /// Compresses every stream (memberlist's `EnableCompression`).
    public var compression: Bool
    /// The encryption version to send.
    public var encryptionVersion: PayloadEncryption.Version
    /// The largest encrypted payload a memberlist 0.2.2 peer accepts (20 MiB).
    public static let maxEncryptedLength = 20 << 20

    /// Creates an encoder.
    public init(keyring: Keyring? = nil, compression: Bool = true, encryptionVersion: PayloadEncryption.Version = .unpadded) {
        self.keyring = keyring
        self.compression = compression
        self.encryptionVersion = encryptionVersion
    }

    /// The bytes to write to the connection for `message`.
    ///
    /// - Parameter nonce: a fixed nonce for reproducible tests; random when nil.
    public func encode(_ message: StreamMessage, nonce: [UInt8]? = nil) throws(GossipEncodeError) -> ByteBuffer {
        var stream = Self.plaintext(message)
        if compression {
            stream = CompressMessage(compressing: stream.readableBytesView).encodedMessage()
        }
        guard let keyring else { return stream }
        let length = PayloadEncryption.encryptedLength(encryptionVersion, plaintextLength: stream.readableBytes)
        guard length <= Self.maxEncryptedLength else { throw .oversized(length) }
        var output = ByteBuffer()
        output.reserveCapacity(5 + length)
        output.writeInteger(MessageType.encrypt.rawValue)
        output.writeInteger(UInt32(length))
        let header = Array(output.readableBytesView)
        output.writeBytes(try PayloadEncryption.seal(
            stream.readableBytesView, key: keyring.primaryKey, version: encryptionVersion,
            additionalData: header, nonce: nonce
        ))
        return output
    }

    /// The message before compression and encryption: its type byte, then its msgpack values, then any raw
    /// trailing bytes (push/pull user state, user message payload).
    public static func plaintext(_ message: StreamMessage) -> ByteBuffer {
        switch message {
        case .pushPull(let pushPull):
            let header = PushPullHeader(
                nodeCount: pushPull.nodes.count, userStateLength: pushPull.userState.count, join: pushPull.join
            )
            var writer = MsgPackWriter(buffer: header.encodedMessage())
            for node in pushPull.nodes { node.encode(into: &writer) }
            writer.buffer.writeBytes(pushPull.userState)
            return writer.buffer
        case .ping(let ping):
            return ping.encodedMessage()
        case .ackResponse(let ack):
            return ack.encodedMessage()
        case .user(let payload):
            var buffer = UserMessageHeader(length: payload.count).encodedMessage()
            buffer.writeBytes(payload)
            return buffer
        case .error(let error):
            return error.encodedMessage()
        }
    }
}
