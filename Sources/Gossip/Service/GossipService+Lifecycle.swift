import CohortCore
import Logging
import NIOCore
import NIOPosix
import ServiceLifecycle

/// Binding, joining, rejoining and leaving.
extension GossipService {
    /// The two sockets of one gossip port.
    struct Sockets: Sendable {
        var udp: NIOAsyncChannel<AddressedEnvelope<ByteBuffer>, AddressedEnvelope<ByteBuffer>>
        var tcp: NIOAsyncChannel<any Channel, Never>
        var port: Int
    }

    /// Binds TCP, then UDP on the same port. With port 0 the kernel picks TCP's port, and if UDP cannot
    /// have it too we close TCP and try again (memberlist does the same, TCP first).
    nonisolated func bindSockets(at address: SocketAddress) async throws -> Sockets {
        let attempts = address.port == 0 ? 10 : 1
        var lastError: (any Error)?
        for _ in 0..<attempts {
            let tcp: NIOAsyncChannel<any Channel, Never>
            do {
                tcp = try await bindTCP(at: address)
            } catch {
                throw GossipServiceError.bindFailed(address: "\(address)", reason: "TCP: \(error)")
            }
            guard let port = tcp.channel.localAddress?.port else {
                try? await tcp.executeThenClose { _ in }
                throw GossipServiceError.bindFailed(address: "\(address)", reason: "TCP has no local port")
            }
            do {
                var udpAddress = address
                udpAddress.port = port
                return Sockets(udp: try await bindUDP(at: udpAddress), tcp: tcp, port: port)
            } catch {
                lastError = error
                try? await tcp.executeThenClose { _ in }
            }
        }
        throw GossipServiceError.bindFailed(address: "\(address)", reason: "UDP: \(lastError.map { "\($0)" } ?? "?")")
    }

