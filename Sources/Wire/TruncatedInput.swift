import NIOCore

/// The input ended before a value was complete.
///
/// On a stream this means "wait for more bytes"; on a datagram or a fully buffered message it means the
/// sender lied about a length or the data was cut.
public struct TruncatedInput: Error, Hashable, Sendable, CustomStringConvertible {
    /// How many bytes the reader needed at the point it stopped.
    public var needed: Int
    /// How many bytes were left to read.
    public var available: Int

    /// Records a short read of `needed` bytes with only `available` left.
    public init(needed: Int, available: Int) {
        self.needed = needed
        self.available = available
    }

    /// A readable summary for logs.
    public var description: String { "truncated input: needed \(needed) bytes, \(available) available" }
}

extension ByteBuffer {
    /// Reads a big-endian integer, or throws without moving the reader index if too few bytes remain.
    @inlinable
    public mutating func readExactInteger<T: FixedWidthInteger>(as: T.Type = T.self) throws(TruncatedInput) -> T {
        guard let value = readInteger(endianness: .big, as: T.self) else {
            throw TruncatedInput(needed: MemoryLayout<T>.size, available: readableBytes)
        }
        return value
    }

    /// Reads exactly `count` bytes as an array, or throws without moving the reader index.
    ///
    /// Nothing is allocated before the bytes are known to be present, so a lying length costs nothing.
    @inlinable
    public mutating func readExactBytes(_ count: Int) throws(TruncatedInput) -> [UInt8] {
        guard count >= 0, count <= readableBytes, let bytes = readBytes(length: count) else {
            throw TruncatedInput(needed: count, available: readableBytes)
        }
        return bytes
    }

    /// Reads exactly `count` bytes as a slice sharing this buffer's storage, or throws without moving the
    /// reader index.
    @inlinable
    public mutating func readExactSlice(_ count: Int) throws(TruncatedInput) -> ByteBuffer {
        guard count >= 0, count <= readableBytes, let slice = readSlice(length: count) else {
            throw TruncatedInput(needed: count, available: readableBytes)
        }
        return slice
    }

    /// The readable bytes as an array.
    @inlinable
    public var readableBytesArray: [UInt8] {
        getBytes(at: readerIndex, length: readableBytes) ?? []
    }
}
