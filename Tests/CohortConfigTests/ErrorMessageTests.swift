import CohortConfig
import Testing

/// Each class of bad config gives one line naming the full key path, the value and what is allowed.
@Suite struct ErrorMessageTests {
    @Test func unknownKeySuggestsTheClosestKey() {
        #expect(
            loadError("cluster:\n  raft:\n    max_votrs: 3\n")
                == "cluster.raft.max_votrs: unknown key; did you mean max_voters? (line 3)")
        #expect(loadError("clustr:\n  enabled: true\n") == "clustr: unknown key; did you mean cluster? (line 1)")
        #expect(
            loadError("cluster:\n  raft:\n    maxVoters: 3\n")
                == "cluster.raft.maxVoters: unknown key; did you mean max_voters? (line 3)")
    }

    @Test func unknownKeyInTheWrongSectionSuggestsItsFullPath() {
        #expect(
            loadError("cluster:\n  bootstrap_expect: 3\n")
                == "cluster.bootstrap_expect: unknown key; did you mean cluster.raft.bootstrap_expect? (line 2)")
        #expect(
            loadError("cluster:\n  bind_addr: 0.0.0.0\n")
                == "cluster.bind_addr: unknown key; did you mean cluster.internode.bind_addr or "
                + "cluster.membership.bind_addr? (line 2)")
    }

    @Test func unknownKeyWithNothingCloseListsTheAllowedKeys() {
        #expect(
            loadError("log:\n  colour: red\n") == "log.colour: unknown key; allowed: level, format (line 2)")
        #expect(
            loadError("frobnicate: 1\n")
                == "frobnicate: unknown key; allowed: cluster, admin, log, pg, stores (line 1)")
    }

    @Test func wrongTypesNameTheKeyAndTheFix() {
        #expect(
            loadError("cluster:\n  enabled: \"yes please\"\n")
                == "cluster.enabled: \"yes please\" is not a boolean; use true or false (line 2)")
        #expect(
            loadError("cluster:\n  enabled: yes please\n")
                == "cluster.enabled: \"yes please\" is not a boolean; use true or false (line 2)")
        #expect(
            loadError("cluster:\n  enabled:\n    really: true\n")
                == "cluster.enabled: expected a boolean, found a map; use true or false (line 3)")
        #expect(
            loadError("cluster:\n  raft:\n    priority: high\n")
                == "cluster.raft.priority: \"high\" is not an integer (line 3)")
        #expect(
            loadError("cluster:\n  name: [a, b]\n") == "cluster.name: expected a string, found a list (line 2)")
        #expect(
            loadError("cluster: true\n") == "cluster: expected a map of settings, found \"true\" (line 1)")
        #expect(loadError("- a\n- b\n") == "(root): expected a map of settings, found a list (line 1)")
    }

    @Test func badDurationShowsTheSyntax() {
        #expect(
            loadError("cluster:\n  membership:\n    probe_interval: fast\n")
                == "cluster.membership.probe_interval: \"fast\" is not a duration; use a number with ms, s, m or h "
                + "(e.g. 500ms, 2s, 1m) (line 3)")
        #expect(
            loadError("cluster:\n  raft:\n    heartbeat_interval: 500\n")
                == "cluster.raft.heartbeat_interval: 500 is not a duration; use a number with ms, s, m or h "
                + "(e.g. 500ms, 2s, 1m) (line 3)")
    }

    @Test func zeroOrNegativeDurationWherePositiveIsRequired() {
        #expect(
            loadError("cluster:\n  raft:\n    reconcile_debounce: 0\n")
                == "cluster.raft.reconcile_debounce: 0 must be greater than 0; use a number with ms, s, m or h "
                + "(e.g. 500ms, 2s, 1m) (line 3)")
        #expect(
            loadError("cluster:\n  membership:\n    gossip_interval: -1s\n")
                == "cluster.membership.gossip_interval: -1s must be greater than 0; use a number with ms, s, m or h "
                + "(e.g. 500ms, 2s, 1m) (line 3)")
    }

    @Test func portsOutOfRange() {
        #expect(
            loadError("cluster:\n  membership:\n    bind_port: 70000\n")
                == "cluster.membership.bind_port: 70000 is out of range; use 0–65535 (0 = ephemeral) (line 3)")
        #expect(
            loadError("cluster:\n  membership:\n    advertise_port: 0\n")
                == "cluster.membership.advertise_port: 0 is out of range; use 1–65535 (line 3)")
        #expect(
            loadError("cluster:\n  internode:\n    bind_port: -1\n")
                == "cluster.internode.bind_port: -1 is out of range; use 0–65535 (0 = auto: 7950–7959, then "
                + "ephemeral) (line 3)")
        #expect(
            loadError("cluster:\n  membership:\n    join_addrs: \"node-1:99999\"\n")
                == "cluster.membership.join_addrs: \"node-1:99999\" has a bad port; the port must be a number up to "
                + "65535 (e.g. node-1:7946) (line 3)")
        #expect(
            loadError("admin:\n  address: localhost\n")
                == "admin.address: \"localhost\" has no port; use host:port (e.g. 127.0.0.1:7960, or \"\" for off) "
                + "(line 2)")
    }

    @Test func portZeroMeansEphemeralOrAutoWhereAllowed() throws {
        let settings = try loader().load(
            yaml: "cluster:\n  membership:\n    bind_port: 0\n  internode:\n    bind_port: 0\nadmin:\n  address: 127.0.0.1:0\n")
        #expect(settings.cluster.membership.bindPort == 0)
        #expect(settings.cluster.internode.bindPort == 0)
        #expect(settings.admin.address == HostPort(host: "127.0.0.1", port: 0))
    }

    @Test func probeTimeoutMustBeShorterThanProbeInterval() {
        #expect(
            loadError("cluster:\n  membership:\n    probe_interval: 1s\n    probe_timeout: 1s\n")
                == "cluster.membership.probe_timeout: 1s must be shorter than probe_interval (1s) (line 4)")
        #expect(
            loadError("cluster:\n  membership:\n    probe_interval: 300ms\n")
                == "cluster.membership.probe_interval: 300ms must be longer than probe_timeout (500ms, the default) "
                + "(line 3)")
    }

    @Test func electionTimeoutMustBeLongerThanHeartbeat() {
        #expect(
            loadError("cluster:\n  raft:\n    election_timeout: 500ms\n")
                == "cluster.raft.election_timeout: 500ms must be longer than heartbeat_interval (500ms, the default) "
                + "(line 3)")
        #expect(
            loadError("cluster:\n  raft:\n    heartbeat_interval: 3s\n    election_timeout: 2s\n")
                == "cluster.raft.heartbeat_interval: 3s must be shorter than election_timeout (2s) (line 3)")
    }

    @Test func raftCountsAreChecked() {
        #expect(
            loadError("cluster:\n  raft:\n    max_voters: 4\n")
                == "cluster.raft.max_voters: 4 is even; must be odd (1, 3, 5 or 7) (line 3)")
        #expect(
            loadError("cluster:\n  raft:\n    max_voters: 9\n")
                == "cluster.raft.max_voters: 9 is out of range; must be odd (1, 3, 5 or 7) (line 3)")
        #expect(
            loadError("cluster:\n  raft:\n    max_standbys: 9\n")
                == "cluster.raft.max_standbys: 9 is out of range; use 0–8 (0 = no standbys) (line 3)")
        #expect(
            loadError("cluster:\n  raft:\n    bootstrap_expect: -1\n")
                == "cluster.raft.bootstrap_expect: -1 is negative; use 0 (never self-bootstrap), 1 (bootstrap alone) "
                + "or N (wait for N nodes) (line 3)")
        #expect(
            loadError("cluster:\n  raft:\n    priority: -5\n")
                == "cluster.raft.priority: -5 is negative; use 0 or more (lower is preferred for voter slots) (line 3)")
        #expect(
            loadError("cluster:\n  membership:\n    gossip_nodes: 0\n")
                == "cluster.membership.gossip_nodes: 0 is too small; use 1 or more (line 3)")
    }

    @Test func evenBootstrapExpectIsAWarningNotAnError() throws {
        let settings = try loader().load(yaml: "cluster:\n  raft:\n    bootstrap_expect: 4\n")
        #expect(settings.cluster.raft.bootstrapExpect == 4)
        #expect(
            settings.warnings == [
                "cluster.raft.bootstrap_expect: 4 is even; 4 initial voters tolerate no more failures than 3"
            ])
    }

    @Test func keysAcceptedButNotActedOnAreNamedInAWarning() throws {
        #expect(try loader().load(yaml: "pg:\n  scopes: [default]\n").warnings == [])
        let settings = try loader().load(yaml: "pg:\n  scopes: [default, jobs]\nstores:\n  - {name: users, kind: kv.raft}\n  - {name: cache, kind: kv.crdt}\n")
        #expect(settings.warnings == [], "kv.crdt stores are built")
        let diskless = try loader(home: nil).load(yaml: "stores:\n  - {name: cache, kind: kv.crdt}\n  - {name: tmp, kind: kv.crdt, durable: false}\n")
        #expect(
            diskless.warnings.contains(
                "stores (cache) are durable kv.crdt stores but data_dir does not resolve: "
                    + "they keep memory only (a restart starts them from what the other nodes hold)"), "\(diskless.warnings)")
        let clustered = try loader().load(yaml: "cluster:\n  enabled: true\nstores:\n  - {name: scratch, kind: kv.local}\n")
        #expect(clustered.warnings.contains("stores (scratch) are kv.local: they serve only with the cluster disabled and refuse every call here"))
    }

    @Test func badEnumValuesListTheAllowedValues() {
        #expect(
            loadError("cluster:\n  raft:\n    role: leader\n")
                == "cluster.raft.role: \"leader\" is not a role; use server or client (line 3)")
        #expect(
            loadError("log:\n  level: verbose\n")
                == "log.level: \"verbose\" is not a log level; use trace, debug, info, notice, warning, error or "
                + "critical (line 2)")
        #expect(
            loadError("log:\n  format: xml\n")
                == "log.format: \"xml\" is not a log format; use text, json or journald (line 2)")
        #expect(
            loadError("stores:\n  - name: orders\n    kind: kv.redis\n")
                == "stores[0].kind: \"kv.redis\" is not a store kind; use kv.raft, kv.crdt or kv.local (line 3)")
    }

    @Test func unreadableFilesNameThePathAndTheReason() {
        #expect(
            loadError("cluster:\n  membership:\n    secret_file: /etc/cohort/missing.key\n")
                == "cluster.membership.secret_file: cannot read /etc/cohort/missing.key: No such file or directory "
                + "(line 3)")
        #expect(
            loadError("admin:\n  token_file: /run/token\n")
                == "admin.token_file: cannot read /run/token: No such file or directory (line 2)")
        let missingConfig = configError { () throws(ConfigError) in try loader().load(path: "/etc/cohort/cohort.yaml") }
        #expect(
            missingConfig?.description
                == "/etc/cohort/cohort.yaml: cannot read the config file: No such file or directory")
    }

    @Test func badKeysNeverShowTheSecret() {
        #expect(
            loadError("cluster:\n  membership:\n    secret_key: \"not base64!\"\n")
                == "cluster.membership.secret_key: is not valid base64 (value redacted); use a base64-encoded AES "
                + "key of 16, 24 or 32 bytes (e.g. openssl rand -base64 32) (line 3)")
        #expect(
            loadError("cluster:\n  membership:\n    secret_key: \"MTIzNDU2Nzg5MA==\"\n")
                == "cluster.membership.secret_key: decodes to 10 bytes (value redacted); an AES key must be 16, 24 "
                + "or 32 bytes (line 3)")
        #expect(
            loadError(
                "cluster:\n  membership:\n    secret_file: /k\n", files: ["/k": "MTIzNDU2Nzg5MA==\n"])
                == "cluster.membership.secret_file: /k holds a key of 10 bytes; an AES key must be 16, 24 or 32 bytes "
                + "(line 3)")
        #expect(
            loadError("cluster:\n  membership:\n    secret_file: /k\n", files: ["/k": "%%%"])
                == "cluster.membership.secret_file: /k does not hold valid base64; put a base64-encoded AES key of "
                + "16, 24 or 32 bytes in it (e.g. openssl rand -base64 32) (line 3)")
        #expect(
            loadError("cluster:\n  membership:\n    secret_keys:\n      - \(keyA)\n      - no!\n")
                == "cluster.membership.secret_keys[1]: is not valid base64 (value redacted); use a "
                + "base64-encoded AES key of 16, 24 or 32 bytes (e.g. openssl rand -base64 32) (line 5)")
        #expect(
            loadError("cluster:\n  membership:\n    secret_keys: \"\(keyA),MTIzNDU2Nzg5MA==\"\n")
                == "cluster.membership.secret_keys: key 2 decodes to 10 bytes (value redacted); an AES key must be "
                + "16, 24 or 32 bytes (line 3)")
    }

    @Test func storesAreValidated() {
        #expect(
            loadError("stores:\n  - name: _sys\n    kind: kv.raft\n")
                == "stores[0].name: \"_sys\" is not a store name; use a non-empty name without spaces, not starting "
                + "with _ (reserved) (line 2)")
        #expect(
            loadError("stores:\n  - name: a\n    kind: kv.raft\n  - name: a\n    kind: kv.crdt\n")
                == "stores[1]: store \"a\" is declared twice; store names must be unique (line 4)")
        #expect(loadError("stores:\n  - name: a\n") == "stores[0]: store \"a\" needs a kind; use kv.raft, kv.crdt or kv.local (line 2)")
        #expect(
            loadError("stores:\n  - name: a\n    kind: kv.raft\n    durible: false\n")
                == "stores[0].durible: unknown key; did you mean durable? (line 4)")
        #expect(
            loadError("stores:\n  - orders\n")
                == "stores[0]: expected a map {name, kind, durable}, found \"orders\" (line 2)")
    }

    @Test func scopesAreValidated() {
        #expect(
            loadError("pg:\n  scopes:\n    - default\n    - name: default\n")
                == "pg.scopes[1]: scope \"default\" is listed twice; scope names must be unique (line 4)")
        #expect(
            loadError("pg:\n  scopes:\n    - name: jobs\n      max_retrys: 2\n")
                == "pg.scopes[0].max_retrys: unknown key; did you mean max_retries? (line 4)")
        #expect(
            loadError("pg:\n  scopes:\n    - max_retries: 2\n")
                == "pg.scopes[0]: a scope needs a name; add name: <scope> (line 3)")
        #expect(
            loadError("pg:\n  scopes:\n    - name: jobs\n      anti_entropy_interval: -5s\n")
                == "pg.scopes[0].anti_entropy_interval: -5s is negative; use 0 to disable or a positive duration "
                + "(line 4)")
        #expect(
            loadError("pg:\n  scopes:\n    - name: jobs\n      sync_interval: 0\n")
                == "pg.scopes[0].sync_interval: sync_interval must be a positive duration (it cannot be disabled) (line 4)")
        #expect(loadError("pg:\n  scopes:\n    - name: jobs\n      max_groups: 0\n").hasPrefix("pg.scopes[0].max_groups: "))
    }

    @Test func scopeMapsSetEveryKey() throws {
        let settings = try loader().load(
            yaml: "pg:\n  scopes:\n    - name: jobs\n      sync_interval: 500ms\n      max_groups: 10\n      max_retries: 1\n")
        #expect(
            settings.pg.scopes == [
                ProcessGroupScopeSettings(name: "jobs", syncInterval: .milliseconds(500), maxRetries: 1, maxGroups: 10)
            ])
    }

    @Test func invalidYAMLNamesTheLine() {
        let message = loadError("cluster:\n  enabled: true\n   name: x\n")
        #expect(message.hasPrefix("(yaml): invalid YAML: "))
        #expect(message.hasSuffix("(line 3)"))
        #expect(
            loadError("cluster:\n  enabled: true\n  enabled: false\n")
                == "(yaml): invalid YAML: duplicate key enabled (line 3)")
    }

    @Test func everyErrorIsOneLine() {
        let message = loadError("cluster:\n  name: \"a\\nb\"\n")
        #expect(!message.contains("\n"))
        #expect(message == "cluster.name: \"a\\nb\" is not a node name; use up to 255 bytes without whitespace (line 2)")
    }
}

@Suite struct FailureDomainLimitTests {
    @Test func aFailureDomainLongerThanTheGossipMetadataAllowsIsRejected() {
        let long = String(repeating: "z", count: 129)
        #expect(
            loadError("cluster:\n  failure_domain: \(long)\n")
                == "cluster.failure_domain: \"\(long)\" is 129 bytes; use at most 128 bytes (line 2)")
        #expect(loadError("cluster:\n  failure_domain: \(String(repeating: "z", count: 128))\n") == "no error")
    }

    @Test func aClusterIDLongerThanTheGossipMetadataAllowsIsRejected() {
        let long = String(repeating: "c", count: 65)
        #expect(
            loadError("cluster:\n  membership:\n    cluster_id: \(long)\n")
                == "cluster.membership.cluster_id: \"\(long)\" is 65 bytes; use at most 64 bytes (line 3)")
    }
}
