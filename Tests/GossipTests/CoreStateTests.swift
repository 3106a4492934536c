import CohortCore
import Gossip
import Testing

/// Alive / suspect / dead rules, refutation, gossip, push/pull and leave.
@Suite("SWIM core: membership state")
struct CoreStateTests {
    static func harness(members: [String]) -> SWIMHarness {
        var harness = SWIMHarness(settings: SWIMSettings(pushPullInterval: .zero))
        for (index, name) in members.enumerated() { harness.add(name, ip: [10, 0, 0, UInt8(index + 2)]) }
        _ = harness.drain()
        return harness
    }

    /// Every message the node gossips over the next `duration`, pings to others answered.
    static func gossiped(_ harness: inout SWIMHarness, for duration: Duration) -> [GossipMessage] {
        let end = harness.now + duration
        var messages: [GossipMessage] = []
        while harness.instance.nextDeadline <= end {
            harness.now = harness.instance.nextDeadline
            harness.effects += harness.instance.tick(now: harness.now, using: &harness.generator)
            for effect in harness.drain() {
                guard case .send(let sent, _) = effect else { continue }
                if case .ping(let ping)? = sent.first {
                    harness.receive(.ackResponse(AckResponseMessage(sequenceNumber: ping.sequenceNumber)))
                }
                messages += sent
            }
        }
        harness.now = end
        return messages
    }

    @Test("an idle node's next deadline is its probe, not the gossip interval; a queued broadcast brings gossip back")
    func idleDeadlineSkipsEmptyGossipRounds() {
        var harness = Self.harness(members: ["b", "c"])
        // Let the join's alive messages run out of retransmissions, answering every probe.
        _ = Self.gossiped(&harness, for: .seconds(30))
        let gossipInterval = SWIMSettings(pushPullInterval: .zero).gossipInterval
        // Idle: between probes (1 s apart) the core has nothing to do, so it does not ask to be woken
        // every gossip interval (200 ms).
        let idleDeadline = harness.instance.nextDeadline
        #expect(idleDeadline - harness.now > gossipInterval, "an idle node should sleep until its next probe")
        // A broadcast to send: due within a gossip interval (at once here: the last round was long ago),
        // and sent at that tick.
        harness.instance.broadcast(user: [9, 9])
        #expect(harness.instance.nextDeadline <= harness.now + gossipInterval)
        harness.now = max(harness.now, harness.instance.nextDeadline)
        let sent = harness.instance.tick(now: harness.now, using: &harness.generator).contains { effect in
            guard case .send(let messages, _) = effect else { return false }
            return messages.contains(.user([9, 9]))
        }
        #expect(sent, "the queued broadcast should go out at the tick it asked for")
    }

    @Test("new members join; higher incarnations update; stale ones are ignored")
    func aliveRules() {
        var harness = Self.harness(members: [])
        harness.add("b", ip: [10, 0, 0, 2], incarnation: 3, meta: [1])
        guard case .joined(let joined)? = harness.drain().events.first else { Issue.record("no join"); return }
        #expect(joined.name == NodeID("b") && joined.incarnation == 3 && joined.meta == [1])
        harness.add("b", ip: [10, 0, 0, 2], incarnation: 3, meta: [2])
        harness.add("b", ip: [10, 0, 0, 2], incarnation: 2, meta: [2])
        #expect(harness.drain().events.isEmpty && harness.instance.members[NodeID("b")]?.meta == [1])
        harness.add("b", ip: [10, 0, 0, 2], incarnation: 4, meta: [2])
        guard case .updated(let updated)? = harness.drain().events.first else { Issue.record("no update"); return }
        #expect(updated.meta == [2] && updated.incarnation == 4)
    }

    @Test("a live name at another address is a conflict; a long-dead one may be reclaimed")
    func addressConflicts() {
        var harness = Self.harness(members: ["b"])
        harness.add("b", ip: [10, 9, 9, 9], incarnation: 10)
        #expect(harness.drain().events.isEmpty && harness.instance.members[NodeID("b")]?.ip == [10, 0, 0, 2])
        harness.receive(.dead(DeadMessage(incarnation: 1, node: "b", from: "c")))
        #expect(harness.state(of: "b") == .dead)
        harness.now += .seconds(10)
        harness.add("b", ip: [10, 9, 9, 9], incarnation: 1)
        #expect(harness.instance.members[NodeID("b")]?.ip == [10, 0, 0, 2], "dead for less than the reclaim time")
        harness.now += .seconds(21)
        harness.add("b", ip: [10, 9, 9, 9], incarnation: 1)
        #expect(harness.instance.members[NodeID("b")]?.ip == [10, 9, 9, 9] && harness.state(of: "b") == .alive)
    }

