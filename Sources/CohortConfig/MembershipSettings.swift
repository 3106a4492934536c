/// `cluster.membership.*`: SWIM + Lifeguard gossip, wire-compatible with HashiCorp memberlist.
public struct MembershipSettings: Sendable, Equatable {
    /// The default gossip port, also used for a `join_addrs` entry written without a port.
    public static let defaultPort = 7946

    /// `cluster.membership.bind_addr`: address the gossip UDP and TCP sockets bind. Default: "0.0.0.0".
    public var bindAddress: String
    /// `cluster.membership.bind_port`: gossip port, UDP and TCP; 0 = ephemeral. Range 0–65535. Default: 7946.
    public var bindPort: Int
    /// `cluster.membership.advertise_addr`: address peers dial (NAT, containers). Default: nil (derived from
    /// the bound address).
    public var advertiseAddress: String?
    /// `cluster.membership.advertise_port`: port peers dial, 1–65535. Default: nil (the bound port).
    public var advertisePort: Int?
    /// `cluster.membership.join_addrs`: seeds to join; empty = this node is a seed. A port omitted in the file
    /// is 7946. DNS names are resolved at join time to all their A records. Default: [].
    public var joinAddresses: [HostPort]
    /// `cluster.membership.secret_key`: base64 AES key (16, 24 or 32 bytes) as written. Default: "" (none).
    public var secretKey: String
    /// `cluster.membership.secret_file`: path of a file holding the base64 key; wins over ``secretKey``.
    /// Default: "" (none).
    public var secretFile: String
    /// `cluster.membership.secret_keys`: more base64 keys accepted for decryption, for key rotation.
    /// Default: [].
    public var secretKeys: [String]
    /// `cluster.membership.probe_interval`: SWIM probe period, before Lifeguard stretching. Default: 1s.
    public var probeInterval: Duration
    /// `cluster.membership.probe_timeout`: wait for an ack before indirect probes; shorter than
    /// ``probeInterval``. Default: 500ms.
    public var probeTimeout: Duration
    /// `cluster.membership.suspicion_mult`: Lifeguard suspicion timeout multiplier (≥ 1). Default: 4.
    public var suspicionMultiplier: Int
    /// `cluster.membership.retransmit_mult`: gossip retransmit multiplier (≥ 1). Default: 4.
    public var retransmitMultiplier: Int
    /// `cluster.membership.gossip_interval`: period of the gossip fan-out. Default: 200ms.
    public var gossipInterval: Duration
    /// `cluster.membership.gossip_nodes`: peers gossiped to per interval (≥ 1). Default: 3.
    public var gossipNodes: Int
    /// `cluster.membership.push_pull_interval`: period of the TCP full-state anti-entropy. Default: 30s.
    public var pushPullInterval: Duration
    /// `cluster.membership.dead_node_reclaim_time`: after this a dead node's name may come back from a new
    /// address. Default: 30s.
    public var deadNodeReclaimTime: Duration
    /// `cluster.membership.rejoin_interval`: how often a node that sees only itself re-runs join.
    /// Default: 30s.
    public var rejoinInterval: Duration
    /// `cluster.membership.cluster_id`: a label; nodes with different labels never merge. Default: "".
    public var clusterID: String
    /// Resolved keyring, primary key first: the `secret_file` content (or else `secret_key`), then
    /// `secret_keys` in order, duplicates dropped; each 16, 24 or 32 raw bytes. Empty = unencrypted.
    /// Filled by ``ConfigLoader``; set it directly when building settings in code.
    public var keyring: [[UInt8]]

    /// Creates gossip settings; every argument defaults to the key table's default.
    public init(
        bindAddress: String = "0.0.0.0",
        bindPort: Int = MembershipSettings.defaultPort,
        advertiseAddress: String? = nil,
        advertisePort: Int? = nil,
        joinAddresses: [HostPort] = [],
        secretKey: String = "",
        secretFile: String = "",
        secretKeys: [String] = [],
        probeInterval: Duration = .seconds(1),
        probeTimeout: Duration = .milliseconds(500),
        suspicionMultiplier: Int = 4,
        retransmitMultiplier: Int = 4,
        gossipInterval: Duration = .milliseconds(200),
        gossipNodes: Int = 3,
        pushPullInterval: Duration = .seconds(30),
        deadNodeReclaimTime: Duration = .seconds(30),
        rejoinInterval: Duration = .seconds(30),
        clusterID: String = "",
        keyring: [[UInt8]] = []
    ) {
        self.bindAddress = bindAddress
        self.bindPort = bindPort
        self.advertiseAddress = advertiseAddress
        self.advertisePort = advertisePort
        self.joinAddresses = joinAddresses
        self.secretKey = secretKey
        self.secretFile = secretFile
        self.secretKeys = secretKeys
        self.probeInterval = probeInterval
        self.probeTimeout = probeTimeout
        self.suspicionMultiplier = suspicionMultiplier
        self.retransmitMultiplier = retransmitMultiplier
        self.gossipInterval = gossipInterval
        self.gossipNodes = gossipNodes
        self.pushPullInterval = pushPullInterval
        self.deadNodeReclaimTime = deadNodeReclaimTime
        self.rejoinInterval = rejoinInterval
        self.clusterID = clusterID
        self.keyring = keyring
    }
}
