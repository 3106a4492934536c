/// What a frame is.
package enum FrameKind: UInt8, Sendable, CaseIterable {
    /// A one-way message to an endpoint.
    case message = 0
    /// A request expecting a reply with the same request ID.
    case request = 1
    /// A successful reply; the payload is the handler's result.
    case reply = 2
    /// A failed reply; the payload is a ``RemoteFailure``.
    case errorReply = 3
    /// A leading piece of the next message/request/reply of the same class; the final piece is that
    /// frame itself. Only the final frame's header counts.
    case chunk = 4
    /// Cumulative acknowledgement of the relay stream: `sequence` is the last relay message delivered.
    case ack = 5
    /// Keepalive; `requestID` is echoed in the pong.
    case ping = 6
    /// Answer to a ping.
    case pong = 7

    /// Kinds that carry an application payload to an endpoint.
    package var isData: Bool {
        switch self {
        case .message, .request, .reply, .errorReply: true
        case .chunk, .ack, .ping, .pong: false
        }
    }
}

/// The fixed 24-byte header that starts every frame body (before sealing).
///
/// ```
/// 0  class      u8   TrafficClass
/// 1  kind       u8   FrameKind
/// 2  endpoint   u16  MeshEndpoint
/// 4  sequence   u64  relay: the message's number in the sender's stream; ack: the last delivered
/// 12 requestID  u64  request/reply/errorReply; ping/pong: the ping's number
/// 20 deadline   u32  request: milliseconds left when written, 0 = none
/// 24 payload    …    the rest of the frame
/// ```
/// Big-endian throughout. A fixed layout keeps the decoder trivially total.
package struct FrameHeader: Equatable, Sendable {
    /// The encoded size.
    package static let size = 24

    package var trafficClass: TrafficClass
    package var kind: FrameKind
    package var endpoint: MeshEndpoint = MeshEndpoint(rawValue: 0)
    package var sequence: UInt64 = 0
    package var requestID: UInt64 = 0
    package var deadlineMilliseconds: UInt32 = 0

    package init(
        trafficClass: TrafficClass, kind: FrameKind, endpoint: MeshEndpoint = MeshEndpoint(rawValue: 0),
        sequence: UInt64 = 0, requestID: UInt64 = 0, deadlineMilliseconds: UInt32 = 0
    ) {
        self.trafficClass = trafficClass
        self.kind = kind
        self.endpoint = endpoint
        self.sequence = sequence
        self.requestID = requestID
        self.deadlineMilliseconds = deadlineMilliseconds
    }

    /// Checks that the header makes sense for its kind with `payloadBytes` after it.
    package func validate(payloadBytes: Int) throws(FrameError) {
        switch kind {
        case .ack, .ping, .pong:
            guard trafficClass == .control, payloadBytes == 0 else {
                throw .malformed("\(kind) must be an empty control frame")
            }
        case .chunk:
            guard payloadBytes > 0 else { throw .malformed("empty chunk") }
        case .request, .reply, .errorReply:
            guard requestID != 0 else { throw .malformed("\(kind) without a request ID") }
            fallthrough
        case .message:
            // Relay frames are numbered from 1 and only relay frames are; a mismatch is a broken sender.
            guard (trafficClass == .relay) == (sequence != 0) else {
                throw .malformed("sequence \(sequence) on a \(trafficClass) frame")
            }
        }
    }
}
