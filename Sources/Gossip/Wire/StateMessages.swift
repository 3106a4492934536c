import GossipCore
import Wire

/// A claim by `from` about `node` at an incarnation: the shape suspect and dead messages share on the wire
/// (`Incarnation`, `Node`, `From`), so they share one codec.
public protocol AccusationBody: MessageBody {
    /// The accused node's incarnation (`Incarnation`).
    var incarnation: UInt32 { get set }
    /// The accused node (`Node`).
    var node: String { get set }
    /// The accuser (`From`).
    var from: String { get set }
    /// Creates the message.
    init(incarnation: UInt32, node: String, from: String)
}

extension AccusationBody {
    /// Writes the body as go-msgpack does: a map with the keys in sorted order.
    public func encode(into writer: inout MsgPackWriter) {
        writer.writeMapHeader(3)
        writer.writeString("From"); writer.writeString(from)
        writer.writeString("Incarnation"); writer.writeInteger(incarnation)
        writer.writeString("Node"); writer.writeString(node)
    }

    /// Reads the body as go-msgpack does, then checks it against `limits`.
    public init(from reader: inout MsgPackReader, limits: GossipLimits) throws(GossipDecodeError) {
        self.init(incarnation: 0, node: "", from: "")
        try Self.readFields(&reader, ["Incarnation", "Node", "From"]) { field, r throws(MsgPackError) in
            switch field {
            case 0: incarnation = try r.readInteger()
            case 1: node = try r.readString()
            default: from = try r.readString()
            }
        }
        try Self.check("Node", node.utf8.count, atMost: limits.maxNameBytes)
        try Self.check("From", from.utf8.count, atMost: limits.maxNameBytes)
    }
}

/// The codecs of the state messages (the values live in GossipCore).
extension SuspectMessage: AccusationBody {
    /// The type byte this body travels under (see ``MessageBody``).
    public static let messageType = MessageType.suspect
    /// The Go struct's name in memberlist.
    public static let goName = "suspect"
}

extension DeadMessage: AccusationBody {
    /// The type byte this body travels under (see ``MessageBody``).
    public static let messageType = MessageType.dead
    /// The Go struct's name in memberlist.
    public static let goName = "dead"
}

extension AliveMessage: MessageBody {
    /// The type byte this body travels under (see ``MessageBody``).
    public static let messageType = MessageType.alive
    /// The Go struct's name in memberlist.
    public static let goName = "alive"

    /// Writes the body as go-msgpack does: a map with the keys in sorted order.
    public func encode(into writer: inout MsgPackWriter) {
        writer.writeMapHeader(6)
        writer.writeString("Addr"); writer.writeBytesOrNil(address)
        writer.writeString("Incarnation"); writer.writeInteger(incarnation)
        writer.writeString("Meta"); writer.writeBytesOrNil(meta)
        writer.writeString("Node"); writer.writeString(node)
        writer.writeString("Port"); writer.writeInteger(port)
        writer.writeString("Vsn"); writer.writeBytesOrNil(versions)
    }

    /// Reads the body as go-msgpack does, then checks it against `limits`.
    public init(from reader: inout MsgPackReader, limits: GossipLimits) throws(GossipDecodeError) {
        self.init(incarnation: 0, node: "", address: [], port: 0, meta: [], versions: [])
        let names = ["Incarnation", "Node", "Addr", "Port", "Meta", "Vsn"]
        try Self.readFields(&reader, names) { field, r throws(MsgPackError) in
            switch field {
            case 0: incarnation = try r.readInteger()
            case 1: node = try r.readString()
            case 2: address = try r.readBytes()
            case 3: port = try r.readInteger()
            case 4: meta = try r.readBytes()
            default: versions = try r.readBytes()
            }
        }
        try Self.check("Node", node.utf8.count, atMost: limits.maxNameBytes)
        try Self.check("Addr", address.count, atMost: 16)
        try Self.check("Meta", meta.count, atMost: limits.maxMetaBytes)
        try Self.check("Vsn", versions.count, atMost: limits.maxVersionBytes)
    }
}
