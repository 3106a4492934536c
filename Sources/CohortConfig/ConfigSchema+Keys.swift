/// The key table of SPEC section 2. Order here is the order of the docs, the rendered YAML and error checks.
extension ConfigSchema {
    static let keys: [ConfigKey] = clusterKeys + membershipKeys + internodeKeys + raftKeys + serviceKeys

    private static let clusterKeys: [ConfigKey] = [
        ConfigKey("cluster.enabled") { raw, settings throws(ConfigError) in
            if let value = try raw.bool() { settings.cluster.enabled = value }
        },
        ConfigKey("cluster.name") { raw, settings throws(ConfigError) in
            guard let value = try raw.string() else { return }
            if value.contains(where: { $0.isWhitespace || $0.isNewline || $0.asciiValue.map { $0 < 0x20 } == true })
                || value.utf8.count > 255
            {
                throw raw.error("\(raw.shown(value)) is not a node name; use up to 255 bytes without whitespace")
            }
            settings.cluster.name = value
        },
        ConfigKey("cluster.failure_domain") { raw, settings throws(ConfigError) in
            guard let value = try raw.string() else { return }
            // It travels in the gossip metadata, which keeps it to 128 bytes.
            if value.utf8.count > 128 {
                throw raw.error("\(raw.shown(value)) is \(value.utf8.count) bytes; use at most 128 bytes")
            }
            settings.cluster.failureDomain = value
        },
    ]

    private static let membershipKeys: [ConfigKey] = [
        ConfigKey("cluster.membership.bind_addr") { raw, settings throws(ConfigError) in
            guard let value = try raw.host() else { return }
            guard let value else { throw raw.error("\"\" is empty; use an IP address such as 0.0.0.0") }
            settings.cluster.membership.bindAddress = value
        },
        ConfigKey("cluster.membership.bind_port") { raw, settings throws(ConfigError) in
            if let value = try raw.port(zeroMeans: "ephemeral") { settings.cluster.membership.bindPort = value }
        },
        ConfigKey("cluster.membership.advertise_addr") { raw, settings throws(ConfigError) in
            if let value = try raw.host() { settings.cluster.membership.advertiseAddress = value }
        },
        ConfigKey("cluster.membership.advertise_port") { raw, settings throws(ConfigError) in
            if let value = try raw.port() { settings.cluster.membership.advertisePort = value }
        },
        ConfigKey("cluster.membership.join_addrs", environment: .commaList, aliases: ["COHORT_JOIN_ADDRS"]) {
            raw, settings throws(ConfigError) in
            guard let items = try raw.list("a comma-separated list of host:port") else { return }
            var addresses: [HostPort] = []
            for item in items {
                guard let text = try item.scalar("host:port") else { continue }
                addresses.append(try joinAddress(text, item))
            }
            settings.cluster.membership.joinAddresses = addresses
        },
        ConfigKey("cluster.membership.secret_key", aliases: ["COHORT_SECRET_KEY"], secret: true) {
            raw, settings throws(ConfigError) in
            if let value = try raw.string() { settings.cluster.membership.secretKey = value }
        },
        ConfigKey("cluster.membership.secret_file") { raw, settings throws(ConfigError) in
            if let value = try raw.string() { settings.cluster.membership.secretFile = value }
        },
        ConfigKey("cluster.membership.secret_keys", environment: .commaList, secret: true) {
            raw, settings throws(ConfigError) in
            if let value = try raw.strings("a list of base64 keys") { settings.cluster.membership.secretKeys = value }
        },
        ConfigKey("cluster.membership.probe_interval") { raw, settings throws(ConfigError) in
            if let value = try raw.positiveDuration() { settings.cluster.membership.probeInterval = value }
        },
        ConfigKey("cluster.membership.probe_timeout") { raw, settings throws(ConfigError) in
            if let value = try raw.positiveDuration() { settings.cluster.membership.probeTimeout = value }
        },
        ConfigKey("cluster.membership.suspicion_mult") { raw, settings throws(ConfigError) in
            if let value = try raw.int(atLeast: 1) { settings.cluster.membership.suspicionMultiplier = value }
        },
        ConfigKey("cluster.membership.retransmit_mult") { raw, settings throws(ConfigError) in
            if let value = try raw.int(atLeast: 1) { settings.cluster.membership.retransmitMultiplier = value }
        },
        ConfigKey("cluster.membership.gossip_interval") { raw, settings throws(ConfigError) in
            if let value = try raw.positiveDuration() { settings.cluster.membership.gossipInterval = value }
        },
        ConfigKey("cluster.membership.gossip_nodes") { raw, settings throws(ConfigError) in
            if let value = try raw.int(atLeast: 1) { settings.cluster.membership.gossipNodes = value }
        },
        ConfigKey("cluster.membership.push_pull_interval") { raw, settings throws(ConfigError) in
            if let value = try raw.positiveDuration() { settings.cluster.membership.pushPullInterval = value }
        },
        ConfigKey("cluster.membership.dead_node_reclaim_time") { raw, settings throws(ConfigError) in
            if let value = try raw.positiveDuration() { settings.cluster.membership.deadNodeReclaimTime = value }
        },
        ConfigKey("cluster.membership.rejoin_interval") { raw, settings throws(ConfigError) in
            if let value = try raw.positiveDuration() { settings.cluster.membership.rejoinInterval = value }
        },
        ConfigKey("cluster.membership.cluster_id") { raw, settings throws(ConfigError) in
            guard let value = try raw.string() else { return }
            // It travels in the gossip metadata, which keeps it to 64 bytes.
            if value.utf8.count > 64 {
                throw raw.error("\(raw.shown(value)) is \(value.utf8.count) bytes; use at most 64 bytes")
            }
            settings.cluster.membership.clusterID = value
        },
    ]

