import CohortTestKit
import CohortCore
@testable import Gossip
import Synchronization
import Testing

/// GossipService nodes over real UDP and TCP sockets on loopback: join, failure detection, leave, events,
/// user messages and metadata.
@Suite("GossipService cluster", .serialized)
struct ServiceClusterTests {
    @Test func threeNodesConvergeThroughOneSeed() async throws {
        try await withCluster { cluster in
            let a = try await cluster.start("a")
            try await waitFor("the seed to count as joined") { await a.service.hasJoined }
            let b = try await cluster.start("b", joining: [a.joinAddress])
            let c = try await cluster.start("c", joining: [a.joinAddress])
            try await cluster.waitForConvergence([a, b, c], alive: ["a", "b", "c"])
            try await waitFor("b and c to have joined") {
                let (b, c) = (await b.service.hasJoined, await c.service.hasJoined)
                return b && c
            }
            try await waitFor("probes to be acknowledged") { (a.metric("gossip_probes_total", ["result": "ack"]) ?? 0) > 0 }
            // The gauge follows the membership; under load it may trail the view by a moment. (The health
            // score is not asserted here: on a starved machine Lifeguard raises it, as it should.)
            try await waitFor("the alive gauge to count all three") { a.metric("gossip_members", ["state": "alive"]) == 3 }
        }
    }

    @Test func aDatagramsSenderIsTheLiveMemberAtItsAddress() async throws {
        try await withCluster { cluster in
            let nodes = try await cluster.startConverged("a", "b", "c")
            let (a, b, c) = (nodes[0], nodes[1], nodes[2])
            func ip(_ node: TestNode) -> [UInt8] { node.host.split(separator: ".").compactMap { UInt8($0) } }
            #expect(await a.service.member(atIP: ip(b), port: UInt16(b.port))?.name == NodeID("b"))
            #expect(await a.service.member(atIP: ip(b), port: UInt16(b.port))?.name == NodeID("b"), "remembered")
            #expect(await a.service.member(atIP: ip(b), port: UInt16(b.port) &+ 1) == nil)
            // c dies and another node comes up on its address: datagrams from there are the new node's.
            await c.crash()
            try await waitFor("a to declare c dead") { await a.view()["c"] == .dead }
            #expect(await a.service.member(atIP: ip(c), port: UInt16(c.port))?.name == NodeID("c"), "only c was there")
            let d = try await cluster.start("d", host: c.host, port: c.port, joining: [a.joinAddress])
            try await waitFor("a to see d") { await a.view()["d"] == .alive }
            #expect(await a.service.member(atIP: ip(d), port: UInt16(d.port))?.name == NodeID("d"))
        }
    }

    @Test func memberGaugesFollowTheTableCountingItAtMostOnceASecond() async throws {
        try await withCluster { cluster in
            let a = try await cluster.start("a")
            let b = try await cluster.start("b", joining: [a.joinAddress])
            try await cluster.waitForConvergence([a, b], alive: ["a", "b"])
            try await waitFor("the alive gauge to count both") { a.metric("gossip_members", ["state": "alive"]) == 2 }
            // Counting walks the whole table; it used to run on every tick and every event (several a second
            // here: probes every 200 ms, their timeouts, a join's events). Over a window with a join and ten
            // acknowledged probes, at most one count a second (and one at the window's edge).
            let start = ContinuousClock.now
            let before = await a.service.gaugeCounts
            let acks = a.metric("gossip_probes_total", ["result": "ack"]) ?? 0
            let c = try await cluster.start("c", joining: [a.joinAddress])
            try await cluster.waitForConvergence([a, b, c], alive: ["a", "b", "c"])
            try await waitFor("the alive gauge to count all three") { a.metric("gossip_members", ["state": "alive"]) == 3 }
            try await waitFor("ten more acknowledged probes") { (a.metric("gossip_probes_total", ["result": "ack"]) ?? 0) >= acks + 10 }
            let counts = await a.service.gaugeCounts - before
            let seconds = Double((ContinuousClock.now - start).components.seconds)
            #expect(counts >= 1, "the join was counted")
            #expect(Double(counts) <= seconds + 2, "\(counts) counts in \(seconds) s")
            // A crash is counted too, though no event may come with the suspicion: the gauge leaves alive.
            await c.crash()
            try await waitFor("the alive gauge to drop c") { a.metric("gossip_members", ["state": "alive"]) == 2 }
        }
    }

