import CohortCore
import RaftCore

/// A hard state as ``FileRaftStorage`` stores it: with the sequence number that orders it among every hard
/// state the directory ever held, so recovery can pick the newest of the `hardstate` file and the records
/// in the log without relying on how Raft changes term, vote and commit.
struct StoredHardState: Hashable, Sendable {
    var hardState = HardState()
    /// One more than the previous hard state's; 0 for a fresh directory and for a version-1 `hardstate` file.
    var sequence: UInt64 = 0
}

/// The on-disk layouts of ``FileRaftStorage`` (docs/raft.md, "Durable storage"). Integers are big-endian;
/// entries and configurations use ``MessageCodec``'s encoding. Every decoder returns nil for bytes that
/// are not exactly one valid value.
enum StorageFormat {
    /// The segment version written. Version 2 starts every segment record's payload with a ``RecordKind``
    /// (so hard states can live in the log) and puts a sequence number in the `hardstate` file; version 3
    /// adds write markers and synced records (the same record layout, two more kinds), so recovery can
    /// tell a torn write from acknowledged data gone bad. Versions 1 and 2 are still read, never appended to.
    static let version: UInt8 = 3
    /// Segments of version 2: record kinds, no write markers.
    static let unmarkedVersion: UInt8 = 2
    /// The `hardstate` file's version (unchanged by segment version 3).
    static let hardStateVersion: UInt8 = 2
    /// Segments of bare entry records and a `hardstate` file without a sequence number: still read, never
    /// written (a version-1 segment is not appended to; the log continues in a new one).
    static let legacyVersion: UInt8 = 1
    /// Snapshot files did not change with version 2 and are still written as version 1.
    static let snapshotVersion: UInt8 = 1
    static let hardStateMagic: [UInt8] = [0x52, 0x48]  // "RH"
    static let segmentMagic: [UInt8] = [0x52, 0x4C]  // "RL"
    static let snapshotMagic: [UInt8] = [0x52, 0x53]  // "RS"
    /// magic, version, first index u64, previous term u64, CRC u32.
    static let segmentHeaderBytes = 23
    /// length u32, CRC u32 (over the length and the payload).
    static let recordHeaderBytes = 8

    /// The first byte of a version-2 record's payload.
    enum RecordKind: UInt8 {
        case entry = 1
        case hardState = 2
        /// Starts the records of one write (one `persist` call's bytes in one file): their length, and
        /// whether the call fsyncs them. Recovery uses it to tell a write the crash tore (some of its pages
        /// reached the disk out of order) from acknowledged data that went bad.
        case write = 3
        /// Written right after the fsync of a synced write returned: proof that the write before it was
        /// acknowledged, so recovery calls a bad record in it corruption, not a torn write.
        case synced = 4
    }

    /// What one segment record holds.
    enum Record: Equatable {
        case entry(LogEntry)
        case hardState(StoredHardState)
        /// The next `length` bytes are one write; `synced` when the call fsynced them before returning.
        case write(length: Int, synced: Bool)
        /// The fsync of the write before this record returned.
        case synced
    }

    /// The record appended once a synced write's fsync returned.
    static let syncedRecord: [UInt8] = {
        var payload = ByteWriter()
        payload.u8(RecordKind.synced.rawValue)
        return frame(payload.buffer)
    }()

    /// The size of a write marker record: record header, kind, length u32, flags u8.
    static let writeMarkerBytes = recordHeaderBytes + 6

    /// A write marker for `length` bytes of records that follow it.
    static func writeMarker(length: Int, synced: Bool) -> [UInt8] {
        var payload = ByteWriter()
        payload.u8(RecordKind.write.rawValue)
        payload.u32(UInt32(clamping: length))
        payload.u8(synced ? 1 : 0)
        return frame(payload.buffer)
    }

    /// Storage holds whatever the core accepted, so only structural limits apply.
    private static let limits = MessageCodec.Limits(
        maxMessageBytes: .max, maxEntries: .max, maxCommandBytes: Int(UInt32.max), maxMembers: Int(UInt16.max)
    )

    // MARK: The hardstate file

    static func encode(_ stored: StoredHardState) -> [UInt8] {
        var writer = ByteWriter()
        writer.bytes(hardStateMagic)
        writer.u8(hardStateVersion)
        writer.u64(stored.sequence)
        writer.hardState(stored.hardState)
        writer.u32(CRC32C.checksum(writer.buffer))
        return writer.buffer
    }

    /// A version-2 file, or a version-1 file (which has no sequence number: it reads as sequence 0).
    static func decodeHardState(_ bytes: [UInt8]) -> StoredHardState? {
        guard let (fileVersion, body) = verifiedBody(bytes, magic: hardStateMagic, versions: [legacyVersion, hardStateVersion]) else { return nil }
        var reader = MessageReader(body, limits: limits)
        do {
            let sequence = fileVersion == legacyVersion ? 0 : try reader.u64()
            let hardState = try reader.hardState()
            guard reader.remaining == 0 else { return nil }
            return StoredHardState(hardState: hardState, sequence: sequence)
        } catch {
            return nil
        }
    }

