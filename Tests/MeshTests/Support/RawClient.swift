import CohortCore
import NIOCore
import NIOPosix
@testable import Mesh

// A bare TCP client for feeding a mesh node bytes no real peer would send.

typealias RawFrames = NIOAsyncChannelInboundStream<ByteBuffer>.AsyncIterator
typealias RawWriter = NIOAsyncChannelOutboundWriter<ByteBuffer>

/// `body` behind its u32 length prefix.
func framed(_ body: ByteBuffer) -> ByteBuffer {
    var buffer = ByteBuffer()
    buffer.writeInteger(UInt32(body.readableBytes))
    buffer.writeImmutableBuffer(body)
    return buffer
}

/// `bytes` as a buffer.
func buffer(_ bytes: [UInt8]) -> ByteBuffer {
    ByteBuffer(bytes: bytes)
}

/// A plaintext frame body: header then payload.
func frameBody(_ header: FrameHeader, _ payload: [UInt8] = []) -> ByteBuffer {
    var body = ByteBuffer()
    header.write(to: &body)
    body.writeBytes(payload)
    return body
}

/// The plaintext of a sealed record holding `bodies`, each behind its length prefix.
func recordPlaintext(_ bodies: [ByteBuffer]) -> ByteBuffer {
    bodies.reduce(into: ByteBuffer()) { $0.writeImmutableBuffer(framed($1)) }
}

/// `plaintext` sealed with `cipher` as one record, behind its length prefix.
func sealedRecord(_ plaintext: ByteBuffer, _ cipher: inout SessionCipher) throws -> ByteBuffer {
    var sealed = ByteBuffer()
    try cipher.seal(plaintext, into: &sealed)
    return framed(sealed)
}

/// Connects to `node`, runs `script`, then reads until the node closes the connection. Returns true when
/// the node closed it (rather than our 30 s safety timer).
func rawSession(
    to node: MeshTestNode, _ script: (inout RawFrames, RawWriter) async throws -> Void
) async throws -> Bool {
    let connection = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
        .connect(host: node.host, port: node.port) { channel in
            channel.eventLoop.makeCompletedFuture {
                try channel.pipeline.syncOperations.addHandler(
                    ByteToMessageHandler(LengthPrefixedFrameDecoder(limit: FrameSizeLimit(1 << 24)))
                )
                return try NIOAsyncChannel<ByteBuffer, ByteBuffer>(
                    wrappingChannelSynchronously: channel, configuration: .init(isOutboundHalfClosureEnabled: true)
                )
            }
        }
    let safety = TimeoutFlag()
    let channel = connection.channel
    let timer = channel.eventLoop.scheduleTask(in: .seconds(30)) {
        safety.set()
        channel.close(promise: nil)
    }
    defer { timer.cancel() }
    do {
        return try await connection.executeThenClose { inbound, outbound in
            var frames = inbound.makeAsyncIterator()
            try await script(&frames, outbound)
            do {
                while try await frames.next() != nil {}
            } catch {}
            return !safety.isSet
        }
    } catch let error as IOError where error.errnoCode == ECONNRESET {
        // The node closed the connection with bytes of ours unread, and the reset surfaced outside the read
        // loop (seen once in the parallel suite): closed all the same.
        return !safety.isSet
    }
}

/// Performs a dialer's handshake as `name` against `node` over a raw connection.
func rawHandshake(
    as name: String, to node: MeshTestNode, keyring: MeshKeyring? = nil, frames: inout RawFrames, outbound: RawWriter
) async throws -> EstablishedSession {
    var machine = MeshHandshake(
        role: .dialer, localID: NodeID(name), localIncarnation: Incarnation(7), keyring: keyring,
        nonce: [UInt8](repeating: 7, count: 32), expectedPeer: node.id
    )
    try await outbound.write(framed(machine.makeHello(streamID: 99)))
    guard let hello = try await frames.next() else { throw HandshakeFailure.closed }
    _ = try machine.receiveHello(hello)
    try await outbound.write(framed(try machine.makeFinish(resume: 0)))
    guard let finish = try await frames.next() else { throw HandshakeFailure.closed }
    try machine.receiveFinish(finish)
    guard let session = machine.established else { throw HandshakeFailure.closed }
    return session
}
