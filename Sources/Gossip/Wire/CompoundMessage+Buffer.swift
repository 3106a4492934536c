import GossipCore
import NIOCore

/// Building and splitting compound messages on NIO buffers (the layout and its sizes are on
/// ``CompoundMessage``, in GossipCore).
extension CompoundMessage {
    /// Builds a compound message from already-encoded messages.
    ///
    /// - Parameter maxParts: the most parts allowed; by default what memberlist 0.2.2 peers read correctly,
    ///   never more than ``maxParts``.
    public static func encode(
        _ parts: [ByteBuffer],
        maxParts: Int = maxPartsForGoPeers
    ) throws(GossipEncodeError) -> ByteBuffer {
        guard parts.count <= min(maxParts, Self.maxParts) else { throw .tooManyParts(parts.count) }
        var buffer = ByteBuffer()
        buffer.reserveCapacity(headerOverhead + parts.reduce(0) { $0 + partOverhead + $1.readableBytes })
        buffer.writeInteger(MessageType.compound.rawValue)
        buffer.writeInteger(UInt8(parts.count))
        for part in parts {
            guard part.readableBytes <= Int(UInt16.max) else { throw .partTooLarge(part.readableBytes) }
            buffer.writeInteger(UInt16(part.readableBytes))
        }
        for var part in parts { buffer.writeBuffer(&part) }
        return buffer
    }

    /// The parts of a compound body (the bytes after the type byte), as memberlist's
    /// `decodeCompoundMessage` splits them: parts that fit are returned, and `truncatedParts` counts those
    /// whose declared length runs past the end. Bytes after the last part are ignored.
    ///
    /// - Throws: ``GossipDecodeError/truncated`` when the count or the length table itself is cut short.
    public static func split(_ body: ByteBuffer) throws(GossipDecodeError) -> (parts: [ByteBuffer], truncatedParts: Int) {
        var body = body
        guard let count = body.readInteger(as: UInt8.self) else { throw .truncated }
        guard body.readableBytes >= Int(count) * 2 else { throw .truncated }
        var lengths: [Int] = []
        lengths.reserveCapacity(Int(count))
        for _ in 0..<count {
            guard let length = body.readInteger(endianness: .big, as: UInt16.self) else { throw .truncated }
            lengths.append(Int(length))
        }
        var parts: [ByteBuffer] = []
        parts.reserveCapacity(lengths.count)
        for (index, length) in lengths.enumerated() {
            guard let part = body.readSlice(length: length) else {
                return (parts, lengths.count - index)
            }
            parts.append(part)
        }
        return (parts, 0)
    }
}
