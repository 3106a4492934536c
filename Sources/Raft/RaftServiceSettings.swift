import CohortCore
import RaftCore

/// Everything a ``RaftService`` needs besides its storage, mesh and state machine.
public struct RaftServiceSettings: Sendable {
    /// This node's name (`cluster.name`), the same as its mesh identity.
    public var nodeID: NodeID
    /// The core's tuning, in ticks. A `randomSeed` of 0 is replaced by a random one at start so that
    /// nodes do not draw the same election timeouts.
    public var raft: RaftNodeSettings
    /// How often the core ticks. Default 100 ms (one heartbeat per tick with the core's defaults, and a
    /// 1–2 s election timeout).
    public var tickInterval: Duration = .milliseconds(100)
    /// A snapshot is taken (and the log compacted) once this many entries were applied since the last
    /// one, and their bytes add up to half the last snapshot's size (so a large state is not rewritten
    /// every few thousand small writes). Default 8192.
    public var snapshotThreshold: Int = 8192
    /// Entries kept in the log behind a snapshot, so a follower that lags by fewer catches up by entries
    /// rather than a whole snapshot. In memory while the node runs; the files on disk are compacted
    /// through the snapshot, so after a restart the log starts there. Default 10240.
    public var trailingLogs: Int = 10240
    /// Bytes of applied, durable log entries kept in memory (storage permitting: ``FileRaftStorage``): once
    /// the entries in memory take twice this, the oldest such go, and a follower that lags behind the rest
    /// gets them read back from the segment files (`cluster.raft.log_cache_size`). Default 16 MiB.
    public var inMemoryLogBytes: Int = 16 << 20
    /// Called on the leader with each command it is about to append, to write its clock into the bytes
    /// (the state machine then applies time the same way on every replica). Nil: commands go in as given.
    public var stampProposal: (@Sendable (inout [UInt8]) -> Void)?
    /// How many times a proposal may be forwarded towards the leader. Default 2 (follower → leader, and
    /// once more if leadership just moved).
    public var maxForwardHops: Int = 2
    /// How long a stopping leader waits for its leadership transfer to finish. Default 2 s.
    public var shutdownTransferTimeout: Duration = .seconds(2)
    /// Messages received and not yet handed to the core; more are dropped (Raft retransmits). Default 8192.
    public var inboxCapacity: Int = 8192
    /// Bytes of snapshot data per chunk when a snapshot is streamed to a follower (one chunk in flight per
    /// follower, so this bounds the memory and the bulk queue a transfer takes). Clamped to 1 B…16 MiB.
    /// Default 1 MiB (`cluster.raft.snapshot_chunk_size`).
    public var snapshotChunkBytes: Int = 1 << 20
    /// How long the leader waits for a follower to answer one snapshot chunk before it counts the
    /// transfer as interrupted (the next attempt resumes where the follower is). Default 10 s
    /// (`cluster.raft.snapshot_chunk_timeout`).
    public var snapshotChunkTimeout: Duration = .seconds(10)
    /// A snapshot a follower is receiving is dropped when no chunk of it arrived for this long. Default 60 s
    /// (`cluster.raft.snapshot_idle_timeout`).
    public var snapshotTransferIdleTimeout: Duration = .seconds(60)
    /// Called on the receiver with each snapshot chunk before it is applied (tests cut links with it).
    var snapshotChunkReceivedForTesting: (@Sendable (NodeID, SnapshotChunk) async -> Void)?
    /// This boot's incarnation (the node's, strictly greater on every start): read contexts are drawn from
    /// it so that no answer to an earlier boot's read completes a read of this one. 0 (the default) draws
    /// a random one.
    public var incarnation: UInt64 = 0

    /// The largest ``snapshotChunkBytes`` used, well below the mesh's message limit (64 MiB by default).
    public static let maxSnapshotChunkBytes = 16 << 20

    /// Settings with every default.
    public init(nodeID: NodeID, raft: RaftNodeSettings = RaftNodeSettings()) {
        self.nodeID = nodeID
        self.raft = raft
    }

    /// Settings from the operator's `cluster.raft.heartbeat_interval` and `election_timeout`: the core
    /// ticks once per heartbeat, and its election timeout is the nearest whole number of heartbeats (at
    /// least 2).
    public init(nodeID: NodeID, heartbeatInterval: Duration, electionTimeout: Duration) {
        precondition(heartbeatInterval > .zero, "heartbeatInterval must be positive")
        let ticks = max(2, Int((electionTimeout / heartbeatInterval).rounded()))
        // Standbys hear every 4th heartbeat (2 s at the default 500 ms): see `standbyHeartbeatRounds`.
        self.init(nodeID: nodeID, raft: RaftNodeSettings(electionTicks: ticks, heartbeatTicks: 1, standbyHeartbeatRounds: 4))
        tickInterval = heartbeatInterval
    }
}
