import CohortCore
import RaftCore
import RaftPersistence

/// The receiver's side of chunked snapshot transfer: at most one snapshot being assembled per sender,
/// chunks appended strictly in order, the checksum checked once the data is whole. A value type with the
/// time passed in, so its rules are tested without a mesh; ``RaftService`` holds one.
///
/// Rules (docs/raft.md, "How snapshots travel"):
/// - a chunk of a snapshot newer than the one in progress from that sender (or the first) starts a new
///   transfer; an older one is answered ``SnapshotChunkReply/superseded`` and changes nothing;
/// - a chunk at the offset expected next is appended; any other offset is not applied, and the answer
///   names the offset expected (this is also how a query, and a sender resuming after a cut, learns it);
/// - when the data is whole and its CRC-32C matches, the transfer ends and hands back message and data;
///   when it does not match, the transfer is dropped and the sender told to start again at 0;
/// - a transfer with no chunk for ``idleTimeout`` is dropped (``expire(now:)``).
struct SnapshotAssembly: Sendable {
    /// One snapshot being assembled.
    struct Transfer: Sendable {
        var snapshot: SnapshotIdentity
        var total: UInt64
        var checksum: UInt32
        /// The data received so far, in order from offset 0.
        var data: [UInt8]
        /// CRC-32C of `data`, kept as chunks arrive.
        var runningChecksum: UInt32
        var lastChunk: ContinuousClock.Instant
    }

    /// What to do with a chunk.
    enum Outcome: Equatable, Sendable, CustomStringConvertible {
        /// Answer with this (nothing to hand to the core).
        case reply(SnapshotChunkReply)
        /// The snapshot is whole and checked: step the core with `message`, keep `data` for its install,
        /// answer ``SnapshotChunkReply/complete``.
        case complete(message: [UInt8], data: [UInt8])

        /// Sizes and checksums, not the bytes (a test failure names these, not a snapshot's worth of numbers).
        var description: String {
            switch self {
            case .reply(let reply): "reply(\(reply))"
            case .complete(let message, let data):
                "complete(message: \(message.count) bytes, data: \(data.count) bytes, CRC-32C \(CRC32C.checksum(data)))"
            }
        }
    }

    /// A transfer idle this long is dropped. Default 60 s.
    var idleTimeout: Duration
    private(set) var transfers: [NodeID: Transfer] = [:]

    init(idleTimeout: Duration = .seconds(60)) {
        self.idleTimeout = idleTimeout
    }

    /// The offset expected next from `sender` for `snapshot`, if that transfer is in progress.
    func nextOffset(from sender: NodeID, for snapshot: SnapshotIdentity) -> UInt64? {
        guard let transfer = transfers[sender], transfer.snapshot == snapshot else { return nil }
        return UInt64(transfer.data.count)
    }

    mutating func receive(_ chunk: SnapshotChunk, from sender: NodeID, now: ContinuousClock.Instant) -> Outcome {
        var transfer: Transfer
        if let current = transfers[sender], current.snapshot == chunk.snapshot, current.total == chunk.total,
           current.checksum == chunk.checksum {
            transfer = current
        } else if let current = transfers[sender], current.snapshot > chunk.snapshot {
            return .reply(.superseded)
        } else {
            // The first chunk from this sender, or of a newer snapshot (or the same one described
            // differently, which only a changed sender could do): start over. Nothing is reserved for the
            // announced total: memory grows only with bytes that arrive.
            transfer = Transfer(
                snapshot: chunk.snapshot, total: chunk.total, checksum: chunk.checksum, data: [],
                runningChecksum: 0, lastChunk: now
            )
        }
        transfer.lastChunk = now
        let expected = UInt64(transfer.data.count)
        guard !chunk.isQuery, chunk.offset == expected else {
            transfers[sender] = transfer
            return .reply(.next(expected))
        }
        transfer.data.append(contentsOf: chunk.bytes)
        transfer.runningChecksum = CRC32C.checksum(chunk.bytes, seed: transfer.runningChecksum)
        guard chunk.isLast else {
            transfers[sender] = transfer
            return .reply(.next(UInt64(transfer.data.count)))
        }
        transfers[sender] = nil
        guard transfer.runningChecksum == transfer.checksum else { return .reply(.checksumMismatch) }
        return .complete(message: chunk.message, data: transfer.data)
    }

    /// Drops every transfer that received nothing for ``idleTimeout``; returns their senders.
    @discardableResult
    mutating func expire(now: ContinuousClock.Instant) -> [NodeID] {
        let idle = transfers.filter { now - $0.value.lastChunk >= idleTimeout }.map(\.key)
        for sender in idle { transfers[sender] = nil }
        return idle
    }
}
