import CohortCore
@testable import RaftCore
import Testing

@Suite("Raft replication")
struct ReplicationTests {
    @Test("proposals commit on a majority and every node applies the same sequence")
    func proposalsCommit() throws {
        var cluster = TestCluster(voters: ["a", "b", "c"])
        cluster.elect("a")
        for command in ["x", "y", "z"] { try cluster.propose("a", command) }
        for name in ["a", "b", "c"] {
            #expect(cluster.appliedCommands(name) == ["x", "y", "z"])
        }
    }

    @Test("a proposal on a follower reports the leader and appends nothing")
    func proposalOnFollowerReportsLeader() {
        var cluster = TestCluster(voters: ["a", "b", "c"])
        cluster.elect("a")
        let last = cluster["b"].lastIndex
        #expect(throws: ProposalError.notLeader(leader: NodeID("a"))) { try cluster["b"].propose([1]) }
        #expect(cluster["b"].lastIndex == last)
        var fresh = TestCluster(voters: ["a", "b", "c"])
        #expect(throws: ProposalError.notLeader(leader: nil)) { try fresh["b"].propose([1]) }
    }

    @Test("Figure 8: an entry of an older term is not committed by counting replicas")
    func figureEight() {
        let names = ["a", "b", "c", "d", "e"]
        let configuration = Configuration(voters: names.map(NodeID.init))
        // a held 2@2 as leader of term 2; e wrote 2@3 as leader of term 3. a now leads term 4.
        var a = RaftNode(id: NodeID("a"), settings: RaftNodeSettings(preVote: false), storage: .log(configuration, terms: [1, 2], term: 3, commit: 1))
        a.campaign()
        for voter in ["b", "c"] { a.step(Message(from: NodeID(voter), to: NodeID("a"), term: 4, kind: .voteResponse(granted: true))) }
        #expect(a.state == .leader && a.lastIndex == 3, "its no-op is 3@4")
        _ = a.ready()
        a.advance()
        // b and c acknowledge 2@2: it is on a majority (a, b, c) but of an older term.
        for voter in ["b", "c"] { a.step(Message(from: NodeID(voter), to: NodeID("a"), term: 4, kind: .appendResponse(.accept(2)))) }
        #expect(a.commitIndex == 1, "2@2 is not committed by counting replicas")
        a.step(Message(from: NodeID("b"), to: NodeID("a"), term: 4, kind: .appendResponse(.accept(3))))
        #expect(a.commitIndex == 1, "3@4 is on two of five")
        a.step(Message(from: NodeID("c"), to: NodeID("a"), term: 4, kind: .appendResponse(.accept(3))))
        #expect(a.commitIndex == 3, "3@4 on a majority commits it, and 2@2 with it")

        // Why: had 2@2 been committed on counting alone, e (whose 2@3 is more up to date) could still win
        // and overwrite it on the very majority that held it.
        var cluster = TestCluster(storages: [
            ("a", .log(configuration, terms: [1, 2], term: 3, commit: 1)),
            ("b", .log(configuration, terms: [1, 2], term: 3, commit: 1)),
            ("c", .log(configuration, terms: [1, 2], term: 3, commit: 1)),
            ("d", .log(configuration, terms: [1], term: 3, commit: 1)),
            ("e", .log(configuration, terms: [1, 3], term: 3, commit: 1)),
        ])
        cluster.isolate("a")
        cluster.elect("e")
        #expect(cluster["e"].state == .leader)
        for name in ["b", "c", "d", "e"] {
            #expect(cluster[name].log.term(at: 2) == 3, "\(name) now holds e's entry at 2")
        }
        cluster.heal()
        cluster.tick(times: 3)
        #expect(cluster["a"].log.term(at: 2) == 3)
    }

    @Test("a follower's long conflicting tail is replaced with a couple of probes (fast backtracking)")
    func conflictResolutionAndFastBacktracking() {
        let configuration = Configuration(voters: ["a", "b", "c"].map(NodeID.init))
        var cluster = TestCluster(storages: [
            ("a", .log(configuration, terms: [1] + Array(repeating: 3, count: 50), term: 3, commit: 1)),
            ("b", .log(configuration, terms: [1] + Array(repeating: 3, count: 50), term: 3, commit: 1)),
            ("c", .log(configuration, terms: [1] + Array(repeating: 2, count: 80), term: 3, commit: 1)),
        ])
        cluster.elect("a")
        cluster.tick(times: 3)
        let rejections = cluster.delivered.filter {
            if case .appendResponse(let response) = $0.kind { !response.accepted && $0.from == NodeID("c") } else { false }
        }
        #expect(rejections.count <= 2, "one rejection per term of divergence, not per entry: \(rejections.count)")
        #expect(cluster.entries("c") == cluster.entries("a"))
        #expect(cluster["c"].commitIndex == cluster["a"].lastIndex)
    }

