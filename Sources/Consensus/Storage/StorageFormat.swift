import CohortCore

/// The on-disk layouts of ``FileRaftStorage`` (docs/raft.md, "Durable storage"). Integers are big-endian;
/// entries and configurations use ``MessageCodec``'s encoding. Every decoder returns nil for bytes that
/// are not exactly one valid value.
enum StorageFormat {
    static let version: UInt8 = 1
    static let hardStateMagic: [UInt8] = [0x52, 0x48]  // "RH"
    static let segmentMagic: [UInt8] = [0x52, 0x4C]  // "RL"
    static let snapshotMagic: [UInt8] = [0x52, 0x53]  // "RS"
    /// magic, version, first index u64, previous term u64, CRC u32.
    static let segmentHeaderBytes = 23
    /// length u32, CRC u32 (over the length and the payload).
    static let recordHeaderBytes = 8

    /// Storage holds whatever the core accepted, so only structural limits apply.
    private static let limits = MessageCodec.Limits(
        maxMessageBytes: .max, maxEntries: .max, maxCommandBytes: Int(UInt32.max), maxMembers: Int(UInt16.max)
    )

    // MARK: Hard state

    static func encode(_ hardState: HardState) -> [UInt8] {
        var writer = ByteWriter()
        writer.bytes(hardStateMagic)
        writer.u8(version)
        writer.u64(hardState.term)
        writer.u64(hardState.commit)
        writer.flag(hardState.vote != nil)
        if let vote = hardState.vote { writer.nodeID(vote) }
        writer.u32(CRC32C.checksum(writer.buffer))
        return writer.buffer
    }

    static func decodeHardState(_ bytes: [UInt8]) -> HardState? {
        guard let body = verifiedBody(bytes, magic: hardStateMagic) else { return nil }
        var reader = ByteReader(body, limits: limits)
        do {
            let term = try reader.u64(), commit = try reader.u64()
            let vote = try reader.flag() ? try reader.nodeID() : nil
            guard reader.remaining == 0 else { return nil }
            return HardState(term: term, vote: vote, commit: commit)
        } catch {
            return nil
        }
    }

    // MARK: Segments

    static func segmentHeader(firstIndex: LogIndex, previousTerm: Term) -> [UInt8] {
        var writer = ByteWriter()
        writer.bytes(segmentMagic)
        writer.u8(version)
        writer.u64(firstIndex)
        writer.u64(previousTerm)
        writer.u32(CRC32C.checksum(writer.buffer))
        return writer.buffer
    }

    /// The first index and the term of the entry before it, from a segment's first bytes.
    static func decodeSegmentHeader(_ bytes: [UInt8]) -> (firstIndex: LogIndex, previousTerm: Term)? {
        guard bytes.count >= segmentHeaderBytes,
              let body = verifiedBody(Array(bytes[0..<segmentHeaderBytes]), magic: segmentMagic)
        else { return nil }
        var reader = ByteReader(body, limits: limits)
        guard let firstIndex = try? reader.u64(), let previousTerm = try? reader.u64(), firstIndex > 0 else { return nil }
        return (firstIndex, previousTerm)
    }

    static func record(_ entry: LogEntry) -> [UInt8] {
        var payload = ByteWriter()
        payload.entry(entry)
        var writer = ByteWriter()
        writer.u32(UInt32(payload.buffer.count))
        writer.u32(CRC32C.checksum(payload.buffer, seed: CRC32C.checksum(writer.buffer)))
        writer.bytes(payload.buffer)
        return writer.buffer
    }

    /// The entry of the record at `offset` and the offset after it, or nil when the bytes there are not a
    /// whole record with a good checksum.
    static func readRecord(_ bytes: [UInt8], at offset: Int) -> (entry: LogEntry, end: Int)? {
        guard bytes.count - offset >= recordHeaderBytes else { return nil }
        let length = Int(integer(bytes, at: offset, width: 4))
        let stored = UInt32(integer(bytes, at: offset + 4, width: 4))
        let start = offset + recordHeaderBytes
        guard length > 0, length <= bytes.count - start else { return nil }
        let checksum = CRC32C.checksum(bytes[start..<start + length], seed: CRC32C.checksum(bytes[offset..<offset + 4]))
        guard checksum == stored else { return nil }
        var reader = ByteReader(Array(bytes[start..<start + length]), limits: limits)
        guard let entry = try? reader.entry(), reader.remaining == 0 else { return nil }
        return (entry, start + length)
    }

    /// Whether a good record of an index in `indexes` starts anywhere in `bytes` from `offset` on: after a
    /// bad record this tells a torn tail (nothing good follows) from corruption (acknowledged data follows).
    /// The index in the payload is compared before the checksum, so the scan costs about one pass.
    static func containsRecord(_ bytes: [UInt8], from offset: Int, indexes: ClosedRange<LogIndex>) -> Bool {
        let entryIndexOffset = recordHeaderBytes + 8
        var candidate = max(offset, 0)
        while candidate + entryIndexOffset + 8 <= bytes.count {
            let index = integer(bytes, at: candidate + entryIndexOffset, width: 8)
            if indexes.contains(index), readRecord(bytes, at: candidate) != nil { return true }
            candidate += 1
        }
        return false
    }

    // MARK: Snapshots

    static func encode(_ snapshot: StoredSnapshot) -> [UInt8] {
        var writer = ByteWriter()
        writer.bytes(snapshotMagic)
        writer.u8(version)
        writer.u64(snapshot.metadata.index)
        writer.u64(snapshot.metadata.term)
        writer.configuration(snapshot.metadata.configuration)
        writer.u64(UInt64(snapshot.data.count))
        writer.bytes(snapshot.data)
        writer.u32(CRC32C.checksum(writer.buffer))
        return writer.buffer
    }

    static func decodeSnapshot(_ bytes: [UInt8]) -> StoredSnapshot? {
        guard let body = verifiedBody(bytes, magic: snapshotMagic) else { return nil }
        var reader = ByteReader(body, limits: limits)
        do {
            let index = try reader.u64(), term = try reader.u64()
            let configuration = try reader.configuration()
            let count = try reader.u64()
            guard count <= UInt64(reader.remaining) else { return nil }
            let data = try reader.bytes(Int(count))
            guard reader.remaining == 0 else { return nil }
            return StoredSnapshot(metadata: SnapshotMetadata(index: index, term: term, configuration: configuration), data: data)
        } catch {
            return nil
        }
    }

    // MARK: Helpers

    /// The bytes between magic + version and the trailing CRC, when the magic, version and CRC are right.
    private static func verifiedBody(_ bytes: [UInt8], magic: [UInt8]) -> [UInt8]? {
        let prefix = magic.count + 1
        guard bytes.count >= prefix + 4, bytes.starts(with: magic), bytes[magic.count] == version else { return nil }
        let end = bytes.count - 4
        guard CRC32C.checksum(bytes[0..<end]) == UInt32(integer(bytes, at: end, width: 4)) else { return nil }
        return Array(bytes[prefix..<end])
    }

    private static func integer(_ bytes: [UInt8], at offset: Int, width: Int) -> UInt64 {
        var value: UInt64 = 0
        for index in offset..<offset + width { value = value << 8 | UInt64(bytes[index]) }
        return value
    }
}
