import CohortCore
import CoordinationCore

/// A snapshot of the coordination state as `GET /v1/snapshot` serves it and `cohort snapshot save`
/// writes it: the envelope of ``SnapshotArchiveHeader`` (header, data, CRC-32C) around the state machine's
/// own snapshot bytes (``CoordinationState/snapshot()``), so a torn or altered file is refused by
/// `cohortd restore`.
public struct SnapshotArchive: Sendable, Equatable {
    public static let magic = SnapshotArchiveHeader.magic
    public static let version = SnapshotArchiveHeader.version
    public static let headerBytes = SnapshotArchiveHeader.headerBytes
    public static let trailerBytes = SnapshotArchiveHeader.trailerBytes

    /// Index, term, time taken and counts.
    public var header: SnapshotArchiveHeader
    /// The state machine's snapshot bytes.
    public var data: [UInt8]

    /// The last index the state includes.
    public var index: UInt64 { header.index }
    /// The Raft term in which the state was read (0 with the cluster disabled).
    public var term: UInt64 { header.term }
    /// When the state was read: ms since the Unix epoch.
    public var takenAt: UInt64 { header.takenAt }
    /// How many keys (every store), locks and names `data` holds.
    public var keys: UInt64 { header.keys }
    public var locks: UInt64 { header.locks }
    public var names: UInt64 { header.names }

    /// The archive of `state`, read in `term` at `takenAt`.
    public init(state: CoordinationState, term: UInt64, takenAt: UInt64) {
        header = SnapshotArchiveHeader(
            index: state.index, term: term, takenAt: takenAt,
            keys: UInt64(state.keys.count), locks: UInt64(state.locks.count), names: UInt64(state.names.count)
        )
        data = state.snapshot()
    }

    /// The archive's bytes.
    public func encoded() -> [UInt8] {
        header.encoded(data: data)
    }

    /// The archive in `bytes`, checked whole: the envelope (magic, version, length, checksum), and data
    /// that decodes as a state holding the index and counts the header names. Throws, saying what is
    /// wrong, otherwise.
    public init(decoding bytes: [UInt8]) throws(SnapshotArchiveError) {
        let (header, range) = try SnapshotArchiveHeader.checking(bytes)
        self.header = header
        data = Array(bytes[range])
        let decoded = try self.state()
        guard decoded.index == index, UInt64(decoded.keys.count) == keys, UInt64(decoded.locks.count) == locks,
              UInt64(decoded.names.count) == names
        else { throw .badState("the header's index and counts do not match the data") }
    }

    /// The state the data holds.
    public func state() throws(SnapshotArchiveError) -> CoordinationState {
        do {
            return try CoordinationState(snapshot: data)
        } catch {
            throw .badState("\(error)")
        }
    }
}
