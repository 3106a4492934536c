import CohortCore
import Gossip
import GossipCore
import Logging
import Mesh
import NIOPosix
import NIOSupport
import PlaneCore
import Prometheus
import ServiceLifecycle
import Synchronization

/// All planes of a node; a swift-service-lifecycle Service created by CohortNode when the cluster is
/// enabled (and, without gossip, keeping local state only, when it is not).
///
/// The protocol (docs/planes.md): local writes go out as gossip user messages of kind ``gossipKind``
/// (batched, each at most one datagram); every gossip push/pull carries the digests of all planes as its
/// user state, and each side pulls the shards that differ from the other over the mesh endpoint
/// `planes` (9); entries too large for a datagram are pushed over the mesh to a few random peers and
/// otherwise left to anti-entropy. A one-second timer expires values and collects tombstones while there
/// are any; with none it sleeps until a change brings some.
public final class StatePlanes: Service, Sendable {
    /// The gossip user-message kind of plane deltas.
    public static let gossipKind: UInt8 = 0x50
    /// How many peers a delta that does not go by gossip (too large for a datagram, or gossip busy) is
    /// pushed to directly over the mesh; each receiver to which it is news passes it on the same way (or
    /// by gossip), so it spreads epidemically over TCP.
    static let directPushFanout = 3
    /// Plane deltas go by gossip while fewer user messages than this wait in its broadcast queue.
    static let gossipQueueLimit = 64
    /// The largest delta message pushed over the mesh when gossip is busy.
    static let directBatchBytes = 1 << 20
    /// Pulls in flight at once; further digests' pulls wait for the next push/pull.
    static let maxPullsInFlight = 8
    /// How long a pull may take.
    static let pullTimeout: Duration = .seconds(10)
    /// How often values are expired and tombstones collected.
    static let tickInterval: Duration = .seconds(1)

    let hub: PlaneHub
    private let selfID: NodeID
    private let gossip: GossipService?
    private let mesh: MeshService?
    private let logger: Logger
    private let deltaBell: AsyncStream<Void>
    /// Wakes the parked timer (see ``PlaneHub/parkTicker()``).
    private let tickBell = Doorbell()
    private let pulls: AsyncStream<(peer: NodeID, request: [UInt8])>
    private let pullSink: AsyncStream<(peer: NodeID, request: [UInt8])>.Continuation
    private let pullsInFlight = Atomic<Int>(0)

    /// Planes with no cluster: writes merge locally, nothing is sent (a node with `cluster.enabled` false,
    /// or a test).
    public convenience init(selfID: NodeID, incarnation: Incarnation, logger: Logger, metrics: PrometheusCollectorRegistry? = nil) {
        self.init(selfID: selfID, incarnation: incarnation, gossip: nil, mesh: nil, logger: logger, metrics: metrics)
    }

    /// Planes on gossip and the mesh. Installs the gossip state delegate and the mesh handlers of the
    /// `planes` endpoint at once, so the first (join) push/pull already carries the digests.
    init(
        selfID: NodeID, incarnation: Incarnation, gossip: GossipService?, mesh: MeshService?, logger: Logger,
        metrics: PrometheusCollectorRegistry?, gossipBudgetBytes: Int = SWIMSettings.lan.gossipBudgetBytes
    ) {
        self.selfID = selfID
        self.gossip = gossip
        self.mesh = mesh
        var logger = logger
        logger[metadataKey: "planes.node"] = "\(selfID)"
        self.logger = logger
        let (bell, ring) = AsyncStream.makeStream(of: Void.self, bufferingPolicy: .bufferingNewest(1))
        deltaBell = bell
        (pulls, pullSink) = AsyncStream.makeStream(of: (peer: NodeID, request: [UInt8]).self, bufferingPolicy: .bufferingNewest(Self.maxPullsInFlight))
        // A delta rides one gossip datagram: kind byte and part overhead (2) within the gossip budget.
        let maxDelta = gossipBudgetBytes - 1 - 2 - 1
        let sync = PlaneSync(selfID: selfID, incarnation: incarnation, maxDeltaBytes: maxDelta)
        let tickBell = tickBell
        hub = PlaneHub(
            sync: sync, metrics: metrics.map { PlaneMetrics(registry: $0) }, deltasQueued: { ring.yield() },
            tickNeeded: { tickBell.ring() }
        )
        guard let gossip, let mesh else { return }
        let hub = hub, pullSink = pullSink
        gossip.setStateDelegate(GossipStateDelegate(
            localState: { _ in hub.digestMessage() },
            mergeRemoteState: { bytes, _, _ in
                if let pull = hub.receiveDigest(bytes) { pullSink.yield((peer: pull.peer, request: pull.pull)) }
            }
        ))
        mesh.setMessageHandler(for: .planes) { inbound in hub.receiveEntries(inbound.payload) }
        mesh.setRequestHandler(for: .planes) { inbound in
            guard let reply = hub.answerPull(inbound.payload) else { throw PlaneRequestError.malformed }
            return reply
        }
    }

    /// Registers a plane; call before `run()` (at node build time). Same id twice: precondition failure.
    public func plane(_ id: String, options: PlaneOptions = PlaneOptions()) -> Plane {
        hub.register(id, options: options)
    }