    @Test("a later boot of a live Cohort node at another address is its restart there, believed at once; an earlier boot or a foreign peer is still a conflict")
    func laterBootAtAnotherAddress() throws {
        func meta(boot: UInt64) throws -> [UInt8] {
            try NodeMeta(internodePort: 7950, bootID: boot, buildVersion: "test").encoded()
        }
        var harness = Self.harness(members: [])
        harness.instance.isLaterBoot = NodeMeta.isLaterBoot
        harness.add("b", ip: [10, 0, 0, 2], incarnation: 7, meta: try meta(boot: 100))
        harness.add("memberlist", ip: [10, 0, 0, 3], incarnation: 7, meta: [])
        _ = harness.drain()
        // The same boot, or an earlier one, from elsewhere: a conflict, as in memberlist.
        harness.add("b", ip: [10, 9, 9, 9], incarnation: 9, meta: try meta(boot: 100))
        harness.add("b", ip: [10, 9, 9, 9], incarnation: 9, meta: try meta(boot: 99))
        harness.add("memberlist", ip: [10, 9, 9, 8], incarnation: 9, meta: [])
        #expect(harness.drain().events.isEmpty)
        #expect(harness.instance.members[NodeID("b")]?.ip == [10, 0, 0, 2])
        #expect(harness.instance.members[NodeID("memberlist")]?.ip == [10, 0, 0, 3])
        // A later boot, although its gossip incarnation starts again low and the old one is not yet known
        // to be gone: the node moved.
        harness.add("b", ip: [10, 9, 9, 9], incarnation: 1, meta: try meta(boot: 200))
        #expect(harness.instance.members[NodeID("b")]?.ip == [10, 9, 9, 9] && harness.state(of: "b") == .alive)
        #expect(harness.instance.members[NodeID("b")]?.incarnation == 1)
        // The old boot's announcements, still travelling, do not move it back.
        harness.add("b", ip: [10, 0, 0, 2], incarnation: 8, meta: try meta(boot: 100))
        #expect(harness.instance.members[NodeID("b")]?.ip == [10, 9, 9, 9])
    }

    @Test("a dead message from the node itself is a leave")
    func leaveVersusDeath() {
        var harness = Self.harness(members: ["b", "c"])
        harness.receive(.dead(DeadMessage(incarnation: 1, node: "b", from: "b")))
        harness.receive(.dead(DeadMessage(incarnation: 1, node: "c", from: "b")))
        let reasons = harness.drain().events.compactMap { if case .left(let member, let reason) = $0 { "\(member.name) \(reason)" } else { nil } }
        #expect(reasons == ["b left", "c dead"])
        #expect(harness.state(of: "b") == .left && harness.state(of: "c") == .dead)
    }

    @Test("suspected or declared dead, a node refutes with a higher incarnation and loses a health point")
    func refutation() {
        var harness = Self.harness(members: ["b"])
        harness.receive(.suspect(SuspectMessage(incarnation: 5, node: "a", from: "b")))
        #expect(harness.instance.localMember.incarnation == 6 && harness.instance.localMember.state == .alive)
        #expect(harness.instance.awareness.score == 1)
        harness.receive(.dead(DeadMessage(incarnation: 6, node: "a", from: "b")))
        #expect(harness.instance.localMember.incarnation == 7)
        let gossip = Self.gossiped(&harness, for: .seconds(1))
        #expect(gossip.contains(.alive(harness.instance.localMember.aliveMessage(for: harness))))
    }

    @Test("a suspicion times out into death: after the minimum at N = 3")
    func suspicionTimeoutSmallCluster() {
        var harness = Self.harness(members: ["b", "c"])
        let start = harness.now
        harness.receive(.suspect(SuspectMessage(incarnation: 1, node: "b", from: "c")))
        _ = Self.gossiped(&harness, for: .milliseconds(3_999))
        #expect(harness.state(of: "b") == .suspect)
        _ = Self.gossiped(&harness, for: .milliseconds(1))
        #expect(harness.state(of: "b") == .dead)
        #expect(harness.now - start == .seconds(4))
    }

