import NIOSupport
import CohortCore
import Logging
import NIOCore
import NIOPosix
import Synchronization

/// Work the core's effects start over TCP; each runs in its own child task of the job runner.
enum GossipJob: Sendable {
    /// A TCP fallback ping, reported back by `deadline`.
    case tcpPing(PingMessage, to: MemberAddress, deadline: ContinuousClock.Instant)
    /// A periodic push/pull.
    case pushPull(to: MemberAddress)
    /// A user message too large for a datagram.
    case userMessage([UInt8], to: MemberAddress)
}

/// TCP: the server side (push/pull, ping, user messages) and the client side (jobs and join).
extension GossipService {
    /// Accepts connections until the socket closes, serving each in its own child task.
    nonisolated func acceptConnections(
        _ inbound: NIOAsyncChannelInboundStream<any Channel>
    ) async throws -> LoopOutcome {
        try await withThrowingDiscardingTaskGroup { group in
            for try await child in inbound {
                // Wrap and start reading in one event-loop turn, so no byte arrives before the wrapper.
                let wrapping = child.eventLoop.submit {
                    let connection = try NIOAsyncChannel<ByteBuffer, ByteBuffer>(
                        wrappingChannelSynchronously: child,
                        configuration: .init(isOutboundHalfClosureEnabled: true)
                    )
                    // Cannot fail on an open socket; if it did, the connection's deadline closes it.
                    try? child.syncOptions?.setOption(.autoRead, value: true)
                    return connection
                }
                guard let connection = try? await wrapping.get() else {
                    child.close(promise: nil)
                    continue
                }
                guard connectionSlots.acquire() else {
                    metrics?.countDropped("overloaded")
                    try? await connection.executeThenClose { _, _ in }
                    continue
                }
                group.addTask {
                    defer { self.connectionSlots.release() }
                    await self.serve(connection)
                }
            }
        }
        if Task.isCancelled { return .stop }
        throw GossipServiceError.bindFailed(address: settings.bindHost, reason: "the TCP listener closed")
    }

    /// Serves one incoming stream as memberlist's `handleConn`: one message, one reply.
    nonisolated func serve(_ connection: NIOAsyncChannel<ByteBuffer, ByteBuffer>) async {
        let started = ContinuousClock.now
        let peer = connection.channel.remoteAddress?.description ?? "?"
        do {
            try await connection.executeThenClose { inbound, outbound in
                var reader = StreamMessageReader(inbound, decoder: codec.streamDecoder, metrics: metrics)
                let request: StreamMessage
                do {
                    request = try await reader.next()
                } catch let error as GossipDecodeError {
                    countStreamFailure(error, started: started, peer: peer)
                    // memberlist answers a stream it cannot read with an error message.
                    guard error != .empty, error != .truncated else { return }
                    let reply = ErrorResponseMessage(error: "\(error)")
                    try await write(try codec.streamEncoder.encode(.error(reply)), .error(reply), to: outbound)
                    outbound.finish()
                    try await reader.drain()
                    return
                }
                metrics?.countMessage(GossipMetrics.kind(request), "in")
                switch request {
                case .pushPull(let remote):
                    guard let local = await localState(join: remote.join) else { return }
                    try await write(try codec.streamEncoder.encode(.pushPull(local)), .pushPull(local), to: outbound)
                    outbound.finish()
                    if await merge(remote, from: peer) {
                        let ip = connection.channel.remoteAddress.flatMap(GossipAddressing.packedIP)
                        delegateMerge(remote, peer: nil, peerIP: ip)
                    }
                    try await reader.drain()
                case .ping(let ping):
                    guard ping.node.isEmpty || ping.node == settings.name.rawValue else {
                        metrics?.countDropped("wrong_node")
                        logger.debug("TCP ping for another node", metadata: ["peer": "\(peer)", "node": "\(ping.node)"])
                        return
                    }
                    let ack = StreamMessage.ackResponse(AckResponseMessage(sequenceNumber: ping.sequenceNumber))
                    try await write(try codec.streamEncoder.encode(ack), ack, to: outbound)
                    outbound.finish()
                    try await reader.drain()
                case .user(let bytes):
                    if !router.route(bytes, from: nil) { metrics?.countDropped("empty") }
                case .ackResponse, .error:
                    metrics?.countDropped("unexpected_type")
                }
            }
        } catch {
            logger.debug("TCP connection ended", metadata: ["peer": "\(peer)", "error": "\(error)"])
        }
    }

