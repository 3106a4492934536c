import NIOSupport
import CohortCore
import Logging
import NIOCore

/// One connection from handshake to close.
extension MeshService {
    typealias FrameIterator = NIOAsyncChannelInboundStream<ByteBuffer>.AsyncIterator

    /// Serves a connection we dialled (`dialing` is the peer's link) or accepted (nil): handshake within
    /// the timeout, then the session until either side closes. Returns whether the handshake finished.
    nonisolated func serveConnection(_ connection: MeshChannel, dialing: PeerLink?) async -> Bool {
        let channel = connection.channel.channel
        let remote = channel.remoteAddress?.description ?? "?"
        guard liveChannels.register(channel) else {
            // Stopped: the channel is closed already; the wrapper must still be finished.
            try? await connection.channel.executeThenClose { _, _ in }
            return false
        }
        defer { liveChannels.unregister(channel) }
        let timedOut = TimeoutFlag()
        let handshakeTimer = channel.eventLoop.scheduleTask(in: TimeAmount(settings.handshakeTimeout)) {
            timedOut.set()
            channel.close(promise: nil)
        }
        do {
            return try await connection.channel.executeThenClose { inbound, outbound in
                var frames = inbound.makeAsyncIterator()
                let session: EstablishedSession
                let link: PeerLink
                do {
                    (session, link) = try await handshake(&frames, outbound, limit: connection.limit, dialing: dialing)
                } catch {
                    handshakeTimer.cancel()
                    reportHandshakeFailure(error, timedOut: timedOut.isSet, remote: remote, dialing: dialing)
                    return false
                }
                handshakeTimer.cancel()
                await runSession(
                    session, link: link, dialedByUs: dialing != nil, channel: channel,
                    sessionFrames: connection.sessionFrames, outbound: outbound, remote: remote
                )
                return true
            }
        } catch {
            logger.debug("mesh connection ended", metadata: ["remote": "\(remote)", "error": "\(error)"])
            return false
        }
    }

    private nonisolated func nextHandshakeFrame(_ frames: inout FrameIterator) async throws -> ByteBuffer {
        do {
            guard let frame = try await frames.next() else { throw HandshakeFailure.closed }
            return frame
        } catch let error as FrameError {
            // Before the handshake the limit is tiny: anything bigger is not a hello.
            throw HandshakeFailure.malformed("\(error)")
        }
    }

    private nonisolated func writeFrame(_ body: ByteBuffer, to outbound: NIOAsyncChannelOutboundWriter<ByteBuffer>) async throws {
        var framed = ByteBuffer()
        framed.reserveCapacity(body.readableBytes + LengthPrefixedFrameDecoder.prefixBytes)
        framed.writeInteger(UInt32(body.readableBytes))
        framed.writeImmutableBuffer(body)
        try await outbound.write(framed)
    }

    private nonisolated func makeNonce() -> [UInt8] {
        var generator = SystemRandomNumberGenerator()
        return (0..<HelloMessage.nonceBytes).map { _ in UInt8.random(in: 0...255, using: &generator) }
    }

