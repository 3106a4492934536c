@testable import CohortConfig
import Testing

/// `COHORT_*` variables override the file, one per leaf key, plus the documented aliases.
@Suite struct EnvironmentTests {
    private func load(_ yaml: String = "", _ environment: [String: String]) throws -> CohortSettings {
        try loader(environment: environment).load(yaml: yaml)
    }

    @Test func canonicalNameIsCohortPlusTheKeyPath() {
        #expect(ConfigSchema.variableName(for: "cluster.name") == "COHORT_CLUSTER_NAME")
        #expect(
            ConfigLoader.environmentVariables(forKey: "cluster.membership.join_addrs")
                == ["COHORT_CLUSTER_MEMBERSHIP_JOIN_ADDRS", "COHORT_JOIN_ADDRS"])
        #expect(ConfigLoader.environmentVariables(forKey: "admin.address") == ["COHORT_ADMIN_ADDRESS"])
        #expect(ConfigLoader.environmentVariables(forKey: "log.level") == ["COHORT_LOG_LEVEL"])
        #expect(ConfigLoader.environmentVariables(forKey: "stores") == [])
        #expect(ConfigLoader.environmentVariables(forKey: "cluster.nope") == nil)
    }

    @Test func everyLeafKeyButStoresHasAVariable() {
        for key in ConfigSchema.keys where key.path != "stores" {
            #expect(ConfigSchema.keysByVariable[ConfigSchema.variableName(for: key.path)]?.path == key.path)
        }
    }

    @Test func environmentWinsOverTheFile() throws {
        let settings = try load(
            "cluster:\n  name: from-file\n  raft:\n    max_voters: 3\n",
            ["COHORT_CLUSTER_NAME": "from-env", "COHORT_LOG_LEVEL": "debug"])
        #expect(settings.cluster.name == "from-env")
        #expect(settings.cluster.raft.maxVoters == 3)
        #expect(settings.log.level == .debug)
    }

    @Test func everyScalarTypeParsesFromTheEnvironment() throws {
        let settings = try load(
            "",
            [
                "COHORT_CLUSTER_ENABLED": "true",
                "COHORT_CLUSTER_MEMBERSHIP_BIND_PORT": "8000",
                "COHORT_CLUSTER_MEMBERSHIP_PROBE_INTERVAL": "2s",
                "COHORT_CLUSTER_RAFT_ROLE": "client",
                "COHORT_ADMIN_ADDRESS": "",
                "COHORT_CLUSTER_MEMBERSHIP_ADVERTISE_ADDR": "10.0.0.5",
            ])
        #expect(settings.cluster.enabled)
        #expect(settings.cluster.membership.bindPort == 8000)
        #expect(settings.cluster.membership.probeInterval == .seconds(2))
        #expect(settings.cluster.raft.role == .client)
        #expect(settings.admin.address == nil)
        #expect(settings.cluster.membership.advertiseAddress == "10.0.0.5")
    }

    @Test func aliasesSetTheirKeys() throws {
        let settings = try load(
            "",
            [
                "COHORT_JOIN_ADDRS": "node-1, node-2:8000 ,[::1]:7000",
                "COHORT_SECRET_KEY": keyA,
                "COHORT_BOOTSTRAP_EXPECT": "3",
                "COHORT_DATA_DIR": "/srv/cohort",
            ])
        #expect(
            settings.cluster.membership.joinAddresses == [
                HostPort(host: "node-1", port: 7946), HostPort(host: "node-2", port: 8000),
                HostPort(host: "::1", port: 7000),
            ])
        #expect(settings.cluster.membership.keyring == [bytes(keyA)])
        #expect(settings.cluster.raft.bootstrapExpect == 3)
        #expect(settings.cluster.raft.resolvedDataDirectory == "/srv/cohort")
    }

    @Test func aliasAndCanonicalMustAgree() throws {
        #expect(try load("", ["COHORT_DATA_DIR": "/a", "COHORT_CLUSTER_RAFT_DATA_DIR": "/a"]).cluster.raft.dataDirectory == "/a")
        let error = configError { () throws(ConfigError) in
            try loader(environment: ["COHORT_DATA_DIR": "/a", "COHORT_CLUSTER_RAFT_DATA_DIR": "/b"]).defaults()
        }
        #expect(
            error?.description
                == "COHORT_DATA_DIR: conflicts with COHORT_CLUSTER_RAFT_DATA_DIR; both set cluster.raft.data_dir to "
                + "different values; set one")
    }

    @Test func listsAreCommaSeparated() throws {
        let settings = try load(
            "pg:\n  scopes:\n    - name: jobs\n      max_retries: 0\n",
            [
                "COHORT_CLUSTER_MEMBERSHIP_SECRET_KEYS": "\(keyB),\(keyC)",
                "COHORT_PG_SCOPES": "default, jobs",
            ])
        #expect(settings.cluster.membership.keyring == [bytes(keyB), bytes(keyC)])
        // A bare name keeps the settings the file gave that scope.
        #expect(
            settings.pg.scopes == [
                ProcessGroupScopeSettings(name: "default"), ProcessGroupScopeSettings(name: "jobs", maxRetries: 0),
            ])
        #expect(try load("", ["COHORT_PG_SCOPES": ""]).pg.scopes == [])
        #expect(try load("", ["COHORT_JOIN_ADDRS": ""]).cluster.membership.joinAddresses == [])
    }

    @Test func badValueNamesTheVariable() {
        let error = configError { () throws(ConfigError) in
            try loader(environment: ["COHORT_CLUSTER_RAFT_MAX_VOTERS": "4"]).defaults()
        }
        #expect(error?.description == "COHORT_CLUSTER_RAFT_MAX_VOTERS=4: 4 is even; must be odd (1, 3, 5 or 7)")
        #expect(
            loadError("", environment: ["COHORT_CLUSTER_ENABLED": "yes please"])
                == "COHORT_CLUSTER_ENABLED=\"yes please\": \"yes please\" is not a boolean; use true or false")
        #expect(
            loadError("", environment: ["COHORT_CLUSTER_MEMBERSHIP_PROBE_TIMEOUT": "2s"])
                == "COHORT_CLUSTER_MEMBERSHIP_PROBE_TIMEOUT=2s: 2s must be shorter than probe_interval (1s, the default)")
    }

    @Test func badSecretFromTheEnvironmentIsRedacted() {
        #expect(
            loadError("", environment: ["COHORT_SECRET_KEY": "hunter2!"])
                == "COHORT_SECRET_KEY=<redacted>: is not valid base64 (value redacted); use a base64-encoded AES key "
                + "of 16, 24 or 32 bytes (e.g. openssl rand -base64 32)")
    }

    @Test func unknownVariableSuggestsTheClosest() {
        #expect(
            loadError("", environment: ["COHORT_CLUSTER_RAFT_MAX_VOTRS": "3"])
                == "COHORT_CLUSTER_RAFT_MAX_VOTRS: unknown variable; did you mean COHORT_CLUSTER_RAFT_MAX_VOTERS?")
        #expect(
            loadError("", environment: ["COHORT_JOIN_ADDR": "x"])
                == "COHORT_JOIN_ADDR: unknown variable; did you mean COHORT_JOIN_ADDRS?")
        #expect(
            loadError("", environment: ["COHORT_WHATEVER": "x"])
                == "COHORT_WHATEVER: unknown variable; configuration variables are COHORT_ + the key path in upper "
                + "case with underscores (e.g. COHORT_CLUSTER_NAME); see docs/configuration.md")
        #expect(
            loadError("", environment: ["COHORT_STORES": "x"])
                == "COHORT_STORES: stores cannot be set from the environment; declare them in the config file")
    }

    @Test func exemptAndForeignVariablesAreIgnored() throws {
        let settings = try load(
            "",
            [
                "COHORT_FAILPOINT_LIVEZ_FILE": "/tmp/x", "COHORT_ADMIN_URL": "http://127.0.0.1:7960",
                "PATH": "/usr/bin", "COHORTISH": "1",
            ])
        #expect(settings == (try loader().defaults()))
    }
}
