/// The seam between the SWIM core and the wire codec: how long a message is on the wire, computed from its
/// values alone.
///
/// The core fills each datagram's byte budget with piggybacked broadcasts (memberlist's
/// `TransmitLimitedQueue` and `sendMsg`), so it must know every message's encoded length. The message values
/// live in this target, but their msgpack codec writes into NIO's byte buffers (the `Wire` target) and
/// stays in the Gossip target, which GossipCore cannot import. Rather than inject an encoder into a value
/// type, the core computes the length with go-msgpack 0.5.5's length rules (``MsgPackLength``) over the
/// same fields, in the same `omitempty` cases, as each message's `encode(into:)` in `Sources/Gossip/Wire`.
///
/// The two must agree byte for byte, or the broadcast selection changes: `GossipMessage.encodedMessage()`
/// asserts it in debug builds, and `MessageLengthTests` checks it at every encoding boundary. A change to a
/// message's encoder must change its length here too.
extension GossipMessage {
    /// The length of `encodedMessage()`: the type byte and the msgpack body (the raw payload for
    /// ``user(_:)``).
    package var encodedLength: Int {
        switch self {
        case .ping(let body): body.encodedLength
        case .indirectPing(let body): body.encodedLength
        case .ackResponse(let body): body.encodedLength
        case .nackResponse(let body): body.encodedLength
        case .suspect(let body): body.encodedLength
        case .alive(let body): body.encodedLength
        case .dead(let body): body.encodedLength
        case .user(let payload): MsgPackLength.typeByte + payload.count
        }
    }
}

extension PingMessage {
    /// The length of the type byte and the body as `encode(into:)` writes it.
    package var encodedLength: Int {
        typealias L = MsgPackLength
        var fields = 2
        var length = L.field("Node", L.string(node)) + L.field("SeqNo", L.integer(sequenceNumber))
        if !sourceAddress.isEmpty { fields += 1; length += L.field("SourceAddr", L.bytes(sourceAddress)) }
        if !sourceNode.isEmpty { fields += 1; length += L.field("SourceNode", L.string(sourceNode)) }
        if sourcePort != 0 { fields += 1; length += L.field("SourcePort", L.integer(sourcePort)) }
        return L.typeByte + L.mapHeader(fields) + length
    }
}

extension IndirectPingMessage {
    /// The length of the type byte and the body as `encode(into:)` writes it.
    package var encodedLength: Int {
        typealias L = MsgPackLength
        var fields = 5
        var length = L.field("Nack", L.bool) + L.field("Node", L.string(node)) + L.field("Port", L.integer(port))
            + L.field("SeqNo", L.integer(sequenceNumber)) + L.field("Target", L.bytesOrNil(target))
        if !sourceAddress.isEmpty { fields += 1; length += L.field("SourceAddr", L.bytes(sourceAddress)) }
        if !sourceNode.isEmpty { fields += 1; length += L.field("SourceNode", L.string(sourceNode)) }
        if sourcePort != 0 { fields += 1; length += L.field("SourcePort", L.integer(sourcePort)) }
        return L.typeByte + L.mapHeader(fields) + length
    }
}

extension AckResponseMessage {
    /// The length of the type byte and the body as `encode(into:)` writes it.
    package var encodedLength: Int {
        typealias L = MsgPackLength
        return L.typeByte + L.mapHeader(2) + L.field("Payload", L.bytesOrNil(payload))
            + L.field("SeqNo", L.integer(sequenceNumber))
    }
}

extension NackResponseMessage {
    /// The length of the type byte and the body as `encode(into:)` writes it.
    package var encodedLength: Int {
        MsgPackLength.typeByte + MsgPackLength.mapHeader(1) + MsgPackLength.field("SeqNo", MsgPackLength.integer(sequenceNumber))
    }
}

extension SuspectMessage {
    /// The length of the type byte and the body as `encode(into:)` writes it.
    package var encodedLength: Int {
        MsgPackLength.accusation(incarnation: incarnation, node: node, from: from)
    }
}

extension DeadMessage {
    /// The length of the type byte and the body as `encode(into:)` writes it.
    package var encodedLength: Int {
        MsgPackLength.accusation(incarnation: incarnation, node: node, from: from)
    }
}

extension AliveMessage {
    /// The length of the type byte and the body as `encode(into:)` writes it.
    package var encodedLength: Int {
        typealias L = MsgPackLength
        return L.typeByte + L.mapHeader(6) + L.field("Addr", L.bytesOrNil(address))
            + L.field("Incarnation", L.integer(incarnation)) + L.field("Meta", L.bytesOrNil(meta))
            + L.field("Node", L.string(node)) + L.field("Port", L.integer(port)) + L.field("Vsn", L.bytesOrNil(versions))
    }
}

/// Encoded lengths under the rules `MsgPackWriter` (in `Wire`) writes by, which are go-msgpack 0.5.5's.
package enum MsgPackLength {
    /// The message type byte in front of every body.
    package static let typeByte = 1
    /// `nil`, `true` and `false` are one byte each.
    package static let bool = 1

    /// An integer in its smallest encoding: positive fixint, uint8…64; negative fixint, int8…64.
    package static func integer(_ value: some BinaryInteger) -> Int {
        if value >= 0 {
            switch UInt64(value) {
            case 0...0x7f: return 1
            case 0...0xff: return 2
            case 0...0xffff: return 3
            case 0...0xffff_ffff: return 5
            default: return 9
            }
        }
        switch Int64(value) {
        case -32 ..< 0: return 1
        case Int64(Int8.min)...: return 2
        case Int64(Int16.min)...: return 3
        case Int64(Int32.min)...: return 5
        default: return 9
        }
    }

    /// `length` bytes in the raw string family (fixstr, str16, str32) with their header.
    package static func raw(_ length: Int) -> Int {
        let header = switch length {
        case 0 ..< 32: 1
        case 0 ..< 65_536: 3
        default: 5
        }
        return header + length
    }

    /// A string: its UTF-8 bytes in the raw family.
    package static func string(_ value: String) -> Int { raw(value.utf8.count) }
    /// Non-nil bytes in the raw family.
    package static func bytes(_ value: [UInt8]) -> Int { raw(value.count) }
    /// Bytes, with empty ones written as `nil`.
    package static func bytesOrNil(_ value: [UInt8]) -> Int { value.isEmpty ? 1 : bytes(value) }

    /// A map header for `count` entries (fixmap, map16, map32).
    package static func mapHeader(_ count: Int) -> Int {
        switch count {
        case 0 ..< 16: 1
        case 0 ..< 65_536: 3
        default: 5
        }
    }

    /// One struct field: its Go name as a string key, then its value of `valueLength` bytes.
    package static func field(_ name: String, _ valueLength: Int) -> Int { string(name) + valueLength }

    /// A suspect or dead message (`From`, `Incarnation`, `Node`), with its type byte.
    static func accusation(incarnation: UInt32, node: String, from: String) -> Int {
        typeByte + mapHeader(3) + field("From", string(from)) + field("Incarnation", integer(incarnation))
            + field("Node", string(node))
    }
}