    private static let internodeKeys: [ConfigKey] = [
        ConfigKey("cluster.internode.bind_addr") { raw, settings throws(ConfigError) in
            guard let value = try raw.host() else { return }
            guard let value else { throw raw.error("\"\" is empty; use an IP address such as 0.0.0.0") }
            settings.cluster.internode.bindAddress = value
        },
        ConfigKey("cluster.internode.bind_port") { raw, settings throws(ConfigError) in
            if let value = try raw.port(zeroMeans: "auto: 7950–7959, then ephemeral") {
                settings.cluster.internode.bindPort = value
            }
        },
        ConfigKey("cluster.internode.advertise_addr") { raw, settings throws(ConfigError) in
            if let value = try raw.host() { settings.cluster.internode.advertiseAddress = value }
        },
        ConfigKey("cluster.internode.idle_timeout") { raw, settings throws(ConfigError) in
            if let value = try raw.durationOrDisabled() { settings.cluster.internode.idleTimeout = value }
        },
    ]

    private static let raftKeys: [ConfigKey] = [
        ConfigKey("cluster.raft.role") { raw, settings throws(ConfigError) in
            if let value = try raw.choice("role", ClusterRole.self) { settings.cluster.raft.role = value }
        },
        ConfigKey("cluster.raft.eligible") { raw, settings throws(ConfigError) in
            if let value = try raw.bool() { settings.cluster.raft.eligible = value }
        },
        ConfigKey("cluster.raft.priority") { raw, settings throws(ConfigError) in
            if let value = try raw.int(atLeast: 0, hint: "use 0 or more (lower is preferred for voter slots)") {
                settings.cluster.raft.priority = value
            }
        },
        ConfigKey("cluster.raft.bootstrap_expect", aliases: ["COHORT_BOOTSTRAP_EXPECT"]) {
            raw, settings throws(ConfigError) in
            let hint = "use 0 (never self-bootstrap), 1 (bootstrap alone) or N (wait for N nodes)"
            if let value = try raw.int(atLeast: 0, hint: hint) { settings.cluster.raft.bootstrapExpect = value }
        },
        ConfigKey("cluster.raft.max_voters") { raw, settings throws(ConfigError) in
            guard let value = try raw.int() else { return }
            guard (1...7).contains(value) else {
                throw raw.error("\(value) is out of range; must be odd (1, 3, 5 or 7)")
            }
            guard value % 2 == 1 else { throw raw.error("\(value) is even; must be odd (1, 3, 5 or 7)") }
            settings.cluster.raft.maxVoters = value
        },
        ConfigKey("cluster.raft.max_standbys") { raw, settings throws(ConfigError) in
            guard let value = try raw.int() else { return }
            guard (0...8).contains(value) else {
                throw raw.error("\(value) is out of range; use 0–8 (0 = no standbys)")
            }
            settings.cluster.raft.maxStandbys = value
        },
        ConfigKey("cluster.raft.reconcile_debounce") { raw, settings throws(ConfigError) in
            if let value = try raw.positiveDuration() { settings.cluster.raft.reconcileDebounce = value }
        },
        ConfigKey("cluster.raft.heartbeat_interval") { raw, settings throws(ConfigError) in
            if let value = try raw.positiveDuration() { settings.cluster.raft.heartbeatInterval = value }
        },
        ConfigKey("cluster.raft.election_timeout") { raw, settings throws(ConfigError) in
            if let value = try raw.positiveDuration() { settings.cluster.raft.electionTimeout = value }
        },
        ConfigKey("cluster.raft.data_dir", aliases: ["COHORT_DATA_DIR"]) { raw, settings throws(ConfigError) in
            if let value = try raw.string() { settings.cluster.raft.dataDirectory = value.isEmpty ? nil : value }
        },
        ConfigKey("cluster.raft.snapshot_threshold") { raw, settings throws(ConfigError) in
            if let value = try raw.int(atLeast: 1) { settings.cluster.raft.snapshotThreshold = value }
        },
        ConfigKey("cluster.raft.trailing_logs") { raw, settings throws(ConfigError) in
            if let value = try raw.int(atLeast: 0) { settings.cluster.raft.trailingLogs = value }
        },
        ConfigKey("cluster.raft.log_cache_size") { raw, settings throws(ConfigError) in
            if let value = try raw.byteCount(in: 0...RaftSettings.maxLogCacheBytes, "64 GiB") { settings.cluster.raft.logCacheBytes = value }
        },
        ConfigKey("cluster.raft.snapshot_chunk_size") { raw, settings throws(ConfigError) in
            if let value = try raw.byteCount(in: 1...RaftSettings.maxSnapshotChunkBytes, "16 MiB") {
                settings.cluster.raft.snapshotChunkBytes = value
            }
        },
        ConfigKey("cluster.raft.snapshot_chunk_timeout") { raw, settings throws(ConfigError) in
            if let value = try raw.positiveDuration() { settings.cluster.raft.snapshotChunkTimeout = value }
        },
        ConfigKey("cluster.raft.snapshot_idle_timeout") { raw, settings throws(ConfigError) in
            if let value = try raw.positiveDuration() { settings.cluster.raft.snapshotIdleTimeout = value }
        },
    ]

