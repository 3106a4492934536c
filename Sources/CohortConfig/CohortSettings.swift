import CohortCore

/// The whole configuration of a node: the YAML file, overlaid by `COHORT_*` environment variables, checked,
/// with derived values (keyring, token, data directory, node name) already resolved.
///
/// Built by ``ConfigLoader``; every field has the default of the key table in `docs/configuration.md`.
public struct CohortSettings: Sendable, Equatable {
    /// `cluster.*`: membership, internode mesh and Raft. Inert while `cluster.enabled` is false.
    public var cluster: ClusterSettings
    /// `admin.*`: the HTTP endpoint for `/metrics`, `/livez`, `/readyz` and `/v1`.
    public var admin: AdminSettings
    /// `log.*`: log level and format.
    public var log: LogSettings
    /// `pg.*`: process-group scopes.
    public var pg: ProcessGroupSettings
    /// `stores`: declared key-value stores. Default: none.
    public var stores: [StoreSettings]
    /// Things that are allowed but probably not what the operator wants (no cluster key, diskless Raft,
    /// an even `bootstrap_expect`, ...). One line each, for logging at startup and `cohortd --check`.
    public var warnings: [String]

    /// Creates settings; every argument defaults to the key table's default.
    public init(
        cluster: ClusterSettings = ClusterSettings(),
        admin: AdminSettings = AdminSettings(),
        log: LogSettings = LogSettings(),
        pg: ProcessGroupSettings = ProcessGroupSettings(),
        stores: [StoreSettings] = [],
        warnings: [String] = []
    ) {
        self.cluster = cluster
        self.admin = admin
        self.log = log
        self.pg = pg
        self.stores = stores
        self.warnings = warnings
    }
}

/// `cluster.*`: whether this node clusters, who it is, and how it talks to the others.
public struct ClusterSettings: Sendable, Equatable {
    /// `cluster.enabled`. Off: no gossip socket, no mesh, no Raft; cluster APIs answer "cluster disabled".
    /// Default: false.
    public var enabled: Bool
    /// `cluster.name`: the unique node name, used as gossip name, mesh ID, Raft server ID and the node part of
    /// every PID. Default: the host name (the loader fills it in).
    public var name: String
    /// `cluster.failure_domain`: zone or rack; voters are spread across distinct domains first.
    /// Default: "" (no domain).
    public var failureDomain: String
    /// `cluster.membership.*`: SWIM gossip.
    public var membership: MembershipSettings
    /// `cluster.internode.*`: the TCP mesh that carries Raft, relay and pg traffic.
    public var internode: InternodeSettings
    /// `cluster.raft.*`: the bounded Raft core.
    public var raft: RaftSettings

    /// Creates cluster settings; every argument defaults to the key table's default.
    public init(
        enabled: Bool = false,
        name: String = "",
        failureDomain: String = "",
        membership: MembershipSettings = MembershipSettings(),
        internode: InternodeSettings = InternodeSettings(),
        raft: RaftSettings = RaftSettings()
    ) {
        self.enabled = enabled
        self.name = name
        self.failureDomain = failureDomain
        self.membership = membership
        self.internode = internode
        self.raft = raft
    }

    /// The node's one identity, from ``name``.
    public var nodeID: NodeID { NodeID(name) }
}

/// `cluster.internode.*`: the internode mesh listener.
public struct InternodeSettings: Sendable, Equatable {
    /// `cluster.internode.bind_addr`: address the mesh listens on. Default: "0.0.0.0".
    public var bindAddress: String
    /// `cluster.internode.bind_port`: 0 = auto (the first free port of 7950–7959, then an ephemeral one),
    /// pinned for the node's life and advertised in gossip. Range 0–65535. Default: 0.
    public var bindPort: Int
    /// `cluster.internode.advertise_addr`: address peers dial for the mesh. Default: nil (the gossip
    /// advertise address).
    public var advertiseAddress: String?
    /// `cluster.internode.idle_timeout`: a connection unused this long is closed (the next message dials
    /// again); nil (`0` in the file) keeps connections open. Default: 60 s.
    public var idleTimeout: Duration?

    /// The first port tried when ``bindPort`` is 0 (auto).
    public static let autoPortRange: ClosedRange<Int> = 7950...7959

    /// Creates mesh settings; every argument defaults to the key table's default.
    public init(
        bindAddress: String = "0.0.0.0", bindPort: Int = 0, advertiseAddress: String? = nil,
        idleTimeout: Duration? = .seconds(60)
    ) {
        self.bindAddress = bindAddress
        self.bindPort = bindPort
        self.advertiseAddress = advertiseAddress
        self.idleTimeout = idleTimeout
    }
}
