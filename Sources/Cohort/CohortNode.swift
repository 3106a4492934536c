import CohortConfig
import CohortCore
import CoordinationCore
import RaftCore
#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import Gossip
import GroupsCore
import Logging
import Mesh
import Observability
import Processes
import Raft
import ServiceLifecycle

/// A Cohort node: its settings, identity, health registry and metrics, and the services that run it.
///
/// Build one from settings, add its `services` (and, in the daemon, the admin server and the systemd
/// services) to one `ServiceGroup`, and run the group:
///
/// ```swift
/// let settings = try ConfigLoader.system().load(path: "/etc/cohort/cohortd.yaml")
/// let node = CohortNode.prepare(settings: settings, logger: Logger(label: "cohort"))
/// let group = ServiceGroup(services: node.services, gracefulShutdownSignals: [.sigterm], logger: node.logger)
/// try await group.run()
/// ```
public final class CohortNode: Sendable {
    /// The effective configuration.
    public let settings: CohortSettings
    /// The node's ID, from `cluster.name`.
    public let id: NodeID
    /// This boot's incarnation, persisted under `<data_dir>/_sys` when a data directory resolves.
    public let incarnation: Incarnation
    /// The registry every subsystem registers its liveness and readiness checks with.
    public let health: HealthRegistry
    /// The node's Prometheus registry and node-level metrics.
    public let metrics: CohortMetrics
    /// The node's root logger.
    public let logger: Logger

    /// The gossip membership service; nil when `cluster.enabled` is false.
    public let gossip: GossipService?
    /// The internode mesh; nil when `cluster.enabled` is false.
    public let mesh: MeshService?
    /// The process runtime: spawn processes, send to PIDs and names, monitor and link, on this node and
    /// (with the cluster enabled) across nodes.
    public let processes: ProcessRuntime
    /// External clients' sessions: processes whose inboxes are read over HTTP.
    public let sessions: SessionRegistry
    /// The Raft service (on every clustered node: a client node runs it outside the configuration, only
    /// to route its writes); nil when `cluster.enabled` is false.
    public let raft: RaftService?
    /// Named stores, locks and consistent names: the replicated coordination state (or, with the cluster
    /// disabled, the local one). See ``store(_:)``, ``locks`` and ``names``.
    public let coordination: Coordination
    /// The operator's Raft commands (peers, remove-peer, transfer-leader, the reconciler's recent
    /// operations); nil when `cluster.enabled` is false.
    public let raftOperator: RaftOperator?

    /// The eventual name scope, on the `names` plane.
    let eventualNames: EventualNames
    /// A client node's cache of consistent names (nil on a Raft server and with the cluster disabled).
    let nameCache: ConsistentNameCache?
    private let nameCacheService: NameCacheService?
    private let nameMetrics: NameMetrics

    /// The process-group scopes of `pg.scopes`; see ``groups(_:)``.
    let processGroups: ProcessGroups
    private let groupsService: GroupsService?
    /// The node's state planes (gossip-replicated eventual state; local only with the cluster disabled).
    public let planes: StatePlanes

    private let heartbeat: RuntimeHeartbeat
    private let meshMembership: MeshMembership?
    private let raftHealth: RaftHealth?
    private let raftMembership: RaftMembershipService?
    private let coordinationService: CoordinationService?
    /// The strong name scope's acknowledgement rounds; nil with the cluster disabled.
    public let strongNames: StrongNames?
    /// With the cluster disabled: sweeps the local state's deadlines (there is no leader to).
    private let localSweep: LocalSweepService?
    /// The `kv.crdt` stores, each over its plane.
    let crdtStores: CRDTStores
    /// Records the live members under `<data_dir>/_sys/known-members` for the next start; nil without a
    /// data directory or a cluster.
    private let knownMembers: KnownMembersService?

