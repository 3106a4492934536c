import NIOCore

/// Puts a chunked message of one class back together, bounded by the message size limit.
///
/// One per class per connection: chunks of one message are contiguous within their class, and a cut
/// connection discards a half-received message (the sender restarts it on the next connection).
struct ChunkReassembler: Sendable {
    let limit: Int
    private var parts: [UInt8] = []

    init(limit: Int) {
        self.limit = limit
    }

    /// Whether a message is half received.
    var isCollecting: Bool { !parts.isEmpty }

    /// Adds a leading chunk.
    mutating func append(_ chunk: ByteBuffer) throws(FrameError) {
        try checkSize(adding: chunk.readableBytes)
        if parts.isEmpty { parts.reserveCapacity(min(limit, chunk.readableBytes * 4)) }
        parts.append(contentsOf: chunk.readableBytesView)
    }

    /// The whole payload, given its final frame's payload.
    mutating func complete(with last: ByteBuffer) throws(FrameError) -> [UInt8] {
        guard !parts.isEmpty else { return Array(last.readableBytesView) }
        try checkSize(adding: last.readableBytes)
        var whole = parts
        parts = []
        whole.append(contentsOf: last.readableBytesView)
        return whole
    }

    private func checkSize(adding bytes: Int) throws(FrameError) {
        let total = parts.count + bytes
        guard total <= limit else { throw .messageTooLarge(bytes: total, limit: limit) }
    }
}
