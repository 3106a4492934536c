import CohortCore
#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import Logging
import PlaneCore

/// A durable `kv.crdt` store's files, in `<data_dir>/_sys/crdt/<store>/`:
///
/// - `snapshot`: every entry (values and tombstones) at the last compaction, replaced atomically
///   (``DurableFile``), so it is whole or absent; any damage in it is corruption.
/// - `log`: entries applied since, appended in batches and fsynced. A crash can tear its last record:
///   a last record cut short or failing its checksum is dropped with a warning (the plane re-delivers
///   what peers hold); a bad record with more after it is corruption.
///
/// Both files start with the 8-byte magic `COHORTKV` and a version byte (1), then records: a u32 length,
/// the payload's CRC-32C (u32), and the payload, one ``PlaneCodec`` entry. Entries merge by
/// last-writer-wins, so replaying the log over a newer snapshot (a crash between a compaction's two
/// steps) changes nothing.
struct CRDTStoreFiles: Sendable {
    /// `<data_dir>/_sys/crdt/<store>`.
    let directory: String

    static let magic: [UInt8] = Array("COHORTKV".utf8) + [1]
    static let snapshotName = "snapshot"
    static let logName = "log"
    /// The largest record a file may hold: one entry at the size limits, with room to spare.
    static let maxRecordBytes = PlaneLimits.maxKeyBytes + PlaneLimits.maxValueBytes + PlaneLimits.maxNodeBytes + 64

    init(dataDirectory: String, store: String) {
        directory = dataDirectory + "/_sys/crdt/" + store
    }

    var snapshotPath: String { directory + "/" + Self.snapshotName }
    var logPath: String { directory + "/" + Self.logName }

    /// What a load found.
    struct Loaded: Sendable {
        /// The entries of the snapshot, then of the log (merge them in this order, or any order).
        var entries: [PlaneEntry]
        /// Records in the log.
        var logRecords: Int
        /// The log's bytes up to its last whole record (a torn tail beyond is cut off on the next append).
        var logLength: Int
        /// The bytes of a torn last record that were dropped, 0 when none.
        var droppedBytes: Int
    }

    /// Reads both files (none is an empty store). Throws when a file is corrupt, naming it.
    func load() throws(CRDTStoreFileError) -> Loaded {
        var entries: [PlaneEntry] = []
        if let bytes = try Self.read(snapshotPath) {
            let decoded = try Self.decode(bytes, path: snapshotPath, tornTailAllowed: false)
            entries = decoded.entries
        }
        var loaded = Loaded(entries: entries, logRecords: 0, logLength: 0, droppedBytes: 0)
        if let bytes = try Self.read(logPath) {
            let decoded = try Self.decode(bytes, path: logPath, tornTailAllowed: true)
            loaded.entries += decoded.entries
            loaded.logRecords = decoded.entries.count
            loaded.logLength = decoded.validLength
            loaded.droppedBytes = bytes.count - decoded.validLength
        }
        return loaded
    }

    private static func read(_ path: String) throws(CRDTStoreFileError) -> [UInt8]? {
        guard FileManager.default.fileExists(atPath: path) else { return nil }
        guard let data = FileManager.default.contents(atPath: path) else {
            throw CRDTStoreFileError(path: path, offset: 0, reason: "cannot be read")
        }
        return Array(data)
    }

    /// One record's bytes.
    static func record(_ entry: PlaneEntry) -> [UInt8] {
        var payload = ByteWriter()
        PlaneCodec.write(entry, to: &payload)
        var writer = ByteWriter()
        writer.u32(UInt32(payload.buffer.count))
        writer.u32(CRC32C.checksum(payload.buffer))
        writer.bytes(payload.buffer)
        return writer.buffer
    }

    /// A whole file of `entries`.
    static func file(_ entries: some Sequence<PlaneEntry>) -> [UInt8] {
        var bytes = magic
        for entry in entries { bytes += record(entry) }
        return bytes
    }

    /// The entries of a file's bytes and the length of its whole records. A header shorter than the
    /// magic counts as a torn tail too (a crash while the log was being created).
    static func decode(_ bytes: [UInt8], path: String, tornTailAllowed: Bool) throws(CRDTStoreFileError) -> (entries: [PlaneEntry], validLength: Int) {
        guard bytes.count >= magic.count else {
            guard tornTailAllowed, magic.starts(with: bytes) else {
                throw CRDTStoreFileError(path: path, offset: 0, reason: "too short for its header")
            }
            return ([], 0)
        }
        guard Array(bytes[0..<magic.count]) == magic else {
            throw CRDTStoreFileError(path: path, offset: 0, reason: "not a Cohort kv.crdt file of version 1 (bad magic)")
        }
        var entries: [PlaneEntry] = []
        var offset = magic.count
        while offset < bytes.count {
            let start = offset
            func torn(_ reason: String) throws(CRDTStoreFileError) -> (entries: [PlaneEntry], validLength: Int) {
                guard tornTailAllowed else { throw CRDTStoreFileError(path: path, offset: start, reason: reason) }
                return (entries, start)
            }
            guard bytes.count - offset >= 8 else { return try torn("a record header cut short") }
            let length = Int(bytes.loadU32(at: offset)), checksum = bytes.loadU32(at: offset + 4)
            guard length <= maxRecordBytes else {
                throw CRDTStoreFileError(path: path, offset: start, reason: "a record of \(length) bytes, larger than any entry")
            }
            guard bytes.count - offset - 8 >= length else { return try torn("a record cut short") }
            let payload = bytes[(offset + 8)..<(offset + 8 + length)]
            offset += 8 + length
            guard CRC32C.checksum(payload) == checksum else {
                // A bad last record is a write torn by a crash; a bad record followed by others is damage.
                if offset == bytes.count { return try torn("the last record fails its checksum") }
                throw CRDTStoreFileError(path: path, offset: start, reason: "a record fails its checksum and more records follow")
            }
            var reader = ByteReader(Array(payload))
            do {
                entries.append(try PlaneCodec.readEntry(&reader))
            } catch {
                throw CRDTStoreFileError(path: path, offset: start, reason: "a record is not an entry: \(error)")
            }
        }
        return (entries, offset)
    }
}

/// A `kv.crdt` store file that cannot be used: the node refuses to start rather than lose or invent
/// entries. Move the file away to start with what peers hold.
public struct CRDTStoreFileError: Error, Hashable, Sendable, CustomStringConvertible {
    /// The file.
    public var path: String
    /// Where in it the damage starts.
    public var offset: Int
    /// What is wrong.
    public var reason: String

    public var description: String {
        "kv.crdt store file \(path) is corrupt at byte \(offset): \(reason); move it away to start from what the other nodes hold"
    }
}

extension [UInt8] {
    /// The big-endian u32 at `offset` (the caller checked the bounds).
    fileprivate func loadU32(at offset: Int) -> UInt32 {
        (UInt32(self[offset]) << 24) | (UInt32(self[offset + 1]) << 16) | (UInt32(self[offset + 2]) << 8) | UInt32(self[offset + 3])
    }
}
