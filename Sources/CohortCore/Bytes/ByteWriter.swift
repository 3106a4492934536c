/// Writes big-endian integers, byte runs and UTF-8 text into a growing byte array: the writing half of
/// ``ByteReader``, under every binary codec of Cohort.
public struct ByteWriter: Sendable {
    /// What was written so far.
    public private(set) var buffer: [UInt8]

    /// An empty writer, with room for `capacity` bytes.
    public init(capacity: Int = 0) {
        buffer = []
        buffer.reserveCapacity(capacity)
    }

    /// One byte.
    public mutating func u8(_ value: UInt8) { buffer.append(value) }
    /// A flag: 1 for true, 0 for false.
    public mutating func flag(_ value: Bool) { buffer.append(value ? 1 : 0) }
    /// A big-endian `UInt16`.
    public mutating func u16(_ value: UInt16) { integer(value, width: 2) }
    /// A big-endian `UInt32`.
    public mutating func u32(_ value: UInt32) { integer(value, width: 4) }
    /// A big-endian `UInt64`.
    public mutating func u64(_ value: UInt64) { integer(value, width: 8) }

    /// The low `width` bytes of `value`, big-endian.
    public mutating func integer(_ value: some FixedWidthInteger, width: Int) {
        let value = UInt64(truncatingIfNeeded: value)
        for shift in stride(from: (width - 1) * 8, through: 0, by: -8) {
            buffer.append(UInt8(truncatingIfNeeded: value >> UInt64(shift)))
        }
    }

    /// Bytes as they are.
    public mutating func bytes(_ bytes: some Sequence<UInt8>) { buffer.append(contentsOf: bytes) }

    /// Bytes preceded by their count as a big-endian integer of `lengthWidth` bytes.
    public mutating func lengthPrefixed(_ bytes: [UInt8], lengthWidth: Int) {
        integer(bytes.count, width: lengthWidth)
        buffer.append(contentsOf: bytes)
    }

    /// Replaces the bytes at `offset` (already written) with `bytes`.
    public mutating func overwrite(at offset: Int, with bytes: [UInt8]) {
        buffer.replaceSubrange(offset..<offset + bytes.count, with: bytes)
    }
}
