/// `pg.*`: Erlang-style process-group scopes.
public struct ProcessGroupSettings: Sendable, Equatable {
    /// `pg.scopes`: the scopes this node runs, names unique. Default: one scope named `default`.
    public var scopes: [ProcessGroupScopeSettings]

    /// Creates pg settings; by default one scope named `default` with default settings.
    public init(scopes: [ProcessGroupScopeSettings] = [ProcessGroupScopeSettings(name: "default")]) {
        self.scopes = scopes
    }
}

/// One item of `pg.scopes`: written as a plain name, or as a map with these keys.
public struct ProcessGroupScopeSettings: Sendable, Equatable {
    /// `name`: the scope name; non-empty, no whitespace or commas.
    public var name: String
    /// `sync_interval`: how long a sync handshake with a peer waits for its acknowledgement before it is
    /// sent again (`max_retries` times, then the peer's circuit breaker opens). Default: 2s; > 0.
    public var syncInterval: Duration
    /// `anti_entropy_interval`: period of the sync with one random peer; nil (written 0) = disabled.
    /// Default: 30s.
    public var antiEntropyInterval: Duration?
    /// `max_retries`: retries of a failed sync before the per-peer circuit breaker opens; 0 = no retries.
    /// Default: 3.
    public var maxRetries: Int
    /// `max_groups`: the most groups of the scope that this node's processes may be members of; a join
    /// that would add one more fails. Default: 1,000,000.
    public var maxGroups: Int
    /// `broadcast_liveness`: `pg.broadcast_recent.<scope>` fails when the scope has remote members but no
    /// broadcast was seen for this long; nil (written 0) = check disabled. Default: 5m.
    public var broadcastLiveness: Duration?

    /// Creates scope settings; every argument but the name defaults to the key table's default.
    public init(
        name: String,
        syncInterval: Duration = .seconds(2),
        antiEntropyInterval: Duration? = .seconds(30),
        maxRetries: Int = 3,
        maxGroups: Int = 1_000_000,
        broadcastLiveness: Duration? = .seconds(300)
    ) {
        self.name = name
        self.syncInterval = syncInterval
        self.antiEntropyInterval = antiEntropyInterval
        self.maxRetries = maxRetries
        self.maxGroups = maxGroups
        self.broadcastLiveness = broadcastLiveness
    }
}