    // MARK: Segments

    static func segmentHeader(firstIndex: LogIndex, previousTerm: Term, version: UInt8 = version) -> [UInt8] {
        var writer = ByteWriter()
        writer.bytes(segmentMagic)
        writer.u8(version)
        writer.u64(firstIndex)
        writer.u64(previousTerm)
        writer.u32(CRC32C.checksum(writer.buffer))
        return writer.buffer
    }

    /// The first index, the term of the entry before it and the format version, from a segment's first bytes.
    static func decodeSegmentHeader(_ bytes: [UInt8]) -> (firstIndex: LogIndex, previousTerm: Term, version: UInt8)? {
        guard bytes.count >= segmentHeaderBytes,
              let (segmentVersion, body) = verifiedBody(Array(bytes[0..<segmentHeaderBytes]), magic: segmentMagic, versions: [legacyVersion, unmarkedVersion, version])
        else { return nil }
        var reader = MessageReader(body, limits: limits)
        guard let firstIndex = try? reader.u64(), let previousTerm = try? reader.u64(), firstIndex > 0 else { return nil }
        return (firstIndex, previousTerm, segmentVersion)
    }

    static func record(_ entry: LogEntry) -> [UInt8] {
        var payload = ByteWriter()
        payload.u8(RecordKind.entry.rawValue)
        payload.entry(entry)
        return frame(payload.buffer)
    }

    static func record(_ stored: StoredHardState) -> [UInt8] {
        var payload = ByteWriter()
        payload.u8(RecordKind.hardState.rawValue)
        payload.u64(stored.sequence)
        payload.hardState(stored.hardState)
        return frame(payload.buffer)
    }

    /// The record at `offset` of a segment of `segmentVersion` and the offset after it, or nil when the
    /// bytes there are not a whole record with a good checksum.
    static func readRecord(_ bytes: [UInt8], at offset: Int, version segmentVersion: UInt8) -> (record: Record, end: Int)? {
        guard bytes.count - offset >= recordHeaderBytes else { return nil }
        let length = Int(integer(bytes, at: offset, width: 4))
        let stored = UInt32(integer(bytes, at: offset + 4, width: 4))
        let start = offset + recordHeaderBytes
        guard length > 0, length <= bytes.count - start else { return nil }
        let checksum = CRC32C.checksum(bytes[start..<start + length], seed: CRC32C.checksum(bytes[offset..<offset + 4]))
        guard checksum == stored else { return nil }
        var reader = MessageReader(Array(bytes[start..<start + length]), limits: limits)
        let record: Record
        do {
            if segmentVersion == legacyVersion {
                record = .entry(try reader.entry())
            } else {
                switch RecordKind(rawValue: try reader.u8("record kind")) {
                case .entry: record = .entry(try reader.entry())
                case .hardState:
                    let sequence = try reader.u64()
                    record = .hardState(StoredHardState(hardState: try reader.hardState(), sequence: sequence))
                case .write:
                    let length = try reader.u32()
                    let flags = try reader.u8("write flags")
                    guard flags <= 1 else { return nil }
                    record = .write(length: length, synced: flags == 1)
                case .synced: record = .synced
                case nil: return nil
                }
            }
        } catch {
            return nil
        }
        guard reader.remaining == 0 else { return nil }
        return (record, start + length)
    }

    /// Whether a good record starts anywhere in `bytes` from `offset` on that holds an entry of an index in
    /// `indexes` or a hard state of a sequence number in `sequences`: after a bad record this tells a torn
    /// tail (nothing good follows) from corruption (acknowledged data follows). `segmentVersion` nil (the
    /// header is unreadable) tries both layouts. The index or sequence number is compared before the
    /// checksum, so the scan costs about one pass.
    static func containsRecord(
        _ bytes: [UInt8], from offset: Int, version segmentVersion: UInt8?,
        indexes: ClosedRange<LogIndex>, sequences: ClosedRange<UInt64>
    ) -> Bool {
        let versions = segmentVersion.map { [$0] } ?? [version, legacyVersion]
        var candidate = max(offset, 0)
        while candidate + recordHeaderBytes + 9 <= bytes.count {
            for candidateVersion in versions where isPlausibleRecord(bytes, at: candidate, version: candidateVersion, indexes: indexes, sequences: sequences) {
                if readRecord(bytes, at: candidate, version: candidateVersion) != nil { return true }
            }
            candidate += 1
        }
        return false
    }

