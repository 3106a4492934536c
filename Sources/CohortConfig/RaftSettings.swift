/// Whether a node may be in the Raft configuration at all (`cluster.raft.role`).
public enum ClusterRole: String, Sendable, Equatable, CaseIterable {
    /// May be a voter or standby, as the reconciler decides.
    case server
    /// Gossip only: never in the Raft configuration; writes are forwarded to a Raft member.
    case client
}

/// `cluster.raft.*`: the bounded Raft core (voters, standbys) and its storage.
public struct RaftSettings: Sendable, Equatable {
    /// `cluster.raft.role`. Default: `.server`.
    public var role: ClusterRole
    /// `cluster.raft.eligible`: false = never a voter (standby or client only). Default: true.
    public var eligible: Bool
    /// `cluster.raft.priority`: lower is preferred for voter slots, ties broken by node ID (≥ 0).
    /// Default: 100.
    public var priority: Int
    /// `cluster.raft.bootstrap_expect`: 0 = never self-bootstrap; 1 = bootstrap alone; N = wait until N
    /// eligible nodes advertising the same N are stably visible (≥ 0). Default: 1.
    public var bootstrapExpect: Int
    /// `cluster.raft.max_voters`: voter cap; odd, one of 1, 3, 5, 7. Default: 5.
    public var maxVoters: Int
    /// `cluster.raft.max_standbys`: standby (non-voter) cap, 0–8; 0 = no standbys. Default: 4.
    public var maxStandbys: Int
    /// `cluster.raft.reconcile_debounce`: trailing debounce of the voter reconciler, capped at 5×.
    /// Default: 2s.
    public var reconcileDebounce: Duration
    /// `cluster.raft.heartbeat_interval`: leader heartbeat period. Default: 500ms.
    public var heartbeatInterval: Duration
    /// `cluster.raft.election_timeout`: base election timeout T, randomised in [T, 2T); longer than
    /// ``heartbeatInterval``. Default: 2s.
    public var electionTimeout: Duration
    /// `cluster.raft.data_dir` as written. Default: nil (see ``resolvedDataDirectory``).
    public var dataDirectory: String?
    /// `cluster.raft.snapshot_threshold`: log entries between snapshots (≥ 1). Default: 8192.
    public var snapshotThreshold: Int
    /// `cluster.raft.trailing_logs`: entries kept after a snapshot for slow followers (≥ 0). Default: 10240.
    public var trailingLogs: Int
    /// `cluster.raft.log_cache_size`: bytes of applied log entries kept in memory; once the log's entries
    /// in memory take twice this, the oldest applied ones go (read back from the log files when a
    /// follower needs them). 0…``maxLogCacheBytes``. Default: 16 MiB (16777216).
    public var logCacheBytes: Int
    /// `cluster.raft.snapshot_chunk_size`: bytes of snapshot data per chunk when the leader streams a
    /// snapshot to a follower (one chunk in flight per follower), 1…``maxSnapshotChunkBytes``.
    /// Default: 1 MiB (1048576).
    public var snapshotChunkBytes: Int
    /// `cluster.raft.snapshot_chunk_timeout`: how long the leader waits for a follower to answer one
    /// snapshot chunk before the transfer counts as interrupted (the next attempt resumes). Default: 10s.
    public var snapshotChunkTimeout: Duration
    /// `cluster.raft.snapshot_idle_timeout`: a follower drops a snapshot it is receiving when no chunk of it
    /// arrived for this long; longer than ``snapshotChunkTimeout``. Default: 60s.
    public var snapshotIdleTimeout: Duration
    /// The data directory in use: `data_dir` (a leading `~/` expanded) if set; else the first path of
    /// `$STATE_DIRECTORY` (systemd); else `<home>/.cohort/store`; nil when none resolves (diskless Raft).
    /// Raft lives in `<dir>/_sys/raft`. Filled by ``ConfigLoader``.
    public var resolvedDataDirectory: String?

    /// Creates Raft settings; every argument defaults to the key table's default.
    public init(
        role: ClusterRole = .server,
        eligible: Bool = true,
        priority: Int = 100,
        bootstrapExpect: Int = 1,
        maxVoters: Int = 5,
        maxStandbys: Int = 4,
        reconcileDebounce: Duration = .seconds(2),
        heartbeatInterval: Duration = .milliseconds(500),
        electionTimeout: Duration = .seconds(2),
        dataDirectory: String? = nil,
        snapshotThreshold: Int = 8192,
        trailingLogs: Int = 10240,
        logCacheBytes: Int = 16 << 20,
        snapshotChunkBytes: Int = 1 << 20,
        snapshotChunkTimeout: Duration = .seconds(10),
        snapshotIdleTimeout: Duration = .seconds(60),
        resolvedDataDirectory: String? = nil
    ) {
        self.role = role
        self.eligible = eligible
        self.priority = priority
        self.bootstrapExpect = bootstrapExpect
        self.maxVoters = maxVoters
        self.maxStandbys = maxStandbys
        self.reconcileDebounce = reconcileDebounce
        self.heartbeatInterval = heartbeatInterval
        self.electionTimeout = electionTimeout
        self.dataDirectory = dataDirectory
        self.snapshotThreshold = snapshotThreshold
        self.trailingLogs = trailingLogs
        self.logCacheBytes = logCacheBytes
        self.snapshotChunkBytes = snapshotChunkBytes
        self.snapshotChunkTimeout = snapshotChunkTimeout
        self.snapshotIdleTimeout = snapshotIdleTimeout
        self.resolvedDataDirectory = resolvedDataDirectory
    }

    /// The largest `log_cache_size`: 64 GiB.
    public static let maxLogCacheBytes = 64 << 30

    /// The largest `snapshot_chunk_size`: 16 MiB, well below the mesh's message limit (64 MiB).
    public static let maxSnapshotChunkBytes = 16 << 20
}
