import DequeModule

/// The bounded FIFO of one unreliable class (control, raft, bulk) to one peer.
///
/// A message larger than the chunk size leaves the queue one chunk at a time, so the writer can put other
/// classes' frames between its chunks; within the class, its chunks are contiguous.
package struct ClassQueue: Sendable {
    package let trafficClass: TrafficClass
    package let limit: MeshQueueLimit
    private(set) var messages = Deque<OutboundMessage>()
    /// Payload bytes held.
    private(set) var bytes = 0
    /// Bytes of the head message already sent as chunks.
    private var headOffset = 0
    /// Requests dropped because their deadline passed before they were written, since last taken.
    private(set) var expired = 0

    package init(trafficClass: TrafficClass, limit: MeshQueueLimit) {
        self.trafficClass = trafficClass
        self.limit = limit
    }

    /// Messages held.
    package var count: Int { messages.count }

    /// Queues `message` under the class's policy. Returns whether it was queued and how many older
    /// messages were dropped to make room (only with ``MeshDropPolicy/dropOldest``).
    package mutating func enqueue(_ message: OutboundMessage) -> (queued: Bool, droppedOldest: Int) {
        if fits(message.payload.count, count: messages.count, bytes: bytes) {
            append(message)
            return (true, 0)
        }
        guard limit.policy == .dropOldest else { return (false, 0) }
        // A head already partly sent cannot be dropped: the peer holds its first chunks.
        let pinned = headOffset > 0 ? 1 : 0
        let pinnedBytes = pinned == 1 ? messages.first!.payload.count : 0
        guard fits(message.payload.count, count: pinned, bytes: pinnedBytes) else { return (false, 0) }
        var dropped = 0
        while !fits(message.payload.count, count: messages.count, bytes: bytes) {
            let removed = messages.remove(at: messages.index(messages.startIndex, offsetBy: pinned))
            bytes -= removed.payload.count
            dropped += 1
        }
        append(message)
        return (true, dropped)
    }

    private func fits(_ payloadBytes: Int, count: Int, bytes: Int) -> Bool {
        count < limit.maxMessages && bytes + payloadBytes <= limit.maxBytes
    }

    private mutating func append(_ message: OutboundMessage) {
        messages.append(message)
        bytes += message.payload.count
    }

    /// The next frame: a chunk of the head message or its final frame. Requests whose deadline has passed
    /// are dropped unsent (the requester has timed out) and counted in ``expired``.
    package mutating func popFrame(now: ContinuousClock.Instant, chunkBytes: Int) -> OutboundFrame? {
        while let head = messages.first {
            if headOffset == 0, head.kind == .request, let deadline = head.deadline, deadline <= now {
                bytes -= messages.removeFirst().payload.count
                expired += 1
                continue
            }
            let (frame, done) = MessageFraming.frame(
                of: head, trafficClass: trafficClass, sequence: 0, offset: headOffset, chunkBytes: chunkBytes, now: now
            )
            if done {
                bytes -= messages.removeFirst().payload.count
                headOffset = 0
            } else {
                headOffset += frame.payload.count
            }
            return frame
        }
        return nil
    }

    /// Returns and resets the count of expired requests.
    package mutating func takeExpired() -> Int {
        defer { expired = 0 }
        return expired
    }

    /// Drops everything, returning the messages (to fail their requests and count the drops).
    package mutating func removeAll() -> [OutboundMessage] {
        let all = Array(messages)
        messages.removeAll()
        bytes = 0
        headOffset = 0
        return all
    }

    /// Forgets chunk progress: the connection that carried the head's first chunks is gone, so the
    /// next connection must send the head from its start.
    package mutating func restartHead() {
        headOffset = 0
    }
}
