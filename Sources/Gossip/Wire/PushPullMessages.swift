import GossipCore
import Wire

/// The first value of a push/pull stream (`pushPullHeader`).
public struct PushPullHeader: MessageBody {
    /// The type byte this body travels under (see ``MessageBody``).
    public static let messageType = MessageType.pushPull
    /// The Go struct's name in memberlist.
    public static let goName = "pushPullHeader"
    /// How many ``PushNodeState`` values follow (`Nodes`).
    public var nodeCount: Int
    /// How many raw delegate bytes follow the node states (`UserStateLen`).
    public var userStateLength: Int
    /// True when the sender is joining; false for periodic anti-entropy (`Join`).
    public var join: Bool

    /// Creates a header.
    public init(nodeCount: Int, userStateLength: Int, join: Bool) {
        self.nodeCount = nodeCount
        self.userStateLength = userStateLength
        self.join = join
    }

    /// Writes the body as go-msgpack does: a map with the keys in sorted order.
    public func encode(into writer: inout MsgPackWriter) {
        writer.writeMapHeader(3)
        writer.writeString("Join"); writer.writeBool(join)
        writer.writeString("Nodes"); writer.writeInteger(nodeCount)
        writer.writeString("UserStateLen"); writer.writeInteger(userStateLength)
    }

    /// Reads the body as go-msgpack does, then checks it against `limits`.
    public init(from reader: inout MsgPackReader, limits: GossipLimits) throws(GossipDecodeError) {
        self.init(nodeCount: 0, userStateLength: 0, join: false)
        try Self.readFields(&reader, ["Nodes", "UserStateLen", "Join"]) { field, r throws(MsgPackError) in
            switch field {
            case 0: nodeCount = try r.readInteger()
            case 1: userStateLength = try r.readInteger()
            default: join = try r.readBool()
            }
        }
        guard nodeCount >= 0 else { throw .malformed(field: "pushPullHeader.Nodes") }
        guard userStateLength >= 0 else { throw .malformed(field: "pushPullHeader.UserStateLen") }
        try Self.check("Nodes", nodeCount, atMost: limits.maxPushPullNodes)
        try Self.check("UserStateLen", userStateLength, atMost: limits.maxStreamBytes)
    }
}

/// The codec of a push/pull node state (the value lives in GossipCore).
extension PushNodeState: MessageBody {
    /// The type byte this body travels under (see ``MessageBody``).
    public static let messageType = MessageType.pushPull
    /// The Go struct's name in memberlist.
    public static let goName = "pushNodeState"

    /// Writes the body as go-msgpack does: a map with the keys in sorted order.
    public func encode(into writer: inout MsgPackWriter) {
        writer.writeMapHeader(7)
        writer.writeString("Addr"); writer.writeBytesOrNil(address)
        writer.writeString("Incarnation"); writer.writeInteger(incarnation)
        writer.writeString("Meta"); writer.writeBytesOrNil(meta)
        writer.writeString("Name"); writer.writeString(name)
        writer.writeString("Port"); writer.writeInteger(port)
        writer.writeString("State"); writer.writeInteger(state.rawValue)
        writer.writeString("Vsn"); writer.writeBytesOrNil(versions)
    }

    /// Reads the body as go-msgpack does, then checks it against `limits`.
    public init(from reader: inout MsgPackReader, limits: GossipLimits) throws(GossipDecodeError) {
        self.init(name: "", address: [], port: 0, incarnation: 0, state: .alive, versions: [])
        var rawState = 0
        let names = ["Name", "Addr", "Port", "Meta", "Incarnation", "State", "Vsn"]
        try Self.readFields(&reader, names) { field, r throws(MsgPackError) in
            switch field {
            case 0: name = try r.readString()
            case 1: address = try r.readBytes()
            case 2: port = try r.readInteger()
            case 3: meta = try r.readBytes()
            case 4: incarnation = try r.readInteger()
            case 5: rawState = try r.readInteger()
            default: versions = try r.readBytes()
            }
        }
        guard let state = MemberStateKind(rawValue: rawState) else {
            throw .malformed(field: "pushNodeState.State")
        }
        self.state = state
        try Self.check("Name", name.utf8.count, atMost: limits.maxNameBytes)
        try Self.check("Addr", address.count, atMost: 16)
        try Self.check("Meta", meta.count, atMost: limits.maxMetaBytes)
        try Self.check("Vsn", versions.count, atMost: limits.maxVersionBytes)
    }
}

