import NIOSupport
import CohortCore
import Logging
import NIOCore
import NIOPosix
import ServiceLifecycle

/// A connection's channel, wrapped for async use (the handshake), with its frame size limit and the
/// handler that feeds the established session's frames to its reader.
struct MeshChannel: Sendable {
    var channel: NIOAsyncChannel<ByteBuffer, ByteBuffer>
    var limit: FrameSizeLimit
    var sessionFrames: NIOLoopBound<SessionFrameHandler>

    /// The largest frame before the handshake has finished: a hello or a sealed finish.
    static let handshakeFrameBytes = 512

    /// Installs the frame decoder and wraps `channel`; runs on its event loop.
    static func configure(_ channel: any Channel, settings: MeshSettings) throws -> MeshChannel {
        let limit = FrameSizeLimit(handshakeFrameBytes)
        let decoder = ByteToMessageHandler(
            LengthPrefixedFrameDecoder(limit: limit),
            maximumBufferSize: settings.maxFrameBytes + SessionCipher.tagBytes + LengthPrefixedFrameDecoder.prefixBytes
        )
        let sessionFrames = SessionFrameHandler()
        try channel.pipeline.syncOperations.addHandlers(decoder, sessionFrames)
        let wrapped = try NIOAsyncChannel<ByteBuffer, ByteBuffer>(
            wrappingChannelSynchronously: channel,
            configuration: .init(backPressureStrategy: .init(lowWatermark: 16, highWatermark: 64))
        )
        return MeshChannel(channel: wrapped, limit: limit, sessionFrames: NIOLoopBound(sessionFrames, eventLoop: channel.eventLoop))
    }

    /// NIO's write buffer watermarks: room for a couple of batches, and a bound (the writer waits while
    /// the channel is not writable). Kept small for the same reason as the socket buffers: bytes queued
    /// here are ahead of the next Raft frame.
    static let writeWatermark = ChannelOptions.Types.WriteBufferWaterMark(low: 64 << 10, high: 256 << 10)
}

