@testable import CohortConfig
import Testing

/// One pinned default: the key path and a check against settings loaded from nothing.
struct DefaultCase: Sendable, CustomTestStringConvertible {
    let path: String
    let holds: @Sendable (CohortSettings) -> Bool
    var testDescription: String { path }

    init(_ path: String, _ holds: @escaping @Sendable (CohortSettings) -> Bool) {
        self.path = path
        self.holds = holds
    }
}

/// SPEC section 2, key by key.
let defaultCases: [DefaultCase] = [
    DefaultCase("cluster.enabled") { $0.cluster.enabled == false },
    DefaultCase("cluster.name") { $0.cluster.name == "testhost" },
    DefaultCase("cluster.failure_domain") { $0.cluster.failureDomain == "" },
    DefaultCase("cluster.membership.bind_addr") { $0.cluster.membership.bindAddress == "0.0.0.0" },
    DefaultCase("cluster.membership.bind_port") { $0.cluster.membership.bindPort == 7946 },
    DefaultCase("cluster.membership.advertise_addr") { $0.cluster.membership.advertiseAddress == nil },
    DefaultCase("cluster.membership.advertise_port") { $0.cluster.membership.advertisePort == nil },
    DefaultCase("cluster.membership.join_addrs") { $0.cluster.membership.joinAddresses.isEmpty },
    DefaultCase("cluster.membership.secret_key") {
        $0.cluster.membership.secretKey == "" && $0.cluster.membership.keyring.isEmpty
    },
    DefaultCase("cluster.membership.secret_file") { $0.cluster.membership.secretFile == "" },
    DefaultCase("cluster.membership.secret_keys") { $0.cluster.membership.secretKeys.isEmpty },
    DefaultCase("cluster.membership.probe_interval") { $0.cluster.membership.probeInterval == .seconds(1) },
    DefaultCase("cluster.membership.probe_timeout") { $0.cluster.membership.probeTimeout == .milliseconds(500) },
    DefaultCase("cluster.membership.suspicion_mult") { $0.cluster.membership.suspicionMultiplier == 4 },
    DefaultCase("cluster.membership.retransmit_mult") { $0.cluster.membership.retransmitMultiplier == 4 },
    DefaultCase("cluster.membership.gossip_interval") {
        $0.cluster.membership.gossipInterval == .milliseconds(200)
    },
    DefaultCase("cluster.membership.gossip_nodes") { $0.cluster.membership.gossipNodes == 3 },
    DefaultCase("cluster.membership.push_pull_interval") { $0.cluster.membership.pushPullInterval == .seconds(30) },
    DefaultCase("cluster.membership.dead_node_reclaim_time") {
        $0.cluster.membership.deadNodeReclaimTime == .seconds(30)
    },
    DefaultCase("cluster.membership.rejoin_interval") { $0.cluster.membership.rejoinInterval == .seconds(30) },
    DefaultCase("cluster.membership.cluster_id") { $0.cluster.membership.clusterID == "" },
    DefaultCase("cluster.internode.bind_addr") { $0.cluster.internode.bindAddress == "0.0.0.0" },
    DefaultCase("cluster.internode.bind_port") { $0.cluster.internode.bindPort == 0 },
    DefaultCase("cluster.internode.advertise_addr") { $0.cluster.internode.advertiseAddress == nil },
    DefaultCase("cluster.internode.idle_timeout") { $0.cluster.internode.idleTimeout == .seconds(60) },
    DefaultCase("cluster.raft.role") { $0.cluster.raft.role == .server },
    DefaultCase("cluster.raft.eligible") { $0.cluster.raft.eligible == true },
    DefaultCase("cluster.raft.priority") { $0.cluster.raft.priority == 100 },
    DefaultCase("cluster.raft.bootstrap_expect") { $0.cluster.raft.bootstrapExpect == 1 },
    DefaultCase("cluster.raft.max_voters") { $0.cluster.raft.maxVoters == 5 },
    DefaultCase("cluster.raft.max_standbys") { $0.cluster.raft.maxStandbys == 4 },
    DefaultCase("cluster.raft.reconcile_debounce") { $0.cluster.raft.reconcileDebounce == .seconds(2) },
    DefaultCase("cluster.raft.heartbeat_interval") { $0.cluster.raft.heartbeatInterval == .milliseconds(500) },
    DefaultCase("cluster.raft.election_timeout") { $0.cluster.raft.electionTimeout == .seconds(2) },
    DefaultCase("cluster.raft.data_dir") {
        $0.cluster.raft.dataDirectory == nil && $0.cluster.raft.resolvedDataDirectory == "/home/test/.cohort/store"
    },
    DefaultCase("cluster.raft.snapshot_threshold") { $0.cluster.raft.snapshotThreshold == 8192 },
    DefaultCase("cluster.raft.trailing_logs") { $0.cluster.raft.trailingLogs == 10240 },
    DefaultCase("cluster.raft.log_cache_size") { $0.cluster.raft.logCacheBytes == 16 << 20 },
    DefaultCase("cluster.raft.snapshot_chunk_size") { $0.cluster.raft.snapshotChunkBytes == 1 << 20 },
    DefaultCase("cluster.raft.snapshot_chunk_timeout") { $0.cluster.raft.snapshotChunkTimeout == .seconds(10) },
    DefaultCase("cluster.raft.snapshot_idle_timeout") { $0.cluster.raft.snapshotIdleTimeout == .seconds(60) },
    DefaultCase("admin.address") { $0.admin.address == HostPort(host: "127.0.0.1", port: 7960) },
    DefaultCase("admin.token") { $0.admin.token == "" && $0.admin.resolvedToken == nil },
    DefaultCase("admin.token_file") { $0.admin.tokenFile == "" },
    DefaultCase("log.level") { $0.log.level == .info },
    DefaultCase("log.format") { $0.log.format == .text },
    DefaultCase("pg.scopes") {
        $0.pg.scopes == [
            ProcessGroupScopeSettings(
                name: "default", antiEntropyInterval: .seconds(30), maxRetries: 3, broadcastLiveness: .seconds(300))
        ]
    },
    DefaultCase("stores") { $0.stores.isEmpty },
]