    /// Builds the node for a boot ``prepare(settings:logger:metrics:environment:nowMilliseconds:)``
    /// resolved: creates its services and registers the built-in health checks. Touches neither the disk,
    /// the clock nor the environment, so a test can build nodes freely; nothing runs until `services` run.
    public init(
        settings: CohortSettings,
        logger: Logger,
        metrics: CohortMetrics = CohortMetrics(version: CohortVersion.current),
        boot: NodeBoot
    ) {
        self.settings = settings
        id = NodeID(settings.cluster.name)
        var logger = logger
        logger[metadataKey: "node"] = "\(settings.cluster.name)"
        self.logger = logger
        self.metrics = metrics
        health = HealthRegistry()
        health.export(to: metrics)
        heartbeat = RuntimeHeartbeat()
        incarnation = boot.incarnation
        let environment = boot.environment

        let store = CoordinationStore()
        let nameMetrics = NameMetrics(registry: metrics.registry)
        self.nameMetrics = nameMetrics
        if settings.cluster.enabled {
            let nodeMeta = Self.nodeMeta(settings, incarnation: incarnation)
            // Encoding fails only for oversized fields, which the configuration already rejects.
            let meta = (try? nodeMeta.encoded()) ?? []
            var gossipSettings = Self.gossipSettings(settings, meta: meta)
            gossipSettings.knownAddresses = boot.knownMembers.filter { $0.name != settings.cluster.name }.map(\.address)
            let gossip = GossipService(settings: gossipSettings, logger: logger, metrics: metrics.registry)
            self.gossip = gossip
            let selfID = id
            knownMembers = settings.cluster.raft.resolvedDataDirectory.map { directory in
                KnownMembersService(
                    gossip: gossip, file: KnownMembersFile(directory: directory + "/_sys"), selfID: selfID, logger: logger
                )
            }
            let publisher = NodeMetaPublisher(meta: nodeMeta, gossip: gossip, logger: logger)
            // Registers its checks; they read the service's published state when asked.
            _ = GossipHealth(gossip: gossip, health: health)
            let mesh = MeshService(
                settings: Self.meshSettings(settings, incarnation: incarnation), logger: logger, metrics: metrics.registry
            )
            self.mesh = mesh
            let processes = ProcessRuntime(
                node: id, incarnation: incarnation, transport: MeshProcessTransport(mesh: mesh),
                logger: logger, metrics: metrics.registry
            )
            self.processes = processes
            mesh.setMessageHandler(for: .processes) { inbound in
                processes.receive(inbound.payload, from: inbound.from)
            }
            meshMembership = MeshMembership(
                selfID: id, gossip: gossip, mesh: mesh, processes: processes, meta: publisher, logger: logger
            )
            var raftSettings = Self.raftSettings(settings, incarnation: incarnation)
            raftSettings.stampProposal = { CoordinationCommand.stamp(&$0, time: Coordination.wallClockMilliseconds()) }
            let raft = RaftService(
                settings: raftSettings, storage: Self.raftStorage(settings, logger: logger), mesh: mesh,
                stateMachine: store, logger: logger, metrics: metrics.registry
            )
            self.raft = raft
            raftHealth = RaftHealth(raft: raft, health: health)
            let raftMembership = RaftMembershipService(
                selfID: id, settings: settings.cluster.raft, gossip: gossip, raft: raft, meta: publisher, store: store, logger: logger,
                registry: metrics.registry, unbounded: environment["COHORT_UNBOUNDED_RAFT"] == "1"
            )
            self.raftMembership = raftMembership
            let raftOperator = RaftOperator(
                selfID: id, raft: raft, mesh: mesh, gossip: gossip, log: raftMembership.operations,
                routing: { raftMembership.routingOrder }, holdOut: { raftMembership.holdOut($0) }, logger: logger
            )
            self.raftOperator = raftOperator
            mesh.setRequestHandler(for: .raftOperator) { inbound in
                await raftOperator.serve(inbound.payload)
            }
            let server = settings.cluster.raft.role == .server
            let coordination = Coordination(
                store: store, log: RaftCommandLog(raft: raft, holdsReplica: server),
                remote: RemoteReplica(mesh: mesh, members: { [id] in raftMembership.routingOrder.filter { $0 != id } }),
                declaredStores: settings.stores, logger: logger, registry: metrics.registry
            )
            self.coordination = coordination
            mesh.setRequestHandler(for: .coordination) { inbound in
                try await ReplicaServer.serve(inbound.payload, coordination: coordination)
            }
            if server {
                processes.addResolver(ConsistentNameResolver(store: store))
                nameCache = nil
            } else {
                let cache = ConsistentNameCache(onLookup: { nameMetrics.cacheLookup(hit: $0) })
                processes.addResolver(CachedNameResolver(cache: cache, processes: processes))
                nameCache = cache
            }
            nameCacheService = NameCacheService(
                cache: nameCache, gossip: gossip, isLeader: { [raft] in raft.isLeader }, store: store, publishes: server,
                dropsFirstRound: Failpoints.dropsNameCacheFirstRound(environment: environment), logger: logger
            )
            let strongNames = StrongNames(
                coordination: coordination, mesh: mesh, gossip: gossip, nodeID: id, conflictCheck: .localNames(processes), logger: logger
            )
            self.strongNames = strongNames
            mesh.setRequestHandler(for: .names) { inbound in try strongNames.serve(inbound.payload) }
            coordinationService = CoordinationService(coordination: coordination, raft: raft, gossip: gossip, logger: logger)
            localSweep = nil
            let groups = ProcessGroups(
                settings: settings.pg, node: id, incarnation: incarnation, mesh: mesh, processes: processes, health: health,
                registry: metrics.registry, logger: logger, environment: environment
            )
            processGroups = groups
            mesh.setMessageHandler(for: .groups) { inbound in groups.receive(inbound) }
            groupsService = GroupsService(groups: groups, gossip: gossip, mesh: mesh, selfID: id)
            planes = StatePlanes(
                selfID: id, incarnation: incarnation, gossip: gossip, mesh: mesh, logger: logger, metrics: metrics.registry,
                gossipBudgetBytes: gossipSettings.swim.gossipBudgetBytes
            )
        } else {
            gossip = nil
            knownMembers = nil
            mesh = nil
            meshMembership = nil
            raft = nil
            raftHealth = nil
            raftMembership = nil
            raftOperator = nil
            coordinationService = nil
            strongNames = nil
            processes = ProcessRuntime(node: id, incarnation: incarnation, logger: logger, metrics: metrics.registry)
            coordination = Coordination(
                store: store, log: LocalCommandLog(store: store, now: { Coordination.wallClockMilliseconds() }), remote: nil,
                declaredStores: settings.stores, logger: logger, registry: metrics.registry
            )
            processes.addResolver(ConsistentNameResolver(store: store))
            nameCache = nil
            nameCacheService = nil
            localSweep = LocalSweepService(coordination: coordination)
            processGroups = ProcessGroups(
                settings: settings.pg, node: id, incarnation: incarnation, mesh: nil, processes: processes, health: health,
                registry: metrics.registry, logger: logger
            )
            groupsService = nil
            planes = StatePlanes(selfID: id, incarnation: incarnation, logger: logger, metrics: metrics.registry)
        }
        eventualNames = EventualNames(
            plane: planes.plane(EventualNames.planeID, options: EventualNames.planeOptions), processes: processes, nodeID: id,
            logger: logger, onConflict: { nameMetrics.conflicts.increment() }
        )
        let coordination = coordination, processes = processes, eventualNames = eventualNames
        // A strong registration is refused by a node that holds the name in its eventual scope too.
        strongNames?.addConflictCheck(NameConflictCheck { name in eventualNames.conflict(name).map { ($0, .eventual) } })
        processes.addResolver(EventualNameResolver(names: eventualNames))
        processes.onExit { pid, _ in
            coordination.metrics?.localNames(processes.localNameCount)
            coordination.processExited(pid)
            eventualNames.processExited(pid)
        }
        metrics.beforeRender { coordination.metrics?.eventualNames(eventualNames.count) }

        let planes = planes
        crdtStores = CRDTStores(
            declared: coordination.declaredStores, loaded: boot.crdtStores, firstSequence: incarnation.rawValue,
            metrics: coordination.metrics, logger: logger, physicalMillis: { Coordination.wallClockMilliseconds() },
            plane: { planes.plane($0) }
        )
        sessions = SessionRegistry(runtime: processes, logger: logger)
        heartbeat.register(with: health)
        Failpoints.register(environment: environment, with: health)
    }

