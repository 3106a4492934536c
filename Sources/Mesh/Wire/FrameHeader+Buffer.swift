import MeshCore
import NIOCore

/// The frame header's encoding on NIO buffers (the layout is documented on ``FrameHeader``).
extension FrameHeader {
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
}

extension OutboundFrame {
    /// Appends the frame body to `buffer`.
    func write(to buffer: inout ByteBuffer) {
        header.write(to: &buffer)
        buffer.writeBytes(payload)
    }
}
