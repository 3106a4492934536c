import CohortCore
@testable import Gossip
import Testing

/// `cluster.membership.cluster_id`: Cohort nodes labelled for different clusters never merge.
@Suite struct ServiceClusterIDTests {
    static func meta(_ clusterID: String) throws -> [UInt8] {
        var meta = NodeMeta(internodePort: 0, bootID: 1, buildVersion: "test")
        meta.clusterID = clusterID
        return try meta.encoded()
    }

    static func label(_ clusterID: String) throws -> (inout GossipServiceSettings) -> Void {
        let meta = try meta(clusterID)
        return { settings in
            settings.clusterID = clusterID
            settings.meta = meta
        }
    }

    @Test func nodesOfAnotherClusterIDAreIgnoredAndNodesOfTheSameOneMerge() async throws {
        try await withCluster { cluster in
            let a = try await cluster.start("a", configure: try Self.label("blue"))
            let b = try await cluster.start("b", joining: [a.joinAddress], configure: try Self.label("blue"))
            try await cluster.waitForConvergence([a, b], alive: ["a", "b"])

            let c = try await cluster.start("c", joining: [a.joinAddress], configure: try Self.label("green"))
            try await waitFor("a to drop c's announcements") {
                (a.metric("gossip_dropped_total", ["reason": "cluster_mismatch"]) ?? 0) >= 1
                    && (c.metric("gossip_dropped_total", ["reason": "cluster_mismatch"]) ?? 0) >= 1
            }
            #expect(Set(await a.view().keys) == ["a", "b"])
            #expect(Set(await b.view().keys) == ["a", "b"])
            #expect(Set(await c.view().keys) == ["c"])
        }
    }

    @Test func clusterIDSurvivesEncodingAndOlderMetadataReadsAsUnlabelled() throws {
        var meta = NodeMeta(internodePort: 7950, bootID: 9, buildVersion: "1.0")
        meta.clusterID = "prod-eu"
        let encoded = try meta.encoded()
        #expect(try NodeMeta(decoding: encoded).clusterID == "prod-eu")
        // Version-1 metadata written before the field existed ends after buildVersion.
        let withoutLabel = Array(encoded.dropLast(1 + "prod-eu".utf8.count))
        let old = try NodeMeta(decoding: withoutLabel)
        #expect(old.clusterID == "")
        #expect(old.buildVersion == "1.0")
        meta.clusterID = String(repeating: "x", count: NodeMeta.maxClusterIDBytes + 1)
        #expect(throws: GossipEncodeError.self) { try meta.encoded() }
    }
}
