import CohortCore
import RaftCore

/// The leader's voter reconciler as a pure function: from the gossip view and the configuration, the
/// voters and standbys to aim for and the single-server changes that get there (SPEC 8). The design is
/// written up in `docs/raft-membership.md`.
///
/// **Targets.** Candidates are alive servers; voter candidates are alive eligible servers. The target
/// voter count is the largest odd number ≤ min(voter candidates, `maxVoters`). Voters are picked by walking
/// the voter candidates in *preference order* — priority ascending, then the current leader, then other
/// current voters, then caught-up standbys, then everybody else, then node ID — first taking the first
/// candidate of every failure domain not yet represented, then filling the remaining slots in the same
/// order. Hence a current voter stays unless it is no longer an alive eligible server, the count shrinks,
/// an unrepresented domain needs its slot, or a candidate of strictly better priority exists. Target
/// standbys are the next `maxStandbys` alive servers (eligible first, priority, current members first,
/// node ID). Everybody else is a client and is not in the configuration.
///
/// **Operations**, each checked against the configuration the earlier ones produce:
/// 1. promote target voters that are standbys and caught up (and not silent);
/// 2. while fewer than the target count of gossip-alive voters remain, promote the best caught-up
///    voter-candidate standby as a stand-in (a departed voter's slot is filled at once even when its
///    preferred successor still catches up; the stand-in is demoted again once that successor is promoted);
/// 3. add target voters, then target standbys, that are outside the configuration;
/// 4. demote voters that are target standbys, then remove dead voters (heartbeat-silent and gossip-dead, at
///    most (voters−1)/2 per plan), then remove other voters outside the targets; an alive voter leaves only
///    while at least the target count of alive voters remains, a gossip-dead voter that still answers
///    heartbeats is left alone;
/// 5. remove standbys outside the targets (dead, absent, no longer servers, or out-ranked);
/// 6. last, if the leader itself must go: `transferLeadership` to the best caught-up live target voter,
///    then its own demote/remove (skipped while no such voter exists).
///
/// No demote or remove may leave fewer live voters (the leader, or alive and not silent) than a quorum of
/// the resulting configuration, nor zero voters. The same input always yields the same plan, whatever the
/// order of `members`; re-planning a configuration that already matches the targets yields no operation.
public enum VoterPlanner {
    /// The plan for `input`; apply only its first operation, then plan again.
    public static func plan(_ input: ReconcileInput) -> VoterPlan {
        let view = PlanningView(input)
        let voterCount = targetVoterCount(candidates: view.voterCandidateCount, maxVoters: input.maxVoters)
        let voters = view.targetVoters(count: voterCount)
        let standbys = view.targetStandbys(excluding: Set(voters))
        var builder = OperationBuilder(view: view, targetVoters: voters, targetStandbys: standbys)
        return VoterPlan(targetVoters: voters, targetStandbys: standbys, operations: builder.build())
    }

    /// The number of voters to aim for: the largest odd number ≤ min(`candidates`, `maxVoters`), where
    /// `maxVoters` below 1 counts as 1; 0 when there is no candidate.
    public static func targetVoterCount(candidates: Int, maxVoters: Int) -> Int {
        let limit = min(candidates, max(maxVoters, 1))
        guard limit > 0 else { return 0 }
        return limit % 2 == 1 ? limit : limit - 1
    }
}