    /// Runs the handshake (see ``MeshHandshake``) over the connection. Each side raises the frame size
    /// `limit` to the session's before it writes its finish: the peer's session frames may follow the last
    /// handshake frame it reads in the same read, and the decoder splits them before this task runs again.
    private nonisolated func handshake(
        _ frames: inout FrameIterator, _ outbound: NIOAsyncChannelOutboundWriter<ByteBuffer>, limit: FrameSizeLimit,
        dialing: PeerLink?
    ) async throws -> (EstablishedSession, PeerLink) {
        let sessionLimit = settings.maxFrameBytes + SessionCipher.tagBytes
        if let link = dialing {
            var machine = MeshHandshake(
                role: .dialer, localID: settings.nodeID, localIncarnation: settings.incarnation, keyring: keyring,
                nonce: makeNonce(), expectedPeer: link.id
            )
            try await writeFrame(machine.makeHello(streamID: link.streamID), to: outbound)
            let hello = try machine.receiveHello(try await nextHandshakeFrame(&frames))
            // Next comes the acceptor's finish, and its session frames right after it.
            let finish = try machine.makeFinish(resume: link.resumePoint(forStream: hello.streamID))
            limit.set(sessionLimit)
            try await writeFrame(finish, to: outbound)
            try machine.receiveFinish(try await nextHandshakeFrame(&frames))
            guard let session = machine.established else { throw HandshakeFailure.malformed("handshake incomplete") }
            return (session, link)
        }
        var machine = MeshHandshake(
            role: .acceptor, localID: settings.nodeID, localIncarnation: settings.incarnation, keyring: keyring,
            nonce: makeNonce()
        )
        let hello = try machine.receiveHello(try await nextHandshakeFrame(&frames))
        guard let (link, created) = directory.link(hello.nodeID, orCreate: { makeLink(hello.nodeID, known: false) }) else {
            throw HandshakeFailure.closed
        }
        // Both dialled at once: ours is kept if we are dialling a larger peer now, or if ours has only
        // just connected.
        let preferred = DialRule.isPreferred(dialer: hello.nodeID, acceptor: settings.nodeID)
        if link.refusesCrossedDial(from: hello.incarnation, peerIsPreferred: preferred) {
            throw HandshakeFailure.crossedDial(peer: hello.nodeID)
        }
        do {
            try await writeFrame(
                machine.makeHello(streamID: link.streamID, resume: link.resumePoint(forStream: hello.streamID)), to: outbound
            )
            try machine.receiveFinish(try await nextHandshakeFrame(&frames))
            let finish = try machine.makeFinish()
            limit.set(sessionLimit)
            try await writeFrame(finish, to: outbound)
            guard let session = machine.established else { throw HandshakeFailure.malformed("handshake incomplete") }
            return (session, link)
        } catch {
            // A stranger that failed the handshake leaves nothing behind.
            if created { directory.removeIfUnknown(link) }
            throw error
        }
    }

    private nonisolated func reportHandshakeFailure(_ error: any Error, timedOut: Bool, remote: String, dialing: PeerLink?) {
        let failure: HandshakeFailure = timedOut ? .timeout : (error as? HandshakeFailure) ?? .closed
        metrics?.countHandshakeFailure(failure.reason)
        var metadata: Logger.Metadata = ["remote": "\(remote)", "reason": "\(failure.reason)", "error": "\(failure)"]
        if let dialing { metadata["peer"] = "\(dialing.id)" }
        switch failure {
        case .closed where dialing != nil:
            // The acceptor refused us; its log says why. Redialling is routine, so keep this quiet.
            logger.debug("mesh handshake failed", metadata: metadata)
        default:
            logger.warning("mesh handshake failed; connection closed", metadata: metadata)
        }
    }

