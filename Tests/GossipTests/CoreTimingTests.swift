import CohortCore
import Gossip
import Testing

@Suite("SWIM timing and Lifeguard arithmetic")
struct CoreTimingTests {
    @Test("settings presets pin memberlist 0.2.2's defaults")
    func presets() {
        let lan = SWIMSettings.lan
        #expect(lan.probeInterval == .seconds(1) && lan.probeTimeout == .milliseconds(500) && lan.indirectChecks == 3)
        #expect(lan.suspicionMultiplier == 4 && lan.suspicionMaxTimeoutMultiplier == 6 && lan.retransmitMultiplier == 4)
        #expect(lan.gossipInterval == .milliseconds(200) && lan.gossipNodes == 3 && lan.gossipToTheDeadTime == .seconds(30))
        #expect(lan.pushPullInterval == .seconds(30) && lan.awarenessMaxMultiplier == 8)
        let wan = SWIMSettings.wan
        #expect(wan.probeInterval == .seconds(5) && wan.probeTimeout == .seconds(3) && wan.suspicionMultiplier == 6)
        #expect(wan.gossipInterval == .milliseconds(500) && wan.gossipNodes == 4 && wan.pushPullInterval == .seconds(60))
        let local = SWIMSettings.local
        #expect(local.probeTimeout == .milliseconds(200) && local.indirectChecks == 1 && local.suspicionMultiplier == 3)
        #expect(local.retransmitMultiplier == 2 && local.gossipInterval == .milliseconds(100) && local.pushPullInterval == .seconds(15))
    }

    @Test("suspicion bounds grow with log10 N")
    func suspicionBounds() {
        for (members, seconds) in [(1, 4), (3, 4), (10, 4), (100, 8), (1000, 12)] {
            #expect(SWIMTiming.suspicionMinimum(multiplier: 4, members: members, probeInterval: .seconds(1)) == .seconds(seconds))
        }
        #expect(SWIMTiming.suspicionMinimum(multiplier: 6, members: 5, probeInterval: .seconds(5)) == .seconds(30))
        #expect(SWIMTiming.suspicionMinimum(multiplier: 4, members: 50, probeInterval: .seconds(1)) == .milliseconds(6792))
    }

    @Test("retransmits and push/pull scale as memberlist's")
    func scaling() {
        #expect([1, 9, 10, 99, 100, 999].map { SWIMTiming.retransmitLimit(multiplier: 4, members: $0) } == [4, 4, 8, 8, 12, 12])
        #expect(SWIMTiming.pushPullInterval(.seconds(30), members: 32) == .seconds(30))
        #expect(SWIMTiming.pushPullInterval(.seconds(30), members: 33) == .seconds(60))
        #expect(SWIMTiming.pushPullInterval(.seconds(30), members: 64) == .seconds(60))
        #expect(SWIMTiming.pushPullInterval(.seconds(30), members: 65) == .seconds(90))
    }

    @Test("awareness stays within 0…7 and stretches timeouts ×(score+1)")
    func awareness() {
        var awareness = Awareness(maxMultiplier: 8)
        awareness.apply(-3)
        #expect(awareness.score == 0 && awareness.scale(.seconds(1)) == .seconds(1))
        awareness.apply(3)
        #expect(awareness.scale(.milliseconds(500)) == .seconds(2))
        awareness.apply(100)
        #expect(awareness.score == 7 && awareness.scale(.seconds(1)) == .seconds(8))
    }

    @Test("with k = 0 (N = 3) the suspicion timer is simply the minimum")
    func suspicionWithoutConfirmations() {
        let start = ContinuousClock.now
        var suspicion = Suspicion(accuser: NodeID("a"), wantedConfirmations: 0, minimum: .seconds(4), maximum: .seconds(24), start: start)
        #expect(suspicion.deadline == start + .seconds(4))
        let fromB = suspicion.confirm(from: NodeID("b"))
        #expect(!fromB)
    }