@Suite struct DefaultsTests {
    @Test(arguments: defaultCases)
    func keyHasItsSpecDefault(_ key: DefaultCase) throws {
        let settings = try loader().defaults()
        #expect(key.holds(settings))
    }

    @Test func everyKeyOfTheTableHasAPinnedDefault() {
        #expect(Set(defaultCases.map(\.path)) == Set(ConfigSchema.keys.map(\.path)))
        #expect(defaultCases.count == ConfigSchema.keys.count)
    }

    @Test func codeBuiltDefaultsEqualLoadedDefaultsExceptResolvedValues() throws {
        var loaded = try loader().defaults()
        loaded.cluster.name = ""
        loaded.cluster.raft.resolvedDataDirectory = nil
        loaded.warnings = []
        #expect(loaded == CohortSettings())
    }

    @Test func emptyFileAndDefaultsAreTheSame() throws {
        #expect(try loader().load(yaml: "") == loader().defaults())
        #expect(try loader().load(yaml: "# nothing here\n") == loader().defaults())
        #expect(try loader().load(yaml: "cluster:\n") == loader().defaults())
    }

    @Test func nullValueKeepsTheDefault() throws {
        let settings = try loader().load(yaml: "cluster:\n  raft:\n    max_voters: ~\n    priority:\n")
        #expect(settings.cluster.raft.maxVoters == 5)
        #expect(settings.cluster.raft.priority == 100)
    }

    @Test func defaultsWarnNothingOnAHostWithAHome() throws {
        #expect(try loader().defaults().warnings == [])
    }

    @Test func nodeIDIsTheName() throws {
        #expect(try loader().defaults().cluster.nodeID.rawValue == "testhost")
    }
}