    @Test func anAcknowledgedProbeDoesNotWakeTheTimerAtItsTimeout() async throws {
        try await withCluster { cluster in
            let nodes = try await cluster.startConverged("a", "b")
            let a = nodes[0]
            // Over twenty acknowledged probes, count the ticks at which the core had nothing due. The probe's
            // timeout (100 ms after each 200 ms probe here) used to wake the timer loop although the ack had
            // ended the round: an idle tick a probe. Now the ack moves the timer to the next probe. (A tick
            // can still find nothing due when the deadline moved while the timer's expiry was on its way: rare.)
            try await waitFor("the probes to be acknowledged") { (a.metric("gossip_probes_total", ["result": "ack"]) ?? 0) >= 5 }
            let acksBefore = a.metric("gossip_probes_total", ["result": "ack"]) ?? 0
            let idleBefore = await a.service.idleTicks
            try await waitFor("twenty more acknowledged probes") {
                (a.metric("gossip_probes_total", ["result": "ack"]) ?? 0) >= acksBefore + 20
            }
            let acks = (a.metric("gossip_probes_total", ["result": "ack"]) ?? 0) - acksBefore
            let idle = await a.service.idleTicks - idleBefore
            #expect(Double(idle) <= acks / 4, "\(idle) idle ticks for \(acks) acknowledged probes")
        }
    }

    @Test func crashedNodeIsSuspectedThenDeclaredDead() async throws {
        try await withCluster { cluster in
            let nodes = try await cluster.startConverged("a", "b", "c")
            let (a, b, c) = (nodes[0], nodes[1], nodes[2])
            let events = Collector(a.service.events.subscribe())

            await c.crash()
            try await waitFor("a to suspect c") { await a.view()["c"] == .suspect }
            try await waitFor("a and b to declare c dead") {
                let (seenByA, seenByB) = (await a.view()["c"], await b.view()["c"])
                return seenByA == .dead && seenByB == .dead
            }
            try await waitFor("a's subscriber to see c leave as dead") {
                events.all.contains { if case .left(let m, .dead) = $0 { m.name == NodeID("c") } else { false } }
            }
            #expect((a.metric("gossip_probes_total", ["result": "failed"]) ?? 0) > 0)
            #expect(await a.view()["b"] == .alive)
        }
    }

    @Test func gracefulShutdownIsSeenAsLeft() async throws {
        try await withCluster { cluster in
            let nodes = try await cluster.startConverged("a", "b", "c")
            let (a, b, c) = (nodes[0], nodes[1], nodes[2])
            let events = Collector(b.service.events.subscribe())

            try await c.stop()
            try await waitFor("a and b to record c as left") {
                let (seenByA, seenByB) = (await a.view()["c"], await b.view()["c"])
                return seenByA == .left && seenByB == .left
            }
            try await waitFor("b's subscriber to see c leave") {
                events.all.contains { if case .left(let m, .left) = $0 { m.name == NodeID("c") } else { false } }
            }
            #expect(!events.all.contains { if case .left(_, .dead) = $0 { true } else { false } })
        }
    }

    @Test func subscriptionStartsWithSnapshotThenDeltas() async throws {
        try await withCluster { cluster in
            let a = try await cluster.start("a")
            let events = Collector(a.service.events.subscribe())
            try await waitFor("the snapshot") { !events.all.isEmpty }
            guard case .snapshot(let members) = events.all[0] else {
                Issue.record("first update is \(events.all[0]), not a snapshot")
                return
            }
            #expect(members.map(\.name) == [NodeID("a")])

            let b = try await cluster.start("b", joining: [a.joinAddress])
            try await waitFor("b to join") {
                events.all.contains { if case .joined(let m) = $0 { m.name == NodeID("b") } else { false } }
            }
            try await b.stop()
            try await waitFor("b to leave") {
                events.all.contains { if case .left(let m, .left) = $0 { m.name == NodeID("b") } else { false } }
            }
            let names = events.all.dropFirst().map { update -> String in
                switch update {
                case .joined(let m): "joined \(m.name)"
                case .left(let m, let reason): "left \(m.name) \(reason)"
                case .updated(let m): "updated \(m.name)"
                case .snapshot, .resync: "\(update)"
                }
            }
            #expect(names == ["joined b", "left b left"])
            #expect(a.service.events.liveMembers.map(\.name) == [NodeID("a")])
        }
    }

    @Test func userMessagesArriveByKind() async throws {
        try await withCluster { cluster in
            let nodes = try await cluster.startConverged("a", "b", "c")
            let (a, b, c) = (nodes[0], nodes[1], nodes[2])
            let bNames = Collector(b.service.userMessages(kind: 7))
            let cNames = Collector(c.service.userMessages(kind: 7))
            let bOther = Collector(b.service.userMessages(kind: 9))

            // Gossip is lossy by design (a broadcast is retransmitted a bounded number of times, to random
            // members), so send again until everyone has heard.
            try await broadcastUntilHeard(by: a, kind: 7, payload: Array("hello".utf8)) {
                !bNames.all.isEmpty && !cNames.all.isEmpty
            }
            #expect(bNames.all[0].payload == Array("hello".utf8))
            #expect(bNames.all[0].from == NodeID("a"))
            #expect(cNames.all[0].payload == Array("hello".utf8))

            try await broadcastUntilHeard(by: a, kind: 9, payload: [1, 2, 3]) { !bOther.all.isEmpty }
            #expect(bOther.all.allSatisfy { $0.payload == [1, 2, 3] })
            #expect(bNames.all.allSatisfy { $0.payload == Array("hello".utf8) })

            // Too large for a datagram: it travels over TCP to every live member.
            let large = (0..<5000).map { UInt8(truncatingIfNeeded: $0) }
            await a.service.broadcast(kind: 7, payload: large)
            try await waitFor("b and c to receive the large message") {
                bNames.all.contains { $0.payload == large } && cNames.all.contains { $0.payload == large }
            }
        }
    }