    private static let serviceKeys: [ConfigKey] = [
        ConfigKey("admin.address") { raw, settings throws(ConfigError) in
            guard let text = try raw.string() else { return }
            if text.isEmpty {
                settings.admin.address = nil
                return
            }
            switch HostPort.parse(text, defaultPort: nil) {
            case .success(var address):
                if address.host.isEmpty { address.host = "0.0.0.0" }
                settings.admin.address = address
            case .failure(let problem):
                let example = problem == .unbracketedIPv6 ? "" : " (e.g. 127.0.0.1:7960, or \"\" for off)"
                throw raw.error("\(raw.shown(text)) \(problem.explanation)\(example)")
            }
        },
        ConfigKey("admin.token", secret: true) { raw, settings throws(ConfigError) in
            if let value = try raw.string() { settings.admin.token = value }
        },
        ConfigKey("admin.token_file") { raw, settings throws(ConfigError) in
            if let value = try raw.string() { settings.admin.tokenFile = value }
        },
        ConfigKey("log.level") { raw, settings throws(ConfigError) in
            if let value = try raw.choice("log level", LogLevel.self) { settings.log.level = value }
        },
        ConfigKey("log.format") { raw, settings throws(ConfigError) in
            if let value = try raw.choice("log format", LogFormat.self) { settings.log.format = value }
        },
        ConfigKey("pg.scopes", environment: .commaList, apply: applyScopes),
        ConfigKey("stores", environment: .none, apply: applyStores),
    ]

    /// One `join_addrs` entry: `host[:port]`, port 7946 when omitted.
    private static func joinAddress(_ text: String, _ raw: RawValue) throws(ConfigError) -> HostPort {
        switch HostPort.parse(text, defaultPort: MembershipSettings.defaultPort) {
        case .success(let address) where address.host.isEmpty:
            throw raw.error("\(raw.shown(text)) has no host; use host:port (e.g. node-1:7946)")
        case .success(let address) where address.port == 0:
            throw raw.error("\(raw.shown(text)) has port 0; use a port 1–65535")
        case .success(let address):
            return address
        case .failure(let problem):
            let example = problem == .unbracketedIPv6 ? "" : " (e.g. node-1:7946)"
            throw raw.error("\(raw.shown(text)) \(problem.explanation)\(example)")
        }
    }
}