    /// Whether the index or sequence number where a record at `candidate` would keep it is in range.
    private static func isPlausibleRecord(
        _ bytes: [UInt8], at candidate: Int, version segmentVersion: UInt8,
        indexes: ClosedRange<LogIndex>, sequences: ClosedRange<UInt64>
    ) -> Bool {
        let payload = candidate + recordHeaderBytes
        // An entry's payload is term u64, index u64, ...; version 2 puts a kind byte before either payload.
        if segmentVersion == legacyVersion {
            return payload + 16 <= bytes.count && indexes.contains(integer(bytes, at: payload + 8, width: 8))
        }
        switch RecordKind(rawValue: bytes[payload]) {
        case .entry: return payload + 17 <= bytes.count && indexes.contains(integer(bytes, at: payload + 9, width: 8))
        case .hardState: return payload + 9 <= bytes.count && sequences.contains(integer(bytes, at: payload + 1, width: 8))
        case .write, .synced, nil: return false
        }
    }

    /// Whether a good synced record (`onlySynced`), or a synced record or write marker, starts anywhere in
    /// `bytes` from `offset` on (a version-2 segment): evidence that an earlier call had returned.
    static func containsWriteEvidence(_ bytes: [UInt8], from offset: Int, onlySynced: Bool = false) -> Bool {
        var candidate = max(offset, 0)
        while candidate + recordHeaderBytes + 1 <= bytes.count {
            let kind = bytes[candidate + recordHeaderBytes]
            if kind == RecordKind.synced.rawValue || (!onlySynced && kind == RecordKind.write.rawValue) {
                switch readRecord(bytes, at: candidate, version: version)?.record {
                case .synced?: return true
                case .write?: if !onlySynced { return true }
                default: break
                }
            }
            candidate += 1
        }
        return false
    }

    // MARK: Snapshots

    static func encode(_ snapshot: StoredSnapshot) -> [UInt8] {
        var writer = ByteWriter()
        writer.bytes(snapshotHeader(snapshot.metadata, dataCount: snapshot.data.count))
        writer.bytes(snapshot.data)
        writer.u32(CRC32C.checksum(writer.buffer))
        return writer.buffer
    }

    /// The bytes of a snapshot file before its data: magic, version, index, term, configuration and the
    /// data's length (`dataCount`), as ``encode(_:)-swift.type.method`` writes them.
    static func snapshotHeader(_ metadata: SnapshotMetadata, dataCount: Int) -> [UInt8] {
        var writer = ByteWriter()
        writer.bytes(snapshotMagic)
        writer.u8(snapshotVersion)
        writer.u64(metadata.index)
        writer.u64(metadata.term)
        writer.configuration(metadata.configuration)
        writer.u64(UInt64(dataCount))
        return writer.buffer
    }

    static func decodeSnapshot(_ bytes: [UInt8]) -> StoredSnapshot? {
        guard let (_, body) = verifiedBody(bytes, magic: snapshotMagic, versions: [snapshotVersion]) else { return nil }
        var reader = MessageReader(body, limits: limits)
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

    /// A record around `payload`: length, CRC over length and payload, payload.
    private static func frame(_ payload: [UInt8]) -> [UInt8] {
        var writer = ByteWriter()
        writer.u32(UInt32(payload.count))
        writer.u32(CRC32C.checksum(payload, seed: CRC32C.checksum(writer.buffer)))
        writer.bytes(payload)
        return writer.buffer
    }

    /// The version and the bytes between magic + version and the trailing CRC, when the magic is right,
    /// the version one of `versions` and the CRC good.
    private static func verifiedBody(_ bytes: [UInt8], magic: [UInt8], versions: [UInt8]) -> (UInt8, [UInt8])? {
        let prefix = magic.count + 1
        guard bytes.count >= prefix + 4, bytes.starts(with: magic), versions.contains(bytes[magic.count]) else { return nil }
        let end = bytes.count - 4
        guard CRC32C.checksum(bytes[0..<end]) == UInt32(integer(bytes, at: end, width: 4)) else { return nil }
        return (bytes[magic.count], Array(bytes[prefix..<end]))
    }

    private static func integer(_ bytes: [UInt8], at offset: Int, width: Int) -> UInt64 {
        var value: UInt64 = 0
        for index in offset..<offset + width { value = value << 8 | UInt64(bytes[index]) }
        return value
    }
}

private extension ByteWriter {
    /// term u64, commit u64, vote flag u8 [+ NodeID] [+ flags u8]: the hard state's layout in the file and
    /// in records. The trailing flags byte (bit 0: blank replica) is written only when a flag is set, so
    /// every other hard state has the layout earlier releases wrote.
    mutating func hardState(_ hardState: HardState) {
        u64(hardState.term)
        u64(hardState.commit)
        flag(hardState.vote != nil)
        if let vote = hardState.vote { nodeID(vote) }
        if hardState.blank { u8(1) }
    }
}

private extension MessageReader {
    mutating func hardState() throws(MessageDecodingError) -> HardState {
        let term = try u64(), commit = try u64()
        let vote = try flag() ? try nodeID() : nil
        // The hard state ends its record or file, so a byte left over is the flags byte.
        var blank = false
        if remaining > 0 {
            let flags = try u8("hard state flags")
            guard flags == 1 else { throw .invalidFlag(flags) }
            blank = true
        }
        return HardState(term: term, vote: vote, commit: commit, blank: blank)
    }
}
