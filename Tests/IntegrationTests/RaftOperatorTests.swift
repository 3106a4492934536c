import CohortTestKit
import Foundation
import Testing

/// `GET /v1/raft/peers`, `DELETE /v1/raft/peers/{name}`, `POST /v1/raft/transfer-leader` and
/// `GET /v1/raft/operations` across three real `cohortd` daemons and a client node (`cohort raft …` on one
/// node: `CLIRaftTests`).
@Suite("Raft operator commands", .serialized)
struct RaftOperatorTests {
    @Test("peers from any node (a client node too) is the leader's view; transfer-leader to a named voter and to any voter moves leadership everywhere; remove-peer of a SIGKILLed voter takes it out; bad input gets its code; operations lists the steps")
    func threeDaemons() async throws {
        // Three founders and a client node. A short debounce: the reconciler re-plans right after a removal,
        // while gossip still has a SIGKILLed node alive (declaring it dead takes a few probe rounds).
        let all = try await startRaftCluster(
            4, prefix: "op", raftLines: { $0 == 4 ? ["role: client"] : ["reconcile_debounce: 100ms"] }
        )
        try await withNodes(all) { all in
            let nodes = Array(all.prefix(3)), client = all[3]
            let names = nodes.map(\.name).sorted()
            let formed = try await waitForAgreement(nodes, "3 founders to agree") { $0.voters == names }
            let leaderName = try #require(formed.leader)
            let leader = try #require(nodes.first { $0.name == leaderName })
            try await leader.putEventually("k", "v")

            // peers, asked of the leader: 3 voters, one leader, every follower caught up with a match index.
            var view: [String: Any] = [:]
            try await waitUntil(within: .seconds(30), "every peer caught up in the leader's view", pollEvery: .milliseconds(200)) {
                guard let peers = try? await leader.peers() else { return false }
                view = peers
                let rows = peers["peers"] as? [[String: Any]] ?? []
                return rows.count == 3 && rows.allSatisfy { ($0["match_index"] as? Int ?? 0) > 0 && $0["caught_up"] as? Bool == true }
            }
            let rows = try #require(view["peers"] as? [[String: Any]])
            #expect(rows.compactMap { $0["name"] as? String } == names)
            #expect(rows.allSatisfy { $0["suffrage"] as? String == "voter" && $0["gossip"] as? String == "alive" })
            #expect(rows.filter { $0["leader"] as? Bool == true }.compactMap { $0["name"] as? String } == [leaderName])
            #expect(view["leader"] as? String == leaderName)
            // Asked of a follower or the client node: the same leader and members (passed on to the leader, by
            // the client node through a Raft member).
            #expect(await client.raft()?.role == "client")
            for node in all where node !== leader {
                let peers = try await node.peers()
                #expect(peers["leader"] as? String == leaderName, "\(node.name)")
                #expect((peers["peers"] as? [[String: Any]])?.compactMap { $0["name"] as? String } == names)
            }

            // Bad input, each with its code.
            expectError(try await leader.delete("/v1/raft/peers/nosuch"), 404, "NOT_FOUND")
            expectError(try await leader.post("/v1/raft/transfer-leader", #"{"to":"nosuch"}"#), 404, "NOT_FOUND")
            expectError(try await leader.post("/v1/raft/transfer-leader", #"{"to":"\#(leaderName)"}"#), 409, "CONFLICT")
            expectError(try await leader.delete("/v1/raft/peers/\(leaderName)"), 409, "CONFLICT")
            expectError(try await leader.post("/v1/raft/transfer-leader", "{"), 400, "BAD_REQUEST")
            expectError(try await leader.post("/v1/raft/transfer-leader", #"{"to":5}"#), 400, "BAD_REQUEST")
            expectError(try await leader.post("/v1/raft/transfer-leader", #"{"timeout":"forever"}"#), 400, "BAD_REQUEST")
            expectError(try await leader.post("/v1/raft/transfer-leader", #"{"timeout":"2m"}"#), 400, "BAD_REQUEST")

            // transfer-leader to a named voter, with the CLI against the leader: every node sees the new leader.
            let target = try #require(nodes.first { $0 !== leader })
            let moved = try await cohort(leader, ["raft", "transfer-leader", target.name])
            #expect(moved.status == 0, "\(moved.output)")
            #expect(moved.output == "leadership moved from \(leaderName) to \(target.name)\n")
            try await waitForAgreement(nodes, "\(target.name) to lead everywhere") { $0.leader == target.name }

            // transfer-leader without a name, asked of a follower: some other voter takes over.
            let follower = try #require(nodes.first { $0 !== target })
            let reply = try await follower.post("/v1/raft/transfer-leader", "{}")
            #expect(reply.status == 200, "\(reply.body)")
            let answer = try #require(try json(reply.body) as? [String: Any])
            #expect(answer["previous"] as? String == target.name)
            let next = try #require(answer["leader"] as? String)
            #expect(next != target.name)
            try await waitForAgreement(nodes, "\(next) to lead everywhere") { $0.leader == next }

            // The hand-overs are in the old leaders' operations; each founder recorded its founding.
            let targetOps = try await target.operations()
            #expect(targetOps.contains { $0["op"] as? String == "transfer_leadership" && $0["source"] as? String == "operator" && $0["outcome"] as? String == "ok" && $0["node"] as? String == next })
            let leaderOps = try await leader.operations()
            #expect(leaderOps.contains { $0["op"] as? String == "transfer_leadership" && $0["node"] as? String == target.name })
            for node in nodes {
                #expect(try await node.operations().contains { $0["op"] as? String == "bootstrap" && $0["source"] as? String == "bootstrap" }, "\(node.name)")
            }

            // remove-peer of a SIGKILLed voter, asked of the other survivor: it leaves the configuration.
            let current = try #require(nodes.first { $0.name == next })
            let victim = try #require(nodes.first { $0 !== current })
            let other = try #require(nodes.first { $0 !== current && $0 !== victim })
            victim.process.signal(SIGKILL)
            _ = try await victim.process.waitForExit(within: .seconds(10))
            let removal = try await other.delete("/v1/raft/peers/\(victim.name)")
            #expect(removal.status == 200, "\(removal.body)")
            let removed = try #require(try json(removal.body) as? [String: Any])
            #expect(removed["removed"] as? String == victim.name)
            #expect(removed["suffrage"] as? String == "voter")
            // Out at once on the leader, before the reconciler could have acted (it waits for gossip to declare
            // the node dead, an election timeout of silence and its debounce).
            let right = try #require(await current.raft())
            #expect(!right.voters.contains(victim.name), "\(right)")
            let survivors = [current, other]
            // Then the reconciler shrinks to one voter (2 candidates: largest odd count is 1); the removed
            // node never comes back while it is dead.
            let settled = try await waitForAgreement(survivors, "\(victim.name) out of the configuration, 1 voter and 1 standby") {
                !$0.voters.contains(victim.name) && !$0.standbys.contains(victim.name) && $0.voters.count == 1 && $0.standbys.count == 1
            }
            for node in survivors {
                let state = try #require(await node.raft())
                #expect(!state.voters.contains(victim.name) && !state.standbys.contains(victim.name))
            }
            let removeOps = try await current.operations()
            #expect(removeOps.contains { $0["op"] as? String == "remove" && $0["source"] as? String == "operator" && $0["node"] as? String == victim.name && $0["outcome"] as? String == "ok" })
            // Held out while gossip still thought it alive: the reconciler never added it back.
            #expect(!removeOps.contains { $0["node"] as? String == victim.name && $0["source"] as? String == "reconciler" }, "\(removeOps)")
            let soleVoter = try #require(settled.voters.first)
            let sole = try #require(survivors.first { $0.name == soleVoter })
            let standby = try #require(survivors.first { $0 !== sole })
            // The reconciler's own steps (the demotion to one voter) are in the operations of the node that led then.
            var reconcilerSteps: [[String: Any]] = []
            for node in survivors { reconcilerSteps += try await node.operations().filter { $0["source"] as? String == "reconciler" } }
            #expect(reconcilerSteps.contains { $0["op"] as? String == "demote" && $0["node"] as? String == standby.name && $0["outcome"] as? String == "ok" })

            // The last voter is never removed; with it gone, a standby knows no leader.
            expectError(try await standby.delete("/v1/raft/peers/\(soleVoter)"), 409, "CONFLICT", mentioning: "last voter")
            sole.process.signal(SIGKILL)
            _ = try await sole.process.waitForExit(within: .seconds(10))
            expectError(try await standby.get("/v1/raft/peers"), 503, "NO_LEADER")
            expectError(try await standby.post("/v1/raft/transfer-leader", "{}"), 503, "NO_LEADER")
        }
    }

}

extension ClusterNodeUnderTest {
    /// `GET /v1/raft/peers` as JSON; throws on any other status.
    func peers() async throws -> [String: Any] {
        let reply = try await httpGet(base + "/v1/raft/peers")
        guard reply.status == 200, let object = try json(reply.body) as? [String: Any] else { throw UnexpectedReply(reply: reply) }
        return object
    }

    /// `GET /v1/raft/operations`' records.
    func operations() async throws -> [[String: Any]] {
        let reply = try await httpGet(base + "/v1/raft/operations")
        guard reply.status == 200, let object = try json(reply.body) as? [String: Any], let records = object["operations"] as? [[String: Any]] else {
            throw UnexpectedReply(reply: reply)
        }
        return records
    }

    func get(_ path: String) async throws -> HTTPReply {
        try await httpGet(base + path)
    }
}

/// Expects an error reply with `status` and `code` (and `mentioning` in its message).
func expectError(
    _ reply: HTTPReply, _ status: Int, _ code: String, mentioning: String? = nil,
    sourceLocation: SourceLocation = #_sourceLocation
) {
    #expect(reply.status == status, "\(reply.body)", sourceLocation: sourceLocation)
    let object = try? json(reply.body) as? [String: Any]
    #expect(object?["code"] as? String == code, "\(reply.body)", sourceLocation: sourceLocation)
    if let mentioning {
        #expect((object?["error"] as? String)?.contains(mentioning) == true, "\(reply.body)", sourceLocation: sourceLocation)
    }
}
