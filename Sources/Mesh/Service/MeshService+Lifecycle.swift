import CohortCore
import Logging
import NIOCore
import NIOPosix
import ServiceLifecycle

/// A connection's channel, wrapped for async use, with its frame size limit.
struct MeshChannel: Sendable {
    var channel: NIOAsyncChannel<ByteBuffer, ByteBuffer>
    var limit: FrameSizeLimit

    /// The largest frame before the handshake has finished: a hello or a sealed finish.
    static let handshakeFrameBytes = 512

    /// Installs the frame decoder and wraps `channel`; runs on its event loop.
    static func configure(_ channel: any Channel, settings: MeshSettings) throws -> MeshChannel {
        let limit = FrameSizeLimit(handshakeFrameBytes)
        let decoder = ByteToMessageHandler(
            LengthPrefixedFrameDecoder(limit: limit),
            maximumBufferSize: settings.maxFrameBytes + SessionCipher.tagBytes + LengthPrefixedFrameDecoder.prefixBytes
        )
        try channel.pipeline.syncOperations.addHandler(decoder)
        let wrapped = try NIOAsyncChannel<ByteBuffer, ByteBuffer>(
            wrappingChannelSynchronously: channel,
            configuration: .init(backPressureStrategy: .init(lowWatermark: 16, highWatermark: 64))
        )
        return MeshChannel(channel: wrapped, limit: limit)
    }

    /// Socket write buffer watermarks: large enough for whole batches on a fast link, and still a bound
    /// (the writer waits while the channel is not writable).
    static let writeWatermark = ChannelOptions.Types.WriteBufferWaterMark(low: 256 << 10, high: 1 << 20)
}

/// Binding, serving, dialling and stopping.
extension MeshService {
    /// Binds, serves until graceful shutdown or cancellation, then closes every connection and fails
    /// pending requests with ``MeshError/stopped``. Throws for invalid settings or when no port can be
    /// bound.
    public func run() async throws {
        try markStarted()
        if keyring == nil {
            logger.warning("internode mesh is not encrypted or authenticated; set cluster.membership.secret_key")
        }
        let (server, port) = try await bind()
        setBoundPort(port)
        logger.info("mesh listening", metadata: [
            "mesh.bind": "\(settings.bindHost):\(port)", "mesh.encrypted": "\(keyring != nil)",
        ])
        do {
            try await withTaskExecutorPreference(executor) {
                try await serve(server)
            }
        } catch {
            stopEverything()
            if !Task.isCancelled { throw error }
        }
        stopEverything()
        logger.info("mesh stopped")
    }

    /// Tries the candidate ports in order; the first that binds is kept.
    nonisolated func bind() async throws -> (NIOAsyncChannel<MeshChannel, Never>, Int) {
        let settings = settings
        var failures: [String] = []
        for port in PortPlan.candidates(bindPort: settings.bindPort) {
            do {
                let server = try await ServerBootstrap(group: executor.eventLoop)
                    .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
                    .serverChannelOption(.backlog, value: 256)
                    .childChannelOption(.socketOption(.tcp_nodelay), value: 1)
                    .childChannelOption(.writeBufferWaterMark, value: MeshChannel.writeWatermark)
                    .bind(host: settings.bindHost, port: port) { child in
                        child.eventLoop.makeCompletedFuture { try MeshChannel.configure(child, settings: settings) }
                    }
                guard let bound = server.channel.localAddress?.port else {
                    try? await server.executeThenClose { _ in }
                    failures.append("\(port): no local port")
                    continue
                }
                return (server, bound)
            } catch {
                failures.append("\(port): \(error)")
            }
        }
        throw MeshError.bindFailed(address: "\(settings.bindHost):\(settings.bindPort)", reason: failures.joined(separator: "; "))
    }

