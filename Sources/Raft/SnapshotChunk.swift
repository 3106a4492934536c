import CohortCore
import RaftCore

// Chunked snapshot transfer (format version 3): the leader sends a snapshot's data as a series of
// `.raftSnapshot` requests in the bulk class, one in flight at a time, and the follower answers each with
// the offset it expects next. See docs/raft.md, "How snapshots travel".

/// Which snapshot a chunk belongs to: its last index and term (`SnapshotMetadata`'s position).
/// Ordered by index, then term: a transfer for a greater identity replaces one for a smaller.
struct SnapshotIdentity: Hashable, Comparable, Sendable, CustomStringConvertible {
    var index: LogIndex
    var term: Term

    static func < (lhs: Self, rhs: Self) -> Bool { (lhs.index, lhs.term) < (rhs.index, rhs.term) }

    var description: String { "\(index)@\(term)" }
}

/// One `.raftSnapshot` request: `u8 version = 3 | u64 index | u64 term | u64 total length | u32 CRC-32C of
/// the whole data | u64 offset | u32 message length | MessageCodec message | chunk bytes (the rest)`.
///
/// The **last** chunk (the one that ends at `total`) carries the core's encoded snapshot `Message`; every
/// other chunk carries none (length 0). A chunk with no bytes and no message at offset 0 is a **query**: it
/// changes nothing but asks where the receiver stands with this snapshot (a new attempt sends one first and
/// continues from the answer). A snapshot with no data is one final chunk of no bytes, with the message.
struct SnapshotChunk: Equatable, Sendable {
    static let version: UInt8 = 3
    /// Bytes before the message and the chunk.
    static let headerBytes = 1 + 8 + 8 + 8 + 4 + 8 + 4

    var snapshot: SnapshotIdentity
    /// The length of the whole snapshot data.
    var total: UInt64
    /// CRC-32C of the whole snapshot data.
    var checksum: UInt32
    /// Where `bytes` start in the data.
    var offset: UInt64
    /// The core's encoded `Message` (kind `snapshot`): only on the last chunk.
    var message: [UInt8]
    var bytes: [UInt8]

    /// A query: "where are you with this snapshot?"
    static func query(_ snapshot: SnapshotIdentity, total: UInt64, checksum: UInt32) -> SnapshotChunk {
        SnapshotChunk(snapshot: snapshot, total: total, checksum: checksum, offset: 0, message: [], bytes: [])
    }

    var isQuery: Bool { bytes.isEmpty && message.isEmpty }
    /// True for the chunk that completes the data.
    var isLast: Bool { offset + UInt64(bytes.count) == total }

    func encode() -> [UInt8] {
        var writer = ByteWriter(capacity: Self.headerBytes + message.count + bytes.count)
        writer.u8(Self.version)
        writer.u64(snapshot.index)
        writer.u64(snapshot.term)
        writer.u64(total)
        writer.u32(checksum)
        writer.u64(offset)
        writer.lengthPrefixed(message, lengthWidth: 4)
        writer.bytes(bytes)
        return writer.buffer
    }

    /// The chunk, or nil for bytes that are cut, of another version, or inconsistent: bytes past `total`, a
    /// message on any chunk but the last, a last chunk without one (queries aside). Total: never traps.
    static func decode(_ encoded: [UInt8]) -> SnapshotChunk? {
        var reader = ByteReader(encoded)
        guard (try? reader.u8()) == version,
              let index = try? reader.u64(), let term = try? reader.u64(), let total = try? reader.u64(),
              let checksum = try? reader.u32(), let offset = try? reader.u64(),
              let message = try? reader.lengthPrefixed(lengthWidth: 4, limit: MessageCodec.Limits().maxMessageBytes, "message")
        else { return nil }
        let bytes = reader.rest()
        let chunk = SnapshotChunk(
            snapshot: SnapshotIdentity(index: index, term: term), total: total, checksum: checksum, offset: offset,
            message: message, bytes: bytes
        )
        guard offset <= total, UInt64(bytes.count) <= total - offset else { return nil }
        if chunk.isQuery { return offset == 0 ? chunk : nil }
        // The message rides on the last chunk, and only there.
        guard chunk.isLast == !message.isEmpty else { return nil }
        return chunk
    }
}

/// The receiver's answer to a ``SnapshotChunk``: `u8 version = 3 | u8 status | u64 next offset`.
enum SnapshotChunkReply: Equatable, Sendable {
    /// Send from this offset on (also the answer to a chunk at the wrong offset, and to a query).
    case next(UInt64)
    /// The whole data arrived, its checksum matched, and it went to the core with its message.
    case complete
    /// The whole data arrived but failed its checksum: the receiver dropped it; start again at 0.
    case checksumMismatch
    /// The receiver is assembling a newer snapshot from this sender: this one is not wanted.
    case superseded

    func encode() -> [UInt8] {
        var writer = ByteWriter(capacity: 10)
        writer.u8(SnapshotChunk.version)
        switch self {
        case .next(let offset):
            writer.u8(0)
            writer.u64(offset)
        case .complete:
            writer.u8(1)
            writer.u64(0)
        case .checksumMismatch:
            writer.u8(2)
            writer.u64(0)
        case .superseded:
            writer.u8(3)
            writer.u64(0)
        }
        return writer.buffer
    }

    static func decode(_ encoded: [UInt8]) -> SnapshotChunkReply? {
        var reader = ByteReader(encoded)
        guard (try? reader.u8()) == SnapshotChunk.version, let status = try? reader.u8(), let offset = try? reader.u64(),
              reader.isAtEnd
        else { return nil }
        switch status {
        case 0: return .next(offset)
        case 1: return offset == 0 ? .complete : nil
        case 2: return offset == 0 ? .checksumMismatch : nil
        case 3: return offset == 0 ? .superseded : nil
        default: return nil
        }
    }
}
