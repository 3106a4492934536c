/// One message waiting in a peer's queue.
package struct OutboundMessage: Sendable {
    /// `.message`, `.request`, `.reply` or `.errorReply`.
    package var kind: FrameKind
    package var endpoint: MeshEndpoint
    /// Non-zero for requests and replies.
    package var requestID: UInt64 = 0
    /// A request's absolute deadline; the frame carries the time left when written.
    package var deadline: ContinuousClock.Instant?
    package var payload: [UInt8]

    package init(
        kind: FrameKind, endpoint: MeshEndpoint, requestID: UInt64 = 0, deadline: ContinuousClock.Instant? = nil,
        payload: [UInt8]
    ) {
        self.kind = kind
        self.endpoint = endpoint
        self.requestID = requestID
        self.deadline = deadline
        self.payload = payload
    }
}

/// One frame the writer should encode: a header and a slice of a queued payload (no copy).
package struct OutboundFrame: Sendable {
    package var header: FrameHeader
    package var payload: ArraySlice<UInt8>

    /// The frame's body size before sealing.
    package var bodyBytes: Int { FrameHeader.size + payload.count }
}

/// Splitting a queued message into frames: chunks of `chunkBytes`, then the final frame with the real
/// header. Shared by the plain class queues and the reliable relay stream.
package enum MessageFraming {
    /// The next frame of `message`, of which `offset` bytes have been sent; `done` when it was the last.
    package static func frame(
        of message: OutboundMessage, trafficClass: TrafficClass, sequence: UInt64, offset: Int, chunkBytes: Int,
        now: ContinuousClock.Instant
    ) -> (frame: OutboundFrame, done: Bool) {
        let remaining = message.payload.count - offset
        let start = message.payload.startIndex + offset
        if remaining > chunkBytes {
            let header = FrameHeader(trafficClass: trafficClass, kind: .chunk)
            return (OutboundFrame(header: header, payload: message.payload[start..<(start + chunkBytes)]), false)
        }
        var header = FrameHeader(
            trafficClass: trafficClass, kind: message.kind, endpoint: message.endpoint, sequence: sequence,
            requestID: message.requestID
        )
        if let deadline = message.deadline {
            header.deadlineMilliseconds = millisecondsLeft(until: deadline, now: now)
        }
        return (OutboundFrame(header: header, payload: message.payload[start...]), true)
    }

    /// The time left, rounded up, at least 1 (0 on the wire means "no deadline").
    package static func millisecondsLeft(until deadline: ContinuousClock.Instant, now: ContinuousClock.Instant) -> UInt32 {
        let left = now.duration(to: deadline)
        guard left > .zero else { return 1 }
        let (seconds, attoseconds) = left.components
        let milliseconds = seconds * 1000 + (attoseconds + 999_999_999_999_999) / 1_000_000_000_000_000
        return UInt32(clamping: max(1, milliseconds))
    }
}
