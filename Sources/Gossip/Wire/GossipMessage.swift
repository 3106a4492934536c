import GossipCore
import NIOCore
import Wire

/// The codec of ``GossipMessage`` (the value lives in GossipCore).
extension GossipMessage {
    /// The type byte this message travels under.
    public var messageType: MessageType {
        switch self {
        case .ping: .ping
        case .indirectPing: .indirectPing
        case .ackResponse: .ackResponse
        case .nackResponse: .nackResponse
        case .suspect: .suspect
        case .alive: .alive
        case .dead: .dead
        case .user: .user
        }
    }

    /// The type byte followed by the body, ready to be sent alone or as a compound part.
    public func encodedMessage() -> ByteBuffer {
        let buffer = encodedMessageUnchecked()
        // The SWIM core budgets datagrams with `encodedLength`, computed without encoding (see
        // Sources/GossipCore/Messages/EncodedLength.swift); in debug builds every message sent checks that
        // the two agree.
        assert(buffer.readableBytes == encodedLength, "encodedLength disagrees with the encoder for \(messageType)")
        return buffer
    }

    private func encodedMessageUnchecked() -> ByteBuffer {
        switch self {
        case .ping(let body): return body.encodedMessage()
        case .indirectPing(let body): return body.encodedMessage()
        case .ackResponse(let body): return body.encodedMessage()
        case .nackResponse(let body): return body.encodedMessage()
        case .suspect(let body): return body.encodedMessage()
        case .alive(let body): return body.encodedMessage()
        case .dead(let body): return body.encodedMessage()
        case .user(let payload):
            var buffer = ByteBuffer()
            buffer.writeInteger(MessageType.user.rawValue)
            buffer.writeBytes(payload)
            return buffer
        }
    }

    /// Decodes the body of a leaf message of type `type`; compound, compress and stream-only types are not
    /// leaves and are rejected with ``GossipDecodeError/unexpectedMessageType(_:)``.
    public init(type: MessageType, body: ByteBuffer, limits: GossipLimits = .default) throws(GossipDecodeError) {
        switch type {
        case .ping: self = .ping(try PingMessage(body: body, limits: limits))
        case .indirectPing: self = .indirectPing(try IndirectPingMessage(body: body, limits: limits))
        case .ackResponse: self = .ackResponse(try AckResponseMessage(body: body, limits: limits))
        case .nackResponse: self = .nackResponse(try NackResponseMessage(body: body, limits: limits))
        case .suspect: self = .suspect(try SuspectMessage(body: body, limits: limits))
        case .alive: self = .alive(try AliveMessage(body: body, limits: limits))
        case .dead: self = .dead(try DeadMessage(body: body, limits: limits))
        case .user: self = .user(Array(body.readableBytesView))
        case .pushPull, .compound, .compress, .encrypt, .hasCRC, .error:
            throw .unexpectedMessageType(type)
        }
    }
}
