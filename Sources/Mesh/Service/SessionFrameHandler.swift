import NIOCore

/// The reading side of an established session: opens sealed records (when encrypted), reassembles
/// chunks and dispatches each frame, in frame order. Driven by ``SessionFrameHandler`` on the
/// connection's event loop.
struct SessionInbound: Sendable {
    let service: MeshService
    let link: PeerLink
    let session: EstablishedSession
    let epoch: UInt64
    private var opener: RecordOpener?
    private var reassemblers: [ChunkReassembler]

    init(service: MeshService, link: PeerLink, session: EstablishedSession, epoch: UInt64) {
        self.service = service
        self.link = link
        self.session = session
        self.epoch = epoch
        opener = session.opener.map { RecordOpener(cipher: $0, frameLimit: service.settings.maxFrameBytes) }
        reassemblers = [ChunkReassembler](
            repeating: ChunkReassembler(limit: service.settings.maxMessageBytes), count: TrafficClass.allCases.count
        )
    }

    /// Takes one decoded frame (a sealed record, when encrypted). Throws ``FrameError`` for a bad frame or
    /// record, which ends the connection.
    mutating func receive(_ received: ByteBuffer) throws(FrameError) {
        link.peerHeard(epoch: epoch)
        let prefix = LengthPrefixedFrameDecoder.prefixBytes
        guard opener != nil else {
            try service.handleFrame(
                received, wireBytes: prefix + received.readableBytes, reassemblers: &reassemblers, link: link,
                session: session, epoch: epoch
            )
            return
        }
        // A record's prefix and tag are counted with its first frame.
        var overhead = RecordSealer.recordOverhead
        for body in try opener!.open(received) {
            try service.handleFrame(
                body, wireBytes: prefix + body.readableBytes + overhead, reassemblers: &reassemblers, link: link,
                session: session, epoch: epoch
            )
            overhead = 0
        }
    }
}

/// Sits between the frame decoder and the connection's `NIOAsyncChannel` handler, and hands an
/// established session's frames to its ``SessionInbound`` synchronously, on the event loop, as they are
/// decoded (to ``SessionInbound/receive(_:)``, which ``attach(_:done:)`` takes as a closure).
///
/// The handshake is async code reading the `NIOAsyncChannel`'s inbound stream, so its frames — exactly
/// ``MeshHandshake/framesReceived`` on either side — pass through. Every later frame belonged to the
/// session; read through the async stream, each cost a yield into the stream's buffer and the resumption
/// of the reading task (a job on the loop, a lock, generic metadata lookups): about a tenth of an idle
/// leader's CPU went to that hop for its heartbeats' answers. Frames decoded after the handshake but
/// before the session attaches its reader wait here, in order, and so does the connection's end.
final class SessionFrameHandler: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    typealias InboundOut = ByteBuffer

    private enum Phase: Equatable {
        /// Frames still owed to the handshake.
        case handshake(left: Int)
        /// After the handshake, before the session's reader: frames wait in ``waiting``, and the end in
        /// ``endedEarly`` if it came.
        case waiting
        case reading
        case finished
    }

    private var phase = Phase.handshake(left: MeshHandshake.framesReceived)
    /// A frame went on to the async side since its last read-complete.
    private var forwardedSinceReadComplete = false
    private var waiting: [ByteBuffer] = []
    private var endedEarly: Result<Void, any Error>?
    /// Set once by ``attach(_:done:)``. A frame's dispatch may close the channel, which ends the session
    /// on the same stack: ending touches only ``phase`` and ``done``, never the reader at work.
    private var receive: ((ByteBuffer) throws(FrameError) -> Void)?
    private var done: EventLoopPromise<Void>?
    private var context: ChannelHandlerContext?

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        self.context = nil
    }

    /// Starts handing the session's frames to `receive` (first those that waited). `done` succeeds when the
    /// connection closes and fails with the error that ended it (a ``FrameError`` from `receive` closes
    /// the connection first). Call on the event loop, once.
    func attach(_ receive: @escaping (ByteBuffer) throws(FrameError) -> Void, done: EventLoopPromise<Void>) {
        guard phase == .waiting else {
            // Attached twice, or during the handshake: not how the mesh uses it.
            done.fail(ChannelError.inappropriateOperationForState)
            return
        }
        self.receive = receive
        self.done = done
        phase = .reading
        let frames = waiting
        waiting = []
        for frame in frames where phase == .reading {
            deliver(frame)
        }
        if let endedEarly { end(endedEarly) }
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch phase {
        case .handshake(let left):
            phase = left > 1 ? .handshake(left: left - 1) : .waiting
            forwardedSinceReadComplete = true
            context.fireChannelRead(data)
        case .waiting:
            if endedEarly == nil { waiting.append(unwrapInboundIn(data)) }
        case .reading:
            deliver(unwrapInboundIn(data))
        case .finished:
            break
        }
    }

    /// Goes on only after a read that forwarded a handshake frame: with nothing forwarded, the async side's
    /// read-complete would only look at an empty buffer (and look up generic metadata), once per read for
    /// the connection's life.
    func channelReadComplete(context: ChannelHandlerContext) {
        guard forwardedSinceReadComplete else { return }
        forwardedSinceReadComplete = false
        context.fireChannelReadComplete()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        end(.failure(error))
        context.fireErrorCaught(error)
    }

    func channelInactive(context: ChannelHandlerContext) {
        end(.success(()))
        context.fireChannelInactive()
    }

    private func end(_ result: Result<Void, any Error>) {
        switch phase {
        case .handshake, .finished:
            break
        case .waiting:
            if endedEarly == nil { endedEarly = result }
        case .reading:
            phase = .finished
            done?.completeWith(result)
            done = nil
        }
    }

    /// Hands one frame to the session's reader; a bad one ends the session and closes the connection.
    private func deliver(_ frame: ByteBuffer) {
        do throws(FrameError) {
            try receive!(frame)
        } catch {
            end(.failure(error))
            context?.close(promise: nil)
        }
    }
}