    @Test("appends are batched by count and bytes, and pipelined within the inflight window")
    func batchingAndFlowControl() throws {
        var cluster = TestCluster(voters: ["a", "b"], settings: RaftNodeSettings(maxEntriesPerAppend: 3, maxBytesPerAppend: 1 << 20, maxInflightAppends: 2))
        cluster.elect("a")
        cluster.isolate("b")
        for index in 0..<20 { _ = try cluster["a"].propose([UInt8(index)]) }
        cluster.stabilize()
        cluster.heal()
        cluster.delivered = []
        cluster.tick(["a"], times: 1)
        let appends = cluster.delivered.compactMap { message -> AppendRequest? in
            if case .append(let request) = message.kind { request } else { nil }
        }
        #expect(appends.allSatisfy { $0.entries.count <= 3 })
        #expect(cluster["b"].lastIndex == cluster["a"].lastIndex)
        // Bytes: one large entry per append.
        var bytes = TestCluster(voters: ["a", "b"], settings: RaftNodeSettings(maxBytesPerAppend: 100))
        bytes.elect("a")
        bytes.isolate("b")
        for _ in 0..<4 { _ = try bytes["a"].propose(Array(repeating: 7, count: 80)) }
        bytes.stabilize()
        bytes.heal()
        bytes.delivered = []
        bytes.tick(["a"], times: 1)
        for message in bytes.delivered {
            if case .append(let request) = message.kind { #expect(request.entries.count <= 1) }
        }
        #expect(bytes["b"].lastIndex == bytes["a"].lastIndex)
    }

    @Test("flow control: a follower that stops answering gets at most the inflight window, then probes")
    func inflightWindow() throws {
        var cluster = TestCluster(voters: ["a", "b", "c"], settings: RaftNodeSettings(maxEntriesPerAppend: 1, maxInflightAppends: 2))
        cluster.elect("a")
        #expect(cluster["a"].progress[NodeID("b")]?.state == .replicate)
        cluster.dropIf = { message in
            if case .appendResponse = message.kind { return message.from == NodeID("b") }
            return false
        }
        cluster.delivered = []
        for index in 0..<10 { try cluster.propose("a", "v\(index)") }
        let appendsToB = cluster.delivered.filter { message in
            if case .append(let request) = message.kind { return message.to == NodeID("b") && !request.entries.isEmpty }
            return false
        }
        #expect(appendsToB.count == 2, "the window is two appends: \(appendsToB.count)")
        #expect(cluster.appliedCommands("c").count == 10, "c is not held back")
        // Each heartbeat answer frees one slot, so replication goes on, slowly, without acknowledgements.
        cluster.tick(["a"], times: 3)
        #expect(cluster["b"].lastIndex > appendsToB.last.map { message -> LogIndex in
            if case .append(let request) = message.kind { return request.entries.last!.index } else { return 0 }
        } ?? 0)
        cluster.heal()
        cluster.tick(times: 3)
        #expect(cluster.appliedCommands("b").count == 10)
    }

    @Test("a slow follower does not hold back commits to the others")
    func slowFollowerDoesNotBlock() throws {
        var cluster = TestCluster(voters: ["a", "b", "c"])
        cluster.elect("a")
        cluster.isolate("c")
        for index in 0..<30 { try cluster.propose("a", "v\(index)") }
        #expect(cluster.appliedCommands("b").count == 30)
        #expect(cluster["a"].progress[NodeID("c")]?.match ?? 0 < cluster["a"].lastIndex)
        cluster.heal()
        cluster.tick(times: 3)
        #expect(cluster.appliedCommands("c").count == 30)
    }

    @Test("a partial partition (leader reaches only some followers) heals with one leader and no lost commit")
    func partialPartition() throws {
        var cluster = TestCluster(voters: ["a", "b", "c", "d", "e"])
        cluster.elect("a")
        try cluster.propose("a", "before")
        // a still reaches b and e; c and d reach b, e and each other but not a.
        cluster.cutLink("a", "c")
        cluster.cutLink("a", "d")
        for round in 0..<10 {
            cluster.tick(times: 5)
            for leader in cluster.leaders { _ = try? cluster.propose(leader.rawValue, "during-\(round)") }
        }
        #expect(cluster.leadersByTerm.values.allSatisfy { $0.count == 1 })
        #expect(cluster["a"].state == .leader, "a keeps a majority (a, b, e), and b and e ignore c's and d's pre-votes")
        let appliedDuringPartition = Set(["a", "b", "c", "d", "e"].flatMap { cluster.appliedCommands($0) })
        #expect(appliedDuringPartition.count == 11)
        cluster.heal()
        cluster.tick(times: 30)
        #expect(cluster.leaders.count == 1)
        let leader = cluster.leaders[0].rawValue
        try cluster.propose(leader, "after")
        cluster.tick(times: 3)
        let reference = cluster.appliedCommands(leader)
        #expect(reference.starts(with: ["before"]))
        #expect(reference.last == "after")
        for name in ["a", "b", "c", "d", "e"] {
            #expect(cluster.appliedCommands(name) == reference, "\(name) applied a different sequence")
        }
        #expect(appliedDuringPartition.isSubset(of: reference), "a committed entry was lost")
    }
}