    /// The established connection: makes it the peer's active one, then runs the writer and keepalive
    /// tasks beside the reader until one of them ends it.
    private nonisolated func runSession(
        _ session: EstablishedSession, link: PeerLink, dialedByUs: Bool, channel: any Channel,
        sessionFrames: NIOLoopBound<SessionFrameHandler>, outbound: NIOAsyncChannelOutboundWriter<ByteBuffer>, remote: String
    ) async {
        let epoch = counters.nextEpoch()
        let peer = session.peer
        let handle = ConnectionHandle(channel: channel, writerBell: Doorbell(), keepaliveBell: Doorbell())
        guard let activation = link.activate(
            handle, epoch: epoch, peerIncarnation: session.peerIncarnation, resume: session.resume,
            peerStreamID: session.peerStreamID, dialedByUs: dialedByUs
        ) else {
            logger.debug("mesh peer removed during the handshake; connection closed", metadata: ["peer": "\(peer)"])
            return
        }
        if let replaced = activation.replaced {
            logger.info("mesh connection replaced by a newer one", metadata: ["peer": "\(peer)"])
            replaced.channel.close(promise: nil)
        } else {
            metrics?.connections.increment()
        }
        if activation.reconnect { metrics?.reconnects.increment() }
        if activation.droppedForRestart > 0 {
            metrics?.countDropped(.relay, .peerRestarted, by: activation.droppedForRestart)
            logger.info("mesh peer restarted; dropped relay messages sent to its previous incarnation", metadata: [
                "peer": "\(peer)", "dropped": "\(activation.droppedForRestart)",
            ])
        }
        events.publish(.connected(peer, session.peerIncarnation))
        logger.info("mesh connected", metadata: [
            "peer": "\(peer)", "peer.incarnation": "\(session.peerIncarnation)", "remote": "\(remote)",
            "resume": "\(session.resume)",
        ])

        do {
            try await withThrowingDiscardingTaskGroup { group in
                // The writer runs on the connection's event loop, beside the reader and the services that send
                // most (Raft): a message sent there is written in the same turn of the loop, where a writer on
                // Swift's pool cost two thread wake-ups per message (the pool's, then the loop's for the socket
                // write). A writer kept busy by large batches pauses now and then (see ``runWriter``).
                group.addTask {
                    await self.runWriter(link: link, epoch: epoch, handle: handle, sealer: session.sealer, outbound: outbound)
                }
                group.addTask { await self.runKeepalive(link: link, epoch: epoch, handle: handle) }
                do {
                    try await readSession(
                        SessionInbound(service: self, link: link, session: session, epoch: epoch),
                        from: sessionFrames, channel: channel
                    )
                } catch let error as FrameError {
                    metrics?.countFrameError(error.reason)
                    logger.warning("mesh frame error; connection closed", metadata: [
                        "peer": "\(peer)", "remote": "\(remote)", "reason": "\(error.reason)", "error": "\(error)",
                    ])
                } catch {
                    logger.debug("mesh connection read failed", metadata: ["peer": "\(peer)", "error": "\(error)"])
                }
                channel.close(promise: nil)
                group.cancelAll()
            }
        } catch {
            logger.debug("mesh connection task failed", metadata: ["peer": "\(peer)", "error": "\(error)"])
        }

        let lost = pending.failWritten(to: peer, epoch: epoch, with: .connectionLost(peer))
        if link.deactivate(epoch: epoch) {
            connectionGone(peer)
            logger.info("mesh disconnected", metadata: ["peer": "\(peer)", "failed_requests": "\(lost)"])
        }
    }

    /// Hands the session's frames to `inbound` on the event loop (see ``SessionFrameHandler``) until the
    /// connection closes. Throws the error that ended it (a ``FrameError`` for a bad frame or record);
    /// cancellation closes the connection.
    private nonisolated func readSession(
        _ inbound: SessionInbound, from handler: NIOLoopBound<SessionFrameHandler>, channel: any Channel
    ) async throws {
        let done = channel.eventLoop.makePromise(of: Void.self)
        channel.eventLoop.execute {
            var inbound = inbound
            handler.value.attach({ frame throws(FrameError) in try inbound.receive(frame) }, done: done)
        }
        try await withTaskCancellationHandler {
            try await done.futureResult.get()
        } onCancel: {
            channel.close(promise: nil)
        }
    }

    /// A live connection to `peer` ended (lost, or closed as idle): count and publish it.
    private nonisolated func connectionGone(_ peer: NodeID) {
        metrics?.connections.decrement()
        events.publish(.disconnected(peer))
    }

    /// Largest batch taken from the queues for one socket write.
    static let batchBytes = 128 << 10
    static let batchFrames = 1024

    /// Large batches written back to back before the writer pauses for ``busyWriterPause``.
    static let largeBatchesPerTurn = 8
    /// How long a writer that wrote ``largeBatchesPerTurn`` large batches in a row steps aside.
    static let busyWriterPause = Duration.microseconds(50)

