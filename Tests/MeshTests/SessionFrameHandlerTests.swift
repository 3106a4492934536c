import NIOCore
import NIOEmbedded
import Synchronization
import Testing
@testable import Mesh
@testable import MeshCore

/// The handler that hands an established session's frames to its reader on the event loop: the
/// handshake's frames go on to the async side, later ones wait for the reader in order, and the
/// connection's end (or a bad frame) ends the session.
@Suite struct SessionFrameHandlerTests {
    /// A channel with the handler in front of a collector standing in for the `NIOAsyncChannel` side.
    final class Harness {
        let channel = EmbeddedChannel()
        let handler = SessionFrameHandler()
        let forwarded = Collector()
        var received: [UInt8] = []

        init() throws {
            try channel.pipeline.syncOperations.addHandlers(handler, forwarded)
        }

        func frame(_ byte: UInt8) throws {
            try channel.writeInbound(ByteBuffer(bytes: [byte]))
        }

        /// Attaches a reader that records each frame's byte, failing on `badByte`.
        func attach(failingOn badByte: UInt8? = nil) -> EventLoopFuture<Void> {
            let done = channel.eventLoop.makePromise(of: Void.self)
            handler.attach({ [self] frame throws(FrameError) in
                let byte = frame.getInteger(at: frame.readerIndex, as: UInt8.self)!
                if byte == badByte { throw FrameError.badTag }
                received.append(byte)
            }, done: done)
            return done.futureResult
        }
    }

    final class Collector: ChannelInboundHandler {
        typealias InboundIn = ByteBuffer
        var frames: [UInt8] = []
        var readCompletes = 0
        var inactive = false
        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            let frame = unwrapInboundIn(data)
            frames.append(frame.getInteger(at: frame.readerIndex, as: UInt8.self)!)
        }
        func channelInactive(context: ChannelHandlerContext) { inactive = true }
        func channelReadComplete(context: ChannelHandlerContext) { readCompletes += 1 }
    }

    /// Whether `future` has completed, and how (an `EmbeddedChannel`'s futures complete inline).
    func outcome(_ future: EventLoopFuture<Void>) -> Result<Void, any Error>? {
        let result = Mutex<Result<Void, any Error>?>(nil)
        future.whenComplete { outcome in result.withLock { $0 = outcome } }
        return result.withLock { $0 }
    }

    @Test func onlyReadsThatForwardAHandshakeFrameCompleteOnTheAsyncSide() throws {
        let harness = try Harness()
        try harness.frame(1)
        try harness.frame(2)
        #expect(harness.forwarded.readCompletes == 2, "each handshake frame's read completes on the async side")
        for byte: UInt8 in 3...5 { try harness.frame(byte) }
        _ = harness.attach()
        try harness.frame(6)
        #expect(harness.received == [3, 4, 5, 6])
        #expect(harness.forwarded.readCompletes == 2, "session reads do not reach the async side")
    }

    @Test func theHandshakesFramesGoOnAndLaterOnesWaitForTheReaderInOrder() throws {
        let harness = try Harness()
        for byte: UInt8 in 1...5 { try harness.frame(byte) }
        #expect(harness.forwarded.frames == [1, 2])
        #expect(MeshHandshake.framesReceived == 2)
        #expect(harness.received.isEmpty)
        let done = harness.attach()
        #expect(harness.received == [3, 4, 5])
        try harness.frame(6)
        try harness.frame(7)
        #expect(harness.received == [3, 4, 5, 6, 7])
        #expect(harness.forwarded.frames == [1, 2])
        #expect(outcome(done) == nil)
        try harness.channel.close().wait()
        #expect(harness.forwarded.inactive)
        #expect(try outcome(done)?.get() != nil)
    }

    @Test func aConnectionThatEndsBeforeTheReaderAttachesStillDeliversWhatCameFirst() throws {
        let harness = try Harness()
        for byte: UInt8 in 1...4 { try harness.frame(byte) }
        try harness.channel.close().wait()
        let done = harness.attach()
        #expect(harness.received == [3, 4])
        #expect(try outcome(done)?.get() != nil)
    }

    @Test func aBadFrameEndsTheSessionWithItsErrorAndClosesTheConnection() throws {
        let harness = try Harness()
        for byte: UInt8 in [1, 2, 3] { try harness.frame(byte) }
        let done = harness.attach(failingOn: 9)
        try harness.frame(9)
        #expect(!harness.channel.isActive)
        #expect(harness.received == [3])
        let result = try #require(outcome(done))
        #expect(throws: FrameError.self) { try result.get() }
        // Nothing more is read from a session that ended.
        try? harness.frame(10)
        #expect(harness.received == [3])
    }

    @Test func anErrorCaughtEndsTheSession() throws {
        struct Reset: Error {}
        let harness = try Harness()
        for byte: UInt8 in [1, 2] { try harness.frame(byte) }
        let done = harness.attach()
        harness.channel.pipeline.fireErrorCaught(Reset())
        let result = try #require(outcome(done))
        #expect(throws: Reset.self) { try result.get() }
    }
}