    @Test("with k = 2 (N = 4…10) independent confirmations shrink the timer from 24 s to 4 s")
    func suspicionConfirmations() {
        let start = ContinuousClock.now
        var suspicion = Suspicion(accuser: NodeID("a"), wantedConfirmations: 2, minimum: .seconds(4), maximum: .seconds(24), start: start)
        #expect(suspicion.deadline == start + .seconds(24))
        let fromAccuser = suspicion.confirm(from: NodeID("a"))
        #expect(!fromAccuser, "the accuser is no confirmation")
        let firstFromB = suspicion.confirm(from: NodeID("b"))
        #expect(firstFromB)
        let againFromB = suspicion.confirm(from: NodeID("b"))
        #expect(!againFromB, "nor is anyone twice")
        // 24 − log(2)/log(3) × 20 = 11.381 s
        #expect(suspicion.deadline == start + .milliseconds(11_381))
        let fromC = suspicion.confirm(from: NodeID("c"))
        #expect(fromC)
        #expect(suspicion.deadline == start + .seconds(4))
        let fromD = suspicion.confirm(from: NodeID("d"))
        #expect(!fromD, "confirmations beyond k are not counted")
        #expect(suspicion.confirmations == 2)
    }

    @Test("the broadcast queue prefers fresh, then large, then new messages, and retires them at the limit")
    func broadcastQueue() {
        var queue = BroadcastQueue()
        let small = GossipMessage.suspect(SuspectMessage(incarnation: 1, node: "x", from: "y"))
        let large = GossipMessage.alive(AliveMessage(incarnation: 1, node: "z", address: [1, 2, 3, 4], port: 1))
        queue.enqueue(small)
        queue.enqueue(large)
        queue.enqueue(user: [1])
        let first = queue.take(budget: 1000, overhead: 2, transmitLimit: 2)
        #expect(first == [large, small, .user([1])])
        let replacement = GossipMessage.dead(DeadMessage(incarnation: 1, node: "x", from: "y"))
        queue.enqueue(replacement)
        #expect(queue.count == 3)
        let second = queue.take(budget: 1000, overhead: 2, transmitLimit: 2)
        #expect(second.first == replacement)
        #expect(queue.count == 1)
        let fits = small.encodedMessage().readableBytes + 2
        queue.enqueue(small)
        let third = queue.take(budget: fits, overhead: 2, transmitLimit: 5)
        #expect(third == [small])
    }

    @Test("the broadcast queue keeps at most 1024 user messages, dropping the most transmitted, then the oldest; membership news is never dropped")
    func broadcastQueueBoundsUserMessages() {
        var queue = BroadcastQueue()
        let news = GossipMessage.suspect(SuspectMessage(incarnation: 1, node: "x", from: "y"))
        queue.enqueue(news)
        queue.enqueue(user: [0, 0])
        _ = queue.take(budget: 1000, overhead: 2, transmitLimit: 10)  // news and [0, 0] sent once
        for index in 1...BroadcastQueue.maxUserMessages {
            queue.enqueue(user: [UInt8(index >> 8), UInt8(index & 0xff)])
        }
        #expect(queue.userCount == BroadcastQueue.maxUserMessages)
        #expect(queue.count == BroadcastQueue.maxUserMessages + 1, "the membership message stays")
        var sent: Set<[UInt8]> = []
        while queue.userCount > 0 {
            for case .user(let payload) in queue.take(budget: 100_000, overhead: 2, transmitLimit: 1) { sent.insert(payload) }
        }
        #expect(!sent.contains([0, 0]), "the one already transmitted went first")
        #expect(sent.count == BroadcastQueue.maxUserMessages)
        queue.enqueue(user: [9])
        queue.enqueue(user: [8])
        for _ in 0..<BroadcastQueue.maxUserMessages - 1 { queue.enqueue(user: [7]) }
        #expect(queue.userCount == BroadcastQueue.maxUserMessages)
        let rest = queue.take(budget: 1_000_000, overhead: 2, transmitLimit: 1)
        #expect(!rest.contains(.user([9])) && rest.contains(.user([8])), "equal transmits: the oldest is dropped")
    }
}
