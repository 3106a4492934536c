import CohortConfig
import Testing

/// Derived values: data directory, keyring, admin token, node name, warnings.
@Suite struct ResolutionTests {
    @Test func dataDirectoryPrefersTheConfiguredPath() throws {
        let host = loader(environment: ["STATE_DIRECTORY": "/var/lib/cohort"])
        let settings = try host.load(yaml: "cluster:\n  raft:\n    data_dir: /data/cohort\n")
        #expect(settings.cluster.raft.dataDirectory == "/data/cohort")
        #expect(settings.cluster.raft.resolvedDataDirectory == "/data/cohort")
    }

    @Test func dataDirectoryFallsBackToTheFirstStateDirectory() throws {
        let settings = try loader(environment: ["STATE_DIRECTORY": "/var/lib/cohort:/var/lib/other"]).defaults()
        #expect(settings.cluster.raft.resolvedDataDirectory == "/var/lib/cohort")
    }

    @Test func dataDirectoryFallsBackToTheHomeDirectory() throws {
        #expect(try loader(home: "/home/ops").defaults().cluster.raft.resolvedDataDirectory == "/home/ops/.cohort/store")
        #expect(try loader(home: "/root/").defaults().cluster.raft.resolvedDataDirectory == "/root/.cohort/store")
    }

    @Test func dataDirectoryExpandsTilde() throws {
        let settings = try loader(home: "/home/ops").load(yaml: "cluster:\n  raft:\n    data_dir: ~/cohort\n")
        #expect(settings.cluster.raft.resolvedDataDirectory == "/home/ops/cohort")
    }

    @Test func noDataDirectoryMeansDisklessWithAWarning() throws {
        let settings = try loader(environment: ["STATE_DIRECTORY": ""], home: nil).defaults()
        #expect(settings.cluster.raft.resolvedDataDirectory == nil)
        #expect(
            settings.warnings == [
                "data_dir does not resolve (no cluster.raft.data_dir, no $STATE_DIRECTORY, no home directory): "
                    + "Raft runs diskless"
            ])
    }

    @Test func keyringPutsTheFileKeyFirstAndDropsTheInlineKey() throws {
        let host = loader(files: ["/etc/cohort/key": "  \(keyA)\n"])
        let settings = try host.load(
            yaml: """
                cluster:
                  membership:
                    secret_key: \(keyB)
                    secret_file: /etc/cohort/key
                    secret_keys: [\(keyC), \(keyA)]
                """)
        #expect(settings.cluster.membership.keyring == [bytes(keyA), bytes(keyC)])
        #expect(settings.warnings == ["cluster.membership.secret_key is ignored: secret_file wins"])
    }

    @Test func keyringWithoutAFileStartsWithTheInlineKey() throws {
        let settings = try loader().load(
            yaml: "cluster:\n  membership:\n    secret_key: \(keyB)\n    secret_keys:\n      - \(keyC)\n      - \(keyA)\n")
        #expect(settings.cluster.membership.keyring == [bytes(keyB), bytes(keyC), bytes(keyA)])
    }

    @Test func keysOfEveryAESLengthAreAccepted() throws {
        for key in [keyA, keyB, keyC] {
            let settings = try loader().load(yaml: "cluster:\n  membership:\n    secret_key: \"\(key)\"\n")
            #expect(settings.cluster.membership.keyring == [bytes(key)])
        }
    }

    @Test func clusterWithoutAKeyWarns() throws {
        let settings = try loader().load(yaml: "cluster:\n  enabled: true\n")
        #expect(
            settings.warnings == [
                "no cluster key set: gossip and the internode mesh are unencrypted "
                    + "(set cluster.membership.secret_key or secret_file)"
            ])
    }

    @Test func tokenFileWinsOverTheInlineToken() throws {
        let host = loader(files: ["/run/cohort/token": "s3cret\n"])
        let settings = try host.load(yaml: "admin:\n  token: inline\n  token_file: /run/cohort/token\n")
        #expect(settings.admin.resolvedToken == "s3cret")
        #expect(settings.warnings == ["admin.token is ignored: token_file wins"])
        #expect(try loader().load(yaml: "admin:\n  token: inline\n").admin.resolvedToken == "inline")
        #expect(
            loadError("admin:\n  token_file: /t\n", files: ["/t": "\n"])
                == "admin.token_file: /t is empty; put the bearer token in it (line 2)")
    }

    @Test func openAdminEndpointWithoutATokenWarns() throws {
        let settings = try loader().load(yaml: "admin:\n  address: 0.0.0.0:7960\n")
        #expect(
            settings.warnings == [
                "admin.address 0.0.0.0:7960 is reachable from other hosts and no admin.token is set: "
                    + "the /v1 API is open to anyone who can connect"
            ])
        #expect(try loader().load(yaml: "admin:\n  address: \"[::1]:7960\"\n").warnings == [])
        #expect(try loader().load(yaml: "admin:\n  address: \":7960\"\n").admin.address == HostPort(host: "0.0.0.0", port: 7960))
    }

    @Test func nameDefaultsToTheHostNameAndEmptyMeansDefault() throws {
        #expect(try loader(hostName: "box-1").load(yaml: "cluster:\n  name: \"\"\n").cluster.name == "box-1")
        let error = configError { () throws(ConfigError) in try loader(hostName: "").defaults() }
        #expect(error?.description == "cluster.name: not set and the host name is unknown; set cluster.name")
    }

    @Test func systemLoaderReadsTheRealHost() throws {
        let system = ConfigLoader.system()
        #expect(!system.hostName.isEmpty)
        let error = configError { () throws(ConfigError) in try system.load(path: "/nonexistent/cohort.yaml") }
        #expect(error?.description == "/nonexistent/cohort.yaml: cannot read the config file: No such file or directory")
        let directory = configError { () throws(ConfigError) in try system.load(path: "/") }
        #expect(directory?.description == "/: cannot read the config file: Is a directory")
    }

    @Test func loadPathReadsTheFileThroughTheInjectedReader() throws {
        let host = loader(files: ["/etc/cohort.yaml": GuideExample.singleNode])
        #expect(try host.load(path: "/etc/cohort.yaml") == host.load(yaml: GuideExample.singleNode))
    }

    @Test func oversizedOrBinaryConfigFilesAreRejected() {
        let big = String(repeating: "#", count: ConfigLoader.maximumFileSize + 1)
        let tooBig = configError { () throws(ConfigError) in try loader(files: ["/big": big]).load(path: "/big") }
        #expect(tooBig?.description == "/big: the config file is larger than 1 MiB")
        let binary = ConfigLoader(environment: [:], hostName: "h", homeDirectory: nil) { _ in [0xFF, 0xFE, 0x00] }
        let notText = configError { () throws(ConfigError) in try binary.load(path: "/bin") }
        #expect(notText?.description == "/bin: the config file is not UTF-8 text")
    }
}