    private nonisolated func bindTCP(at address: SocketAddress) async throws -> NIOAsyncChannel<any Channel, Never> {
        let timeout = settings.tcpTimeout
        let logger = logger
        return try await ServerBootstrap(group: executor.eventLoop, childGroup: executor.eventLoop)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .serverChannelOption(.backlog, value: 256)
            .serverChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(NonFatalErrorFilter { error in
                        logger.warning("TCP accept failed", metadata: ["error": "\(error)"])
                    })
                }
            }
            .childChannelOption(.tcpOption(.tcp_nodelay), value: 1)
            // Accepted channels are handed over raw, with reads off, and wrapped by the accept loop. Wrapping
            // them here traps when the listener stops while connections are still queued in its stream
            // ("Deinited NIOAsyncWriter without calling finish()", apple/swift-nio#3481); a raw channel can be
            // dropped safely, and its deadline closes it.
            .childChannelOption(.autoRead, value: false)
            .bind(to: address) { child in
                child.eventLoop.makeCompletedFuture {
                    child.closeAt(.now + timeout)
                    return child
                }
            }
    }

    private nonisolated func bindUDP(
        at address: SocketAddress
    ) async throws -> NIOAsyncChannel<AddressedEnvelope<ByteBuffer>, AddressedEnvelope<ByteBuffer>> {
        let logger = logger
        return try await DatagramBootstrap(group: executor.eventLoop)
            // memberlist's receive buffer is 64 KiB; NIO's default would truncate datagrams at 2 KiB.
            .channelOption(.recvAllocator, value: FixedSizeRecvByteBufferAllocator(capacity: GossipLimits.default.maxPacketBytes))
            .channelOption(.socketOption(.so_rcvbuf), value: 2 << 20)
            .bind(to: address) { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandlers(
                        NonFatalErrorFilter { error in logger.debug("UDP socket error", metadata: ["error": "\(error)"]) },
                        DatagramReceiver(service: self)
                    )
                    return try NIOAsyncChannel<AddressedEnvelope<ByteBuffer>, AddressedEnvelope<ByteBuffer>>(
                        wrappingChannelSynchronously: channel
                    )
                }
            }
    }

    /// Joins through the seeds with exponential backoff until one answers, then re-joins every
    /// `rejoinInterval` while no other member is alive. The first join waits until the node's metadata is
    /// complete (`isMetaComplete`, at most `initialMetaTimeout`).
    /// A seed (no join addresses) that knew other members tries them once at start, then re-joins through
    /// them like any node while it is alone.
    nonisolated func joinAndRejoin() async -> LoopOutcome {
        guard !settings.joinAddresses.isEmpty || !settings.knownAddresses.isEmpty else {
            await markJoined(through: 0)
            return .keepRunning
        }
        if let isComplete = settings.isMetaComplete, !isComplete(await meta) {
            await metaBell.wait(timeout: settings.initialMetaTimeout, on: executor.eventLoop)
        }
        var backoff = settings.joinBackoffInitial
        var attempt = 0
        if settings.joinAddresses.isEmpty {
            let joined = await joinOnce() ?? 0
            if joined > 0 { logger.info("re-joined the members known before the restart", metadata: ["answered": "\(joined)"]) }
            await markJoined(through: joined)
        }
        while !Task.isCancelled && !settings.joinAddresses.isEmpty {
            attempt += 1
            if let joined = await joinOnce() {
                await markJoined(through: joined)
                break
            }
            let pause = min(backoff * Double.random(in: 0.75...1.25), settings.joinBackoffMaximum)
            logger.warning("join failed; retrying", metadata: [
                "attempt": "\(attempt)", "retry_in": "\(pause)", "join_addrs": "\(settings.joinAddresses)",
            ])
            do { try await Task.sleep(for: pause) } catch { return .keepRunning }
            backoff = min(backoff * 2, settings.joinBackoffMaximum)
        }
        guard settings.rejoinInterval > .zero else { return .keepRunning }
        while !Task.isCancelled {
            do { try await Task.sleep(for: settings.rejoinInterval) } catch { return .keepRunning }
            guard let reason = await rejoinReason() else { continue }
            logger.info("re-joining", metadata: ["reason": "\(reason)", "join_addrs": "\(settings.joinAddresses)"])
            if let joined = await joinOnce(), joined > 0 {
                logger.info("re-joined the cluster", metadata: ["seeds_answered": "\(joined)"])
            }
        }
        return .keepRunning
    }

    /// Why this node should re-run join now, or nil. A node alone re-joins (a restarted seed or a new IP);
    /// so does a node to which a reachable seed is not a live member, which is what heals a partition whose
    /// two sides have already forgotten each other's dead (memberlist alone would stay split).
    nonisolated func rejoinReason() async -> String? {
        guard await hasOtherLiveMember() else { return "no other live member" }
        var seeds: [SocketAddress] = []
        for seed in settings.joinAddresses {
            seeds += (try? await GossipAddressing.resolve(seed.host, port: seed.port)) ?? []
        }
        let own = await ownEndpoints
        let live = Set(await liveEndpoints())
        let missing = seeds.filter { !own.contains($0) && !live.contains($0) }
        return missing.isEmpty ? nil : "seed \(missing[0]) is not a live member"
    }

    /// One join round: resolves every seed (all records of each name) and known member, skips ourselves,
    /// and push/pulls with `join: true` to all of them at once. Returns how many answered, 0 when every seed is this node
    /// (nothing to join: we are the seed), nil when none answered.
    nonisolated func joinOnce() async -> Int? {
        var targets: [SocketAddress] = []
        var seedTargets = 0
        for (index, seed) in (settings.joinAddresses + settings.knownAddresses).enumerated() {
            do {
                for address in try await GossipAddressing.resolve(seed.host, port: seed.port) where !targets.contains(address) {
                    targets.append(address)
                }
            } catch {
                logger.warning("cannot resolve join address", metadata: ["join_addr": "\(seed)", "error": "\(error)"])
            }
            if index == settings.joinAddresses.count - 1 { seedTargets = targets.count }
        }
        guard !targets.isEmpty else { return nil }
        let own = await ownEndpoints
        let others = targets.enumerated().filter { !own.contains($0.element) }
        guard !others.isEmpty else { return 0 }
        // A node that is leaving has nothing to join; one that joins while leaving is told about by `leave()`.
        guard await beginJoin() else { return nil }
        let isSeed = others.map { $0.offset < seedTargets }
        let seeds = isSeed.count(where: { $0 })
        let answered = await withTaskGroup(of: (seed: Bool, answered: Bool).self) { group in
            for ((_, target), seed) in zip(others, isSeed) {
                group.addTask {
                    do {
                        return (seed, try await self.pushPull(with: target, join: true))
                    } catch {
                        self.logger.debug("join push/pull failed", metadata: ["peer": "\(target)", "error": "\(error)"])
                        return (seed, false)
                    }
                }
            }
            // Every seed is waited for; a known member that is gone (its address may belong to nobody now)
            // is not, once this node is in: one answer brings the whole membership.
            var answered = 0
            var seedsPending = seeds
            for await result in group {
                if result.seed { seedsPending -= 1 }
                if result.answered { answered += 1 }
                if answered > 0, seedsPending == 0 { group.cancelAll() }
            }
            return answered
        }
        await endJoin()
        return answered > 0 ? answered : nil
    }

    private func beginJoin() -> Bool {
        guard swim?.hasLeft == false else { return false }
        joinsInFlight += 1
        return true
    }

    private func endJoin() {
        joinsInFlight -= 1
        noteLeaveProgress()
    }

    private func markJoined(through seeds: Int) {
        guard !hasJoined else { return }
        hasJoined = true
        if seeds > 0 {
            logger.info("joined the cluster", metadata: ["seeds_answered": "\(seeds)", "members": "\(swim?.members.count ?? 0)"])
        } else {
            logger.info("running as a seed: no other join address")
        }
    }

    /// Waits for graceful shutdown, then leaves: broadcasts our own death (a leave) and keeps gossiping
    /// until it is sent or `leaveTimeout` passes, then lets the datagram queue drain.
    nonisolated func leaveOnGracefulShutdown() async -> LoopOutcome {
        do {
            try await gracefulShutdown()
        } catch {
            return .stop
        }
        await leave()
        // The sender loop ends `run()` once the finished queue has drained (its `.stop` cancels this
        // sleep); the sleep only bounds the wait should the socket stall.
        try? await Task.sleep(for: .milliseconds(200))
        return .stop
    }

    private func leave() async {
        guard swim != nil else { return }
        logger.info("leaving the cluster")
        perform(swim!.leave(now: .now))
        let timeout = settings.leaveTimeout
        if !leaveIsSpread {
            await withTaskGroup(of: Void.self) { group in
                group.addTask { await self.untilLeaveIsSpread() }
                group.addTask { try? await Task.sleep(for: timeout) }
                await group.next()
                // The timeout (or a cancellation) won: release the waiter so the group can end.
                leaveSpreadWaiter?.resume()
                leaveSpreadWaiter = nil
                group.cancelAll()
            }
        }
        udp = nil
        sendingStopped.ring()
    }

    /// True once our leave needs no more gossip: every queued broadcast was sent often enough, or nobody
    /// is left to tell. A join still in flight may have told a peer about us, so the leave waits for it
    /// too, and that peer hears the leave.
    private var leaveIsSpread: Bool {
        guard let swim else { return true }
        return swim.pendingBroadcasts == 0 || !(hasOtherLiveMember(orSuspect: true) || joinsInFlight > 0)
    }

    /// Suspends until ``noteLeaveProgress()`` sees the leave spread. A cancelled caller returns at once:
    /// `leave()` cancels it after releasing the waiter, so one that had not registered yet must not.
    private func untilLeaveIsSpread() async {
        guard !leaveIsSpread, !Task.isCancelled else { return }
        await withCheckedContinuation { leaveSpreadWaiter = $0 }
    }

    /// Called after every core step and finished join: wakes a leave whose news is now spread.
    func noteLeaveProgress() {
        guard let waiter = leaveSpreadWaiter, leaveIsSpread else { return }
        leaveSpreadWaiter = nil
        waiter.resume()
    }
}
