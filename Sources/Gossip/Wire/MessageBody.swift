import NIOCore
import Wire

/// A memberlist message whose body is one msgpack-encoded Go struct.
///
/// Conformers write their fields as go-msgpack does (a map keyed by Go field name, keys sorted by name,
/// `omitempty` fields left out when empty) and read them as go-msgpack does (any order, unknown keys
/// skipped, absent fields at their zero value).
public protocol MessageBody: Hashable, Sendable {
    /// The type byte in front of the body when it travels as a message of its own.
    static var messageType: MessageType { get }
    /// The Go struct's name, used in ``GossipDecodeError/malformed(field:)``.
    static var goName: String { get }
    /// Writes the body (without the type byte).
    func encode(into writer: inout MsgPackWriter)
    /// Reads the body (without the type byte), checking it against `limits`.
    init(from reader: inout MsgPackReader, limits: GossipLimits) throws(GossipDecodeError)
}

extension MessageBody {
    /// The type byte followed by the msgpack body: what `encode(msgType, msg)` produces in memberlist.
    public func encodedMessage() -> ByteBuffer {
        var writer = MsgPackWriter()
        writer.buffer.writeInteger(Self.messageType.rawValue)
        encode(into: &writer)
        return writer.buffer
    }

    /// The msgpack body alone.
    public func encodedBody() -> ByteBuffer {
        var writer = MsgPackWriter()
        encode(into: &writer)
        return writer.buffer
    }

    /// Decodes a body from all of `body`; bytes after the struct are ignored, as go-msgpack ignores them.
    public init(body: ByteBuffer, limits: GossipLimits = .default) throws(GossipDecodeError) {
        var reader = MsgPackReader(body, limits: limits.msgPack)
        try self.init(from: &reader, limits: limits)
    }

    /// Runs a go-msgpack style struct read, mapping failures to ``GossipDecodeError``.
    static func readFields(
        _ reader: inout MsgPackReader,
        _ names: [String],
        _ readField: (Int, inout MsgPackReader) throws(MsgPackError) -> Void
    ) throws(GossipDecodeError) {
        do {
            try reader.readStruct(fieldNames: names, readField)
        } catch {
            throw GossipDecodeError(error, in: goName)
        }
    }

    /// Throws ``GossipDecodeError/oversized(_:)`` naming `field` when `count` exceeds `limit`.
    static func check(_ field: String, _ count: Int, atMost limit: Int) throws(GossipDecodeError) {
        guard count <= limit else { throw .oversized("\(goName).\(field)") }
    }
}