    /// Runs jobs until the stream ends or the task is cancelled, each in its own child task.
    nonisolated func runJobs(_ jobs: AsyncStream<GossipJob>) async -> LoopOutcome {
        await withDiscardingTaskGroup { group in
            for await job in jobs {
                group.addTask {
                    await self.execute(job)
                    await self.jobFinished()
                }
            }
        }
        return .stop
    }

    /// Queues a job unless too many are running.
    func submit(_ job: GossipJob) {
        guard let jobs, jobsInFlight < Self.maxJobsInFlight else {
            metrics?.countDropped("overloaded")
            return
        }
        if case .enqueued = jobs.yield(job) { jobsInFlight += 1 }
    }

    func jobFinished() {
        jobsInFlight -= 1
    }

    private nonisolated func execute(_ job: GossipJob) async {
        switch job {
        case .tcpPing(let ping, let member, let deadline):
            var reachable = false
            do {
                let address = try GossipAddressing.socketAddress(ip: member.ip, port: member.port)
                if case .ackResponse(let ack) = try await exchange(.ping(ping), with: address, deadline: deadline) {
                    reachable = ack.sequenceNumber == ping.sequenceNumber
                }
            } catch {
                logger.debug("TCP ping failed", metadata: ["peer": "\(member.name?.rawValue ?? "?")", "error": "\(error)"])
            }
            await tcpPingCompleted(sequenceNumber: ping.sequenceNumber, reachable: reachable)
        case .pushPull(let member):
            do {
                let address = try GossipAddressing.socketAddress(ip: member.ip, port: member.port)
                _ = try await pushPull(with: address, join: false, peer: member.name)
            } catch {
                logger.debug("push/pull failed", metadata: ["peer": "\(member.name?.rawValue ?? "?")", "error": "\(error)"])
            }
        case .userMessage(let bytes, let member):
            do {
                let address = try GossipAddressing.socketAddress(ip: member.ip, port: member.port)
                _ = try await exchange(.user(bytes), with: address, deadline: .now + settings.tcpTimeout, expectReply: false)
            } catch {
                logger.debug("user message not sent", metadata: ["peer": "\(member.name?.rawValue ?? "?")", "error": "\(error)"])
            }
        }
    }

    /// Sends our state to `address` and merges its reply (memberlist's `pushPullNode`). Returns true when
    /// the reply was merged.
    nonisolated func pushPull(with address: SocketAddress, join: Bool, peer: NodeID? = nil) async throws -> Bool {
        guard let local = await localState(join: join) else { return false }
        switch try await exchange(.pushPull(local), with: address, deadline: .now + settings.tcpTimeout) {
        case .pushPull(let remote):
            guard await merge(remote, from: "\(address)") else { return false }
            delegateMerge(remote, peer: peer, peerIP: GossipAddressing.packedIP(address))
            return true
        case .error(let error):
            logger.debug("push/pull refused", metadata: ["peer": "\(address)", "error": "\(error.error)"])
            return false
        default:
            metrics?.countDropped("unexpected_type")
            return false
        }
    }

    /// Our side of a push/pull, with the state delegate's bytes.
    func localState(join: Bool) -> PushPullMessage? {
        guard let swim else { return nil }
        return swim.localState(join: join, userState: delegateLocalState(join: join))
    }

