import DequeModule
import CohortCore

/// The sending half of the reliable relay stream to one peer, as a pure state machine.
///
/// Every message gets the next sequence number when queued and stays until the peer acknowledges it
/// (cumulatively). A new connection rewinds to the first unacknowledged message after the peer's resume
/// point, so whatever the cut lost is resent; the receiver drops what it already delivered. The bound
/// counts unsent and unacknowledged messages alike: when full, new messages are refused.
///
/// When the peer restarts (a new incarnation), messages already written to the old one are dropped —
/// they were addressed to processes that no longer exist — and the ones never written are kept.
package struct ReliableSendStream: Sendable {
    package struct Entry: Sendable {
        package var sequence: UInt64
        package var message: OutboundMessage
    }

    package let limit: MeshQueueLimit
    /// Names this stream in the handshake; a new stream (after removal and re-adding) has a new ID, so
    /// the receiver starts afresh instead of taking our new numbers for duplicates.
    package let streamID: UInt64
    private(set) var entries = Deque<Entry>()
    private(set) var bytes = 0
    /// `entries[cursor...]` have not been written on the current connection.
    private(set) var cursor = 0
    private var cursorOffset = 0
    private(set) var nextSequence: UInt64 = 1
    /// Every sequence up to this one has been written at least once.
    private(set) var highestWritten: UInt64 = 0
    /// The incarnation of the peer the written messages went to.
    private(set) var peerIncarnation: Incarnation?

    package init(limit: MeshQueueLimit, streamID: UInt64) {
        self.limit = limit
        self.streamID = streamID
    }

    /// Messages held (unsent and unacknowledged).
    package var count: Int { entries.count }

    /// Messages not yet written on the current connection.
    package var unsent: Int { entries.count - cursor }

    /// Queues `message` with the next sequence number; false when the stream is full.
    package mutating func enqueue(_ message: OutboundMessage) -> Bool {
        guard entries.count < limit.maxMessages, bytes + message.payload.count <= limit.maxBytes else { return false }
        entries.append(Entry(sequence: nextSequence, message: message))
        nextSequence += 1
        bytes += message.payload.count
        return true
    }

    /// The next frame to write (a chunk or a final frame carrying the sequence number).
    package mutating func popFrame(now: ContinuousClock.Instant, chunkBytes: Int) -> OutboundFrame? {
        guard cursor < entries.count else { return nil }
        let entry = entries[entries.index(entries.startIndex, offsetBy: cursor)]
        let (frame, done) = MessageFraming.frame(
            of: entry.message, trafficClass: .relay, sequence: entry.sequence, offset: cursorOffset,
            chunkBytes: chunkBytes, now: now
        )
        if done {
            cursor += 1
            cursorOffset = 0
            highestWritten = max(highestWritten, entry.sequence)
        } else {
            cursorOffset += frame.payload.count
        }
        return frame
    }

    /// Releases every message up to `sequence` (clamped to what was written). Returns how many.
    @discardableResult
    package mutating func acknowledge(through sequence: UInt64) -> Int {
        let through = min(sequence, highestWritten)
        var released = 0
        while let first = entries.first, first.sequence <= through {
            bytes -= entries.removeFirst().message.payload.count
            released += 1
        }
        cursor = max(0, cursor - released)
        return released
    }

    /// Starts a new connection to a peer of `incarnation` that has delivered everything up to
    /// `resume`: rewinds to resend the rest. Returns how many messages were dropped because the peer
    /// restarted.
    package mutating func resume(after resume: UInt64, peerIncarnation incarnation: Incarnation) -> Int {
        var dropped = 0
        if let previous = peerIncarnation, previous != incarnation {
            while let first = entries.first, first.sequence <= highestWritten {
                bytes -= entries.removeFirst().message.payload.count
                dropped += 1
            }
        } else {
            acknowledge(through: resume)
        }
        peerIncarnation = incarnation
        cursor = 0
        cursorOffset = 0
        return dropped
    }

    /// Drops everything (the peer left), returning the messages.
    package mutating func removeAll() -> [OutboundMessage] {
        let all = entries.map(\.message)
        entries.removeAll()
        bytes = 0
        cursor = 0
        cursorOffset = 0
        return all
    }
}

/// The receiving half of the reliable relay stream from one peer.
///
/// Delivers a message only if its sequence is beyond the last delivered one — a resent duplicate is
/// dropped — and remembers, per sender stream, where to resume.
package struct ReliableReceiveStream: Sendable {
    /// The sender stream being received; nil before the first connection.
    private(set) var streamID: UInt64?
    /// The last sequence delivered to a handler.
    private(set) var lastDelivered: UInt64 = 0
    /// The last sequence acknowledged to the sender.
    private(set) var acknowledged: UInt64 = 0

    package init() {}

    /// The resume point to state for a sender whose stream is `streamID`: 0 for a stream we do not know.
    /// Pure: nothing changes until ``adopt(stream:)``, so an unauthenticated hello cannot reset it.
    package func resumePoint(forStream streamID: UInt64) -> UInt64 {
        streamID == self.streamID ? lastDelivered : 0
    }

    /// Adopts the stream of an authenticated connection, starting afresh if it is another stream. The
    /// resume point stated in the handshake acknowledges everything up to it.
    package mutating func adopt(stream streamID: UInt64) {
        if streamID != self.streamID {
            self.streamID = streamID
            lastDelivered = 0
        }
        acknowledged = lastDelivered
    }

    /// Whether a message numbered `sequence` should be delivered (it is new); records it if so.
    package mutating func accept(_ sequence: UInt64) -> Bool {
        // Gaps are accepted: they arise only when the sender deliberately dropped messages (our restart).
        guard sequence > lastDelivered else { return false }
        lastDelivered = sequence
        return true
    }

    /// Messages delivered but not yet acknowledged.
    package var unacknowledged: UInt64 { lastDelivered - acknowledged }

    /// The sequence to acknowledge now, or nil when nothing new was delivered.
    package mutating func takeAcknowledgement() -> UInt64? {
        guard lastDelivered > acknowledged else { return nil }
        acknowledged = lastDelivered
        return lastDelivered
    }
}