    @Test("at N = 4…10 the timer runs 24 s alone, and a confirmation cuts it to 11.381 s")
    func suspicionTimeoutWithConfirmations() {
        for confirm in [false, true] {
            var harness = Self.harness(members: ["b", "c", "d", "e"])
            let start = harness.now
            harness.receive(.suspect(SuspectMessage(incarnation: 1, node: "b", from: "c")))
            if confirm { harness.receive(.suspect(SuspectMessage(incarnation: 1, node: "b", from: "d"))) }
            let expected: Duration = confirm ? .milliseconds(11_381) : .seconds(24)
            _ = Self.gossiped(&harness, for: expected - .milliseconds(1))
            #expect(harness.state(of: "b") == .suspect)
            _ = Self.gossiped(&harness, for: .milliseconds(1))
            #expect(harness.state(of: "b") == .dead, "confirmed: \(confirm)")
            #expect(harness.now - start == expected)
        }
    }

    @Test("an alive with a higher incarnation clears a suspicion")
    func refutedSuspicion() {
        var harness = Self.harness(members: ["b", "c"])
        harness.receive(.suspect(SuspectMessage(incarnation: 1, node: "b", from: "c")))
        harness.add("b", ip: [10, 0, 0, 2], incarnation: 2)
        _ = Self.gossiped(&harness, for: .seconds(10))
        #expect(harness.state(of: "b") == .alive)
    }

    @Test("broadcasts are gossiped retransmit-limit times, then retired")
    func retransmitLimit() {
        var harness = Self.harness(members: ["b", "c", "d", "e"])
        _ = Self.gossiped(&harness, for: .seconds(5))
        harness.receive(.suspect(SuspectMessage(incarnation: 1, node: "e", from: "b")))
        let accusation = GossipMessage.suspect(SuspectMessage(incarnation: 1, node: "e", from: "b"))
        let sent = Self.gossiped(&harness, for: .seconds(3)).filter { $0 == accusation }
        #expect(sent.count == SWIMTiming.retransmitLimit(multiplier: 4, members: 5))
    }

    @Test("push/pull merge: remote dead becomes our suspicion, left becomes left; incompatible versions are refused")
    func pushPullMerge() throws {
        var harness = Self.harness(members: ["b", "c", "d"])
        let remote = PushPullMessage(join: false, nodes: [
            PushNodeState(name: "b", address: [10, 0, 0, 2], port: 7946, incarnation: 1, state: .dead),
            PushNodeState(name: "c", address: [10, 0, 0, 3], port: 7946, incarnation: 1, state: .left),
            PushNodeState(name: "x", address: [10, 0, 0, 9], port: 7946, incarnation: 1, state: .alive),
        ])
        let effects = try harness.instance.mergeRemoteState(remote, now: harness.now, using: &harness.generator)
        #expect(harness.state(of: "b") == .suspect && harness.state(of: "c") == .left && harness.state(of: "x") == .alive)
        #expect(effects.events.count == 2)
        let future = PushPullMessage(join: false, nodes: [
            PushNodeState(name: "y", address: [1, 1, 1, 1], port: 1, incarnation: 1, state: .alive,
                          versions: ProtocolVersions(protocolMin: 6, protocolMax: 7, protocolCurrent: 6).bytes),
        ])
        #expect(throws: SWIMMergeError.incompatibleVersion(node: "y")) {
            try harness.instance.mergeRemoteState(future, now: harness.now, using: &harness.generator)
        }
        #expect(harness.instance.members[NodeID("y")] == nil)
        #expect(harness.instance.localState(join: true).nodes.map(\.name) == ["a", "b", "c", "d", "x"])
    }

    @Test("leaving announces our own death, after which alive messages about us are ignored")
    func leave() {
        var harness = Self.harness(members: ["b"])
        let effects = harness.instance.leave(now: harness.now)
        #expect(effects.events.count == 1 && harness.instance.localMember.state == .left)
        let gossip = Self.gossiped(&harness, for: .seconds(1))
        #expect(gossip.contains(.dead(DeadMessage(incarnation: 1, node: "a", from: "a"))))
        harness.add("a", ip: [10, 0, 0, 1], incarnation: 9)
        #expect(harness.instance.localMember.state == .left)
    }
}

extension Member {
    /// The alive message this member announces (test-side mirror of the core's own).
    func aliveMessage(for _: SWIMHarness) -> AliveMessage {
        AliveMessage(incarnation: incarnation, node: name.rawValue, address: ip, port: port, meta: meta, versions: versions.bytes)
    }
}
