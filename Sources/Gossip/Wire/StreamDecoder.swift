import NIOCore
import Wire

/// Reads stream messages as memberlist 0.2.2's `readStream`, `readRemoteState` and `readUserMsg` do, from
/// bytes that arrive in pieces.
///
/// ``decode(_:endOfInput:)`` tells "wait for more bytes" (it returns nil and consumes nothing) apart from
/// "malformed" (it throws), and on success consumes exactly the message's bytes.
public struct StreamDecoder: Sendable {
    /// Keys to decrypt with; nil when the cluster is not encrypted.
    public var keyring: Keyring?
    /// With a keyring: true refuses plaintext streams, as memberlist's `GossipVerifyIncoming`.
    public var verifyIncoming: Bool
    /// Bounds on sizes; ``GossipLimits/maxStreamBytes`` caps the whole stream.
    public var limits: GossipLimits

    /// Creates a decoder.
    public init(keyring: Keyring? = nil, verifyIncoming: Bool = true, limits: GossipLimits = .default) {
        self.keyring = keyring
        self.verifyIncoming = verifyIncoming
        self.limits = limits
    }

    /// Decodes the message at the front of `buffer`.
    ///
    /// - Parameter endOfInput: true when no more bytes will come (the peer closed), so an incomplete
    ///   message is ``GossipDecodeError/truncated`` rather than nil.
    /// - Returns: the message, having consumed exactly its bytes; nil when more bytes are needed.
    public func decode(_ buffer: inout ByteBuffer, endOfInput: Bool = false) throws(GossipDecodeError) -> StreamMessage? {
        guard let first = buffer.getInteger(at: buffer.readerIndex, as: UInt8.self) else {
            if endOfInput { throw .empty }
            return nil
        }
        if first == MessageType.encrypt.rawValue {
            return try decodeEncrypted(&buffer, endOfInput: endOfInput)
        }
        if keyring != nil, verifyIncoming { throw .encryptionRequired }
        var reader = MsgPackReader(buffer, limits: limits.msgPack)
        do {
            let message = try readMessage(&reader, allowCompressed: true)
            buffer = reader.buffer
            return message
        } catch .truncated {
            if endOfInput { throw .truncated }
            if buffer.readableBytes >= limits.maxStreamBytes { throw .oversized("stream") }
            return nil
        }
    }

    private func decodeEncrypted(_ buffer: inout ByteBuffer, endOfInput: Bool) throws(GossipDecodeError) -> StreamMessage? {
        guard let keyring else { throw .encryptionNotConfigured }
        guard let length = buffer.getInteger(at: buffer.readerIndex + 1, endianness: .big, as: UInt32.self) else {
            if endOfInput { throw .truncated }
            return nil
        }
        guard Int(length) <= limits.maxStreamBytes else { throw .oversized("stream") }
        guard let header = buffer.getBytes(at: buffer.readerIndex, length: 5),
              let payload = buffer.getSlice(at: buffer.readerIndex + 5, length: Int(length))
        else {
            if endOfInput { throw .truncated }
            return nil
        }
        let plain = try PayloadEncryption.open(payload, keyring: keyring, additionalData: header)
        var reader = MsgPackReader(ByteBuffer(bytes: plain), limits: limits.msgPack)
        let message = try readMessage(&reader, allowCompressed: true)
        buffer.moveReaderIndex(forwardBy: 5 + Int(length))
        return message
    }

    /// Reads a type byte and the message it introduces; ``GossipDecodeError/truncated`` means the bytes in
    /// `reader` ran out.
    private func readMessage(_ reader: inout MsgPackReader, allowCompressed: Bool) throws(GossipDecodeError) -> StreamMessage {
        guard let typeByte = reader.buffer.readInteger(as: UInt8.self) else { throw .truncated }
        guard let type = MessageType(rawValue: typeByte) else { throw .unknownMessageType(typeByte) }
        switch type {
        case .compress where allowCompressed:
            let compressed = try CompressMessage(from: &reader, limits: limits)
            let plain: [UInt8]
            do {
                plain = try compressed.decompressed(maxOutputBytes: limits.maxStreamBytes)
            } catch .decompressionFailed(.outputLimitExceeded) {
                throw .oversized("decompressed")
            }
            var inner = MsgPackReader(ByteBuffer(bytes: plain), limits: limits.msgPack)
            do {
                return try readMessage(&inner, allowCompressed: false)
            } catch .truncated {
                // The decompressed bytes are all there is: cut short is malformed, not "wait for more".
                throw .malformed(field: "compress.Buf")
            }
        case .pushPull:
            return .pushPull(try readPushPull(&reader))
        case .ping:
            return .ping(try PingMessage(from: &reader, limits: limits))
        case .ackResponse:
            return .ackResponse(try AckResponseMessage(from: &reader, limits: limits))
        case .error:
            return .error(try ErrorResponseMessage(from: &reader, limits: limits))
        case .user:
            let header = try UserMessageHeader(from: &reader, limits: limits)
            return .user(try readRaw(&reader, header.length))
        case .compress, .indirectPing, .suspect, .alive, .dead, .compound, .encrypt, .nackResponse, .hasCRC:
            throw .unexpectedMessageType(type)
        }
    }

    private func readPushPull(_ reader: inout MsgPackReader) throws(GossipDecodeError) -> PushPullMessage {
        let header = try PushPullHeader(from: &reader, limits: limits)
        var nodes: [PushNodeState] = []
        nodes.reserveCapacity(min(header.nodeCount, reader.buffer.readableBytes))
        for _ in 0..<header.nodeCount {
            nodes.append(try PushNodeState(from: &reader, limits: limits))
        }
        let userState = try readRaw(&reader, header.userStateLength)
        return PushPullMessage(join: header.join, nodes: nodes, userState: userState)
    }

    private func readRaw(_ reader: inout MsgPackReader, _ count: Int) throws(GossipDecodeError) -> [UInt8] {
        // NIO's own bounds check: nothing is read (or allocated) unless all `count` bytes are there.
        guard count >= 0, count <= reader.buffer.readableBytes, let bytes = reader.buffer.readBytes(length: count) else {
            throw .truncated
        }
        return bytes
    }
}
