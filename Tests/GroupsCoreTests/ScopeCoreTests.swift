import CohortCore
import GroupsCore
import Testing

@Suite struct ScopeCoreTests {
    @Test func joinsNeedAsManyLeavesAndOnlyLocalProcessesJoin() throws {
        var a = core("a")
        try a.join("g", [pid("a", 1), pid("a", 1), pid("a", 2)])
        #expect(a.members(of: "g") == [pid("a", 1), pid("a", 1), pid("a", 2)])
        #expect(a.leave("g", [pid("a", 1)]) == [pid("a", 1)])
        #expect(a.members(of: "g") == [pid("a", 1), pid("a", 2)])
        #expect(a.groups(of: pid("a", 1)) == ["g"])
        #expect(a.leave("g", [pid("a", 1), pid("a", 1)]) == [pid("a", 1)])
        #expect(a.leave("g", [pid("a", 9)]) == [])
        #expect(throws: GroupError.notLocal(pid("b", 1).description)) { try a.join("g", [pid("b", 1)]) }
        #expect(throws: GroupError.notLocal(pid("a", 1, boot: 2).description)) { try a.join("g", [pid("a", 1, boot: 2)]) }
        #expect(throws: GroupError.invalidGroup("empty")) { try a.join("", [pid("a", 1)]) }
        #expect(throws: GroupError.noMembers) { try a.join("g", []) }
        #expect(a.members(of: "g") == [pid("a", 2)])
        let events = a.takeOutput().events
        #expect(events == [
            .join(group: "g", pids: [pid("a", 1), pid("a", 1), pid("a", 2)]),
            .leave(group: "g", pids: [pid("a", 1)]),
            .leave(group: "g", pids: [pid("a", 1)]),
        ])
    }

    @Test func anExitTakesEveryMembershipOfTheProcess() throws {
        var a = core("a")
        try a.join("g", [pid("a", 1), pid("a", 1)])
        try a.join("h", [pid("a", 1), pid("a", 2)])
        _ = a.takeOutput()
        a.processExited(pid("a", 1))
        #expect(a.members(of: "g") == [])
        #expect(a.members(of: "h") == [pid("a", 2)])
        #expect(a.groups == ["h"])
        #expect(a.takeOutput().events == [.leave(group: "g", pids: [pid("a", 1), pid("a", 1)]), .leave(group: "h", pids: [pid("a", 1)])])
    }

    @Test func maxGroupsLimitsTheGroupsThisNodeHasMembersIn() throws {
        var a = core("a", settings: ScopeSettings(maxGroups: 2))
        try a.join("g1", [pid("a", 1)])
        try a.join("g2", [pid("a", 1)])
        try a.join("g2", [pid("a", 2)])
        #expect(throws: GroupError.tooManyGroups(limit: 2)) { try a.join("g3", [pid("a", 1)]) }
        a.leave("g1", [pid("a", 1)])
        try a.join("g3", [pid("a", 1)])
    }

    @Test func theHandshakeExchangesLocalMembershipsBothWays() throws {
        var cores = ["a": core("a"), "b": core("b")]
        try cores["a"]!.join("g", [pid("a", 1)])
        try cores["b"]!.join("g", [pid("b", 7), pid("b", 7)])
        cores["a"]!.nodeUp(NodeID("b"), incarnation: Incarnation(1), now: 1)
        cores["b"]!.nodeUp(NodeID("a"), incarnation: Incarnation(1), now: 1)
        exchange(&cores)
        #expect(converged(cores))
        #expect(cores["a"]!.members(of: "g") == [pid("a", 1), pid("b", 7), pid("b", 7)])
        #expect(cores["b"]!.members(of: "g") == cores["a"]!.members(of: "g"))
        #expect(!cores["a"]!.breakerIsOpen(to: NodeID("b")))
    }

    @Test func updatesSpreadInOneBatchPerPeer() throws {
        var cores = ["a": core("a"), "b": core("b"), "c": core("c")]
        for x in ["a", "b", "c"] { for y in ["a", "b", "c"] where x != y { cores[x]!.nodeUp(NodeID(y), incarnation: Incarnation(1), now: 1) } }
        exchange(&cores)
        _ = cores.keys.map { cores[$0]!.takeOutput() }
        for serial in 1...50 { try cores["a"]!.join("g\(serial % 5)", [pid("a", UInt64(serial))]) }
        cores["a"]!.flush()
        let sends = cores["a"]!.takeOutput().sends
        #expect(sends.count == 2)
        guard case .update(let firstSeq, let ops) = sends.first?.1 else { Issue.record("not an update"); return }
        #expect(firstSeq == 1 && ops.count == 50)
        for (to, message) in sends { cores[to.rawValue]!.receive(message, from: NodeID("a"), incarnation: Incarnation(1), now: 2) }
        #expect(converged(cores))
    }

    @Test func aScopeEmptyEverywhereSendsNothingSoAMassStartOpensNoConnections() throws {
        let names = (0..<6).map { "n\($0)" }
        var cores = Dictionary(uniqueKeysWithValues: names.map { ($0, core($0, settings: ScopeSettings(antiEntropyInterval: 1_000))) })
        for name in names {
            for other in names where other != name { cores[name]!.nodeUp(NodeID(other), incarnation: Incarnation(1), now: 0) }
        }
        for now in stride(from: UInt64(0), through: 10_000, by: 500) {
            for name in names { cores[name]!.tick(now: now, random: now) }
        }
        for name in names {
            #expect(cores[name]!.takeOutput().sends.isEmpty, "\(name) sent something though no node has members")
            #expect(cores[name]!.nextDeadline() == nil)
        }
        // The first member anywhere reaches every node (by the join's update), and from then on
        // anti-entropy runs.
        try cores["n0"]!.join("g", [pid("n0", 1)])
        cores["n0"]!.flush()
        exchange(&cores)
        for name in names { #expect(cores[name]!.members(of: "g") == [pid("n0", 1)]) }
    }

    @Test func aPeerThatForgotThisNodesMembershipsGetsThemBackWithoutAntiEntropy() throws {
        let settings = ScopeSettings(antiEntropyInterval: nil, beatInterval: nil)
        var cores = ["a": core("a", settings: settings), "b": core("b", settings: settings)]
        try cores["b"]!.join("g", [pid("b", 1)])
        cores["a"]!.nodeUp(NodeID("b"), incarnation: Incarnation(1), now: 1)
        cores["b"]!.nodeUp(NodeID("a"), incarnation: Incarnation(1), now: 1)
        exchange(&cores)
        // Gossip on a sees b go and come back; b's view of a never changed, so b starts no handshake.
        cores["a"]!.nodeDown(NodeID("b"))
        cores["a"]!.nodeUp(NodeID("b"), incarnation: Incarnation(1), now: 2)
        #expect(cores["a"]!.members(of: "g") == [])
        exchange(&cores)
        #expect(cores["a"]!.members(of: "g") == [pid("b", 1)])
        #expect(converged(cores))
    }

    @Test func aGapAsksForASyncAndTheSyncRepairsIt() throws {
        var cores = ["a": core("a"), "b": core("b")]
        cores["a"]!.nodeUp(NodeID("b"), incarnation: Incarnation(1), now: 1)
        cores["b"]!.nodeUp(NodeID("a"), incarnation: Incarnation(1), now: 1)
        exchange(&cores)
        try cores["a"]!.join("g", [pid("a", 1)])
        cores["a"]!.flush()
        // The first update is lost; the second shows the gap.
        exchange(&cores) { _, _, message in if case .update = message { return true } else { return false } }
        try cores["a"]!.join("g", [pid("a", 2)])
        cores["a"]!.flush()
        #expect(!converged(cores))
        exchange(&cores)
        #expect(converged(cores))
        #expect(cores["b"]!.members(of: "g") == [pid("a", 1), pid("a", 2)])
    }

    @Test func aNodeThatGoesDownTakesItsMembersAtOnce() throws {
        var cores = ["a": core("a"), "b": core("b")]
        try cores["b"]!.join("g", [pid("b", 1), pid("b", 2)])
        cores["a"]!.nodeUp(NodeID("b"), incarnation: Incarnation(1), now: 1)
        cores["b"]!.nodeUp(NodeID("a"), incarnation: Incarnation(1), now: 1)
        exchange(&cores)
        _ = cores["a"]!.takeOutput()
        #expect(cores["a"]!.remoteMemberCount == 2)
        cores["a"]!.nodeDown(NodeID("b"))
        #expect(cores["a"]!.members(of: "g") == [])
        #expect(cores["a"]!.groupCount == 0)
        #expect(cores["a"]!.remoteMemberCount == 0)
        #expect(cores["a"]!.takeOutput().events == [.leave(group: "g", pids: [pid("b", 1), pid("b", 2)])])
        // A late message from it is not applied.
        cores["a"]!.receive(.update(firstSeq: 1, ops: [GroupOp(.join, group: "g", serials: [3])]), from: NodeID("b"), incarnation: Incarnation(1), now: 2)
        #expect(cores["a"]!.members(of: "g") == [])
        #expect(cores["a"]!.takeOutput().tally.dropped[.unknownNode] == 1)
    }

    @Test func aRestartedNodesOldMembersGoWhenItsNewBootSpeaks() throws {
        var cores = ["a": core("a"), "b": core("b")]
        try cores["b"]!.join("g", [pid("b", 1)])
        cores["a"]!.nodeUp(NodeID("b"), incarnation: Incarnation(1), now: 1)
        cores["b"]!.nodeUp(NodeID("a"), incarnation: Incarnation(1), now: 1)
        exchange(&cores)
        // b restarts; a has not heard from gossip yet, but b's new boot syncs.
        cores["b"] = core("b", boot: 2)
        try cores["b"]!.join("g", [pid("b", 1, boot: 2)])
        cores["b"]!.nodeUp(NodeID("a"), incarnation: Incarnation(1), now: 5)
        exchange(&cores)
        #expect(cores["a"]!.members(of: "g") == [pid("b", 1, boot: 2)])
        #expect(converged(cores))
    }

    @Test func unansweredSyncsAreRetriedThenTheBreakerOpensAndAnswerCloses() throws {
        var a = core("a", settings: ScopeSettings(syncInterval: 100, antiEntropyInterval: nil, maxRetries: 2, beatInterval: nil, breakerOpenFor: 1_000))
        try a.join("g", [pid("a", 1)])
        a.nodeUp(NodeID("b"), incarnation: Incarnation(1), now: 0)
        #expect(a.takeOutput().tally.syncSent == 1)
        a.tick(now: 100, random: 0)
        a.tick(now: 200, random: 0)
        #expect(a.takeOutput().tally.syncRetried == 2)
        a.tick(now: 300, random: 0)
        #expect(a.takeOutput().tally.syncFailed == 1)
        #expect(a.breakerIsOpen(to: NodeID("b")))
        // While open, updates to it are skipped, not queued.
        try a.join("g", [pid("a", 2)])
        a.flush()
        let skipped = a.takeOutput()
        #expect(skipped.sends.isEmpty && skipped.tally.skipped == 1)
        // Half open after breakerOpenFor: one more sync.
        a.tick(now: 1_300, random: 0)
        #expect(a.takeOutput().sends.map(\.1).contains { if case .sync = $0 { true } else { false } })
        // The peer answers: the sync is acknowledged.
        a.receive(.syncAck(seq: a.seq), from: NodeID("b"), incarnation: Incarnation(1), now: 1_310)
        #expect(!a.breakerIsOpen(to: NodeID("b")))
        a.tick(now: 5_000, random: 0)
        #expect(a.takeOutput().sends.isEmpty)
    }

    @Test func aSyncRefusedBeforeTheMeshKnewThePeerGoesWhenItConnects() throws {
        var a = core("a")
        a.nodeUp(NodeID("b"), incarnation: Incarnation(1), now: 0)
        _ = a.takeOutput()
        a.connected(NodeID("b"), now: 5)
        #expect(a.takeOutput().sends.isEmpty, "nothing was lost: nothing to resend")
        a.sendFailed(to: NodeID("b"), now: 0)
        a.connected(NodeID("b"), now: 10)
        #expect(a.takeOutput().sends.map(\.1).contains { if case .sync = $0 { true } else { false } })
        a.connected(NodeID("b"), now: 20)
        #expect(a.takeOutput().sends.isEmpty, "once")
    }

    @Test func antiEntropyFindsADivergedCopyAndRepairsIt() throws {
        let settings = ScopeSettings(syncInterval: 100, antiEntropyInterval: 1_000, beatInterval: nil)
        var cores = ["a": core("a", settings: settings), "b": core("b", settings: settings)]
        cores["a"]!.nodeUp(NodeID("b"), incarnation: Incarnation(1), now: 0)
        cores["b"]!.nodeUp(NodeID("a"), incarnation: Incarnation(1), now: 0)
        exchange(&cores)
        try cores["a"]!.join("g", [pid("a", 1)])
        cores["a"]!.flush()
        // The only update is lost and nothing else follows it: no gap to see.
        exchange(&cores) { _, _, message in if case .update = message { return true } else { return false } }
        #expect(!converged(cores))
        for now in stride(from: UInt64(0), through: 2_000, by: 500) {
            for name in ["a", "b"] { cores[name]!.tick(now: now, random: 0) }
            exchange(&cores, now: now)
        }
        #expect(converged(cores))
    }

    @Test func aReorderedOlderSyncDoesNotUndoANewerOne() throws {
        var b = core("b")
        b.nodeUp(NodeID("a"), incarnation: Incarnation(1), now: 0)
        let new = GroupMessage.sync(seq: 3, groups: [SyncGroup(name: "g", members: [SyncMember(serial: 1, count: 1)])], have: nil)
        let old = GroupMessage.sync(seq: 1, groups: [SyncGroup(name: "h", members: [SyncMember(serial: 2, count: 1)])], have: nil)
        b.receive(new, from: NodeID("a"), incarnation: Incarnation(1), now: 1)
        b.receive(old, from: NodeID("a"), incarnation: Incarnation(1), now: 2)
        #expect(b.groups == ["g"])
    }

    @Test func theLivenessCheckFailsOnlyWhileRemoteMembersAreSilent() throws {
        var cores = ["a": core("a"), "b": core("b")]
        #expect(cores["a"]!.livenessFailure(now: 1_000_000, window: 1_000) == nil)
        try cores["b"]!.join("g", [pid("b", 1)])
        cores["a"]!.nodeUp(NodeID("b"), incarnation: Incarnation(1), now: 1_000)
        cores["b"]!.nodeUp(NodeID("a"), incarnation: Incarnation(1), now: 1_000)
        exchange(&cores, now: 1_000)
        #expect(cores["a"]!.livenessFailure(now: 1_900, window: 1_000) == nil)
        #expect(cores["a"]!.livenessFailure(now: 2_500, window: 1_000) != nil)
        cores["a"]!.receive(.beat, from: NodeID("b"), incarnation: Incarnation(1), now: 2_500)
        #expect(cores["a"]!.livenessFailure(now: 3_000, window: 1_000) == nil)
        // A lone node (its peer gone) passes.
        cores["a"]!.nodeDown(NodeID("b"))
        #expect(cores["a"]!.livenessFailure(now: 100_000, window: 1_000) == nil)
    }

    @Test func aNodeWithMembersBeatsPeersItHasNotBroadcastToLately() throws {
        var a = core("a", settings: ScopeSettings(antiEntropyInterval: nil, beatInterval: 1_000))
        a.nodeUp(NodeID("b"), incarnation: Incarnation(1), now: 0)
        a.nodeUp(NodeID("c"), incarnation: Incarnation(1), now: 0)
        a.tick(now: 5_000, random: 0)
        #expect(!a.takeOutput().sends.contains { $0.1 == .beat })
        try a.join("g", [pid("a", 1)])
        a.noteBroadcast(to: [NodeID("b")], now: 4_500)
        a.tick(now: 5_000, random: 0)
        #expect(a.takeOutput().sends.filter { $0.1 == .beat }.map(\.0) == [NodeID("c")])
    }

    @Test func theNextDeadlineIsTheEarliestRetryRoundOrBeat() throws {
        var a = core("a", settings: ScopeSettings(syncInterval: 100, antiEntropyInterval: 10_000, maxRetries: 1, beatInterval: 3_000))
        #expect(a.nextDeadline() == nil, "no peers: nothing to do, no timer")
        a.nodeUp(NodeID("b"), incarnation: Incarnation(1), now: 1_000)
        #expect(a.takeOutput().sends.isEmpty, "an empty node has nothing to sync")
        #expect(a.nextDeadline() == nil, "a scope empty everywhere compares nothing: no timer")
        try a.join("g", [pid("a", 1)])
        #expect(a.nextDeadline() == 0, "with members, anti-entropy is scheduled at the first tick")
        a.tick(now: 1_000, random: 0)
        #expect(a.nextDeadline() == 4_000, "a beat (the next anti-entropy round is at 11 000)")
        a.tick(now: 4_000, random: 0)
        #expect(a.takeOutput().sends.contains { $0.1 == .beat })
        #expect(a.nextDeadline() == 7_000)
    }

    @Test func broadcastTargetsCountDistinctMembersPerNode() throws {
        var cores = ["a": core("a"), "b": core("b")]
        try cores["a"]!.join("g", [pid("a", 1), pid("a", 1)])
        try cores["b"]!.join("g", [pid("b", 1), pid("b", 2)])
        cores["a"]!.nodeUp(NodeID("b"), incarnation: Incarnation(1), now: 1)
        cores["b"]!.nodeUp(NodeID("a"), incarnation: Incarnation(1), now: 1)
        exchange(&cores)
        let targets = cores["a"]!.broadcastTargets(of: "g")
        #expect(targets.local == 1)
        #expect(targets.remote.map(\.node) == [NodeID("b")] && targets.remote.map(\.members) == [2])
        #expect(cores["a"]!.broadcastTargets(of: "none").remote.isEmpty)
    }
}
