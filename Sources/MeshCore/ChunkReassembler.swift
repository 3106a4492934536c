/// Puts a chunked message of one class back together, bounded by the message size limit.
///
/// One per class per connection: chunks of one message are contiguous within their class, and a cut
/// connection discards a half-received message (the sender restarts it on the next connection).
package struct ChunkReassembler: Sendable {
    package let limit: Int
    private var parts: [UInt8] = []

    package init(limit: Int) {
        self.limit = limit
    }

    /// Whether a message is half received.
    package var isCollecting: Bool { !parts.isEmpty }

    /// Adds a leading chunk.
    package mutating func append(_ chunk: some Collection<UInt8>) throws(FrameError) {
        try checkSize(adding: chunk.count)
        if parts.isEmpty { parts.reserveCapacity(min(limit, chunk.count * 4)) }
        parts.append(contentsOf: chunk)
    }

    /// The whole payload, given its final frame's payload.
    package mutating func complete(with last: some Collection<UInt8>) throws(FrameError) -> [UInt8] {
        guard !parts.isEmpty else { return Array(last) }
        try checkSize(adding: last.count)
        var whole = parts
        parts = []
        whole.append(contentsOf: last)
        return whole
    }

    private func checkSize(adding bytes: Int) throws(FrameError) {
        let total = parts.count + bytes
        guard total <= limit else { throw .messageTooLarge(bytes: total, limit: limit) }
    }
}