    /// Runs the loops over the bound listener until shutdown or cancellation.
    private nonisolated func serve(_ server: NIOAsyncChannel<MeshChannel, Never>) async throws {
        try await server.executeThenClose { inbound in
            try await withThrowingTaskGroup(of: Void.self) { group in
                group.addTask { try await self.acceptConnections(inbound) }
                group.addTask { await self.runDialJobs() }
                group.addTask { await self.runRequestJobs() }
                group.addTask { try? await gracefulShutdown() }
                defer { group.cancelAll() }
                // Whichever ends first — graceful shutdown, cancellation or a failed listener — ends all.
                do {
                    _ = try await group.next()
                } catch {
                    stopEverything()
                    throw error
                }
                stopEverything()
            }
        }
    }

    /// Accepts connections, serving each in its own child task, up to ``MeshSettings/maxInboundConnections``.
    private nonisolated func acceptConnections(_ inbound: NIOAsyncChannelInboundStream<MeshChannel>) async throws {
        try await withThrowingDiscardingTaskGroup { group in
            for try await connection in inbound {
                guard inboundSlots.acquire() else {
                    logger.warning("mesh refused a connection: too many inbound connections", metadata: [
                        "remote": "\(connection.channel.channel.remoteAddress?.description ?? "?")",
                    ])
                    connection.channel.channel.close(promise: nil)
                    continue
                }
                group.addTask {
                    defer { self.inboundSlots.release() }
                    _ = await self.serveConnection(connection, dialing: nil)
                }
            }
        }
    }

    /// Starts a dial loop per peer we dial, as `setPeer` asks.
    private nonisolated func runDialJobs() async {
        await withDiscardingTaskGroup { group in
            for await link in dialJobStream {
                group.addTask { await self.dialLoop(link) }
            }
        }
    }

    /// Runs each incoming request in its own task.
    private nonisolated func runRequestJobs() async {
        await withDiscardingTaskGroup { group in
            for await job in requestJobStream {
                group.addTask { await self.handle(job) }
            }
        }
    }

    /// Dials `link` while it is a peer: connect, handshake, serve until the connection ends, pause with
    /// backoff, again. A finished handshake resets the backoff. Ends when the peer is removed.
    nonisolated func dialLoop(_ link: PeerLink) async {
        defer { link.dialLoopEnded() }
        var backoff = ReconnectBackoff(settings.reconnect)
        var generator = SystemRandomNumberGenerator()
        while !Task.isCancelled, let target = link.dialTarget() {
            do {
                let connection = try await connect(host: target.host, port: target.port)
                if await serveConnection(connection, dialing: link) { backoff.reset() }
            } catch {
                logger.debug("mesh dial failed", metadata: [
                    "peer": "\(link.id)", "addr": "\(target.host):\(target.port)", "error": "\(error)",
                ])
            }
            guard !Task.isCancelled, link.dialTarget() != nil else { break }
            await link.retryBell.wait(timeout: backoff.pause(using: &generator), on: executor.eventLoop)
        }
    }

    /// Connects within ``MeshSettings/connectTimeout``; cancellation closes a connection in progress.
    private nonisolated func connect(host: String, port: Int) async throws -> MeshChannel {
        let settings = settings
        let attempt = ConnectAttempt()
        return try await withTaskCancellationHandler {
            try await ClientBootstrap(group: executor.eventLoop)
                .connectTimeout(TimeAmount(settings.connectTimeout))
                .channelOption(.socketOption(.tcp_nodelay), value: 1)
                .channelOption(.writeBufferWaterMark, value: MeshChannel.writeWatermark)
                .connect(host: host, port: port) { channel in
                    guard attempt.register(channel) else { return channel.eventLoop.makeFailedFuture(CancellationError()) }
                    return channel.eventLoop.makeCompletedFuture { try MeshChannel.configure(channel, settings: settings) }
                }
        } onCancel: {
            attempt.cancel()
        }
    }

    /// Closes every connection, drops every queue and fails every pending request; later sends are
    /// refused with `stopped`. Idempotent.
    nonisolated func stopEverything() {
        for link in directory.stop() {
            let (messages, connection) = link.remove()
            for (trafficClass, dropped) in messages { metrics?.countDropped(trafficClass, .stopped, by: dropped.count) }
            connection?.channel.close(promise: nil)
        }
        metrics?.connections.set(to: 0)
        pending.failEverything(with: .stopped)
        dialJobs.finish()
        requestJobs.finish()
        events.finish()
    }
}
