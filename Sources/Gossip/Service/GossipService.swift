import NIOSupport
import CohortCore
import Logging
import NIOCore
import NIOPosix
import Prometheus
import ServiceLifecycle
import Synchronization

/// The gossip shell: runs one ``SWIMInstance`` over real UDP and TCP sockets (memberlist 0.2.2's wire
/// protocol on one port), joins the cluster, publishes membership changes and carries user messages.
///
/// `run()` binds, joins and serves until graceful shutdown, then broadcasts this node's leave and keeps
/// gossiping for up to ``GossipServiceSettings/leaveTimeout`` (or until the leave is sent) before closing
/// its sockets. Cancelling `run()` instead closes the sockets at once, without leaving — to the others
/// that is a crash, detected by the failure detector.
///
/// Inside, every long-running loop is a child task of `run()`: UDP receive and send, TCP accept, the SWIM
/// timer, the job runner (TCP pings, push/pulls and large user messages, each its own child task), and
/// join/rejoin. The actor owns the core and is entered once per datagram, tick or finished job. The actor,
/// those tasks and the sockets all run on one NIO event loop, not on the cooperative pool, so CPU-bound
/// work elsewhere in the process cannot delay acks until the others declare this node dead.
public actor GossipService: Service {
    /// Membership changes, each subscription starting with a snapshot of the live members.
    public nonisolated let events: MembershipEvents

    nonisolated let settings: GossipServiceSettings
    nonisolated let logger: Logger
    nonisolated let metrics: GossipMetrics?
    nonisolated let router = UserMessageRouter()
    /// The push/pull user-state delegate (see ``setStateDelegate(_:)``).
    nonisolated let stateDelegate = Mutex<GossipStateDelegate?>(nil)
    nonisolated let codec: GossipCodec
    /// Where this node's TCP connections leave from: the bind address when it is an IP literal (not a
    /// wildcard), so that peers (and firewalls) see the node's own address on every connection it opens.
    nonisolated let sourceAddress: SocketAddress?
    nonisolated let connectionSlots = Slots(limit: GossipService.maxConnections)
    /// The event loop the actor, its child tasks and its sockets all run on.
    nonisolated let executor: EventLoopTaskExecutor
    private let startupError: GossipServiceError?

    var swim: SWIMInstance?
    /// The deadline ``loopTimer`` is armed for; a step that moves the core's deadline re-arms it.
    var armedDeadline: ContinuousClock.Instant?
    /// The timer loop's deadline (see `runTimer()`); it rings ``timerBell``.
    var loopTimer: LoopTimer?
    nonisolated let timerBell = Doorbell()
    /// Rung by ``updateMeta(_:)`` when the metadata is complete; the first join waits on it
    /// (``GossipServiceSettings/isMetaComplete``).
    nonisolated let metaBell = Doorbell()
    /// The core's random choices: a fast generator seeded once from the system, not a system call per draw.
    var generator: GossipRandomGenerator = {
        var system = SystemRandomNumberGenerator()
        return GossipRandomGenerator(seededBy: &system)
    }()
    var meta: [UInt8]
    var pendingBroadcasts: [[UInt8]] = []
    /// The UDP socket while datagrams may be sent: set once bound, nil once a leave has been spread (or the
    /// service ends). The actor runs on the socket's event loop, so a datagram is written where it is made.
    var udp: (any Channel)?
    /// Rung when sending has stopped after a leave: `run()` then ends.
    nonisolated let sendingStopped = Doorbell()
    var jobs: AsyncStream<GossipJob>.Continuation?
    var jobsInFlight = 0
    var joinsInFlight = 0
    /// A leave waiting until its news is spread (see `leave()`).
    var leaveSpreadWaiter: CheckedContinuation<Void, Never>?
    var lastEventAt: ContinuousClock.Instant?
    /// The member last found at each source address (see ``member(atIP:port:)``).
    var senders: [SenderAddress: NodeID] = [:]
    /// When the member gauges were last counted, and whether the table may have changed since (see
    /// ``refreshMemberGauges(now:)``).
    var gaugesCountedAt: ContinuousClock.Instant?
    var gaugesStale = false
    /// How many times the member gauges were counted (for tests).
    var gaugeCounts = 0
    /// How many times the timer loop ticked the core when it had nothing due (the tests count them: a
    /// probe's timeout after its ack used to be one).
    var idleTicks = 0
    var ownEndpoints: [SocketAddress] = []

    /// The port UDP and TCP are bound to, once `run()` has bound them.
    public internal(set) var boundPort: Int?
    /// True for a seed (no join addresses) once running, and otherwise after the first successful join
    /// push/pull.
    public internal(set) var hasJoined = false {
        didSet { publishHealth() }
    }
    /// ``healthScore`` and ``hasJoined`` as of the last step, for health checks that must not hop to the
    /// actor (and so need no polling loop).
    nonisolated let healthView = Mutex(GossipHealthView(score: 0, joined: false))

    /// TCP exchanges we start at once (memberlist allows 128 push/pulls in flight).
    static let maxJobsInFlight = 128
    /// Incoming TCP connections served at once; more are closed on accept.
    static let maxConnections = 256

    /// Creates the service; nothing is bound until `run()`.
    ///
    /// - Parameters:
    ///   - settings: Identity, sockets, seeds, keys and tuning.
    ///   - logger: Receives one line per membership change and per problem an operator should see.
    ///   - metrics: Where the `gossip_*` metrics are registered; nil records none.
    public init(settings: GossipServiceSettings, logger: Logger, metrics: PrometheusCollectorRegistry? = nil) {
        self.settings = settings
        sourceAddress = GossipAddressing.isWildcard(settings.bindHost) ? nil : try? SocketAddress(ipAddress: settings.bindHost, port: 0)
        var logger = logger
        logger[metadataKey: "gossip.node"] = "\(settings.name)"
        self.logger = logger
        self.metrics = metrics.map { GossipMetrics(registry: $0) }
        events = MembershipEvents()
        executor = EventLoopTaskExecutor(eventLoop: MultiThreadedEventLoopGroup.singleton.next())
        meta = settings.meta
        var keyring: Keyring?
        var startupError: GossipServiceError?
        if let primary = settings.keyring.first {
            do {
                keyring = try Keyring(primaryKey: primary, otherKeys: Array(settings.keyring.dropFirst()))
            } catch {
                let bad = settings.keyring.first { ![16, 24, 32].contains($0.count) }
                startupError = .invalidKey(size: bad?.count ?? primary.count)
            }
        }
        if settings.meta.count > GossipLimits.default.maxMetaBytes {
            startupError = startupError ?? .metaTooLarge(size: settings.meta.count)
        }
        self.startupError = startupError
        codec = GossipCodec(keyring: keyring, compression: settings.compression)
    }

    /// The actor runs on the service's event loop (see ``EventLoopTaskExecutor``).
    public nonisolated var unownedExecutor: UnownedSerialExecutor {
        executor.eventLoop.executor.asUnownedSerialExecutor()
    }

    /// Every member this node knows, itself included, sorted by name; dead and left members stay until
    /// they are reaped. Empty before `run()`.
    public var members: [Member] {
        swim.map { $0.members.values.sorted { $0.name < $1.name } } ?? []
    }

    /// Lifeguard's local health score: 0 is healthy, up to `awarenessMaxMultiplier − 1` (7) when this node
    /// keeps missing acks and nacks.
    public var healthScore: Int {
        swim?.awareness.score ?? 0
    }

    /// The health score and join state as of the service's last step; callable from any thread.
    public nonisolated var health: GossipHealthView {
        healthView.withLock { $0 }
    }

    /// Refreshes ``health`` (after every step of the core, and when the join state changes).
    func publishHealth() {
        let view = GossipHealthView(score: healthScore, joined: hasJoined)
        healthView.withLock { if $0 != view { $0 = view } }
    }

    /// Replaces this node's metadata; every peer sees a ``MembershipUpdate/updated(_:)``. Metadata over
    /// 512 bytes is refused with an error log.
    public func updateMeta(_ meta: [UInt8]) {
        guard meta.count <= GossipLimits.default.maxMetaBytes else {
            logger.error("gossip metadata too large; not updated", metadata: ["bytes": "\(meta.count)"])
            return
        }
        self.meta = meta
        if settings.isMetaComplete?(meta) == true { metaBell.ring() }
        // After a leave, a new incarnation would announce us alive again.
        guard swim != nil, !swim!.hasLeft else { return }
        swim!.updateLocalMeta(meta)
        publish(.updated(swim!.localMember))
        rearmTimer()
    }

    /// Sends a user message of `kind` to the cluster. One that fits a datagram is gossiped (piggybacked,
    /// retransmitted a bounded number of times, memberlist's delegate broadcasts); a larger one goes over
    /// TCP to every live member. Before `run()` small messages are queued.
    public func broadcast(kind: UInt8, payload: [UInt8]) {
        let message = [kind] + payload
        guard swim != nil else {
            if pendingBroadcasts.count < UserMessageRouter.bufferLimit { pendingBroadcasts.append(message) }
            return
        }
        if 1 + message.count + CompoundMessage.partOverhead <= settings.swim.gossipBudgetBytes {
            swim!.broadcast(user: message)
            rearmTimer()
            return
        }
        for member in swim!.members.values where member.name != settings.name && !member.isGone {
            submit(.userMessage(message, to: member.address))
        }
    }

    /// User messages waiting in the broadcast queue.
    public var queuedUserBroadcasts: Int { swim?.pendingUserBroadcasts ?? 0 }

    /// Gossips a user message of `kind` that fits a datagram, unless `limit` or more user messages already
    /// wait in the broadcast queue (or the service has not started, or the message is too large): then it
    /// is not queued and the call returns false, so the caller can send it another way (the state planes
    /// push it over the mesh instead). A burst of writes thus cannot clog gossip, whose bandwidth is a few
    /// datagrams per member every gossip interval.
    public func broadcastIfRoom(kind: UInt8, payload: [UInt8], limit: Int) -> Bool {
        let message = [kind] + payload
        guard swim != nil, swim!.pendingUserBroadcasts < limit,
              1 + message.count + CompoundMessage.partOverhead <= settings.swim.gossipBudgetBytes else { return false }
        swim!.broadcast(user: message)
        rearmTimer()
        return true
    }

    /// The user messages of `kind` received from now on: the payload without its kind byte, and the sender
    /// when known (datagrams; nil over TCP). Bounded: the newest 1024 unread are kept.
    public nonisolated func userMessages(kind: UInt8) -> AsyncStream<(payload: [UInt8], from: NodeID?)> {
        router.messages(kind: kind)
    }

    /// Binds, joins and serves until graceful shutdown (then leaves) or cancellation (then just stops).
    public func run() async throws {
        if let startupError { throw startupError }
        defer {
            udp = nil
            jobs?.finish()
            events.finish()
            router.finish()
        }
        let bindAddress = try await GossipAddressing.resolve(settings.bindHost, port: settings.bindPort)[0]
        var advertiseIP: [UInt8]?
        if let host = settings.advertiseHost {
            let resolved = try await GossipAddressing.resolve(host, port: 0)
            advertiseIP = resolved.lazy.compactMap(GossipAddressing.packedIP).first
            if advertiseIP == nil { throw GossipServiceError.invalidAdvertiseAddress(host) }
        }
        if let port = settings.advertisePort, !(1...65_535).contains(port) {
            throw GossipServiceError.invalidAdvertiseAddress("\(settings.advertiseHost ?? settings.bindHost):\(port)")
        }
        let sockets = try await bindSockets(at: bindAddress)
        boundPort = sockets.port
        let wildcard = GossipAddressing.isWildcard(settings.bindHost)
        let ip = advertiseIP ?? (wildcard ? GossipAddressing.defaultAdvertiseIP() : GossipAddressing.packedIP(bindAddress) ?? [])
        let port = UInt16(settings.advertisePort ?? sockets.port)
        ownEndpoints = ownEndpoints(advertise: (ip, port), bindAddress: bindAddress, port: sockets.port, wildcard: wildcard)
        start(ip: ip, port: port)

        let (jobStream, jobs) = AsyncStream.makeStream(of: GossipJob.self, bufferingPolicy: .bufferingOldest(Self.maxJobsInFlight))
        udp = sockets.udp.channel
        self.jobs = jobs
        flushPendingBroadcasts()
        do {
            try await withTaskExecutorPreference(executor) {
                try await serve(sockets, jobs: jobStream)
            }
        } catch {
            if !Task.isCancelled { throw error }
        }
        logger.info("gossip stopped")
    }

    /// Runs every loop over the bound sockets until one of them ends the service.
    private func serve(
        _ sockets: Sockets, jobs jobStream: AsyncStream<GossipJob>
    ) async throws {
        try await sockets.udp.executeThenClose { udpIn, _ in
            try await sockets.tcp.executeThenClose { tcpIn in
                try await withThrowingTaskGroup(of: LoopOutcome.self) { group in
                    group.addTask { try await self.watchDatagramSocket(udpIn) }
                    group.addTask {
                        await self.sendingStopped.wait()
                        return .stop
                    }
                    group.addTask { try await self.acceptConnections(tcpIn) }
                    group.addTask { await self.runTimer() }
                    group.addTask { await self.runJobs(jobStream) }
                    group.addTask { await self.joinAndRejoin() }
                    group.addTask { await self.leaveOnGracefulShutdown() }
                    while let outcome = try await group.next(), outcome == .keepRunning {}
                    group.cancelAll()
                }
            }
        }
    }

    /// How a child loop of `run()` ended: `.stop` ends them all.
    enum LoopOutcome: Sendable {
        case keepRunning, stop
    }

    /// Creates the core for our advertised address and announces ourselves to local subscribers.
    private func start(ip: [UInt8], port: UInt16) {
        var instance = SWIMInstance(
            settings: settings.swim, name: settings.name, ip: ip, port: port, meta: meta,
            now: .now, using: &generator
        )
        instance.isLaterBoot = NodeMeta.isLaterBoot
        swim = instance
        publish(.joined(instance.localMember))
        let address = (try? GossipAddressing.socketAddress(ip: ip, port: port))?.description ?? "\(ip):\(port)"
        logger.info("gossip listening", metadata: [
            "gossip.bind": "\(settings.bindHost):\(boundPort ?? 0)", "gossip.advertise": "\(address)",
            "gossip.encrypted": "\(!settings.keyring.isEmpty)",
        ])
    }

    private func flushPendingBroadcasts() {
        let pending = pendingBroadcasts
        pendingBroadcasts = []
        for message in pending { broadcast(kind: message[0], payload: Array(message.dropFirst())) }
    }

    /// The endpoints that are this node, so join skips them.
    private func ownEndpoints(
        advertise: (ip: [UInt8], port: UInt16), bindAddress: SocketAddress, port: Int, wildcard: Bool
    ) -> [SocketAddress] {
        var endpoints: [SocketAddress] = []
        if let address = try? GossipAddressing.socketAddress(ip: advertise.ip, port: advertise.port) { endpoints.append(address) }
        if wildcard {
            let local = ((try? System.enumerateDevices()) ?? []).compactMap(\.address).compactMap(GossipAddressing.packedIP)
            for ip in local + [[127, 0, 0, 1]] {
                if let address = try? GossipAddressing.socketAddress(ip: ip, port: UInt16(port)) { endpoints.append(address) }
            }
        } else if let ip = GossipAddressing.packedIP(bindAddress),
                  let address = try? GossipAddressing.socketAddress(ip: ip, port: UInt16(port)) {
            endpoints.append(address)
        }
        return endpoints
    }
}

/// The encoders and decoders for one keyring and compression setting.
struct GossipCodec: Sendable {
    /// Datagrams out.
    var packetEncoder: PacketEncoder
    /// Datagrams in.
    var packetDecoder: PacketDecoder
    /// Streams out.
    var streamEncoder: StreamEncoder
    /// Streams in.
    var streamDecoder: StreamDecoder

    init(keyring: Keyring?, compression: Bool) {
        packetEncoder = PacketEncoder(keyring: keyring, compression: compression)
        packetDecoder = PacketDecoder(keyring: keyring)
        streamEncoder = StreamEncoder(keyring: keyring, compression: compression)
        streamDecoder = StreamDecoder(keyring: keyring)
    }
}

/// Lifeguard's local health score (0 healthy, up to 7) and whether the node has joined.
public struct GossipHealthView: Sendable, Hashable {
    public var score: Int
    public var joined: Bool

    public init(score: Int, joined: Bool) {
        self.score = score
        self.joined = joined
    }
}

/// A datagram's source: IP bytes and port.
struct SenderAddress: Hashable {
    var ip: [UInt8]
    var port: UInt16
}
