import CohortCore
import Logging
import NIOCore

/// An incoming request waiting for its handler task.
struct RequestJob: Sendable {
    var link: PeerLink
    var inbound: MeshInbound
    var requestID: UInt64
    /// The connection it came on; a non-relay reply is pointless once that connection is gone.
    var epoch: UInt64
    var deadline: ContinuousClock.Instant?
}

/// Dispatching frames to handlers, pending requests and the peer's link.
extension MeshService {
    /// Decodes one frame body and acts on it: reassembles chunks, deduplicates relay messages and
    /// dispatches. Called by the session's reader (``SessionInbound``) in frame order.
    nonisolated func handleFrame(
        _ frame: ByteBuffer, wireBytes: Int, reassemblers: inout [ChunkReassembler], link: PeerLink,
        session: EstablishedSession, epoch: UInt64
    ) throws(FrameError) {
        var body = frame
        let header = try FrameHeader.read(from: &body)
        let index = Int(header.trafficClass.rawValue)
        metrics?.countIn(header.trafficClass, bytes: wireBytes)
        switch header.kind {
        case .chunk:
            try reassemblers[index].append(body.readableBytesView)
        case .ack:
            link.peerAcknowledged(header.sequence)
        case .ping:
            link.queuePong(header.requestID)
        case .pong:
            break
        case .message, .request, .reply, .errorReply:
            let payload = try reassemblers[index].complete(with: body.readableBytesView)
            if header.trafficClass == .relay {
                let (deliver, armTimer) = link.acceptRelay(header.sequence, epoch: epoch)
                if armTimer {
                    executor.eventLoop.scheduleTask(in: TimeAmount(settings.ackInterval)) { link.flushAcknowledgement() }
                }
                guard deliver else { return }
            }
            dispatch(header, payload: payload, session: session, link: link, epoch: epoch)
        }
    }

    private nonisolated func dispatch(
        _ header: FrameHeader, payload: [UInt8], session: EstablishedSession, link: PeerLink, epoch: UInt64
    ) {
        let peer = session.peer
        switch header.kind {
        case .message:
            guard let handler = handlers.messageHandler(for: header.endpoint) else {
                metrics?.countDropped(header.trafficClass, .noHandler)
                return
            }
            handler(MeshInbound(
                from: peer, incarnation: session.peerIncarnation, endpoint: header.endpoint,
                trafficClass: header.trafficClass, payload: payload
            ))
        case .request:
            let inbound = MeshInbound(
                from: peer, incarnation: session.peerIncarnation, endpoint: header.endpoint,
                trafficClass: header.trafficClass, payload: payload
            )
            let deadline = header.deadlineMilliseconds == 0 ? nil : ContinuousClock.now + .milliseconds(header.deadlineMilliseconds)
            guard requestSlots.acquire() else {
                reply(.errorReply, RemoteFailure.overloaded.encoded(), to: header, link: link)
                return
            }
            let job = RequestJob(link: link, inbound: inbound, requestID: header.requestID, epoch: epoch, deadline: deadline)
            link.servingRequest(true)
            if case .terminated = requestJobs.yield(job) {
                link.servingRequest(false)
                requestSlots.release()
            }
        case .reply:
            complete(header, with: .success(payload), from: peer)
        case .errorReply:
            complete(header, with: .failure(RemoteFailure.decode(payload).error(peer: peer, endpoint: header.endpoint)), from: peer)
        case .chunk, .ack, .ping, .pong:
            break
        }
    }

    private nonisolated func complete(_ header: FrameHeader, with result: Result<[UInt8], MeshError>, from peer: NodeID) {
        if let took = pending.complete(header.requestID, from: peer, with: result) {
            metrics?.requestDuration.record(took)
        } else {
            metrics?.unknownReplies.increment()
            logger.debug("mesh reply to an unknown request dropped", metadata: ["peer": "\(peer)", "request": "\(header.requestID)"])
        }
    }

    private nonisolated func reply(_ kind: FrameKind, _ payload: [UInt8], to request: FrameHeader, link: PeerLink) {
        let message = OutboundMessage(kind: kind, endpoint: request.endpoint, requestID: request.requestID, payload: payload)
        if case .full = link.enqueue(message, in: request.trafficClass) {
            metrics?.countDropped(request.trafficClass, .queueFull)
        }
    }

    /// Runs a request's handler and queues its reply in the request's class. A request whose deadline has
    /// passed is not handled, and a reply whose requester has given up is not sent.
    nonisolated func handle(_ job: RequestJob) async {
        defer {
            job.link.servingRequest(false)
            requestSlots.release()
        }
        let trafficClass = job.inbound.trafficClass
        let header = FrameHeader(trafficClass: trafficClass, kind: .request, endpoint: job.inbound.endpoint, requestID: job.requestID)
        if let deadline = job.deadline, deadline <= .now {
            metrics?.countDropped(trafficClass, .expired)
            return
        }
        var kind = FrameKind.reply
        var payload: [UInt8]
        if let handler = handlers.requestHandler(for: job.inbound.endpoint) {
            do {
                payload = try await handler(job.inbound)
                if payload.count > settings.maxMessageBytes {
                    kind = .errorReply
                    payload = RemoteFailure.handlerFailed(
                        "reply of \(payload.count) bytes exceeds maxMessageBytes \(settings.maxMessageBytes)"
                    ).encoded()
                }
            } catch {
                kind = .errorReply
                payload = RemoteFailure.handlerFailed("\(error)").encoded()
            }
        } else {
            kind = .errorReply
            payload = RemoteFailure.noHandler.encoded()
        }
        if let deadline = job.deadline, deadline <= .now {
            metrics?.countDropped(trafficClass, .expired)
            return
        }
        // Relay replies ride the reliable stream across reconnects; others would answer a request that
        // already failed with connectionLost.
        if trafficClass != .relay, job.link.liveConnection?.epoch != job.epoch {
            metrics?.countDropped(trafficClass, .connectionLost)
            return
        }
        reply(kind, payload, to: header, link: job.link)
    }
}
