import NIOSupport
import CohortCore
import Logging
import NIOCore
import NIOPosix
import Prometheus
import ServiceLifecycle

/// The internode mesh: one TCP connection per node pair, carrying Raft RPCs, process messages (relay),
/// forwarded writes and process-group traffic in per-class queues.
///
/// The node feeds it membership (``setPeer(_:host:port:incarnation:)``, ``removePeer(_:)``). Connections
/// are made on demand: a node dials a peer when it has something to send and no connection (when both
/// dial at once, the smaller ID's connection is kept), and a connection idle for
/// ``MeshSettings/idleTimeout`` is closed, so a node holds connections only to the peers it talks to.
/// Sending never blocks and never hops to the actor:
/// ``send(_:to:endpoint:class:)`` puts the message in the peer's queue under a lock and wakes the
/// connection's writer. Received messages go to synchronous handlers in frame order, per connection.
///
/// `run()` binds (port 0: the first free of 7950…7959, else any) and serves until graceful shutdown or
/// cancellation, then closes every connection and fails pending requests with ``MeshError/stopped``.
/// The actor, its tasks and its sockets all run on one NIO event loop.
///
/// Sending to a node that was never `setPeer` (and never connected to us) returns
/// `.dropped(.unknownPeer)` at once rather than waiting for membership: the caller knows immediately and
/// nothing unbounded accumulates for names that may never become peers.
public actor MeshService: Service {
    nonisolated let settings: MeshSettings
    /// Where outgoing connections leave from: ``MeshSettings/bindHost`` when it is an IP literal (not a
    /// wildcard), so that peers and firewalls see the node's own address.
    nonisolated let sourceAddress: SocketAddress?
    nonisolated let logger: Logger
    nonisolated let metrics: MeshMetrics?
    nonisolated let keyring: MeshKeyring?
    nonisolated let executor: EventLoopTaskExecutor
    nonisolated let directory = PeerDirectory()
    nonisolated let handlers = HandlerTable()
    nonisolated let pending = PendingRequests()
    nonisolated let events = PeerEventHub()
    nonisolated let counters = ServiceCounters()
    nonisolated let liveChannels = ChannelRegistry()
    nonisolated let inboundSlots: Slots
    nonisolated let requestSlots: Slots
    nonisolated let dialJobs: AsyncStream<PeerLink>.Continuation
    nonisolated let dialJobStream: AsyncStream<PeerLink>
    nonisolated let requestJobs: AsyncStream<RequestJob>.Continuation
    nonisolated let requestJobStream: AsyncStream<RequestJob>
    private let startupError: MeshError?
    private var started = false
    private var finishedWithoutBinding = false

    /// The port the listener is bound to; nil until `run()` has bound it. Kept for the service's life.
    public private(set) var boundPort: Int?
    private var boundPortWaiters: [CheckedContinuation<Int?, Never>] = []

    /// Creates the service; nothing is bound until `run()`.
    ///
    /// - Parameters:
    ///   - settings: Identity, socket, keys, limits and timing; checked by `run()`.
    ///   - logger: One line per connection change and per problem an operator should see.
    ///   - metrics: Where the `internode_*` metrics are registered; nil records none.
    public init(settings: MeshSettings, logger: Logger, metrics: PrometheusCollectorRegistry? = nil) {
        self.settings = settings
        let wildcard = ["", "0.0.0.0", "::", "[::]"].contains(settings.bindHost)
        sourceAddress = wildcard ? nil : try? SocketAddress(ipAddress: settings.bindHost, port: 0)
        var logger = logger
        logger[metadataKey: "mesh.node"] = "\(settings.nodeID)"
        self.logger = logger
        self.metrics = metrics.map { MeshMetrics(registry: $0) }
        executor = EventLoopTaskExecutor(eventLoop: MultiThreadedEventLoopGroup.singleton.next())
        inboundSlots = Slots(limit: settings.maxInboundConnections)
        requestSlots = Slots(limit: settings.maxConcurrentRequests)
        do {
            try settings.validate()
            startupError = nil
        } catch {
            startupError = error
        }
        keyring = startupError == nil ? MeshKeyring(settings.keyring) : nil
        (dialJobStream, dialJobs) = AsyncStream.makeStream(of: PeerLink.self)
        (requestJobStream, requestJobs) = AsyncStream.makeStream(of: RequestJob.self)
    }

    /// The event loop the service's actor, tasks and sockets run on; a service that mostly talks through
    /// the mesh can run there too and save a thread hop per message.
    public nonisolated var eventLoop: any EventLoop { executor.eventLoop }

    /// The actor runs on the service's event loop (see ``EventLoopTaskExecutor``).
    public nonisolated var unownedExecutor: UnownedSerialExecutor {
        executor.eventLoop.executor.asUnownedSerialExecutor()
    }

    /// The host to advertise to peers: ``MeshSettings/advertiseHost``, else the bind host unless it is a
    /// wildcard (then nil: the node advertises its gossip address).
    public nonisolated var advertisedHost: String? {
        if let host = settings.advertiseHost { return host }
        return ["0.0.0.0", "::", ""].contains(settings.bindHost) ? nil : settings.bindHost
    }

    // MARK: Membership

    /// Adds or updates a peer from membership. Messages to it queue from now on; the first one dials it
    /// (and a lost connection is redialled, with backoff, while anything waits for it). A newer
    /// `incarnation` than the connected one closes that connection (the peer restarted). Our own ID is
    /// ignored.
    public func setPeer(_ id: NodeID, host: String, port: Int, incarnation: Incarnation?) {
        guard id != settings.nodeID else { return }
        guard let (link, created) = directory.link(id, orCreate: { makeLink(id, known: true) }) else { return }
        // Counting is O(peers): only when this call can change the count.
        let wasKnown = !created && link.isKnown
        if let stale = link.update(host: host, port: port, incarnation: incarnation) {
            logger.info("mesh peer restarted; closing the connection to its old incarnation", metadata: [
                "peer": "\(id)", "peer.incarnation": "\(stale.peerIncarnation)",
            ])
            stale.connection.channel.close(promise: nil)
        }
        if created { logger.debug("mesh peer added", metadata: ["peer": "\(id)", "addr": "\(host):\(port)"]) }
        if !wasKnown { countPeers() }
    }

    /// Sets `internode_peers` to the peers introduced by membership.
    private func countPeers() {
        metrics?.peers.set(Int64(directory.all.count { $0.isKnown }))
    }

    /// Forgets a peer that left membership: closes its connection, drops its queues (counted as
    /// `peer_removed`), fails its pending requests with ``MeshError/peerRemoved(_:)``, removes its
    /// metric series and publishes ``MeshPeerEvent/removed(_:)``. The reliable stream ends here.
    public func removePeer(_ id: NodeID) {
        guard let link = directory.remove(id) else { return }
        let (messages, connection) = link.remove()
        for (trafficClass, dropped) in messages {
            metrics?.countDropped(trafficClass, .peerRemoved, by: dropped.count)
        }
        if let connection {
            connection.channel.close(promise: nil)
            metrics?.connections.decrement()
        }
        let failed = pending.failAll(to: id, with: .peerRemoved(id))
        metrics?.removeDepthGauges(link.removeDepthGauges())
        events.publish(.removed(id))
        countPeers()
        logger.info("mesh peer removed", metadata: [
            "peer": "\(id)", "dropped": "\(messages.reduce(0) { $0 + $1.1.count })", "failed_requests": "\(failed)",
        ])
    }

    nonisolated func makeLink(_ id: NodeID, known: Bool) -> PeerLink {
        let dialJobs = dialJobs
        var depthGauges: (@Sendable () -> [Gauge])?
        if let metrics { depthGauges = { metrics.depthGauges(peer: id) } }
        return PeerLink(
            id: id, settings: settings, streamID: UInt64.random(in: 1...UInt64.max), known: known,
            depthGauges: depthGauges, startDialLoop: { dialJobs.yield($0) }
        )
    }

    // MARK: Sending and receiving

    /// Queues `payload` for `peer` in `trafficClass`, FIFO per (peer, class). Non-blocking, callable from
    /// any thread. `.queued` is not delivery: relay messages are delivered exactly once unless the peer
    /// is removed or restarts; other classes are lost with a connection that breaks after writing them.
    public nonisolated func send(
        _ payload: [UInt8], to peer: NodeID, endpoint: MeshEndpoint, class trafficClass: TrafficClass
    ) -> MeshSendResult {
        guard payload.count <= settings.maxMessageBytes else { return dropped(trafficClass, .tooLarge) }
        guard let link = directory.link(peer) else {
            return dropped(trafficClass, directory.isStopped ? .stopped : .unknownPeer)
        }
        switch link.enqueue(OutboundMessage(kind: .message, endpoint: endpoint, payload: payload), in: trafficClass) {
        case .queued(let droppedOldest):
            metrics?.countDropped(trafficClass, .queueFull, by: droppedOldest)
            return .queued
        case .full:
            return dropped(trafficClass, .queueFull)
        case .removed:
            return dropped(trafficClass, .peerRemoved)
        }
    }

    private nonisolated func dropped(_ trafficClass: TrafficClass, _ reason: MeshDropReason) -> MeshSendResult {
        metrics?.countDropped(trafficClass, reason)
        return .dropped(reason)
    }

    /// Registers the handler of one-way messages to `endpoint`, replacing any earlier one. It runs on the
    /// connection's task, in frame order per peer, and must not block: hand work off. Set before `run()`;
    /// messages for an endpoint without a handler are dropped (`no_handler`).
    public nonisolated func setMessageHandler(for endpoint: MeshEndpoint, _ handler: @escaping @Sendable (MeshInbound) -> Void) {
        handlers.setMessageHandler(handler, for: endpoint)
    }

    /// Registers the handler of requests to `endpoint`. Each request runs in its own task; what it returns
    /// is the reply, what it throws reaches the requester as ``MeshError/remote(_:)``. A request without a
    /// handler is answered with ``MeshError/noHandler(_:)``.
    public nonisolated func setRequestHandler(
        for endpoint: MeshEndpoint, _ handler: @escaping @Sendable (MeshInbound) async throws -> [UInt8]
    ) {
        handlers.setRequestHandler(handler, for: endpoint)
    }

    /// A new subscription to connection changes: first `connected` for every connected peer, then each
    /// change. Bounded: a subscriber that falls 1024 events behind loses the oldest. Finishes when the
    /// service stops.
    public nonisolated var peerEvents: AsyncStream<MeshPeerEvent> {
        events.subscribe()
    }

    /// Messages held for `peer` in `trafficClass` (relay: not yet acknowledged); 0 for an unknown peer.
    public nonisolated func queueDepth(to peer: NodeID, class trafficClass: TrafficClass) -> Int {
        directory.link(peer)?.depth(trafficClass) ?? 0
    }

    /// Dials `peer` now unless a connection is live or being dialled, although nothing is queued for it: a
    /// warm-up, so that the first message does not wait for a connection and a handshake. The connection
    /// is closed like any other once idle. Nothing happens for an unknown peer.
    public nonisolated func connect(to peer: NodeID) {
        directory.link(peer)?.connectSoon()
    }

    /// Whether a connection to `peer` has finished its handshake.
    public nonisolated func isConnected(to peer: NodeID) -> Bool {
        directory.link(peer)?.liveConnection != nil
    }

    func markStarted() throws(MeshError) {
        if let startupError { throw startupError }
        guard !started else { throw .invalidSettings("run() was called twice; create a new MeshService instead") }
        started = true
    }

    func setBoundPort(_ port: Int?) {
        if let port { boundPort = port }
        let waiters = boundPortWaiters
        boundPortWaiters = []
        for waiter in waiters { waiter.resume(returning: port) }
    }

    func finishWithoutBinding() {
        finishedWithoutBinding = true
        setBoundPort(nil)
    }

    /// The bound port, waiting for `run()` to bind it; nil when `run()` ended without binding (bad
    /// settings, no free port).
    public func waitUntilBound() async -> Int? {
        if let boundPort { return boundPort }
        guard !finishedWithoutBinding else { return nil }
        return await withCheckedContinuation { boundPortWaiters.append($0) }
    }
}

extension MeshService {
    /// Closes the connection to `peer` under the mesh's feet, as a network fault would: the mesh notices
    /// and reconnects. For tests (`@testable import Mesh`).
    nonisolated func closeConnectionForTesting(to peer: NodeID) {
        directory.link(peer)?.liveConnection?.connection.channel.close(promise: nil)
    }

    /// Whether the keepalive of the connection to `peer` is parked (the connection is idle). For tests.
    nonisolated func isKeepaliveParkedForTesting(to peer: NodeID) -> Bool {
        directory.link(peer)?.liveConnection?.keepalive.isParked ?? false
    }
}