    /// Takes frames from the peer's queues in batches, seals and frames them, and writes each batch with
    /// one flush; waits on the connection's writer doorbell when there is nothing to send. Ends (closing
    /// the channel) when the connection is no longer the live one or a write fails.
    ///
    /// On the event loop, a write to a socket that accepts the bytes does not suspend, and NIO runs queued
    /// tasks until none is left before it polls its sockets again: a writer kept busy by senders on other
    /// threads (a bulk transfer, a flood of relay messages) would starve the loop's reads. So after
    /// ``largeBatchesPerTurn`` large batches (half the batch limit or more) in a row it sleeps
    /// ``busyWriterPause`` on the loop's timer, which lets the loop poll first. Small batches — messages
    /// trickling in one at a time — never pause.
    nonisolated func runWriter(
        link: PeerLink, epoch: UInt64, handle: ConnectionHandle, sealer: SessionCipher?,
        outbound: NIOAsyncChannelOutboundWriter<ByteBuffer>
    ) async {
        let channel = handle.channel
        defer { channel.close(promise: nil) }
        // With a key, each batch leaves as one sealed record (see ``RecordSealer``).
        var sealer = sealer.map { RecordSealer(cipher: $0, limit: settings.maxFrameBytes) }
        let chunkBytes = settings.chunkBytes
        let prefix = LengthPrefixedFrameDecoder.prefixBytes
        var framesOut = [Int](repeating: 0, count: TrafficClass.allCases.count)
        var bytesOut = [Int](repeating: 0, count: TrafficClass.allCases.count)
        var requestIDs: [UInt64] = []
        var largeBatchesInARow = 0
        while !Task.isCancelled {
            let batch: PeerLink.StateMachine.WriterBatch
            switch link.takeBatch(epoch: epoch, now: .now, chunkBytes: chunkBytes, maxBytes: Self.batchBytes, maxFrames: Self.batchFrames) {
            case .stop:
                return
            case .wait(let expired):
                countExpired(expired)
                largeBatchesInARow = 0
                await handle.writerBell.wait()
                continue
            case .write(let taken):
                batch = taken
                countExpired(batch.expired)
            }
            let plainBytes = batch.frames.reduce(0) { $0 + $1.bodyBytes + prefix }
            if plainBytes >= Self.batchBytes / 2 || batch.frames.count >= Self.batchFrames / 2 {
                largeBatchesInARow += 1
                if largeBatchesInARow > Self.largeBatchesPerTurn {
                    largeBatchesInARow = 0
                    try? await channel.eventLoop.sleep(for: Self.busyWriterPause)
                }
            } else {
                largeBatchesInARow = 0
            }
            var buffer = channel.allocator.buffer(capacity: plainBytes + (sealer == nil ? 0 : RecordSealer.recordOverhead))
            requestIDs.removeAll(keepingCapacity: true)
            do throws(FrameError) {
                for frame in batch.frames {
                    let index = Int(frame.header.trafficClass.rawValue)
                    var length = prefix + frame.bodyBytes
                    if sealer != nil {
                        // A record's prefix and tag are counted with the frame that opened it.
                        if try sealer!.append(bodyBytes: frame.bodyBytes, into: &buffer, frame.write(to:)) {
                            length += RecordSealer.recordOverhead
                        }
                    } else {
                        buffer.writeInteger(UInt32(frame.bodyBytes))
                        frame.write(to: &buffer)
                    }
                    framesOut[index] += 1
                    bytesOut[index] += length
                    if frame.header.kind == .request, frame.header.trafficClass != .relay {
                        requestIDs.append(frame.header.requestID)
                    }
                }
                try sealer?.seal(into: &buffer)
            } catch {
                metrics?.countFrameError(error.reason)
                logger.warning("mesh connection closed: nonce counter exhausted", metadata: ["peer": "\(link.id)"])
                return
            }
            // Marked before writing: if the write fails, these requests fail with connectionLost.
            if !requestIDs.isEmpty { pending.markWritten(requestIDs, epoch: epoch) }
            do {
                try await outbound.write(buffer)
            } catch {
                return
            }
            if let metrics {
                for trafficClass in TrafficClass.allCases where framesOut[Int(trafficClass.rawValue)] > 0 {
                    let index = Int(trafficClass.rawValue)
                    metrics.countOut(trafficClass, frames: framesOut[index], bytes: bytesOut[index])
                    framesOut[index] = 0
                    bytesOut[index] = 0
                }
            }
        }
    }

