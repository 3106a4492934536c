import CohortCore
import NIOCore

/// Request/reply.
extension MeshService {
    /// Sends a request to `peer`'s `endpoint` and waits for the reply.
    ///
    /// - Throws: ``MeshError/timeout(peer:after:)`` when no reply comes within `timeout` (measured from
    ///   now, queueing included; the receiver drops a request whose deadline passed);
    ///   ``MeshError/remote(_:)`` when the handler threw; ``MeshError/noHandler(_:)``;
    ///   ``MeshError/connectionLost(_:)`` when the connection the request was written on is lost — except
    ///   in the relay class, whose requests are resent after a reconnect and simply wait for their reply;
    ///   ``MeshError/peerRemoved(_:)``; ``MeshError/unknownPeer(_:)``; ``MeshError/dropped(peer:reason:)``
    ///   when the queue is full; ``MeshError/tooLarge(bytes:limit:)``; `CancellationError`.
    ///
    /// A request to a known peer that is not connected waits in its queue for the connection, within the
    /// timeout. No actor hop: callable from any task.
    public nonisolated func request(
        _ payload: [UInt8], to peer: NodeID, endpoint: MeshEndpoint, class trafficClass: TrafficClass, timeout: Duration
    ) async throws -> [UInt8] {
        guard payload.count <= settings.maxMessageBytes else {
            metrics?.countDropped(trafficClass, .tooLarge)
            throw MeshError.tooLarge(bytes: payload.count, limit: settings.maxMessageBytes)
        }
        guard let link = directory.link(peer) else {
            throw directory.isStopped ? MeshError.stopped : MeshError.unknownPeer(peer)
        }
        let id = counters.nextRequestID()
        let deadline = ContinuousClock.now + timeout
        let pending = pending
        let metrics = metrics
        let eventLoop = executor.eventLoop
        return try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<[UInt8], any Error>) in
                // Registered before queueing, so even the fastest reply finds it.
                pending.insert(id, peer: peer, trafficClass: trafficClass, continuation: continuation)
                let message = OutboundMessage(kind: .request, endpoint: endpoint, requestID: id, deadline: deadline, payload: payload)
                switch link.enqueue(message, in: trafficClass) {
                case .queued(let droppedOldest):
                    metrics?.countDropped(trafficClass, .queueFull, by: droppedOldest)
                case .full:
                    metrics?.countDropped(trafficClass, .queueFull)
                    pending.fail(id, with: MeshError.dropped(peer: peer, reason: .queueFull))
                    return
                case .removed:
                    pending.fail(id, with: MeshError.peerRemoved(peer))
                    return
                }
                let timer = eventLoop.scheduleTask(in: TimeAmount(timeout)) {
                    pending.fail(id, with: MeshError.timeout(peer: peer, after: timeout))
                }
                pending.attach(timer, to: id)
                if Task.isCancelled { pending.fail(id, with: CancellationError()) }
            }
        } onCancel: {
            pending.fail(id, with: CancellationError())
        }
    }
}
