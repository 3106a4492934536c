import CohortTestKit
import Testing

/// The Raft core's stories as data-driven traces (`Traces/testdata/*.txt`), one test per file. Each file
/// reads top to bottom as commands and the output they must print; run with `COHORT_REWRITE_TRACES=1` to
/// write the actual output into the files instead, then read the `git diff`.
@Suite("Raft traces")
struct RaftTraceTests {
    @Test("election: a pre-vote round, a vote round, a leader whose no-op commits everywhere")
    func election() {
        checkTrace("election.txt", in: RaftTraceEnvironment())
    }

    @Test("PreVote: a partitioned follower's pre-votes are refused without raising a term; it rejoins quietly")
    func preVoteRefusal() {
        checkTrace("prevote_refusal.txt", in: RaftTraceEnvironment())
    }

    @Test("CheckQuorum: a leader cut off from the majority steps down after an election timeout")
    func checkQuorumStepDown() {
        checkTrace("checkquorum_stepdown.txt", in: RaftTraceEnvironment())
    }

    @Test("configuration change: add a standby, catch it up, promote it, demote and remove; one change at a time")
    func configurationChange() {
        checkTrace("config_change.txt", in: RaftTraceEnvironment())
    }

    @Test("ReadIndex: reads wait for a heartbeat round a majority confirms; a follower's read is forwarded")
    func readIndex() {
        checkTrace("read_index.txt", in: RaftTraceEnvironment())
    }
}
