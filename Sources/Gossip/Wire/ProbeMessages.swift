import GossipCore
import Wire

/// The msgpack codecs of the probe messages (the values live in GossipCore).
extension PingMessage: MessageBody {
    /// The type byte this body travels under (see ``MessageBody``).
    public static let messageType = MessageType.ping
    /// The Go struct's name in memberlist.
    public static let goName = "ping"

    /// Writes the body as go-msgpack does: a map with the keys in sorted order.
    public func encode(into writer: inout MsgPackWriter) {
        let present = 2 + (sourceAddress.isEmpty ? 0 : 1) + (sourceNode.isEmpty ? 0 : 1) + (sourcePort == 0 ? 0 : 1)
        writer.writeMapHeader(present)
        writer.writeString("Node"); writer.writeString(node)
        writer.writeString("SeqNo"); writer.writeInteger(sequenceNumber)
        if !sourceAddress.isEmpty { writer.writeString("SourceAddr"); writer.writeBytes(sourceAddress) }
        if !sourceNode.isEmpty { writer.writeString("SourceNode"); writer.writeString(sourceNode) }
        if sourcePort != 0 { writer.writeString("SourcePort"); writer.writeInteger(sourcePort) }
    }

    /// Reads the body as go-msgpack does, then checks it against `limits`.
    public init(from reader: inout MsgPackReader, limits: GossipLimits) throws(GossipDecodeError) {
        self.init(sequenceNumber: 0, node: "")
        try Self.readFields(&reader, ["SeqNo", "Node", "SourceAddr", "SourcePort", "SourceNode"]) { field, r throws(MsgPackError) in
            switch field {
            case 0: sequenceNumber = try r.readInteger()
            case 1: node = try r.readString()
            case 2: sourceAddress = try r.readBytes()
            case 3: sourcePort = try r.readInteger()
            default: sourceNode = try r.readString()
            }
        }
        try Self.check("Node", node.utf8.count, atMost: limits.maxNameBytes)
        try Self.check("SourceNode", sourceNode.utf8.count, atMost: limits.maxNameBytes)
        try Self.check("SourceAddr", sourceAddress.count, atMost: 16)
    }
}

extension IndirectPingMessage: MessageBody {
    /// The type byte this body travels under (see ``MessageBody``).
    public static let messageType = MessageType.indirectPing
    /// The Go struct's name in memberlist.
    public static let goName = "indirectPingReq"

    /// Writes the body as go-msgpack does: a map with the keys in sorted order.
    public func encode(into writer: inout MsgPackWriter) {
        let present = 5 + (sourceAddress.isEmpty ? 0 : 1) + (sourceNode.isEmpty ? 0 : 1) + (sourcePort == 0 ? 0 : 1)
        writer.writeMapHeader(present)
        writer.writeString("Nack"); writer.writeBool(wantsNack)
        writer.writeString("Node"); writer.writeString(node)
        writer.writeString("Port"); writer.writeInteger(port)
        writer.writeString("SeqNo"); writer.writeInteger(sequenceNumber)
        if !sourceAddress.isEmpty { writer.writeString("SourceAddr"); writer.writeBytes(sourceAddress) }
        if !sourceNode.isEmpty { writer.writeString("SourceNode"); writer.writeString(sourceNode) }
        if sourcePort != 0 { writer.writeString("SourcePort"); writer.writeInteger(sourcePort) }
        writer.writeString("Target"); writer.writeBytesOrNil(target)
    }

    /// Reads the body as go-msgpack does, then checks it against `limits`.
    public init(from reader: inout MsgPackReader, limits: GossipLimits) throws(GossipDecodeError) {
        self.init(sequenceNumber: 0, target: [], port: 0, node: "", wantsNack: false)
        let names = ["SeqNo", "Target", "Port", "Node", "Nack", "SourceAddr", "SourcePort", "SourceNode"]
        try Self.readFields(&reader, names) { field, r throws(MsgPackError) in
            switch field {
            case 0: sequenceNumber = try r.readInteger()
            case 1: target = try r.readBytes()
            case 2: port = try r.readInteger()
            case 3: node = try r.readString()
            case 4: wantsNack = try r.readBool()
            case 5: sourceAddress = try r.readBytes()
            case 6: sourcePort = try r.readInteger()
            default: sourceNode = try r.readString()
            }
        }
        try Self.check("Node", node.utf8.count, atMost: limits.maxNameBytes)
        try Self.check("SourceNode", sourceNode.utf8.count, atMost: limits.maxNameBytes)
        try Self.check("Target", target.count, atMost: 16)
        try Self.check("SourceAddr", sourceAddress.count, atMost: 16)
    }
}

extension AckResponseMessage: MessageBody {
    /// The type byte this body travels under (see ``MessageBody``).
    public static let messageType = MessageType.ackResponse
    /// The Go struct's name in memberlist.
    public static let goName = "ackResp"

    /// Writes the body as go-msgpack does: a map with the keys in sorted order.
    public func encode(into writer: inout MsgPackWriter) {
        writer.writeMapHeader(2)
        writer.writeString("Payload"); writer.writeBytesOrNil(payload)
        writer.writeString("SeqNo"); writer.writeInteger(sequenceNumber)
    }

    /// Reads the body as go-msgpack does, then checks it against `limits`.
    public init(from reader: inout MsgPackReader, limits: GossipLimits) throws(GossipDecodeError) {
        self.init(sequenceNumber: 0)
        try Self.readFields(&reader, ["SeqNo", "Payload"]) { field, r throws(MsgPackError) in
            if field == 0 { sequenceNumber = try r.readInteger() } else { payload = try r.readBytes() }
        }
        try Self.check("Payload", payload.count, atMost: limits.maxPayloadBytes)
    }
}

extension NackResponseMessage: MessageBody {
    /// The type byte this body travels under (see ``MessageBody``).
    public static let messageType = MessageType.nackResponse
    /// The Go struct's name in memberlist.
    public static let goName = "nackResp"

    /// Writes the body as go-msgpack does: a map with the keys in sorted order.
    public func encode(into writer: inout MsgPackWriter) {
        writer.writeMapHeader(1)
        writer.writeString("SeqNo"); writer.writeInteger(sequenceNumber)
    }

    /// Reads the body as go-msgpack does, then checks it against `limits`.
    public init(from reader: inout MsgPackReader, limits: GossipLimits) throws(GossipDecodeError) {
        self.init(sequenceNumber: 0)
        try Self.readFields(&reader, ["SeqNo"]) { _, r throws(MsgPackError) in
            sequenceNumber = try r.readInteger()
        }
    }
}