    /// The start-up step: resolves this boot's incarnation (reading and durably bumping
    /// `<data_dir>/_sys/incarnation` when a data directory resolves), reads the durable `kv.crdt` stores
    /// (`<data_dir>/_sys/crdt/<store>/`), logs the configuration's warnings, and builds the node.
    ///
    /// - Throws: ``CRDTStoreFileError`` when a `kv.crdt` store's file is corrupt (the node must not start
    ///   and overwrite it; the error names the file).
    ///
    /// - Parameters:
    ///   - environment: read for test failpoints (`COHORT_FAILPOINT_*`); the process environment by default.
    ///   - nowMilliseconds: the wall clock, for the incarnation.
    public static func prepare(
        settings: CohortSettings,
        logger: Logger,
        metrics: CohortMetrics = CohortMetrics(version: CohortVersion.current),
        environment: [String: String] = ProcessInfo.processInfo.environment,
        nowMilliseconds: UInt64 = UInt64(Date().timeIntervalSince1970 * 1000)
    ) throws(CRDTStoreFileError) -> CohortNode {
        var boot = NodeBoot.resolve(settings: settings, logger: logger, environment: environment, nowMilliseconds: nowMilliseconds)
        if let dataDirectory = settings.cluster.raft.resolvedDataDirectory {
            boot.crdtStores = try CRDTStores.load(settings.stores, dataDirectory: dataDirectory, logger: logger)
        }
        for warning in settings.warnings {
            logger.warning("\(warning)")
        }
        return CohortNode(settings: settings, logger: logger, metrics: metrics, boot: boot)
    }