    /// Waits while the keepalive of connection `epoch` is parked: until the writer's next batch with news
    /// unparks it (returns true: watch again), or — every ``MeshSettings/idleTimeout`` — closes the
    /// connection when it is still idle (returns false: the keepalive ends). Without an idle timeout it
    /// waits for the writer only.
    private nonisolated func waitWhileParked(link: PeerLink, epoch: UInt64, handle: ConnectionHandle) async -> Bool {
        guard let idleTimeout = settings.idleTimeout else {
            await handle.keepaliveBell.wait()
            return true
        }
        while !Task.isCancelled {
            await handle.keepaliveBell.wait(timeout: idleTimeout, on: handle.channel.eventLoop)
            switch link.idleLook(epoch: epoch, requestsPending: pending.hasPending(to: link.id)) {
            case .resume:
                return true
            case .stayParked:
                continue
            case .stop:
                return false
            case .close(let connection):
                metrics?.idleClosed.increment()
                connectionGone(link.id)
                logger.debug("mesh connection idle; closed", metadata: ["peer": "\(link.id)", "idle_timeout": "\(idleTimeout)"])
                connection.channel.close(promise: nil)
                return false
            }
        }
        return false
    }

    private nonisolated func countExpired(_ expired: [(TrafficClass, Int)]) {
        for (trafficClass, count) in expired { metrics?.countDropped(trafficClass, .expired, by: count) }
    }

    /// Every ``MeshSettings/keepaliveInterval``, looks at the connection (see
    /// ``PeerLinkStateMachine/keepaliveLook(epoch:pingID:)``): pings the peer if nothing arrived from it
    /// since the last look (traffic proves the path; and as both sides do this, the first to ping makes the
    /// other hear something, so a connection in use carries at most one ping and one pong per interval);
    /// closes the connection when nothing at all was received for ``MeshSettings/deadPeerTimeout`` (a dead
    /// peer or a silently broken path).
    ///
    /// A connection on which this side sent nothing for a whole interval, on which the peer has been heard
    /// since this side's last send, and with no ping of ours unanswered, is idle: the keepalive parks on
    /// its doorbell until the writer next takes a batch with news, and then watches again. Nothing queued
    /// means nothing to lose on a broken path, and a node's connections to the gossip-only members it never
    /// talks to cost it no timer and no packet: its idle mesh work stays flat however many members there
    /// are. (Gossip, not the mesh, tells that a node died.)
    nonisolated func runKeepalive(link: PeerLink, epoch: UInt64, handle: ConnectionHandle) async {
        let channel = handle.channel
        while !Task.isCancelled {
            do { try await channel.eventLoop.sleep(for: settings.keepaliveInterval) } catch { return }
            switch link.keepaliveLook(epoch: epoch, pingID: counters.nextPing()) {
            case .watch, .ping:
                continue
            case .park:
                guard await waitWhileParked(link: link, epoch: epoch, handle: handle) else { return }
            case .close(_, let silent):
                logger.warning("mesh peer silent; closing the connection", metadata: ["peer": "\(link.id)", "silent": "\(silent)"])
                channel.close(promise: nil)
                return
            case .stop:
                return
            }
        }
    }
}
