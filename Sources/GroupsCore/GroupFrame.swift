import CohortCore

/// The bytes of a ``GroupMessage``: a version, the scope's name, a kind, the body.
///
/// ```
/// u8 version (1) · u8 scope length · scope · u8 kind · body
/// update     u64 firstSeq · u32 ops · ops × (u8 join=1|leave=2 · group · u32 n · n × u64 serial)
/// sync       u64 seq · u32 groups · groups × (group · u32 n · n × (u64 serial · u32 count)) · view
/// view       u8 hasView · [u64 incarnation · u64 seq · u64 hash]
/// syncAck    u64 seq
/// digest     u64 seq · u64 hash · view
/// broadcast  group · u8 hasFrom · [u8 node length · node · u64 incarnation · u64 serial] · u16 topic length · topic · payload (the rest)
/// syncRequest, beat: no body
/// ```
/// A group is `u16 length · UTF-8` (1...``maxGroupBytes`` bytes). Decoding checks every count against
/// the bytes that remain, so a malformed frame is refused before it allocates.
public enum GroupFrame {
    public static let version: UInt8 = 1
    /// The longest group name, in UTF-8 bytes.
    public static let maxGroupBytes = 1024
    /// The longest scope name, in UTF-8 bytes.
    public static let maxScopeBytes = 255

    enum Kind: UInt8 {
        case update = 1, sync, syncRequest, syncAck, digest, broadcast, beat
    }

    /// The frame for `message` to the same scope on another node. Scope and group names must be valid
    /// (checked where they enter: configuration and API).
    public static func encode(scope: String, _ message: GroupMessage) -> [UInt8] {
        var writer = ByteWriter(capacity: 64)
        writer.u8(version)
        let scopeBytes = Array(scope.utf8.prefix(maxScopeBytes))
        writer.u8(UInt8(scopeBytes.count))
        writer.bytes(scopeBytes)
        switch message {
        case .update(let firstSeq, let ops):
            writer.u8(Kind.update.rawValue)
            writer.u64(firstSeq)
            writer.u32(UInt32(ops.count))
            for op in ops {
                writer.u8(op.kind.rawValue)
                group(op.group, &writer)
                writer.u32(UInt32(op.serials.count))
                for serial in op.serials { writer.u64(serial) }
            }
        case .sync(let seq, let groups, let have):
            writer.u8(Kind.sync.rawValue)
            writer.u64(seq)
            writer.u32(UInt32(groups.count))
            for entry in groups {
                group(entry.name, &writer)
                writer.u32(UInt32(entry.members.count))
                for member in entry.members {
                    writer.u64(member.serial)
                    writer.u32(member.count)
                }
            }
            view(have, &writer)
        case .syncRequest:
            writer.u8(Kind.syncRequest.rawValue)
        case .syncAck(let seq):
            writer.u8(Kind.syncAck.rawValue)
            writer.u64(seq)
        case .digest(let seq, let hash, let view):
            writer.u8(Kind.digest.rawValue)
            writer.u64(seq)
            writer.u64(hash)
            self.view(view, &writer)
        case .broadcast(let name, let from, let topic, let payload):
            return broadcast(scope: scope, group: name, from: from, topic: topic, payload: payload)
        case .beat:
            writer.u8(Kind.beat.rawValue)
        }
        return writer.buffer
    }

    /// The frame of a broadcast, written in one pass (the hot path of ``encode(scope:_:)``).
    public static func broadcast(scope: String, group name: String, from: PID?, topic: String, payload: [UInt8]) -> [UInt8] {
        let topicBytes = Array(topic.utf8.prefix(Int(UInt16.max)))
        var writer = ByteWriter(capacity: 32 + scope.utf8.count + name.utf8.count + topicBytes.count + payload.count)
        writer.u8(version)
        let scopeBytes = Array(scope.utf8.prefix(maxScopeBytes))
        writer.u8(UInt8(scopeBytes.count))
        writer.bytes(scopeBytes)
        writer.u8(Kind.broadcast.rawValue)
        group(name, &writer)
        writer.flag(from != nil)
        if let from {
            let node = Array(from.node.rawValue.utf8.prefix(255))
            writer.u8(UInt8(node.count))
            writer.bytes(node)
            writer.u64(from.incarnation.rawValue)
            writer.u64(from.serial)
        }
        writer.u16(UInt16(topicBytes.count))
        writer.bytes(topicBytes)
        writer.bytes(payload)
        return writer.buffer
    }

    private static func view(_ view: ViewDigest?, _ writer: inout ByteWriter) {
        writer.flag(view != nil)
        guard let view else { return }
        writer.u64(view.incarnation.rawValue)
        writer.u64(view.seq)
        writer.u64(view.hash)
    }

    private static func view(_ reader: inout ByteReader) throws -> ViewDigest? {
        guard try reader.flag("has view") else { return nil }
        return ViewDigest(
            incarnation: Incarnation(try reader.u64("view incarnation")), seq: try reader.u64("view seq"),
            hash: try reader.u64("view hash")
        )
    }

    private static func group(_ name: String, _ writer: inout ByteWriter) {
        let bytes = Array(name.utf8.prefix(maxGroupBytes))
        writer.u16(UInt16(bytes.count))
        writer.bytes(bytes)
    }

