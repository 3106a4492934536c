import NIOCore

/// What a frame is.
enum FrameKind: UInt8, Sendable, CaseIterable {
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
    var isData: Bool {
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
struct FrameHeader: Equatable, Sendable {
    /// The encoded size.
    static let size = 24

    var trafficClass: TrafficClass
    var kind: FrameKind
    var endpoint: MeshEndpoint = MeshEndpoint(rawValue: 0)
    var sequence: UInt64 = 0
    var requestID: UInt64 = 0
    var deadlineMilliseconds: UInt32 = 0

    /// Appends the header to `buffer`.
    func write(to buffer: inout ByteBuffer) {
        buffer.writeMultipleIntegers(
            trafficClass.rawValue, kind.rawValue, endpoint.rawValue, sequence, requestID, deadlineMilliseconds
        )
    }

    /// Reads a header from the front of `buffer` and checks that it makes sense for its kind, leaving the
    /// payload readable. Total: every byte sequence gives a header or a ``FrameError``.
    static func read(from buffer: inout ByteBuffer) throws(FrameError) -> FrameHeader {
        guard let (classByte, kindByte, endpoint, sequence, requestID, deadline) = buffer.readMultipleIntegers(
            as: (UInt8, UInt8, UInt16, UInt64, UInt64, UInt32).self
        ) else {
            throw .malformed("frame of \(buffer.readableBytes) bytes is shorter than its \(size)-byte header")
        }
        guard let trafficClass = TrafficClass(rawValue: classByte) else { throw .unknownClass(classByte) }
        guard let kind = FrameKind(rawValue: kindByte) else { throw .unknownKind(kindByte) }
        let header = FrameHeader(
            trafficClass: trafficClass, kind: kind, endpoint: MeshEndpoint(rawValue: endpoint), sequence: sequence,
            requestID: requestID, deadlineMilliseconds: deadline
        )
        try header.validate(payloadBytes: buffer.readableBytes)
        return header
    }

    private func validate(payloadBytes: Int) throws(FrameError) {
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
