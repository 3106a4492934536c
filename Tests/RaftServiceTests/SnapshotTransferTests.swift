import CohortCore
import RaftCore
import RaftPersistence
import Testing
@testable import Raft

/// Chunked snapshot transfer without a mesh: the chunk and reply codecs, and the receiver's assembly rules.
@Suite struct SnapshotTransferTests {
    static let leader = NodeID("leader")
    static let data = (0..<10_000).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ 7) }
    static let message: [UInt8] = [0x52, 0x46, 1, 9]
    static let identity = SnapshotIdentity(index: 100, term: 3)
    let start = ContinuousClock.now

    /// The chunks of `data` of `size` bytes each, the message on the last.
    static func chunks(
        of data: [UInt8] = data, size: Int = 1000, snapshot: SnapshotIdentity = identity, checksum: UInt32? = nil
    ) -> [SnapshotChunk] {
        let sum = checksum ?? CRC32C.checksum(data)
        return stride(from: 0, to: max(1, data.count), by: size).map { offset in
            let end = min(offset + size, data.count)
            return SnapshotChunk(
                snapshot: snapshot, total: UInt64(data.count), checksum: sum, offset: UInt64(offset),
                message: end == data.count ? message : [], bytes: Array(data[offset..<end])
            )
        }
    }

    @Test func snapshotTransferSettingsHaveTheirDocumentedDefaults() {
        let settings = RaftServiceSettings(nodeID: Self.leader)
        #expect(settings.snapshotChunkBytes == 1 << 20)
        #expect(settings.snapshotChunkTimeout == .seconds(10))
        #expect(settings.snapshotTransferIdleTimeout == .seconds(60))
        #expect(RaftServiceSettings.maxSnapshotChunkBytes == 16 << 20)
        #expect(SnapshotAssembly().idleTimeout == .seconds(60))
    }

    @Test func chunksAndRepliesRoundTrip() {
        for chunk in Self.chunks() + [SnapshotChunk.query(Self.identity, total: 10_000, checksum: 7)] {
            #expect(SnapshotChunk.decode(chunk.encode()) == chunk)
        }
        for reply in [SnapshotChunkReply.next(0), .next(123_456), .complete, .checksumMismatch, .superseded] {
            #expect(SnapshotChunkReply.decode(reply.encode()) == reply)
        }
        // An empty snapshot is one final chunk of no bytes, with the message.
        let empty = Self.chunks(of: [])
        #expect(empty.count == 1 && empty[0].isLast && !empty[0].isQuery)
        #expect(SnapshotChunk.decode(empty[0].encode()) == empty[0])
    }

    @Test func inconsistentChunksAreRefused() {
        var chunk = Self.chunks()[3]
        chunk.message = Self.message  // a message on a chunk that is not the last
        #expect(SnapshotChunk.decode(chunk.encode()) == nil)
        var last = Self.chunks().last!
        last.message = []  // the last chunk without its message
        #expect(SnapshotChunk.decode(last.encode()) == nil)
        var past = Self.chunks()[9]
        past.offset = 9_500  // bytes past the total
        #expect(SnapshotChunk.decode(past.encode()) == nil)
        var query = SnapshotChunk.query(Self.identity, total: 10, checksum: 0)
        query.offset = 5  // a query is at offset 0
        #expect(SnapshotChunk.decode(query.encode()) == nil)
        var version2 = Self.chunks()[0].encode()
        version2[0] = 2
        #expect(SnapshotChunk.decode(version2) == nil)
        #expect(SnapshotChunkReply.decode([3, 1, 0, 0, 0, 0, 0, 0, 0, 5]) == nil)  // complete names no offset
        #expect(SnapshotChunkReply.decode([3, 9, 0, 0, 0, 0, 0, 0, 0, 0]) == nil)
    }

    @Test func decodersAreTotal() {
        var generator = SystemRandomNumberGenerator()
        let valid = Self.chunks()[2].encode()
        for length in 0..<80 {
            for _ in 0..<50 {
                var bytes = (0..<length).map { _ in UInt8.random(in: 0...255, using: &generator) }
                if !bytes.isEmpty { bytes[0] = 3 }
                _ = SnapshotChunk.decode(bytes)
                _ = SnapshotChunkReply.decode(bytes)
            }
        }
        // Every cut and every single-byte change of a valid chunk decodes to something or nil, never traps.
        for cut in 0..<valid.count { _ = SnapshotChunk.decode(Array(valid.prefix(cut))) }
        for index in 0..<SnapshotChunk.headerBytes {
            var damaged = valid
            damaged[index] ^= 0xFF
            _ = SnapshotChunk.decode(damaged)
        }
    }

    @Test func chunksInOrderCompleteTheSnapshotWithItsMessage() {
        var assembly = SnapshotAssembly()
        let chunks = Self.chunks()
        for chunk in chunks.dropLast() {
            #expect(assembly.receive(chunk, from: Self.leader, now: start) == .reply(.next(chunk.offset + 1000)))
        }
        #expect(assembly.receive(chunks.last!, from: Self.leader, now: start) == .complete(message: Self.message, data: Self.data))
        #expect(assembly.transfers.isEmpty)
    }

    @Test func aChunkAtTheWrongOffsetIsNotAppliedAndTheReplyNamesTheExpectedOne() {
        var assembly = SnapshotAssembly()
        let chunks = Self.chunks()
        _ = assembly.receive(chunks[0], from: Self.leader, now: start)
        _ = assembly.receive(chunks[1], from: Self.leader, now: start)
        // Ahead (a gap), behind (a duplicate): neither is applied.
        #expect(assembly.receive(chunks[5], from: Self.leader, now: start) == .reply(.next(2000)))
        #expect(assembly.receive(chunks[0], from: Self.leader, now: start) == .reply(.next(2000)))
        #expect(assembly.nextOffset(from: Self.leader, for: Self.identity) == 2000)
        for chunk in chunks[2..<9] { _ = assembly.receive(chunk, from: Self.leader, now: start) }
        #expect(assembly.receive(chunks[9], from: Self.leader, now: start) == .complete(message: Self.message, data: Self.data))
    }

    @Test func aQueryReportsWhereTheTransferStandsAndChangesNothing() {
        var assembly = SnapshotAssembly()
        let chunks = Self.chunks()
        let query = SnapshotChunk.query(Self.identity, total: 10_000, checksum: CRC32C.checksum(Self.data))
        #expect(assembly.receive(query, from: Self.leader, now: start) == .reply(.next(0)))
        for chunk in chunks[0..<4] { _ = assembly.receive(chunk, from: Self.leader, now: start) }
        // The sender's next attempt (after a cut) asks first, and goes on from the answer.
        #expect(assembly.receive(query, from: Self.leader, now: start) == .reply(.next(4000)))
        #expect(assembly.receive(query, from: Self.leader, now: start) == .reply(.next(4000)))
        for chunk in chunks[4..<9] { _ = assembly.receive(chunk, from: Self.leader, now: start) }
        #expect(assembly.receive(chunks[9], from: Self.leader, now: start) == .complete(message: Self.message, data: Self.data))
        // Another sender's query sees nothing of this one's.
        #expect(assembly.receive(query, from: NodeID("other"), now: start) == .reply(.next(0)))
    }

    @Test func aChecksumMismatchIsRefusedAndTheTransferStartsOver() {
        var assembly = SnapshotAssembly()
        var damaged = Self.chunks()
        damaged[4].bytes[17] ^= 0x01  // a bit flipped on the way
        for chunk in damaged.dropLast() { _ = assembly.receive(chunk, from: Self.leader, now: start) }
        #expect(assembly.receive(damaged.last!, from: Self.leader, now: start) == .reply(.checksumMismatch))
        #expect(assembly.nextOffset(from: Self.leader, for: Self.identity) == nil)
        // Sent again from 0, intact, it completes.
        let chunks = Self.chunks()
        #expect(assembly.receive(chunks[3], from: Self.leader, now: start) == .reply(.next(0)))
        for chunk in chunks.dropLast() { _ = assembly.receive(chunk, from: Self.leader, now: start) }
        #expect(assembly.receive(chunks.last!, from: Self.leader, now: start) == .complete(message: Self.message, data: Self.data))
    }

    @Test func aNewerSnapshotReplacesAnOlderOneAndAnOlderOneIsSuperseded() {
        var assembly = SnapshotAssembly()
        let old = Self.chunks()
        for chunk in old[0..<5] { _ = assembly.receive(chunk, from: Self.leader, now: start) }
        let newerData = Array(Self.data.reversed().prefix(3000))
        let newer = Self.chunks(of: newerData, snapshot: SnapshotIdentity(index: 200, term: 3))
        #expect(assembly.receive(newer[0], from: Self.leader, now: start) == .reply(.next(1000)))
        #expect(assembly.nextOffset(from: Self.leader, for: Self.identity) == nil)
        // The older snapshot's chunks are turned away without disturbing the newer transfer.
        #expect(assembly.receive(old[5], from: Self.leader, now: start) == .reply(.superseded))
        #expect(assembly.receive(newer[1], from: Self.leader, now: start) == .reply(.next(2000)))
        #expect(assembly.receive(newer[2], from: Self.leader, now: start) == .complete(message: Self.message, data: newerData))
        // A higher term at the same index is newer too (a new leader's snapshot).
        _ = assembly.receive(old[0], from: Self.leader, now: start)
        let sameIndexNewTerm = Self.chunks(snapshot: SnapshotIdentity(index: 100, term: 4))
        #expect(assembly.receive(sameIndexNewTerm[0], from: Self.leader, now: start) == .reply(.next(1000)))
        #expect(assembly.nextOffset(from: Self.leader, for: Self.identity) == nil)
    }

    @Test func anIdleTransferIsDropped() {
        var assembly = SnapshotAssembly(idleTimeout: .seconds(60))
        let chunks = Self.chunks()
        _ = assembly.receive(chunks[0], from: Self.leader, now: start)
        _ = assembly.receive(chunks[0], from: NodeID("other"), now: start + .seconds(30))
        #expect(assembly.expire(now: start + .seconds(59)).isEmpty)
        #expect(assembly.expire(now: start + .seconds(60)) == [Self.leader])
        #expect(assembly.nextOffset(from: Self.leader, for: Self.identity) == nil)
        #expect(assembly.nextOffset(from: NodeID("other"), for: Self.identity) == 1000)
        // A chunk after the drop starts a new transfer: the sender is told to begin at 0.
        #expect(assembly.receive(chunks[1], from: Self.leader, now: start + .seconds(61)) == .reply(.next(0)))
    }
}
