import CohortConfig
import CohortCore
import RaftCore
import RaftPersistence
import Gossip
import Logging
import Mesh
import Observability
import Raft

extension CohortNode {
    /// The gossip settings derived from the node's configuration.
    static func gossipSettings(_ settings: CohortSettings, meta: [UInt8]) -> GossipServiceSettings {
        let membership = settings.cluster.membership
        let swim = SWIMSettings(
            probeInterval: membership.probeInterval,
            probeTimeout: membership.probeTimeout,
            suspicionMultiplier: membership.suspicionMultiplier,
            retransmitMultiplier: membership.retransmitMultiplier,
            gossipInterval: membership.gossipInterval,
            gossipNodes: membership.gossipNodes,
            pushPullInterval: membership.pushPullInterval,
            deadNodeReclaimTime: membership.deadNodeReclaimTime
        )
        var gossip = GossipServiceSettings(
            name: settings.cluster.nodeID,
            bindHost: membership.bindAddress,
            bindPort: membership.bindPort,
            advertiseHost: membership.advertiseAddress,
            advertisePort: membership.advertisePort,
            joinAddresses: membership.joinAddresses.map { JoinAddress(host: $0.host, port: $0.port) },
            keyring: membership.keyring,
            swim: swim,
            rejoinInterval: membership.rejoinInterval,
            compression: true,
            meta: meta
        )
        gossip.clusterID = membership.clusterID
        // The metadata's internode port is known once the mesh is bound (MeshMembership publishes it just
        // after start): join with it rather than announce this node a second time right after joining.
        // At most `initialMetaTimeout` (1 s): a mesh that cannot bind stops the node anyway.
        gossip.isMetaComplete = { meta in ((try? NodeMeta(decoding: meta))?.internodePort ?? 0) != 0 }
        return gossip
    }

    /// The metadata this node advertises in gossip (SPEC section 3).
    static func nodeMeta(_ settings: CohortSettings, incarnation: Incarnation, internodePort: UInt16 = 0) -> NodeMeta {
        let raft = settings.cluster.raft
        var meta = NodeMeta(
            internodePort: internodePort,
            raftEligible: raft.eligible,
            raftPriority: UInt16(clamping: raft.priority),
            failureDomain: settings.cluster.failureDomain,
            role: raft.role == .client ? .client : .server,
            bootstrapStatus: .pre,
            bootstrapExpect: UInt16(clamping: raft.bootstrapExpect),
            bootID: incarnation.rawValue,
            buildVersion: CohortVersion.current
        )
        meta.clusterID = settings.cluster.membership.clusterID
        meta.internodeHost = settings.cluster.internode.advertiseAddress ?? ""
        return meta
    }
}

extension CohortNode {
    /// The mesh settings derived from the node's configuration: `cluster.internode.*`, and the gossip keyring
    /// as the cluster key.
    static func meshSettings(_ settings: CohortSettings, incarnation: Incarnation) -> MeshSettings {
        let internode = settings.cluster.internode
        var mesh = MeshSettings(nodeID: settings.cluster.nodeID, incarnation: incarnation)
        mesh.bindHost = internode.bindAddress
        mesh.bindPort = internode.bindPort
        mesh.advertiseHost = internode.advertiseAddress
        mesh.idleTimeout = internode.idleTimeout
        mesh.keyring = settings.cluster.membership.keyring
        return mesh
    }
}

extension CohortNode {
    /// The Raft service's settings: `cluster.raft.heartbeat_interval`, `election_timeout`,
    /// `snapshot_threshold`, `trailing_logs` and the snapshot transfer's `snapshot_chunk_size`,
    /// `snapshot_chunk_timeout` and `snapshot_idle_timeout`, and the boot's incarnation (read contexts are
    /// drawn from it).
    static func raftSettings(_ settings: CohortSettings, incarnation: Incarnation) -> RaftServiceSettings {
        let raft = settings.cluster.raft
        var service = RaftServiceSettings(
            nodeID: settings.cluster.nodeID, heartbeatInterval: raft.heartbeatInterval, electionTimeout: raft.electionTimeout
        )
        service.snapshotThreshold = raft.snapshotThreshold
        service.trailingLogs = raft.trailingLogs
        service.inMemoryLogBytes = raft.logCacheBytes
        service.snapshotChunkBytes = raft.snapshotChunkBytes
        service.snapshotChunkTimeout = raft.snapshotChunkTimeout
        service.snapshotTransferIdleTimeout = raft.snapshotIdleTimeout
        service.incarnation = incarnation.rawValue
        return service
    }

    /// Raft's storage: files in `<data_dir>/_sys/raft`, or memory when no data directory resolves (and on a
    /// client node, which never holds Raft state).
    static func raftStorage(_ settings: CohortSettings, logger: Logger) -> any RaftStorage {
        guard settings.cluster.raft.role == .server else { return MemoryRaftStorage() }
        guard let directory = settings.cluster.raft.resolvedDataDirectory else {
            logger.warning("no data directory resolves: Raft runs diskless, and a restart of this node loses its Raft state")
            return MemoryRaftStorage()
        }
        return FileRaftStorage(directory: directory + "/_sys/raft")
    }
}
