import CohortCore

/// The binary forms of plane entries and digests, shared by gossip deltas, anti-entropy pulls and durable
/// stores. Every read is bounds-checked and fails with the field it could not read.
///
/// Entry: key (u16 length + bytes), stamp time (u64), stamp node (u8 length + UTF-8), flags (u8: bit 0 a
/// value follows, bit 1 an expiry follows; other bits must be 0), value (u32 length + bytes), expiry (u64).
/// Digest: entry count (u64), shard count (u16, 1…1024), one u64 hash per shard.
public enum PlaneCodec {
    /// Why bytes are not a plane entry or digest.
    public enum DecodeError: Error, Hashable, Sendable, CustomStringConvertible {
        /// A field could not be read.
        case bytes(ByteReaderError)
        /// A field holds a value it may not.
        case invalid(String)

        public var description: String {
            switch self {
            case .bytes(let error): "\(error)"
            case .invalid(let why): why
            }
        }
    }

    /// Appends `entry`.
    public static func write(_ entry: PlaneEntry, to writer: inout ByteWriter) {
        writer.lengthPrefixed(entry.key, lengthWidth: 2)
        writer.u64(entry.stamp.time.rawValue)
        writer.lengthPrefixed(Array(entry.stamp.node.rawValue.utf8), lengthWidth: 1)
        var flags: UInt8 = 0
        if entry.value != nil { flags |= 1 }
        if entry.expiresAtMillis != nil { flags |= 2 }
        writer.u8(flags)
        if let value = entry.value { writer.lengthPrefixed(value, lengthWidth: 4) }
        if let expiry = entry.expiresAtMillis { writer.u64(expiry) }
    }

    /// Reads one entry.
    public static func readEntry(_ reader: inout ByteReader) throws(DecodeError) -> PlaneEntry {
        let key = try read { () throws(ByteReaderError) in try reader.lengthPrefixed(lengthWidth: 2, limit: PlaneLimits.maxKeyBytes, "plane entry key") }
        guard !key.isEmpty else { throw .invalid("plane entry key: empty") }
        let time = HLC(rawValue: try read { () throws(ByteReaderError) in try reader.u64("plane entry stamp") })
        let nodeBytes = try read { () throws(ByteReaderError) in try reader.lengthPrefixed(lengthWidth: 1, "plane entry node") }
        guard !nodeBytes.isEmpty, let node = String(wireUTF8: nodeBytes) else {
            throw .invalid("plane entry node: empty or not UTF-8")
        }
        let flags = try read { () throws(ByteReaderError) in try reader.u8("plane entry flags") }
        guard flags & ~3 == 0 else { throw .invalid("plane entry flags: unknown bits in \(flags)") }
        let stamp = PlaneStamp(time: time, node: NodeID(node))
        guard flags & 1 != 0 else {
            guard flags & 2 == 0 else { throw .invalid("plane entry: a tombstone with an expiry") }
            return PlaneEntry(tombstone: key, stamp: stamp)
        }
        let value = try read { () throws(ByteReaderError) in
            try reader.lengthPrefixed(lengthWidth: 4, limit: PlaneLimits.maxValueBytes, "plane entry value")
        }
        let expiry = flags & 2 != 0 ? try read { () throws(ByteReaderError) in try reader.u64("plane entry expiry") } : nil
        return PlaneEntry(key: key, stamp: stamp, value: value, expiresAtMillis: expiry)
    }

    private static func read<T>(_ body: () throws(ByteReaderError) -> T) throws(DecodeError) -> T {
        do {
            return try body()
        } catch {
            throw .bytes(error)
        }
    }

    /// Appends `digest`.
    public static func write(_ digest: PlaneDigest, to writer: inout ByteWriter) {
        writer.u64(digest.count)
        writer.u16(UInt16(digest.shardHashes.count))
        for hash in digest.shardHashes { writer.u64(hash) }
    }

    /// Reads one digest.
    public static func readDigest(_ reader: inout ByteReader) throws(DecodeError) -> PlaneDigest {
        do throws(ByteReaderError) {
            let count = try reader.u64("plane digest count")
            let shards = Int(try reader.u16("plane digest shards"))
            guard (1...PlaneDigest.maxShards).contains(shards) else {
                throw ByteReaderError.limitExceeded(field: "plane digest shards", value: UInt64(shards), limit: PlaneDigest.maxShards)
            }
            var hashes: [UInt64] = []
            hashes.reserveCapacity(shards)
            for _ in 0..<shards { hashes.append(try reader.u64("plane digest hash")) }
            return PlaneDigest(count: count, shardHashes: hashes)
        } catch {
            throw .bytes(error)
        }
    }
}
