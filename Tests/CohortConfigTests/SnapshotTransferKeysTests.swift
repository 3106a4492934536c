import CohortConfig
import Testing

/// `cluster.raft.snapshot_chunk_size`, `snapshot_chunk_timeout` and `snapshot_idle_timeout`: how a leader
/// streams a snapshot to a follower. Defaults are pinned in `DefaultsTests`.
@Suite struct SnapshotTransferKeysTests {
    @Test func valuesFromTheFileAreTaken() throws {
        let settings = try loader().load(
            yaml: "cluster:\n  raft:\n    snapshot_chunk_size: 65536\n    snapshot_chunk_timeout: 30s\n    snapshot_idle_timeout: 5m\n")
        #expect(settings.cluster.raft.snapshotChunkBytes == 65536)
        #expect(settings.cluster.raft.snapshotChunkTimeout == .seconds(30))
        #expect(settings.cluster.raft.snapshotIdleTimeout == .seconds(300))
    }

    @Test func valuesFromTheEnvironmentAreTaken() throws {
        let settings = try loader(environment: [
            "COHORT_CLUSTER_RAFT_SNAPSHOT_CHUNK_SIZE": "4096",
            "COHORT_CLUSTER_RAFT_SNAPSHOT_CHUNK_TIMEOUT": "2s",
            "COHORT_CLUSTER_RAFT_SNAPSHOT_IDLE_TIMEOUT": "90s",
        ]).defaults()
        #expect(settings.cluster.raft.snapshotChunkBytes == 4096)
        #expect(settings.cluster.raft.snapshotChunkTimeout == .seconds(2))
        #expect(settings.cluster.raft.snapshotIdleTimeout == .seconds(90))
    }

    @Test func theChunkSizeBoundsAreAllowed() throws {
        #expect(try loader().load(yaml: "cluster:\n  raft:\n    snapshot_chunk_size: 1\n").cluster.raft.snapshotChunkBytes == 1)
        #expect(try loader().load(yaml: "cluster:\n  raft:\n    snapshot_chunk_size: 16777216\n").cluster.raft.snapshotChunkBytes == 16 << 20)
        #expect(RaftSettings.maxSnapshotChunkBytes == 16 << 20)
    }

    static let chunkSizeHint = "use a number of bytes, 1–16777216 (16 MiB; e.g. 1048576 for 1 MiB)"

    @Test(arguments: [
        ("0", "0 is out of range; \(chunkSizeHint)"),
        ("-1", "-1 is out of range; \(chunkSizeHint)"),
        ("16777217", "16777217 is out of range; \(chunkSizeHint)"),
        ("1MiB", "\"1MiB\" is not a number of bytes; \(chunkSizeHint)"),
        ("1.5", "\"1.5\" is not a number of bytes; \(chunkSizeHint)"),
        ("[1, 2]", "expected a number of bytes, found a list; \(chunkSizeHint)"),
    ])
    func aBadChunkSizeSaysWhatIsAllowed(_ value: String, _ message: String) {
        #expect(loadError("cluster:\n  raft:\n    snapshot_chunk_size: \(value)\n") == "cluster.raft.snapshot_chunk_size: \(message) (line 3)")
    }

    @Test func aBadChunkSizeFromTheEnvironmentNamesTheVariable() {
        #expect(
            loadError("", environment: ["COHORT_CLUSTER_RAFT_SNAPSHOT_CHUNK_SIZE": "0"])
                == "COHORT_CLUSTER_RAFT_SNAPSHOT_CHUNK_SIZE=0: 0 is out of range; \(Self.chunkSizeHint)")
    }

    @Test func theLogCacheSizeIsANumberOfBytesFromZero() throws {
        #expect(try loader().load(yaml: "cluster:\n  raft:\n    log_cache_size: 0\n").cluster.raft.logCacheBytes == 0)
        #expect(try loader(environment: ["COHORT_CLUSTER_RAFT_LOG_CACHE_SIZE": "1048576"]).defaults().cluster.raft.logCacheBytes == 1 << 20)
        let hint = "use a number of bytes, 0–68719476736 (64 GiB; e.g. 1048576 for 1 MiB)"
        #expect(loadError("cluster:\n  raft:\n    log_cache_size: -1\n") == "cluster.raft.log_cache_size: -1 is out of range; \(hint) (line 3)")
        #expect(loadError("cluster:\n  raft:\n    log_cache_size: 16MiB\n") == "cluster.raft.log_cache_size: \"16MiB\" is not a number of bytes; \(hint) (line 3)")
    }

    @Test func timeoutsMustBeDurationsAboveZero() {
        #expect(
            loadError("cluster:\n  raft:\n    snapshot_chunk_timeout: 0\n")
                == "cluster.raft.snapshot_chunk_timeout: 0 must be greater than 0; use a number with ms, s, m or h "
                + "(e.g. 500ms, 2s, 1m) (line 3)")
        #expect(
            loadError("cluster:\n  raft:\n    snapshot_idle_timeout: 60\n")
                == "cluster.raft.snapshot_idle_timeout: 60 is not a duration; use a number with ms, s, m or h "
                + "(e.g. 500ms, 2s, 1m) (line 3)")
    }

    /// A follower that drops a transfer between two chunks the leader may still send would make every
    /// attempt start over.
    @Test func theIdleTimeoutMustBeLongerThanTheChunkTimeout() {
        #expect(
            loadError("cluster:\n  raft:\n    snapshot_idle_timeout: 10s\n")
                == "cluster.raft.snapshot_idle_timeout: 10s must be longer than snapshot_chunk_timeout (10s, the default) "
                + "(line 3)")
        #expect(
            loadError("cluster:\n  raft:\n    snapshot_chunk_timeout: 2m\n")
                == "cluster.raft.snapshot_chunk_timeout: 2m must be shorter than snapshot_idle_timeout (1m, the default) "
                + "(line 3)")
        #expect(
            loadError("cluster:\n  raft:\n    snapshot_chunk_timeout: 30s\n    snapshot_idle_timeout: 20s\n")
                == "cluster.raft.snapshot_chunk_timeout: 30s must be shorter than snapshot_idle_timeout (20s) (line 3)")
    }
}
