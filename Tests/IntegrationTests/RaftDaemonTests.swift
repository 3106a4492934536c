import CohortTestKit
import Foundation
import Testing

/// The bounded Raft core across real `cohortd` processes: bootstrap, writes from any node, failover,
/// graceful hand-over, full restart (issues 5 and 6).
@Suite("Raft across real daemons", .serialized)
struct RaftDaemonTests {
    @Test("bootstrap_expect 3 with founders starting one after another (each once the last is waiting for peers) forms one group; writes commit from any node; it survives the leader's SIGKILL and SIGTERM")
    func threeFounders() async throws {
        let nodes = try await startRaftCluster(3, prefix: "b", staggered: true)
        try await withNodes(nodes) { nodes in
            let names = nodes.map(\.name).sorted()
            let formed = try await waitForAgreement(nodes, "3 founders to agree") { $0.voters == names }
            #expect(formed.standbys.isEmpty)
            // Exactly one group: every node is a voter of the same configuration under the same leader.
            for node in nodes {
                let state = try #require(await node.raft())
                #expect(state.role == "voter")
                #expect(state.leader == formed.leader)
            }

            // A write on a follower is forwarded to the leader; a linearizable read anywhere sees it.
            let follower = try #require(nodes.first { $0.name != formed.leader })
            let reply = try await follower.put("greeting", "hello")
            #expect(reply.status == 200, "\(reply.body)")
            for node in nodes { #expect(await node.value("greeting") == "hello") }
            // A conditional write that does not hold is refused with the current entry.
            let conflict = try await follower.put("greeting", "again", query: "?if_absent=true")
            #expect(conflict.status == 409)
            #expect(conflict.body.contains("hello"))

            // SIGKILL the leader: the other two elect a new one and accept writes again.
            let leader = try #require(nodes.first { $0.name == formed.leader })
            leader.process.signal(SIGKILL)
            _ = try await leader.process.waitForExit(within: .seconds(10))
            let survivors = nodes.filter { $0 !== leader }
            let afterKill = try await waitForAgreement(survivors, "a new leader after SIGKILL") { $0.leader != leader.name }
            try await survivors[0].putEventually("after-kill", "yes")
            #expect(await survivors[1].value("after-kill") == "yes")

            // The killed node comes back with its data and catches up.
            try leader.restart()
            try await leader.waitUntilServing()
            try await waitUntil(within: .seconds(30), "\(leader.name) to catch up") {
                await leader.value("after-kill", stale: true) == "yes"
            }
            // Having the data is not being a voter again: the leader re-adds it as a standby and promotes it
            // once caught up. Only then does the configuration hold all three.
            _ = try await waitForAgreement(nodes, "\(leader.name) to be a voter again") { $0.voters == names }

            // SIGTERM the current leader: it hands leadership over before it exits.
            let current = try #require(nodes.first { $0.name == afterKill.leader })
            current.process.signal(SIGTERM)
            let status = try await current.process.waitForExit(within: .seconds(15))
            #expect(status == 0)
            #expect(current.process.output.contains("transferring leadership"), "the stopping leader hands over")
            #expect(current.process.output.contains("raft leadership handed over"), "it saw its successor take over")
            let others = nodes.filter { $0 !== current }
            let handedOver = try await waitForAgreement(others, "a leader after the hand-over") { $0.leader != current.name }
            #expect(handedOver.voters == names, "a graceful stop does not change the configuration")
            try await others[0].putEventually("after-term", "yes")
        }
    }

    @Test("founders whose bootstrap_expect differs do not bootstrap, and the log names the odd node")
    func mismatchedExpect() async throws {
        // m1–m3 expect 3; m4 expects 4. Three nodes agree on 3 — without the mismatch rule they would found
        // a group.
        var nodes: [ClusterNodeUnderTest] = []
        let seed = try ClusterNodeUnderTest(name: "m1", raft: ["bootstrap_expect: 3"])
        nodes.append(seed)
        try await seed.waitUntilServing()
        for (name, expect) in [("m2", 3), ("m3", 3), ("m4", 4)] {
            nodes.append(try ClusterNodeUnderTest(name: name, join: [seed], raft: ["bootstrap_expect: \(expect)"]))
        }
        try await withNodes(nodes) { nodes in
            for node in nodes { try await node.waitUntilServing() }
            try await waitUntil(within: .seconds(30), "m1 to report the mismatch") {
                seed.process.output.contains("bootstrap_expect mismatch") && seed.process.output.contains("m4 (4)")
            }
            // Longer than the 5 s stability window: no group anywhere, at any moment.
            try await holdsThroughout(.seconds(8), "no node bootstrapping") {
                for node in nodes {
                    guard let state = await node.raft(), state.voters.isEmpty, state.term == 0 else { return false }
                }
                return true
            }
        }
    }

    @Test("7 nodes settle at 5 voters and 2 standbys; a killed voter's slot goes to a standby and writes continue")
    func sevenNodes() async throws {
        let nodes = try await startRaftCluster(7, prefix: "s")
        try await withNodes(nodes) { nodes in
            let settled = try await waitForAgreement(nodes, within: .seconds(90), "5 voters and 2 standbys") {
                $0.voters.count == 5 && $0.standbys.count == 2
            }
            let victim = try #require(nodes.first { settled.voters.contains($0.name) && $0.name != settled.leader })
            victim.process.signal(SIGKILL)
            _ = try await victim.process.waitForExit(within: .seconds(10))
            let healed = try await waitForAgreement(nodes, within: .seconds(90), "a standby promoted into \(victim.name)'s slot") {
                $0.voters.count == 5 && !$0.voters.contains(victim.name)
            }
            #expect(Set(healed.voters).isSubset(of: Set(settled.voters + settled.standbys)), "promoted from the standbys")
            let writer = try #require(nodes.first { $0 !== victim })
            try await writer.putEventually("seven", "still writing")
        }
    }

    @Test("12 nodes: 5 voters over 3 failure domains, 4 standbys, 3 clients; an ineligible node is never a voter; a client's write commits")
    func twelveNodes() async throws {
        let domains = ["zone-a", "zone-b", "zone-c"]
        let nodes = try await startRaftCluster(
            12, prefix: "t",
            // The best-ranked priority, but not eligible: it must never be a voter.
            raftLines: { $0 == 12 ? ["eligible: false", "priority: 1"] : [] },
            failureDomain: { domains[($0 - 1) % 3] }
        )
        try await withNodes(nodes) { nodes in
            let settled = try await waitForAgreement(nodes, within: .seconds(120), "5 voters and 4 standbys") {
                $0.voters.count == 5 && $0.standbys.count == 4
            }
            #expect(!settled.voters.contains("t12"), "eligible: false is never a voter")
            let domainOf = Dictionary(uniqueKeysWithValues: nodes.enumerated().map { ($1.name, domains[$0 % 3]) })
            #expect(Set(settled.voters.compactMap { domainOf[$0] }) == Set(domains), "each failure domain holds a voter")

            let members = Set(settled.voters + settled.standbys)
            let clients = nodes.filter { !members.contains($0.name) }
            #expect(clients.count == 3)
            for client in clients {
                #expect(await client.raft()?.role == "client")
            }
            let client = try #require(clients.first)
            let reply = try await client.put("from-client", "routed")
            #expect(reply.status == 200, "\(reply.body)")
            let leader = try #require(nodes.first { $0.name == settled.leader })
            #expect(await leader.value("from-client") == "routed")
            // A client holds no replica: its read goes to a member's (linearizable by default), and so
            // does its listing.
            #expect(await clients[1].value("from-client") == "routed")
            let listing = try await httpGet(clients[1].base + "/v1/kv")
            #expect(listing.status == 200, "\(listing.body)")
            #expect(listing.body.contains("from-client"), "\(listing.body)")
            #expect(await leader.metric(#"raft_voter_operations_total{op="promote",result="ok"}"#) ?? 0 >= 2)
        }
    }

    @Test("a full restart of every node comes back as the same group with its data")
    func fullRestart() async throws {
        let nodes = try await startRaftCluster(3, prefix: "r")
        try await withNodes(nodes) { nodes in
            let before = try await waitForAgreement(nodes, "the group to form") { $0.voters.count == 3 }
            try await nodes[0].putEventually("durable", "kept")
            for node in nodes {
                node.process.signal(SIGTERM)
                _ = try await node.process.waitForExit(within: .seconds(15))
            }
            for node in nodes { try node.restart() }
            for node in nodes { try await node.waitUntilServing() }
            let after = try await waitForAgreement(nodes, "the same group after the restart") { $0.voters.count == 3 }
            #expect(after.voters == before.voters)
            #expect(after.term > before.term)
            for node in nodes { #expect(await node.value("durable") == "kept") }
            for node in nodes {
                #expect(!node.process.output.contains("raft group founded"), "\(node.name) must not bootstrap again")
            }
        }
    }

    @Test("two groups founded apart (bootstrap_expect 1 each) that meet in gossip never mix their logs")
    func groupsFoundedApartStayApart() async throws {
        let first = try ClusterNodeUnderTest(name: "g1", raft: ["bootstrap_expect: 1"])
        try await first.waitUntilServing()
        try await waitUntil(within: .seconds(30), "g1 to lead its own group") { await first.raft()?.state == "leader" }
        // g2 founds its group alone (started joining g1, it may hear of g1's group first and wait to be
        // added to it instead, as a new node should); then it restarts with g1 as its seed.
        let second = try ClusterNodeUnderTest(name: "g2", raft: ["bootstrap_expect: 1"])
        try await withNodes([first, second]) { nodes in
            try await second.waitUntilServing()
            try await waitUntil(within: .seconds(30), "g2 to lead its own group") { await second.raft()?.state == "leader" }
            second.process.signal(SIGTERM)
            _ = try await second.process.waitForExit(within: .seconds(15))
            let config = try String(contentsOfFile: second.configPath, encoding: .utf8)
            try config.replacingOccurrences(of: "join_addrs: \"\"", with: "join_addrs: \"\(first.ip):7946\"")
                .write(toFile: second.configPath, atomically: false, encoding: .utf8)
            try second.restart()
            try await second.waitUntilServing()
            try await waitUntil(within: .seconds(30), "g1 and g2 to see each other and each to lead a group") {
                let seen = await first.aliveMembers() == ["g1", "g2"]
                let secondLeads = await second.raft()?.state == "leader"
                return seen && secondLeads && first.process.output.contains("raft group id known")
                    && second.process.output.contains("raft group id known")
            }
            // Longer than the reconciler's debounce (2 s) and a re-check: neither leader adds the other.
            try await holdsThroughout(.seconds(6), "each group keeping to itself") {
                let (one, two) = (await first.raft(), await second.raft())
                return one?.voters == ["g1"] && one?.standbys == [] && two?.voters == ["g2"] && two?.standbys == []
            }
            #expect(!first.process.output.contains("raft voter reconciler: add standby g2"))
            #expect(!second.process.output.contains("raft voter reconciler: add standby g1"))
            // Each group still accepts its own writes.
            #expect(try await first.put("side", "one").status == 200)
            #expect(try await second.put("side", "two").status == 200)
            #expect(await first.value("side") == "one")
            #expect(await second.value("side") == "two")
        }
    }

    @Test("a voter whose data directory is lost comes back blank: with it and one other voter up there is no leader; once the group has a quorum it is caught up, admitted and votes again")
    func wipedVoterIsAdmittedAgain() async throws {
        let nodes = try await startRaftCluster(3, prefix: "w")
        try await withNodes(nodes) { nodes in
            let formed = try await waitForAgreement(nodes, "the group to form") { $0.voters.count == 3 }
            try await nodes[0].putEventually("before-wipe", "kept")
            let leader = try #require(nodes.first { $0.name == formed.leader })
            let followers = nodes.filter { $0 !== leader }
            let (wiped, other) = (followers[0], followers[1])

            // The wiped voter loses everything; the leader goes down too.
            for node in [wiped, leader] {
                node.process.signal(SIGKILL)
                _ = try await node.process.waitForExit(within: .seconds(10))
            }
            try FileManager.default.removeItem(atPath: wiped.dataDirectory)
            try wiped.restart()
            try await wiped.waitUntilServing()
            try await waitUntil(within: .seconds(10), "\(wiped.name) to start blank") {
                wiped.process.output.contains("raft state is blank")
            }
            // Two of three voters are up, but one of them may have forgotten the votes it cast: it votes for
            // nobody, so nobody leads (longer than several election timeouts).
            try await holdsThroughout(.seconds(8), "no leader while only \(other.name) and the blank \(wiped.name) are up") {
                let states = [await other.raft(), await wiped.raft()]
                return states.allSatisfy { $0?.state != "leader" }
            }

            try leader.restart()
            try await leader.waitUntilServing()
            try await waitUntil(within: .seconds(30), "\(wiped.name) to be admitted") {
                wiped.process.output.contains("raft replica admitted")
            }
            let healed = try await waitForAgreement(nodes, "a leader with all three voters") { $0.voters.count == 3 && $0.leader != nil }
            #expect(Set(healed.voters) == Set(nodes.map(\.name)))
            #expect(await wiped.value("before-wipe", stale: true) == "kept")
            try await wiped.putEventually("after-wipe", "yes")
            for node in nodes { #expect(await node.value("after-wipe") == "yes") }
        }
    }
}
