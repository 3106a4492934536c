import CohortCore
import RaftCore
import RaftPersistence

// The shell's own payloads on the mesh, next to the core's `MessageCodec` messages: a whole snapshot
// message with its data (`.raftSnapshot` message, bulk class; format version 2, kept for rolling upgrades —
// snapshots now travel as chunk requests, see `SnapshotChunk.swift`), and a proposal forwarded to the
// leader with its answer (requests to `.raft`, raft class). Decoders are total: bad bytes give nil, never
// a crash.

/// The earlier `.raftSnapshot` message, a whole snapshot in one: `u8 version = 2 | u32 message length |
/// MessageCodec message | u32 CRC-32C of the data | snapshot data`. Still accepted (a leader of the previous
/// release sends it) and still sent to a follower that has no chunk handler; limited to one mesh message
/// (64 MiB). The checksum covers the data end to end, from the leader's stored snapshot
/// to the follower's install, whatever the transport does (the mesh's encryption only protects it when a
/// cluster key is set). Version 1 had no version byte and no checksum (its first byte, the high byte of a
/// small message length, was 0); it is refused.
enum SnapshotPayload {
    static let version: UInt8 = 2

    static func encode(message: [UInt8], data: [UInt8]) -> [UInt8] {
        var writer = ByteWriter(capacity: 9 + message.count + data.count)
        writer.u8(version)
        writer.lengthPrefixed(message, lengthWidth: 4)
        writer.u32(CRC32C.checksum(data))
        writer.bytes(data)
        return writer.buffer
    }

    /// The message and data, or nil when the bytes are cut, of another version, or the data fails its
    /// checksum.
    static func decode(_ bytes: [UInt8]) -> (message: [UInt8], data: [UInt8])? {
        var reader = ByteReader(bytes)
        guard (try? reader.u8()) == version, let message = try? reader.lengthPrefixed(lengthWidth: 4, "message"),
              let checksum = try? reader.u32()
        else { return nil }
        let data = reader.rest()
        guard CRC32C.checksum(data) == checksum else { return nil }
        return (message, data)
    }
}

/// A forwarded proposal: `u8 version = 1 | u8 hops left | u64 timeout in ms | command`.
struct ForwardedProposal: Equatable {
    var hopsLeft: Int
    var timeout: Duration
    var command: [UInt8]

    func encode() -> [UInt8] {
        var writer = ByteWriter(capacity: 10 + command.count)
        writer.u8(1)
        writer.u8(UInt8(clamping: hopsLeft))
        writer.u64(UInt64(max(0, timeout.components.seconds)) * 1000 + UInt64(timeout.components.attoseconds / 1_000_000_000_000_000))
        writer.bytes(command)
        return writer.buffer
    }

    static func decode(_ bytes: [UInt8]) -> ForwardedProposal? {
        var reader = ByteReader(bytes)
        guard (try? reader.u8()) == 1, let hops = try? reader.u8(), let millis = try? reader.u64(), millis <= 3_600_000 else { return nil }
        return ForwardedProposal(hopsLeft: Int(hops), timeout: .milliseconds(Int64(millis)), command: reader.rest())
    }
}

/// The leader's answer to a forwarded proposal: `u8 0 | u64 index | result`, or `u8 code | details` for
/// a ``RaftServiceError``: the errors a follower acts on by name (codes 1–7), one refused before anything
/// was written, in text (9), anything else in text as "may have committed" (8).
enum ForwardReply {
    static func encode(_ outcome: Result<(index: LogIndex, result: [UInt8]), RaftServiceError>) -> [UInt8] {
        var writer = ByteWriter()
        switch outcome {
        case .success(let value):
            writer.u8(0)
            writer.u64(value.index)
            writer.bytes(value.result)
        case .failure(let error):
            switch error {
            case .notLeader(let leader):
                writer.u8(1)
                writer.optionalNodeID(leader)
            case .noLeader: writer.u8(2)
            case .transferInProgress(let transferee):
                writer.u8(3)
                writer.optionalNodeID(transferee)
            case .timeout(let maybeCommitted):
                writer.u8(4)
                writer.flag(maybeCommitted)
            case .dropped(let index):
                writer.u8(5)
                writer.u64(index)
            case .outcomeUnknown(let index):
                writer.u8(6)
                writer.u64(index)
            case .stopped: writer.u8(7)
            case .proposalRefused, .malformedRequest:
                // Refused before anything was appended: described in text, "nothing was written".
                writer.u8(9)
                writer.bytes(error.description.utf8.prefix(1024))
            default:
                // Anything else is described in text and treated as "may have committed".
                writer.u8(8)
                writer.bytes(error.description.utf8.prefix(1024))
            }
        }
        return writer.buffer
    }

    /// Decodes a reply from `leader`; nil for bytes that are not a reply.
    static func decode(_ bytes: [UInt8], leader: NodeID) -> Result<(index: LogIndex, result: [UInt8]), RaftServiceError>? {
        var reader = ByteReader(bytes)
        guard let code = try? reader.u8() else { return nil }
        switch code {
        case 0:
            guard let index = try? reader.u64() else { return nil }
            return .success((index, reader.rest()))
        case 1:
            guard let known = reader.optionalNodeID(), reader.isAtEnd else { return nil }
            return .failure(known.map { .notLeader(leader: $0) } ?? .noLeader)
        case 2: return reader.isAtEnd ? .failure(.noLeader) : nil
        case 3:
            guard let transferee = reader.optionalNodeID(), let transferee, reader.isAtEnd else { return nil }
            return .failure(.transferInProgress(transferee: transferee))
        case 4:
            guard let flag = try? reader.flag(), reader.isAtEnd else { return nil }
            return .failure(.timeout(maybeCommitted: flag))
        case 5, 6:
            guard let index = try? reader.u64(), reader.isAtEnd else { return nil }
            return .failure(code == 5 ? .dropped(index: index) : .outcomeUnknown(index: index))
        case 7: return reader.isAtEnd ? .failure(.stopped) : nil
        case 8:
            let text = String(decoding: reader.rest(), as: UTF8.self)
            return .failure(.forwardFailed(leader: leader, cause: .remote(text), maybeCommitted: true))
        case 9:
            let text = String(decoding: reader.rest(), as: UTF8.self)
            return .failure(.forwardFailed(leader: leader, cause: .remote(text), maybeCommitted: false))
        default: return nil
        }
    }
}

extension ByteWriter {
    /// `u8 length` (0 for none) + UTF-8 bytes.
    mutating func optionalNodeID(_ node: NodeID?) {
        let utf8 = Array((node?.rawValue ?? "").utf8.prefix(255))
        u8(UInt8(utf8.count))
        bytes(utf8)
    }
}

extension ByteReader {
    /// What ``ByteWriter/optionalNodeID(_:)`` wrote: `.some(nil)` for length 0, nil when truncated.
    mutating func optionalNodeID() -> NodeID?? {
        guard let length = try? u8(), let raw = try? utf8(Int(length), "node ID") else { return nil }
        guard length > 0 else { return .some(nil) }
        return .some(NodeID(raw))
    }
}
