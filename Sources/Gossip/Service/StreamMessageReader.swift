import NIOCore

/// Reads whole memberlist stream messages from a TCP connection whose bytes arrive in pieces.
///
/// Bounded by the decoder: a plaintext stream may buffer at most ``GossipLimits/maxStreamBytes`` before it
/// is refused, and an encrypted one declares its length up front. The connection's own deadline (see
/// `Channel.closeAt`) bounds the time.
struct StreamMessageReader {
    private var iterator: NIOAsyncChannelInboundStream<ByteBuffer>.AsyncIterator
    private var buffer = ByteBuffer()
    private let decoder: StreamDecoder
    private let metrics: GossipMetrics?

    /// Reads from `inbound` with `decoder`, counting received bytes in `metrics`.
    init(_ inbound: NIOAsyncChannelInboundStream<ByteBuffer>, decoder: StreamDecoder, metrics: GossipMetrics?) {
        iterator = inbound.makeAsyncIterator()
        self.decoder = decoder
        self.metrics = metrics
    }

    /// The next message. Throws a ``GossipDecodeError`` for malformed bytes, ``GossipDecodeError/empty``
    /// when the peer closes before sending anything and ``GossipDecodeError/truncated`` when it closes
    /// mid-message; rethrows the connection's errors.
    mutating func next() async throws -> StreamMessage {
        while true {
            if buffer.readableBytes > 0, let message = try decoder.decode(&buffer) { return message }
            guard var chunk = try await iterator.next() else {
                if let message = try decoder.decode(&buffer, endOfInput: true) { return message }
                throw GossipDecodeError.truncated
            }
            metrics?.countBytes(chunk.readableBytes, "tcp", "in")
            buffer.writeBuffer(&chunk)
        }
    }

    /// Discards whatever else arrives until the peer closes (or the connection's deadline closes it).
    mutating func drain() async throws {
        while let chunk = try await iterator.next() {
            metrics?.countBytes(chunk.readableBytes, "tcp", "in")
        }
    }
}
