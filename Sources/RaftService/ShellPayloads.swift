import CohortCore
import Consensus

// The shell's own payloads on the mesh, next to the core's `MessageCodec` messages: a snapshot message
// with its data (`.raftSnapshot`, bulk class), and a proposal forwarded to the leader with its answer
// (requests to `.raft`, raft class). Decoders are total: bad bytes give nil, never a crash.

/// `.raftSnapshot` payload: `u8 version = 2 | u32 message length | MessageCodec message | u32 CRC-32C of
/// the data | snapshot data`. The checksum covers the data end to end, from the leader's stored snapshot
/// to the follower's install, whatever the transport does (the mesh's encryption only protects it when a
/// cluster key is set). Version 1 had no version byte and no checksum (its first byte, the high byte of a
/// small message length, was 0); it is refused.
enum SnapshotPayload {
    static let version: UInt8 = 2

    static func encode(message: [UInt8], data: [UInt8]) -> [UInt8] {
        var out = [UInt8]()
        out.reserveCapacity(9 + message.count + data.count)
        out.append(version)
        out.appendInteger(UInt32(message.count), width: 4)
        out += message
        out.appendInteger(UInt64(CRC32C.checksum(data)), width: 4)
        out += data
        return out
    }

    /// The message and data, or nil when the bytes are cut, of another version, or the data fails its
    /// checksum.
    static func decode(_ bytes: [UInt8]) -> (message: [UInt8], data: [UInt8])? {
        var reader = PayloadReader(bytes)
        guard reader.integer(width: 1) == UInt64(version), let length = reader.integer(width: 4), let message = reader.bytes(Int(length)),
              let checksum = reader.integer(width: 4)
        else { return nil }
        let data = reader.rest()
        guard UInt64(CRC32C.checksum(data)) == checksum else { return nil }
        return (message, data)
    }
}

/// A forwarded proposal: `u8 version = 1 | u8 hops left | u64 timeout in ms | command`.
struct ForwardedProposal: Equatable {
    var hopsLeft: Int
    var timeout: Duration
    var command: [UInt8]

    func encode() -> [UInt8] {
        var out: [UInt8] = [1, UInt8(clamping: hopsLeft)]
        out.appendInteger(UInt64(max(0, timeout.components.seconds)) * 1000 + UInt64(timeout.components.attoseconds / 1_000_000_000_000_000), width: 8)
        return out + command
    }

    static func decode(_ bytes: [UInt8]) -> ForwardedProposal? {
        var reader = PayloadReader(bytes)
        guard reader.integer(width: 1) == 1, let hops = reader.integer(width: 1), let millis = reader.integer(width: 8),
              millis <= 3_600_000
        else { return nil }
        return ForwardedProposal(hopsLeft: Int(hops), timeout: .milliseconds(Int64(millis)), command: reader.rest())
    }
}

/// The leader's answer to a forwarded proposal: `u8 0 | u64 index | result`, or `u8 code | details` for
/// a ``RaftServiceError``.
enum ForwardReply {
    static func encode(_ outcome: Result<(index: LogIndex, result: [UInt8]), RaftServiceError>) -> [UInt8] {
        var out = [UInt8]()
        switch outcome {
        case .success(let value):
            out.append(0)
            out.appendInteger(value.index, width: 8)
            out += value.result
        case .failure(let error):
            switch error {
            case .notLeader(let leader):
                out.append(1)
                out.appendNodeID(leader)
            case .noLeader: out.append(2)
            case .transferInProgress(let transferee):
                out.append(3)
                out.appendNodeID(transferee)
            case .timeout(let maybeCommitted): out += [4, maybeCommitted ? 1 : 0]
            case .dropped(let index):
                out.append(5)
                out.appendInteger(index, width: 8)
            case .outcomeUnknown(let index):
                out.append(6)
                out.appendInteger(index, width: 8)
            case .stopped: out.append(7)
            default:
                // Anything else is described in text and treated as "may have committed".
                out.append(8)
                out += Array(error.description.utf8.prefix(1024))
            }
        }
        return out
    }

    /// Decodes a reply from `leader`; nil for bytes that are not a reply.
    static func decode(_ bytes: [UInt8], leader: NodeID) -> Result<(index: LogIndex, result: [UInt8]), RaftServiceError>? {
        var reader = PayloadReader(bytes)
        guard let code = reader.integer(width: 1) else { return nil }
        switch code {
        case 0:
            guard let index = reader.integer(width: 8) else { return nil }
            return .success((index, reader.rest()))
        case 1:
            guard let leader = reader.nodeID() else { return nil }
            return .failure(.notLeader(leader: leader))
        case 2: return reader.atEnd ? .failure(.noLeader) : nil
        case 3:
            guard let transferee = reader.nodeID(), let transferee else { return nil }
            return .failure(.transferInProgress(transferee: transferee))
        case 4:
            guard let flag = reader.integer(width: 1), flag <= 1, reader.atEnd else { return nil }
            return .failure(.timeout(maybeCommitted: flag == 1))
        case 5, 6:
            guard let index = reader.integer(width: 8), reader.atEnd else { return nil }
            return .failure(code == 5 ? .dropped(index: index) : .outcomeUnknown(index: index))
        case 7: return reader.atEnd ? .failure(.stopped) : nil
        case 8:
            let text = String(decoding: reader.rest(), as: UTF8.self)
            return .failure(.forwardFailed(leader: leader, reason: text, maybeCommitted: true))
        default: return nil
        }
    }
}

extension [UInt8] {
    mutating func appendInteger(_ value: some FixedWidthInteger, width: Int) {
        for shift in stride(from: (width - 1) * 8, through: 0, by: -8) {
            append(UInt8(truncatingIfNeeded: UInt64(value) >> UInt64(shift)))
        }
    }

    /// `u8 length` (0 for none) + UTF-8 bytes.
    mutating func appendNodeID(_ node: NodeID?) {
        let bytes = Array((node?.rawValue ?? "").utf8.prefix(255))
        append(UInt8(bytes.count))
        self += bytes
    }
}

/// A bounded reader over a byte array: every read past the end gives nil.
struct PayloadReader {
    private let bytes: [UInt8]
    private var offset = 0

    init(_ bytes: [UInt8]) { self.bytes = bytes }

    var atEnd: Bool { offset == bytes.count }

    mutating func integer(width: Int) -> UInt64? {
        guard bytes.count - offset >= width else { return nil }
        var value: UInt64 = 0
        for byte in bytes[offset..<offset + width] { value = value << 8 | UInt64(byte) }
        offset += width
        return value
    }

    mutating func bytes(_ count: Int) -> [UInt8]? {
        guard count >= 0, bytes.count - offset >= count else { return nil }
        defer { offset += count }
        return Array(bytes[offset..<offset + count])
    }

    /// A `u8 length` + UTF-8 node ID; `.some(nil)` for length 0, nil when truncated.
    mutating func nodeID() -> NodeID?? {
        guard let length = integer(width: 1), let raw = bytes(Int(length)) else { return nil }
        guard length > 0 else { return .some(nil) }
        return .some(NodeID(String(decoding: raw, as: UTF8.self)))
    }

    mutating func rest() -> [UInt8] {
        defer { offset = bytes.count }
        return Array(bytes[offset...])
    }
}