    @Test func updateMetaProducesUpdatedElsewhere() async throws {
        try await withCluster { cluster in
            let a = try await cluster.start("a", configure: { $0.meta = [1] })
            let b = try await cluster.start("b", joining: [a.joinAddress])
            try await cluster.waitForConvergence([a, b], alive: ["a", "b"])
            #expect(await b.service.members.first { $0.name == NodeID("a") }?.meta == [1])
            let events = Collector(b.service.events.subscribe())

            await a.service.updateMeta([4, 5, 6])
            try await waitFor("b to see a's new metadata") {
                events.all.contains { if case .updated(let m) = $0 { m.name == NodeID("a") && m.meta == [4, 5, 6] } else { false } }
            }
            #expect(await b.service.members.first { $0.name == NodeID("a") }?.meta == [4, 5, 6])
        }
    }

    @Test func joinRetriesUntilASeedAnswers() async throws {
        try await withCluster { cluster in
            let seedHost = uniqueLoopbackAddress()
            let seedPort = 17_946
            let b = try await cluster.start("b", joining: [JoinAddress(host: seedHost, port: seedPort)])
            try await waitFor("b's first join to fail") { b.logs.all.contains { $0.contains("join failed") } }
            #expect(await !b.service.hasJoined)

            let a = try await cluster.start("a", host: seedHost, port: seedPort)
            try await waitFor("b to join once the seed is up") { await b.service.hasJoined }
            try await cluster.waitForConvergence([a, b], alive: ["a", "b"])
        }
    }

    @Test func aJoinsMergedMembersReachASubscriberAsOneBatch() async throws {
        try await withCluster { cluster in
            let nodes = try await cluster.startConverged("a", "b", "c")
            // d's batch reader subscribes before d runs: it reads the snapshot and then d's own arrival, and
            // waits while d's join goes to a and back.
            let batches = Mutex<Collector<[MembershipUpdate]>?>(nil)
            let d = try await cluster.start("d", joining: [nodes[0].joinAddress], beforeRun: { service in
                batches.withLock { $0 = Collector(service.events.subscribeBatches()) }
            })
            let collected = try #require(batches.withLock { $0 })
            try await cluster.waitForConvergence(nodes + [d], alive: ["a", "b", "c", "d"])
            // The push/pull that joined d brought a, b and c in one step: one delivery, so one wake-up of a
            // waiting reader, not three.
            let summaries = collected.all.map { $0.map(\.summary) }
            let start = try #require(summaries.firstIndex { $0.contains("joined d") }, "\(summaries)")
            #expect(summaries.count > start + 1, "\(summaries)")
            #expect(summaries.dropFirst(start + 1).first.map(Set.init) == ["joined a", "joined b", "joined c"], "\(summaries)")
        }
    }

    @Test func isolatedNodeRejoinsARestartedSeed() async throws {
        try await withCluster { cluster in
            let seedHost = uniqueLoopbackAddress()
            let seedPort = 17_947
            let a = try await cluster.start("a", host: seedHost, port: seedPort)
            let b = try await cluster.start("b", joining: [a.joinAddress]) { $0.rejoinInterval = .milliseconds(300) }
            try await cluster.waitForConvergence([a, b], alive: ["a", "b"])

            await a.crash()
            try await waitFor("b to declare a dead") { await b.view()["a"] == .dead }
            // A new process of the same node: it knows nobody, so only b's rejoin brings them together.
            let restarted = try await cluster.start("a", host: seedHost, port: seedPort)
            try await cluster.waitForConvergence([restarted, b], alive: ["a", "b"])
        }
    }
}

/// Broadcasts from `node` every 300 ms until `heard` holds.
private func broadcastUntilHeard(
    by node: TestNode, kind: UInt8, payload: [UInt8], _ heard: @escaping @Sendable () -> Bool
) async throws {
    var lastSent: ContinuousClock.Instant?
    try await waitFor("kind \(kind) to be heard") {
        if heard() { return true }
        if lastSent.map({ $0.duration(to: .now) > .milliseconds(300) }) ?? true {
            await node.service.broadcast(kind: kind, payload: payload)
            lastSent = .now
        }
        return false
    }
}

extension MembershipUpdate {
    /// "joined a", "left b dead", "updated c", "snapshot", "resync".
    var summary: String {
        switch self {
        case .joined(let member): "joined \(member.name)"
        case .left(let member, let reason): "left \(member.name) \(reason)"
        case .updated(let member): "updated \(member.name)"
        case .snapshot: "snapshot"
        case .resync: "resync"
        }
    }
}
