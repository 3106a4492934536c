import CohortConfig
import Testing

@Suite struct RenderYAMLTests {
    /// Every key away from its default, no inline secrets.
    static let everything = """
        cluster:
          enabled: true
          name: node-1
          failure_domain: "zone \\"a\\""
          membership:
            bind_addr: 10.0.0.1
            bind_port: 8946
            advertise_addr: 203.0.113.7
            advertise_port: 18946
            join_addrs: "node-2, [fd00::3]:7000"
            secret_file: /etc/cohort/key
            probe_interval: 1m30s
            probe_timeout: 1.5s
            suspicion_mult: 5
            retransmit_mult: 6
            gossip_interval: 250ms
            gossip_nodes: 4
            push_pull_interval: 1h
            dead_node_reclaim_time: 45s
            rejoin_interval: 10s
            cluster_id: prod
          internode:
            bind_addr: 10.0.0.2
            bind_port: 7955
            advertise_addr: 203.0.113.8
          raft:
            role: client
            eligible: false
            priority: 7
            bootstrap_expect: 3
            max_voters: 3
            max_standbys: 0
            reconcile_debounce: 3s
            heartbeat_interval: 250ms
            election_timeout: 1s
            data_dir: /srv/cohort
            snapshot_threshold: 100
            trailing_logs: 0
            log_cache_size: 0
            snapshot_chunk_size: 65536
            snapshot_chunk_timeout: 30s
            snapshot_idle_timeout: 5m
        admin:
          address: ""
          token_file: /run/token
        log:
          level: warning
          format: journald
        pg:
          scopes:
            - default
            - name: jobs
              anti_entropy_interval: 0
              max_retries: 0
              broadcast_liveness: 10m
        stores:
          - name: orders
            kind: kv.raft
          - name: cache
            kind: kv.crdt
            durable: false
        """

    let host = loader(files: ["/etc/cohort/key": keyA, "/run/token": "tok"])

    @Test func renderedYAMLLoadsBackToEqualSettings() throws {
        let settings = try host.load(yaml: Self.everything)
        let rendered = settings.renderYAML()
        #expect(try host.load(yaml: rendered) == settings)
        #expect(!rendered.contains("tok\""))
    }

    @Test func renderedDefaultsLoadBackToEqualSettings() throws {
        let settings = try host.defaults()
        #expect(try host.load(yaml: settings.renderYAML()) == settings)
        #expect(try loader(home: nil).load(yaml: settings.renderYAML()).cluster.raft.dataDirectory == nil)
    }

    @Test func secretsAndTokensAreRedacted() throws {
        let withSecrets = "cluster:\n  membership:\n    secret_key: \(keyA)\n    secret_keys: [\(keyB), \(keyC)]\n"
            + "admin:\n  token: hunter2\n"
        let settings = try host.load(yaml: withSecrets)
        let rendered = settings.renderYAML()
        for secret in [keyA, keyB, keyC, "hunter2"] { #expect(!rendered.contains(secret)) }
        #expect(rendered.contains("    secret_key: \"<redacted>\"\n"))
        #expect(rendered.contains("    secret_keys: [\"<redacted>\", \"<redacted>\"]  # keyring: 3 key(s)\n"))
        #expect(rendered.contains("  token: \"<redacted>\"\n"))
        // Minus the redacted lines, the rest loads back to the same settings without the secrets.
        let withoutRedacted = rendered.split(separator: "\n").filter { !$0.contains("<redacted>") }.joined(separator: "\n")
        #expect(try host.load(yaml: withoutRedacted) == host.defaults())
    }

    @Test func warningsAndResolvedValuesAreComments() throws {
        let rendered = try loader().load(yaml: "cluster:\n  enabled: true\n").renderYAML()
        #expect(rendered.contains("# warning: no cluster key set"))
        #expect(rendered.contains("    data_dir: \"\"  # resolves to /home/test/.cohort/store\n"))
    }

    @Test func plainStringsStayPlainAndOthersAreQuoted() throws {
        let settings = try loader().load(
            yaml: """
                cluster:
                  name: node-1
                  failure_domain: "true"
                  membership:
                    join_addrs: "node-2:7946, [fd00::3]:7000"
                    cluster_id: "a: b #c"
                """)
        let rendered = settings.renderYAML()
        #expect(rendered.contains("  name: node-1\n"))
        #expect(rendered.contains("  failure_domain: \"true\"\n"))
        #expect(rendered.contains("    join_addrs: \"node-2:7946,[fd00::3]:7000\"\n"))
        #expect(rendered.contains("    cluster_id: \"a: b #c\"\n"))
        #expect(rendered.contains("  address: 127.0.0.1:7960\n"))
        #expect(try loader().load(yaml: rendered) == settings)
    }
}
