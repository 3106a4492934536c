/// The envelope of a coordination snapshot file, as `GET /v1/snapshot` serves it, `cohort snapshot save`
/// checks it and `cohortd restore` reads it: a fixed header, the state machine's snapshot bytes, and a
/// CRC-32C of everything before it, so a torn or altered file is refused.
///
/// ```
/// "CHRTSNAP" | u8 version 1 | u64 index | u64 term | u64 taken_at (ms since the Unix epoch)
/// | u64 keys | u64 locks | u64 names | u64 data length | data | u32 CRC-32C of all the bytes before
/// ```
///
/// Integers are big-endian. `index` is the state's applied index (every fencing token in it is at most
/// that), `term` the Raft term in which it was read; the three counts describe the data, for a reader
/// that does not decode it. (The Cohort module's `SnapshotArchive` adds the state itself.)
public struct SnapshotArchiveHeader: Sendable, Equatable {
    /// The first eight bytes of every archive.
    public static let magic: [UInt8] = Array("CHRTSNAP".utf8)
    /// The format version this release writes and reads.
    public static let version: UInt8 = 1
    /// Bytes before the data.
    public static let headerBytes = 8 + 1 + 8 * 7
    /// Bytes after the data: the checksum.
    public static let trailerBytes = 4

    /// The last index the state includes.
    public var index: UInt64
    /// The Raft term in which the state was read (0 with the cluster disabled).
    public var term: UInt64
    /// When the state was read: ms since the Unix epoch.
    public var takenAt: UInt64
    /// How many keys (every store), locks and names the data holds.
    public var keys: UInt64
    public var locks: UInt64
    public var names: UInt64

    public init(index: UInt64, term: UInt64, takenAt: UInt64, keys: UInt64, locks: UInt64, names: UInt64) {
        self.index = index
        self.term = term
        self.takenAt = takenAt
        self.keys = keys
        self.locks = locks
        self.names = names
    }

    /// The archive's bytes: this header, `data`, the checksum.
    public func encoded(data: [UInt8]) -> [UInt8] {
        var writer = ByteWriter()
        writer.bytes(Self.magic)
        writer.u8(Self.version)
        for value in [index, term, takenAt, keys, locks, names, UInt64(data.count)] { writer.u64(value) }
        writer.bytes(data)
        writer.u32(CRC32C.checksum(writer.buffer))
        return writer.buffer
    }

    /// Checks the envelope of `bytes` whole — magic, version, length, checksum — and returns its header and
    /// where its data is. Throws, saying what is wrong, otherwise. The data itself is not decoded.
    public static func checking(_ bytes: [UInt8]) throws(SnapshotArchiveError) -> (header: SnapshotArchiveHeader, data: Range<Int>) {
        guard bytes.count >= magic.count, bytes.starts(with: magic) else { throw .notAnArchive }
        var reader = ByteReader(bytes)
        do {
            _ = try reader.bytes(magic.count)
            let found = try reader.u8()
            guard found == version else { throw SnapshotArchiveError.unsupportedVersion(found) }
            let header = SnapshotArchiveHeader(
                index: try reader.u64(), term: try reader.u64(), takenAt: try reader.u64(),
                keys: try reader.u64(), locks: try reader.u64(), names: try reader.u64()
            )
            let length = try reader.u64()
            let expected = UInt64(headerBytes + trailerBytes).addingReportingOverflow(length)
            guard !expected.overflow, expected.partialValue == UInt64(bytes.count) else {
                throw SnapshotArchiveError.wrongLength(expected: expected.overflow ? .max : expected.partialValue, actual: UInt64(bytes.count))
            }
            let stored = bytes.suffix(trailerBytes).reduce(UInt32(0)) { $0 << 8 | UInt32($1) }
            guard stored == CRC32C.checksum(bytes[..<(bytes.count - trailerBytes)]) else { throw SnapshotArchiveError.checksumMismatch }
            return (header, headerBytes..<(bytes.count - trailerBytes))
        } catch let error as SnapshotArchiveError {
            throw error
        } catch {
            throw .wrongLength(expected: UInt64(headerBytes + trailerBytes), actual: UInt64(bytes.count))
        }
    }
}

/// Why bytes are not a usable snapshot archive.
public enum SnapshotArchiveError: Error, Equatable, CustomStringConvertible {
    /// It does not start with the archive's magic: not a Cohort snapshot.
    case notAnArchive
    /// A format version this release does not read.
    case unsupportedVersion(UInt8)
    /// Shorter or longer than its header says: torn (an interrupted copy) or appended to.
    case wrongLength(expected: UInt64, actual: UInt64)
    /// The checksum does not match: altered or damaged.
    case checksumMismatch
    /// The data does not decode as a coordination state, or not as the one the header describes.
    case badState(String)

    public var description: String {
        switch self {
        case .notAnArchive: "not a Cohort snapshot file (it does not start with \"CHRTSNAP\")"
        case .unsupportedVersion(let version):
            "snapshot format version \(version) is not supported (this release reads version \(SnapshotArchiveHeader.version))"
        case .wrongLength(let expected, let actual): "the file is \(actual) bytes, its header says \(expected): torn or truncated"
        case .checksumMismatch: "the file fails its checksum: damaged or altered"
        case .badState(let reason): "the snapshot's state does not decode: \(reason)"
        }
    }
}
