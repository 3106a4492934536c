import Wire

/// A direct probe (`ping`, type 0). The target checks `node` against its own name and drops the ping if
/// it differs; it answers to `sourceAddress:sourcePort` when both are set, else to the sender.
public struct PingMessage: MessageBody {
    /// The type byte this body travels under (see ``MessageBody``).
    public static let messageType = MessageType.ping
    /// The Go struct's name in memberlist.
    public static let goName = "ping"
    /// Matches the ack to the probe.
    public var sequenceNumber: UInt32
    /// The name of the node being probed (`Node`).
    public var node: String
    /// Where to send the ack (4 or 16 IP bytes); empty means "reply to the sender" (`SourceAddr`).
    public var sourceAddress: [UInt8]
    /// The port for the ack; 0 means unset (`SourcePort`).
    public var sourcePort: UInt16
    /// The prober's name (`SourceNode`).
    public var sourceNode: String

    /// Creates a ping; the source fields are optional, as in memberlist (`omitempty`).
    public init(
        sequenceNumber: UInt32, node: String,
        sourceAddress: [UInt8] = [], sourcePort: UInt16 = 0, sourceNode: String = ""
    ) {
        self.sequenceNumber = sequenceNumber
        self.node = node
        self.sourceAddress = sourceAddress
        self.sourcePort = sourcePort
        self.sourceNode = sourceNode
    }

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

/// Asks a helper to probe `target:port` for us (`indirectPingReq`, type 1). With `wantsNack` (protocol
/// version 4) the helper answers with a nack if the target stays silent for a probe timeout.
public struct IndirectPingMessage: MessageBody {
    /// The type byte this body travels under (see ``MessageBody``).
    public static let messageType = MessageType.indirectPing
    /// The Go struct's name in memberlist.
    public static let goName = "indirectPingReq"
    /// The prober's sequence number, echoed in the relayed ack or the nack.
    public var sequenceNumber: UInt32
    /// The target's IP (4 or 16 bytes) (`Target`).
    public var target: [UInt8]
    /// The target's port (`Port`).
    public var port: UInt16
    /// The target's name (`Node`).
    public var node: String
    /// Whether the prober wants a nack on timeout (`Nack`).
    public var wantsNack: Bool
    /// Where to send the result; empty means "reply to the sender" (`SourceAddr`).
    public var sourceAddress: [UInt8]
    /// The port for the result; 0 means unset (`SourcePort`).
    public var sourcePort: UInt16
    /// The prober's name (`SourceNode`).
    public var sourceNode: String

    /// Creates an indirect ping request.
    public init(
        sequenceNumber: UInt32, target: [UInt8], port: UInt16, node: String, wantsNack: Bool,
        sourceAddress: [UInt8] = [], sourcePort: UInt16 = 0, sourceNode: String = ""
    ) {
        self.sequenceNumber = sequenceNumber
        self.target = target
        self.port = port
        self.node = node
        self.wantsNack = wantsNack
        self.sourceAddress = sourceAddress
        self.sourcePort = sourcePort
        self.sourceNode = sourceNode
    }

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

/// The answer to a ping (`ackResp`, type 2), with an optional delegate payload.
public struct AckResponseMessage: MessageBody {
    /// The type byte this body travels under (see ``MessageBody``).
    public static let messageType = MessageType.ackResponse
    /// The Go struct's name in memberlist.
    public static let goName = "ackResp"
    /// The sequence number of the ping being answered (`SeqNo`).
    public var sequenceNumber: UInt32
    /// The ping delegate's payload; empty is sent as `nil`, as memberlist does (`Payload`).
    public var payload: [UInt8]

    /// Creates an ack.
    public init(sequenceNumber: UInt32, payload: [UInt8] = []) {
        self.sequenceNumber = sequenceNumber
        self.payload = payload
    }

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

/// An indirect helper's "no answer from the target" (`nackResp`, type 11, protocol version 4).
public struct NackResponseMessage: MessageBody {
    /// The type byte this body travels under (see ``MessageBody``).
    public static let messageType = MessageType.nackResponse
    /// The Go struct's name in memberlist.
    public static let goName = "nackResp"
    /// The sequence number of the indirect ping request (`SeqNo`).
    public var sequenceNumber: UInt32

    /// Creates a nack.
    public init(sequenceNumber: UInt32) {
        self.sequenceNumber = sequenceNumber
    }

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
