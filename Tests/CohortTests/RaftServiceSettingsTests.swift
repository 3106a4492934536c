@testable import Cohort
import Raft
import Testing

/// The node hands `cluster.raft.*` to its Raft service.
@Suite struct RaftServiceSettingsTests {
    static func settings(_ raftLines: String) throws -> CohortSettings {
        try ConfigLoader(environment: [:], hostName: "n1", homeDirectory: nil) { _ in [] }
            .load(yaml: "cluster:\n  raft:\n" + raftLines)
    }

    @Test func theSnapshotTransferKeysReachTheRaftService() throws {
        let settings = try Self.settings(
            "    snapshot_chunk_size: 65536\n    snapshot_chunk_timeout: 3s\n    snapshot_idle_timeout: 45s\n    log_cache_size: 4096\n")
        let service = CohortNode.raftSettings(settings, incarnation: Incarnation(7))
        #expect(service.inMemoryLogBytes == 4096)
        #expect(service.snapshotChunkBytes == 65536)
        #expect(service.snapshotChunkTimeout == .seconds(3))
        #expect(service.snapshotTransferIdleTimeout == .seconds(45))
    }

    @Test func theDefaultsAreTheServiceDefaults() throws {
        let service = CohortNode.raftSettings(try Self.settings(""), incarnation: Incarnation(7))
        let defaults = RaftServiceSettings(nodeID: service.nodeID)
        #expect(service.snapshotChunkBytes == defaults.snapshotChunkBytes)
        #expect(service.inMemoryLogBytes == defaults.inMemoryLogBytes)
        #expect(service.snapshotChunkTimeout == defaults.snapshotChunkTimeout)
        #expect(service.snapshotTransferIdleTimeout == defaults.snapshotTransferIdleTimeout)
        #expect(service.snapshotThreshold == defaults.snapshotThreshold)
        #expect(service.trailingLogs == defaults.trailingLogs)
        #expect(service.incarnation == 7)
    }
}
