import CohortConfig
import Testing

/// The YAML examples of the cluster guide (`seed/cluster-guide.md`), verbatim, in the guide's order.
enum GuideExample {
    static let joinNode = """
        cluster:
          enabled: true
          name: node-2
          membership:
            join_addrs: "node-1:7946"
        """

    static let secretFile = """
        cluster:
          membership:
            secret_file: /etc/wippy/cluster.key
        """

    static let singleNode = """
        cluster:
          enabled: true
          name: dev
          raft:
            bootstrap_expect: 1
        """

    static let threeNodeVoter = """
        cluster:
          enabled: true
          name: node-1
          failure_domain: us-east-1a
          membership:
            join_addrs: "node-2:7946,node-3:7946"
            secret_file: /etc/wippy/cluster.key
          raft:
            bootstrap_expect: 3
        """

    static let gossipOnlyClient = """
        cluster:
          enabled: true
          name: edge-7
          membership:
            join_addrs: "node-1:7946,node-2:7946"
          raft:
            role: client
        """
}

@Suite struct GuideExamplesTests {
    /// Serves the cluster key the guide's examples reference.
    let guideHost = loader(files: ["/etc/wippy/cluster.key": keyA + "\n"])

    @Test func joiningNodeLoads() throws {
        let settings = try guideHost.load(yaml: GuideExample.joinNode)
        #expect(settings.cluster.enabled)
        #expect(settings.cluster.name == "node-2")
        #expect(settings.cluster.membership.joinAddresses == [HostPort(host: "node-1", port: 7946)])
        #expect(settings.cluster.raft.bootstrapExpect == 1)
        #expect(settings.warnings.contains { $0.hasPrefix("no cluster key set") })
    }

    @Test func secretFileExampleLoadsTheKeyFromTheFile() throws {
        let settings = try guideHost.load(yaml: GuideExample.secretFile)
        #expect(settings.cluster.enabled == false)
        #expect(settings.cluster.membership.secretFile == "/etc/wippy/cluster.key")
        #expect(settings.cluster.membership.keyring == [bytes(keyA)])
    }

    @Test func singleNodeDevelopmentLoads() throws {
        let settings = try guideHost.load(yaml: GuideExample.singleNode)
        #expect(settings.cluster.enabled)
        #expect(settings.cluster.name == "dev")
        #expect(settings.cluster.raft.bootstrapExpect == 1)
        #expect(settings.cluster.membership.joinAddresses.isEmpty)
    }

    @Test func threeNodeVotingClusterLoads() throws {
        let settings = try guideHost.load(yaml: GuideExample.threeNodeVoter)
        #expect(settings.cluster.enabled)
        #expect(settings.cluster.name == "node-1")
        #expect(settings.cluster.failureDomain == "us-east-1a")
        #expect(
            settings.cluster.membership.joinAddresses == [
                HostPort(host: "node-2", port: 7946), HostPort(host: "node-3", port: 7946),
            ])
        #expect(settings.cluster.membership.keyring == [bytes(keyA)])
        #expect(settings.cluster.raft.bootstrapExpect == 3)
        #expect(settings.cluster.raft.role == .server)
        #expect(settings.warnings == [])
    }

    @Test func gossipOnlyClientLoads() throws {
        let settings = try guideHost.load(yaml: GuideExample.gossipOnlyClient)
        #expect(settings.cluster.enabled)
        #expect(settings.cluster.name == "edge-7")
        #expect(settings.cluster.raft.role == .client)
        #expect(
            settings.cluster.membership.joinAddresses == [
                HostPort(host: "node-1", port: 7946), HostPort(host: "node-2", port: 7946),
            ])
    }

    @Test func theKeyFileExamplesFailClearlyWithoutTheFile() {
        for yaml in [GuideExample.secretFile, GuideExample.threeNodeVoter] {
            let message = loadError(yaml)
            #expect(message.hasPrefix("cluster.membership.secret_file: cannot read /etc/wippy/cluster.key: No such file or directory"))
        }
    }
}