    /// Reads a frame: its scope and message.
    public static func decode(_ bytes: [UInt8]) throws(GroupFrameError) -> (scope: String, message: GroupMessage) {
        var reader = ByteReader(bytes)
        do {
            let version = try reader.u8("version")
            guard version == Self.version else { throw GroupFrameError.unsupportedVersion(version) }
            let scopeLength = Int(try reader.u8("scope length"))
            guard scopeLength > 0 else { throw GroupFrameError.malformed("empty scope name") }
            let scope = try reader.utf8(scopeLength, "scope")
            let rawKind = try reader.u8("kind")
            guard let kind = Kind(rawValue: rawKind) else { throw GroupFrameError.unknownKind(rawKind) }
            let message = try body(kind, &reader)
            try reader.expectEnd()
            return (scope, message)
        } catch let error as GroupFrameError {
            throw error
        } catch let error as ByteReaderError {
            throw .malformed(error.description)
        } catch {
            throw .malformed("\(error)")
        }
    }

    private static func body(_ kind: Kind, _ reader: inout ByteReader) throws -> GroupMessage {
        switch kind {
        case .update:
            let firstSeq = try reader.u64("first seq")
            guard firstSeq > 0 else { throw GroupFrameError.malformed("sequence numbers start at 1") }
            let opCount = try count(&reader, atLeast: 7, "ops")
            var ops: [GroupOp] = []
            ops.reserveCapacity(opCount)
            for _ in 0..<opCount {
                let rawKind = try reader.u8("op")
                guard let opKind = GroupOp.Kind(rawValue: rawKind) else { throw GroupFrameError.malformed("unknown op \(rawKind)") }
                let name = try group(&reader)
                let n = try count(&reader, atLeast: 8, "serials")
                guard n > 0 else { throw GroupFrameError.malformed("an op without members") }
                var serials: [UInt64] = []
                serials.reserveCapacity(n)
                for _ in 0..<n { serials.append(try reader.u64("serial")) }
                ops.append(GroupOp(opKind, group: name, serials: serials))
            }
            return .update(firstSeq: firstSeq, ops: ops)
        case .sync:
            let seq = try reader.u64("seq")
            let groupCount = try count(&reader, atLeast: 6, "groups")
            var groups: [SyncGroup] = []
            groups.reserveCapacity(groupCount)
            for _ in 0..<groupCount {
                let name = try group(&reader)
                let n = try count(&reader, atLeast: 12, "members")
                guard n > 0 else { throw GroupFrameError.malformed("a group without members") }
                var members: [SyncMember] = []
                members.reserveCapacity(n)
                for _ in 0..<n {
                    let serial = try reader.u64("serial")
                    let times = try reader.u32("count")
                    guard times > 0 else { throw GroupFrameError.malformed("a member joined 0 times") }
                    members.append(SyncMember(serial: serial, count: times))
                }
                groups.append(SyncGroup(name: name, members: members))
            }
            return .sync(seq: seq, groups: groups, have: try view(&reader))
        case .syncRequest:
            return .syncRequest
        case .syncAck:
            return .syncAck(seq: try reader.u64("seq"))
        case .digest:
            let seq = try reader.u64("seq")
            let hash = try reader.u64("hash")
            return .digest(seq: seq, hash: hash, view: try view(&reader))
        case .broadcast:
            let name = try group(&reader)
            var from: PID?
            if try reader.flag("has sender") {
                let nodeLength = Int(try reader.u8("sender node length"))
                guard nodeLength > 0 else { throw GroupFrameError.malformed("empty sender node") }
                let node = try reader.utf8(nodeLength, "sender node")
                from = PID(node: NodeID(node), incarnation: Incarnation(try reader.u64("sender incarnation")), serial: try reader.u64("sender serial"))
            }
            let topicLength = Int(try reader.u16("topic length"))
            let topic = try reader.utf8(topicLength, "topic")
            return .broadcast(group: name, from: from, topic: topic, payload: reader.rest())
        case .beat:
            return .beat
        }
    }

    private static func group(_ reader: inout ByteReader) throws -> String {
        let length = Int(try reader.u16("group length"))
        guard length > 0, length <= maxGroupBytes else { throw GroupFrameError.malformed("group name of \(length) bytes") }
        return try reader.utf8(length, "group")
    }

    /// A u32 count of items at least `size` bytes each, checked against what remains.
    private static func count(_ reader: inout ByteReader, atLeast size: Int, _ field: String) throws -> Int {
        let value = Int(try reader.u32(field))
        guard value <= reader.remaining / size else {
            throw GroupFrameError.malformed("\(field): \(value) items cannot fit in \(reader.remaining) bytes")
        }
        return value
    }
}

/// Why a group frame was refused.
public enum GroupFrameError: Error, Sendable, Equatable, CustomStringConvertible {
    case unsupportedVersion(UInt8)
    case unknownKind(UInt8)
    case malformed(String)

    public var description: String {
        switch self {
        case .unsupportedVersion(let version): "unsupported pg frame version \(version)"
        case .unknownKind(let kind): "unknown pg frame kind \(kind)"
        case .malformed(let why): "malformed pg frame: \(why)"
        }
    }
}