    /// Merges a remote push/pull. Returns false when the core refused it (incompatible versions).
    @discardableResult
    func merge(_ remote: PushPullMessage, from peer: String) -> Bool {
        guard swim != nil else { return false }
        var remote = remote
        let before = remote.nodes.count
        remote.nodes.removeAll { !belongsToOurCluster(meta: $0.meta) }
        if remote.nodes.count < before {
            metrics?.countDropped("cluster_mismatch")
            logger.warning("push/pull carried nodes of another cluster id; ignored them", metadata: ["peer": "\(peer)"])
        }
        do {
            perform(try swim!.mergeRemoteState(remote, now: .now, using: &generator))
            return true
        } catch {
            metrics?.countDropped("incompatible_version")
            logger.warning("push/pull refused: protocol versions incompatible", metadata: ["peer": "\(peer)", "error": "\(error)"])
            return false
        }
    }

    /// Connects to `address`, sends `message` and, when `expectReply`, returns the reply; otherwise
    /// half-closes and waits for the peer to close, so the bytes are known to be delivered. Everything
    /// happens before `deadline`, when the connection closes itself.
    nonisolated func exchange(
        _ message: StreamMessage, with address: SocketAddress, deadline: ContinuousClock.Instant, expectReply: Bool = true
    ) async throws -> StreamMessage? {
        let remaining = ContinuousClock.now.duration(to: deadline)
        guard remaining > .zero else { throw GossipDecodeError.truncated }
        let bytes = try codec.streamEncoder.encode(message)
        // Cancellation (shutdown) closes a connection still being established instead of waiting out its timeout.
        let attempt = ConnectAttempt()
        let connection = try await withTaskCancellationHandler {
            try await Self.connect(to: address, from: sourceAddress, on: executor.eventLoop, deadline: deadline, attempt: attempt)
        } onCancel: {
            attempt.cancel()
        }
        return try await connection.executeThenClose { inbound, outbound in
            try await write(bytes, message, to: outbound)
            guard expectReply else {
                outbound.finish()
                for try await _ in inbound {}
                return nil
            }
            var reader = StreamMessageReader(inbound, decoder: codec.streamDecoder, metrics: metrics)
            let reply = try await reader.next()
            metrics?.countMessage(GossipMetrics.kind(reply), "in")
            return reply
        }
    }

    private static func connect(
        to address: SocketAddress, from source: SocketAddress?, on eventLoop: any EventLoop, deadline: ContinuousClock.Instant,
        attempt: ConnectAttempt
    ) async throws -> NIOAsyncChannel<ByteBuffer, ByteBuffer> {
        var bootstrap = ClientBootstrap(group: eventLoop)
            .connectTimeout(TimeAmount(max(.zero, ContinuousClock.now.duration(to: deadline))))
            .channelOption(.tcpOption(.tcp_nodelay), value: 1)
        if let source, source.protocol == address.protocol { bootstrap = bootstrap.bind(to: source) }
        return try await bootstrap
            .connect(to: address) { (channel: any Channel) -> EventLoopFuture<NIOAsyncChannel<ByteBuffer, ByteBuffer>> in
                guard attempt.register(channel) else { return channel.eventLoop.makeFailedFuture(CancellationError()) }
                return channel.eventLoop.makeCompletedFuture {
                    channel.closeAt(deadline)
                    return try NIOAsyncChannel<ByteBuffer, ByteBuffer>(
                        wrappingChannelSynchronously: channel,
                        configuration: .init(isOutboundHalfClosureEnabled: true)
                    )
                }
            }
    }

    private nonisolated func write(
        _ bytes: ByteBuffer, _ message: StreamMessage, to outbound: NIOAsyncChannelOutboundWriter<ByteBuffer>
    ) async throws {
        try await outbound.write(bytes)
        metrics?.countBytes(bytes.readableBytes, "tcp", "out")
        metrics?.countMessage(GossipMetrics.kind(message), "out")
    }

    private nonisolated func countStreamFailure(_ error: GossipDecodeError, started: ContinuousClock.Instant, peer: String) {
        let timedOut = started.duration(to: .now) >= settings.tcpTimeout
        let reason = timedOut && (error == .truncated || error == .empty) ? "timeout" : error.reason
        metrics?.countDropped(reason)
        logger.debug("dropped TCP stream", metadata: ["peer": "\(peer)", "reason": "\(reason)", "error": "\(error)"])
    }
}