    /// The registered plane `id`, if any.
    public func registered(_ id: String) -> Plane? {
        hub.plane(id)
    }

    /// Every registered plane, by id.
    public var all: [Plane] {
        hub.planes
    }

    /// Sends queued deltas, pulls what peers' digests show missing, follows membership and expires and
    /// collects on a timer, until graceful shutdown.
    public func run() async throws {
        hub.start()
        defer { hub.finishFeeds() }
        guard let gossip, let mesh else {
            await tickUntilShutdown()
            return
        }
        await withDiscardingTaskGroup { group in
            group.addTask { await self.tickUntilShutdown() }
            group.addTask {
                await untilGracefulShutdown { [self] in
                    for await _ in self.deltaBell { await self.sendDeltas(gossip: gossip, mesh: mesh) }
                }
            }
            group.addTask {
                await untilGracefulShutdown { [self] in
                    for await message in gossip.userMessages(kind: Self.gossipKind) {
                        self.hub.receiveEntries(message.payload)
                    }
                }
            }
            group.addTask {
                // Shutdown cancels the pulls still in flight too (a pull is a mesh request; the next
                // push/pull would ask again).
                await untilGracefulShutdown { [self] in
                    await withDiscardingTaskGroup { pullGroup in
                        for await pull in self.pulls {
                            // The next push/pull asks again for whatever a skipped pull would have brought.
                            guard self.pullsInFlight.add(1, ordering: .relaxed).newValue <= Self.maxPullsInFlight else {
                                self.pullsInFlight.subtract(1, ordering: .relaxed)
                                continue
                            }
                            pullGroup.addTask {
                                await self.pull(pull.request, from: pull.peer, mesh: mesh)
                                self.pullsInFlight.subtract(1, ordering: .relaxed)
                            }
                        }
                    }
                }
            }
            await untilGracefulShutdown { [hub, selfID] in
                var known: [NodeID: Incarnation] = [:]
                // In batches: a burst this loop fell behind on is taken in one read, not one wake-up per update.
                for await batch in gossip.events.subscribeBatches() {
                    for update in batch {
                        for change in GroupsService.changes(update, known: &known, selfID: selfID) {
                            switch change {
                            case .up(let node, let incarnation): hub.memberUp(node, incarnation: incarnation)
                            case .down(let node): hub.memberDown(node)
                            }
                        }
                    }
                }
            }
            group.cancelAll()
        }
    }

    /// Ticks every ``tickInterval`` while a plane has something to expire or collect, and otherwise
    /// sleeps until a change gives it some (or a remembered tombstone's horizon comes): an idle node's
    /// planes cost no wakeup.
    private func tickUntilShutdown() async {
        while !Task.isCancelled, !Task.isShuttingDownGracefully {
            hub.tick()
            switch hub.parkTicker() {
            case .tick:
                try? await cancelWhenGracefulShutdown { try await Task.sleep(for: Self.tickInterval) }
            case .park(let wakeAfter):
                await withGracefulShutdownHandler {
                    if let wakeAfter {
                        await tickBell.wait(timeout: max(wakeAfter, Self.tickInterval), on: MultiThreadedEventLoopGroup.singleton.any())
                    } else {
                        await tickBell.wait()
                    }
                } onGracefulShutdown: {
                    self.tickBell.ring()
                }
                hub.unparkTicker()
                // A change that needs ticks waits the interval, as it would have between ticks.
                try? await cancelWhenGracefulShutdown { try await Task.sleep(for: Self.tickInterval) }
            }
        }
    }

    private func sendDeltas(gossip: GossipService, mesh: MeshService) async {
        // Gossip already busy with earlier deltas (a burst of writes): this batch goes over the mesh, in
        // large messages.
        if await gossip.queuedUserBroadcasts >= Self.gossipQueueLimit {
            let (messages, oversized) = hub.takeDeltas(maxBytes: Self.directBatchBytes)
            push(messages + oversized, mesh: mesh)
            return
        }
        var (messages, direct) = hub.takeDeltas()
        for message in messages where await !gossip.broadcastIfRoom(kind: Self.gossipKind, payload: message, limit: Self.gossipQueueLimit) {
            direct.append(message)
        }
        push(direct, mesh: mesh)
    }

    /// Pushes delta messages to a few random peers over the mesh.
    private func push(_ direct: [[UInt8]], mesh: MeshService) {
        guard !direct.isEmpty else { return }
        let peers = hub.alivePeers.shuffled().prefix(Self.directPushFanout)
        for message in direct {
            for peer in peers { _ = mesh.send(message, to: peer, endpoint: .planes, class: .bulk) }
        }
    }

    private func pull(_ request: [UInt8], from peer: NodeID, mesh: MeshService) async {
        do {
            let reply = try await mesh.request(request, to: peer, endpoint: .planes, class: .bulk, timeout: Self.pullTimeout)
            hub.receiveEntries(reply)
        } catch {
            logger.debug("plane pull failed", metadata: ["peer": "\(peer)", "error": "\(error)"])
        }
    }
}

/// Why a plane request was refused.
enum PlaneRequestError: Error, CustomStringConvertible {
    case malformed

    var description: String { "not a plane pull request" }
}
