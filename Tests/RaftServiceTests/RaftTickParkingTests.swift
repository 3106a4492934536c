import CohortCore
import CohortTestKit
import RaftCore
import Mesh
@testable import Raft
import Testing

/// Only the leader ticks every interval: a follower's tick loop sleeps until its election timeout would
/// come, a client's or standby's until something needs ticks; the core still sees every tick.
@Suite(.serialized) struct RaftTickParkingTests {
    static func isParkedUntilRung(_ node: RaftTestNode) async -> Bool {
        let since = await node.raft.ticksParkedSince, until = await node.raft.ticksParkedUntil
        return since != nil && until == .untilRung
    }

    static func isParkedUntilElection(_ node: RaftTestNode) async -> Bool {
        guard await node.raft.ticksParkedSince != nil, case .until? = await node.raft.ticksParkedUntil else { return false }
        return true
    }

    @Test func followersSleepUntilTheirElectionTimeoutAndStillElectWhenTheLeaderDies() async throws {
        try await withRaftCluster { cluster in
            let voters = try await cluster.start(["a", "b", "c"])
            let leader = try await cluster.waitForLeader()
            _ = try await leader.raft.propose(command("x", 0), timeout: .seconds(10))
            #expect(await leader.raft.ticksParkedSince == nil)
            for follower in voters where follower.id != leader.id {
                try await waitFor("\(follower.id)'s ticks to park until its election timeout") { await Self.isParkedUntilElection(follower) }
            }
            // Heartbeats keep pushing the timeout back: no election for well over an election timeout.
            let term = await leader.status.term
            try await holdsThroughout(.seconds(2), "the leader stays, in its term", pollEvery: .milliseconds(50)) {
                let status = await leader.status
                return status.state == .leader && status.term == term
            }
            for follower in voters where follower.id != leader.id { #expect(await follower.status.leader == leader.id) }
            // A crashed leader sends nothing more: the parked timers fire and the others elect.
            await cluster.crash(leader)
            let next = try await cluster.waitForLeader()
            #expect(next.id != leader.id)
            _ = try await proposeSafely(command("y", 0), on: next)
        }
    }

    @Test func aFollowerThatHearsItsLeaderDoesNotWakeForItsElectionTimeout() async throws {
        try await withRaftCluster { cluster in
            let voters = try await cluster.start(["a", "b", "c"])
            let leader = try await cluster.waitForLeader()
            _ = try await leader.raft.propose(command("x", 0), timeout: .seconds(10))
            let followers = voters.filter { $0.id != leader.id }
            for follower in followers {
                try await waitFor("\(follower.id)'s ticks to park until its election timeout") { await Self.isParkedUntilElection(follower) }
            }
            // Each heartbeat moves the parked timer later: through three election timeouts (1–2 s here) of
            // heartbeats, the parked loops never wake. (They used to wake at the timeout armed when they
            // parked, once per election timeout, only to park again.)
            var before: [Int] = []
            for follower in followers { before.append(await follower.raft.parkedWakeUps) }
            let term = await leader.status.term
            try await holdsThroughout(.seconds(3), "the leader stays, in its term", pollEvery: .milliseconds(50)) {
                let status = await leader.status
                return status.state == .leader && status.term == term
            }
            for (follower, count) in zip(followers, before) {
                #expect(await follower.raft.parkedWakeUps == count, "\(follower.id)'s parked tick loop woke")
            }
        }
    }

    @Test func clientsAndStandbysParkTheirTicksAndAPromotedVoterCountsTowardsAnElection() async throws {
        try await withRaftCluster { cluster in
            _ = try await cluster.start(["a", "b", "c"])
            let leader = try await cluster.waitForLeader()
            _ = try await leader.raft.propose(command("x", 0), timeout: .seconds(10))
            let newcomer = try await cluster.join("d")
            try await waitFor("the client's ticks to park") { await Self.isParkedUntilRung(newcomer) }
            try await leader.raft.changeConfiguration(.addStandby(newcomer.id))
            try await waitFor("the standby to be replicated") { newcomer.machine.all == [command("x", 0)] }
            try await waitFor("the standby's ticks to park") { await Self.isParkedUntilRung(newcomer) }
            // A read on the standby has a deadline: ticks run while it waits, and it completes.
            _ = try await newcomer.raft.linearizableRead(timeout: .seconds(10))
            try await waitFor("the standby's ticks to park again") { await Self.isParkedUntilRung(newcomer) }
            // Promoted, its loop wakes for its election timeout.
            try await leader.raft.changeConfiguration(.promote(newcomer.id))
            try await waitFor("the newcomer to see itself a voter") { await newcomer.status.role == .voter }
            try await waitFor("the voter's ticks to count towards an election") { await Self.isParkedUntilElection(newcomer) }
            // Without a leader, three of the four voters elect one (the newcomer campaigns like the rest).
            await cluster.crash(leader)
            let next = try await cluster.waitForLeader()
            #expect(next.id != leader.id)
            _ = try await proposeSafely(command("y", 0), on: newcomer)
        }
    }
}
