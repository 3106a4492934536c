import NIOCore
import Synchronization

/// The current largest frame a connection accepts. It starts small for the handshake, so bytes from an
/// unauthenticated client can never make us buffer a 16 MiB frame, and is raised once the peer is known.
final class FrameSizeLimit: Sendable {
    private let bytes: Atomic<Int>

    /// A limit of `bytes`.
    init(_ bytes: Int) {
        self.bytes = Atomic(bytes)
    }

    /// The limit now.
    var current: Int { bytes.load(ordering: .acquiring) }

    /// Replaces the limit.
    func set(_ bytes: Int) {
        self.bytes.store(bytes, ordering: .releasing)
    }
}

/// Splits a TCP byte stream into frames: a u32 big-endian length, then that many bytes.
///
/// A length above the limit is refused as soon as its four bytes arrive, before any of the body is
/// buffered; bytes left over when the connection ends are a truncated frame. Each frame is a slice of
/// the receive buffer (no copy).
struct LengthPrefixedFrameDecoder: ByteToMessageDecoder {
    typealias InboundOut = ByteBuffer

    /// The length prefix's size.
    static let prefixBytes = 4

    let limit: FrameSizeLimit

    mutating func decode(context: ChannelHandlerContext, buffer: inout ByteBuffer) throws -> DecodingState {
        guard let frame = try Self.next(from: &buffer, limit: limit.current) else { return .needMoreData }
        context.fireChannelRead(wrapInboundOut(frame))
        return .continue
    }

    mutating func decodeLast(context: ChannelHandlerContext, buffer: inout ByteBuffer, seenEOF: Bool) throws -> DecodingState {
        while let frame = try Self.next(from: &buffer, limit: limit.current) {
            context.fireChannelRead(wrapInboundOut(frame))
        }
        if buffer.readableBytes > 0 { throw FrameError.truncated }
        return .needMoreData
    }

    /// The next whole frame at the front of `buffer`, nil when more bytes are needed; the pure core of
    /// the decoder.
    static func next(from buffer: inout ByteBuffer, limit: Int) throws(FrameError) -> ByteBuffer? {
        guard let length = buffer.getInteger(at: buffer.readerIndex, as: UInt32.self) else { return nil }
        guard UInt64(length) <= UInt64(max(0, limit)) else { throw .oversized(length: Int(length), limit: limit) }
        guard buffer.readableBytes >= prefixBytes + Int(length) else { return nil }
        buffer.moveReaderIndex(forwardBy: prefixBytes)
        return buffer.readSlice(length: Int(length))
    }
}