    /// The store `name`: `default` (always there) or one the configuration's `stores` declares. Throws
    /// ``CoordinationError/notFound(_:)`` for any other name: stores are declared, never created by use.
    public func store(_ name: String = "default") throws(CoordinationError) -> KeyValueStore {
        let settings = try coordination.declaration(name)
        return KeyValueStore(name: name, settings: settings, coordination: coordination, crdt: crdtStores.backends[name])
    }

    /// Distributed locks with fencing tokens.
    public var locks: Locks { Locks(coordination: coordination, nodeID: id) }

    /// The process-group scope `name` (one of `pg.scopes`; `default` unless the configuration says
    /// otherwise). Throws ``GroupError/unknownScope(_:)`` for any other name.
    public func groups(_ name: String = "default") throws(GroupError) -> GroupScope {
        try processGroups.scope(name)
    }

    /// The names of the configured process-group scopes, in `pg.scopes` order.
    public var groupScopes: [String] { processGroups.ordered.map(\.name) }

    /// Process names in all four scopes: local, eventual, consistent and strong.
    public var names: Names {
        Names(coordination: coordination, processes: processes, nodeID: id, eventual: eventualNames, cache: nameCache, strong: strongNames)
    }

    /// Who this node is, as `GET /v1/node` reports it.
    public var info: NodeInfo {
        NodeInfo(
            name: id.rawValue,
            incarnation: incarnation.rawValue,
            clusterEnabled: settings.cluster.enabled,
            role: settings.cluster.enabled ? settings.cluster.raft.role.rawValue : "standalone",
            version: CohortVersion.current
        )
    }

    /// The node's long-lived services, in start order (they stop in reverse).
    public var services: [any Service] {
        // The kv.crdt stores first: stopped last, their final snapshots hold every write made until then.
        var services: [any Service] = [crdtStores, heartbeat]
        if let mesh, let gossip, let meshMembership, let raft, let raftHealth, let raftMembership, let coordinationService {
            // Raft stops before gossip and the mesh: a leader hands over leadership while it can still talk.
            services += [mesh, gossip, meshMembership, raft, raftHealth, raftMembership, coordinationService]
        }
        if let nameCacheService { services.append(nameCacheService) }
        if let knownMembers { services.append(knownMembers) }
        if let groupsService { services.append(groupsService) }
        services += [planes, eventualNames]
        if let localSweep { services.append(localSweep) }
        // Last, so it is stopped first: processes exit (and their EXIT signals leave over the mesh) before
        // the node leaves gossip and closes the mesh.
        services += [sessions, ProcessRuntimeService(runtime: processes)]
        return services
    }

    /// One line for systemd's `STATUS=`: what the node is doing now, with its Raft role, term and leader.
    public func statusLine() -> String {
        let readiness = health.evaluate(.readiness)
        var mode = settings.cluster.enabled ? "cluster member (\(settings.cluster.raft.role.rawValue))" : "single node, cluster disabled"
        if let raftHealth { mode += "; \(raftHealth.summary)" }
        if readiness.isPassing {
            let liveness = health.evaluate(.liveness)
            if !liveness.isPassing {
                return "unhealthy: failing \(liveness.failing.joined(separator: ", ")); \(mode)"
            }
            return "ready: \(id) incarnation \(incarnation); \(mode)"
        }
        return "starting: waiting for \(readiness.failing.joined(separator: ", ")); \(mode)"
    }
}
