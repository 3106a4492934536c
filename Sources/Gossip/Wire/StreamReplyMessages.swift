import Wire

/// The header of a user message sent over a stream (`userMsgHeader`); the raw bytes follow it.
public struct UserMessageHeader: MessageBody {
    /// The type byte this body travels under (see ``MessageBody``).
    public static let messageType = MessageType.user
    /// The Go struct's name in memberlist.
    public static let goName = "userMsgHeader"
    /// How many raw bytes follow (`UserMsgLen`).
    public var length: Int

    /// Creates a header.
    public init(length: Int) {
        self.length = length
    }

    /// Writes the body as go-msgpack does: a map with the keys in sorted order.
    public func encode(into writer: inout MsgPackWriter) {
        writer.writeMapHeader(1)
        writer.writeString("UserMsgLen"); writer.writeInteger(length)
    }

    /// Reads the body as go-msgpack does, then checks it against `limits`.
    public init(from reader: inout MsgPackReader, limits: GossipLimits) throws(GossipDecodeError) {
        self.init(length: 0)
        try Self.readFields(&reader, ["UserMsgLen"]) { _, r throws(MsgPackError) in
            length = try r.readInteger()
        }
        guard length >= 0 else { throw .malformed(field: "userMsgHeader.UserMsgLen") }
        try Self.check("UserMsgLen", length, atMost: limits.maxStreamBytes)
    }
}

/// A stream reply saying the remote side failed to handle our stream (`errResp`, type 13).
public struct ErrorResponseMessage: MessageBody {
    /// The type byte this body travels under (see ``MessageBody``).
    public static let messageType = MessageType.error
    /// The Go struct's name in memberlist.
    public static let goName = "errResp"
    /// The remote error text (`Error`).
    public var error: String

    /// Creates an error reply.
    public init(error: String) {
        self.error = error
    }

    /// Writes the body as go-msgpack does: a map with the keys in sorted order.
    public func encode(into writer: inout MsgPackWriter) {
        writer.writeMapHeader(1)
        writer.writeString("Error"); writer.writeString(error)
    }

    /// Reads the body as go-msgpack does, then checks it against `limits`.
    public init(from reader: inout MsgPackReader, limits: GossipLimits) throws(GossipDecodeError) {
        self.init(error: "")
        try Self.readFields(&reader, ["Error"]) { _, r throws(MsgPackError) in
            error = try r.readString()
        }
        try Self.check("Error", error.utf8.count, atMost: limits.maxPayloadBytes)
    }
}