/// Binding, serving, dialling and stopping.
extension MeshService {
    /// Binds, serves until graceful shutdown or cancellation, then closes every connection and fails
    /// pending requests with ``MeshError/stopped``. Throws for invalid settings or when no port can be
    /// bound.
    public func run() async throws {
        // Whoever waits for the port hears about a run that ends before binding.
        defer { if boundPort == nil { finishWithoutBinding() } }
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
                try await withTaskCancellationHandler {
                    try await serve(server)
                } onCancel: {
                    // Cancellation stops like a graceful shutdown: close everything, then let the loops end.
                    self.stopEverything()
                    server.channel.close(promise: nil)
                }
            }
        } catch {
            stopEverything()
            if !Task.isCancelled { throw error }
        }
        stopEverything()
        logger.info("mesh stopped")
    }

    /// Tries the candidate ports in order; the first that binds is kept.
    nonisolated func bind() async throws -> (NIOAsyncChannel<any Channel, Never>, Int) {
        let settings = settings
        var failures: [String] = []
        for port in PortPlan.candidates(bindPort: settings.bindPort) {
            do {
                var bootstrap = ServerBootstrap(group: executor.eventLoop)
                    .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
                    .serverChannelOption(.backlog, value: 256)
                    .childChannelOption(.tcpOption(.tcp_nodelay), value: 1)
                if settings.socketBufferBytes > 0 {
                    // On the listener too: accepted sockets inherit it before the window is negotiated.
                    bootstrap = bootstrap
                        .serverChannelOption(.socketOption(.so_rcvbuf), value: SocketOptionValue(settings.socketBufferBytes))
                        .childChannelOption(.socketOption(.so_rcvbuf), value: SocketOptionValue(settings.socketBufferBytes))
                        .childChannelOption(.socketOption(.so_sndbuf), value: SocketOptionValue(settings.socketBufferBytes))
                }
                // Accepted channels are handed over raw, with reads off, and wrapped by the accept loop.
                // Wrapping them here (NIO's usual pattern) traps when the listener closes while a child is
                // being set up: its NIOAsyncChannel is dropped unserved, and NIO's writer deinit fires
                // "Deinited NIOAsyncWriter without calling finish()" (apple/swift-nio#3481). A raw channel
                // can be dropped safely; the registry closes it at stop.
                let registry = liveChannels
                let server = try await bootstrap
                    .childChannelOption(.writeBufferWaterMark, value: MeshChannel.writeWatermark)
                    .childChannelOption(.autoRead, value: false)
                    .bind(host: settings.bindHost, port: port) { child in
                        child.eventLoop.makeCompletedFuture {
                            guard registry.register(child) else { throw ChannelError.ioOnClosedChannel }
                            return child
                        }
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
    private nonisolated func serve(_ server: NIOAsyncChannel<any Channel, Never>) async throws {
        try await server.executeThenClose { inbound in
            // The accept loop is deliberately not a child task: a cancelled task stops taking accepted
            // connections from the listener's stream, and a connection left there traps NIO ("Deinited
            // NIOAsyncWriter without calling finish()", apple/swift-nio#3481). Uncancelled, it takes every
            // one until the closed listener's stream ends, closing those that arrive after the stop. It is
            // awaited below, so it never outlives `run()`.
            let accepting = Task(executorPreference: executor) { await self.acceptConnections(inbound) }
            var failure: (any Error)?
            await withTaskGroup(of: Void.self) { group in
                group.addTask { await self.runDialJobs() }
                group.addTask { await self.runRequestJobs() }
                group.addTask { try? await gracefulShutdown() }
                // Whichever ends first — graceful shutdown or cancellation — ends all.
                _ = await group.next()
                stopEverything()
                server.channel.close(promise: nil)
                group.cancelAll()
            }
            if let error = await accepting.value { failure = error }
            if let failure, !directory.isStopped { throw failure }
        }
    }

    /// Accepts connections, serving each in its own child task, up to ``MeshSettings/maxInboundConnections``,
    /// until the listener closes. Returns the error that ended it, if any.
    private nonisolated func acceptConnections(_ inbound: NIOAsyncChannelInboundStream<any Channel>) async -> (any Error)? {
        let settings = settings
        do {
            try await withThrowingDiscardingTaskGroup { group in
                for try await child in inbound {
                    // Wrap and start reading in one event-loop turn, so no byte arrives before the decoder.
                    let wrapping = child.eventLoop.submit {
                        let connection = try MeshChannel.configure(child, settings: settings)
                        // Cannot fail on an open socket; if it did, the handshake timeout closes the connection.
                        try? child.syncOptions?.setOption(.autoRead, value: true)
                        return connection
                    }
                    guard let connection = try? await wrapping.get() else {
                        liveChannels.unregister(child)
                        child.close(promise: nil)
                        continue
                    }
                    guard inboundSlots.acquire() else {
                        logger.warning("mesh refused a connection: too many inbound connections", metadata: [
                            "remote": "\(connection.channel.channel.remoteAddress?.description ?? "?")",
                        ])
                        try? await connection.channel.executeThenClose { _, _ in }
                        continue
                    }
                    group.addTask {
                        defer { self.inboundSlots.release() }
                        _ = await self.serveConnection(connection, dialing: nil)
                    }
                }
            }
            return nil
        } catch {
            logger.error("mesh listener failed", metadata: ["error": "\(error)"])
            return error
        }
    }

    /// Runs a dial loop per link that asks for one (something to send, no connection).
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
                // Handlers are application code that may compute: keep them off the event loop.
                group.addTask(executorPreference: globalConcurrentExecutor) { await self.handle(job) }
            }
        }
    }

    /// Dials `link` while it is needed — something waits for it and no connection carries it: connect,
    /// handshake, serve until the connection ends, pause with backoff, again. A finished handshake resets
    /// the backoff. Ends when the peer is connected by another way, no longer needed, or removed.
    ///
    /// The loop's end is recorded by the machine in the step that decides it (``PeerLink/beginAttempt()``
    /// returning nil, ``PeerLink/dialAttemptEnded(handshakeFinished:using:)`` returning `.stop`), so a
    /// message queued a moment later starts a new loop that nothing here can then mark ended; only a
    /// cancelled loop (the service stopping) records its end itself.
    nonisolated func dialLoop(_ link: PeerLink) async {
        var generator = SystemRandomNumberGenerator()
        while let target = link.beginAttempt() {
            guard !Task.isCancelled else {
                link.dialLoopEnded()
                return
            }
            var handshakeFinished = false
            do {
                let connection = try await connect(host: target.host, port: target.port)
                handshakeFinished = await serveConnection(connection, dialing: link)
            } catch {
                logger.debug("mesh dial failed", metadata: [
                    "peer": "\(link.id)", "addr": "\(target.host):\(target.port)", "error": "\(error)",
                ])
            }
            guard case .retry(let pause) = link.dialAttemptEnded(handshakeFinished: handshakeFinished, using: &generator) else {
                return
            }
            guard !Task.isCancelled else {
                link.dialLoopEnded()
                return
            }
            await link.retryBell.wait(timeout: pause, on: executor.eventLoop)
        }
    }

    /// Connects within ``MeshSettings/connectTimeout``; cancellation closes a connection in progress.
    private nonisolated func connect(host: String, port: Int) async throws -> MeshChannel {
        let settings = settings
        let attempt = ConnectAttempt()
        return try await withTaskCancellationHandler {
            var bootstrap = ClientBootstrap(group: executor.eventLoop)
                .connectTimeout(TimeAmount(settings.connectTimeout))
                .channelOption(.tcpOption(.tcp_nodelay), value: 1)
            if settings.socketBufferBytes > 0 {
                bootstrap = bootstrap
                    .channelOption(.socketOption(.so_rcvbuf), value: SocketOptionValue(settings.socketBufferBytes))
                    .channelOption(.socketOption(.so_sndbuf), value: SocketOptionValue(settings.socketBufferBytes))
            }
            // The source family must match the peer's; a name resolved to the other family connects unbound.
            if let source = sourceAddress, (source.protocol == .inet) == !host.contains(":") {
                bootstrap = bootstrap.bind(to: source)
            }
            return try await bootstrap
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
        liveChannels.closeAll()
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
