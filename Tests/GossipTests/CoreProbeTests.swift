import CohortCore
import Gossip
import Testing

/// Probing, indirect probing, nacks, the TCP fallback and the buddy system.
@Suite("SWIM core: probing")
struct CoreProbeTests {
    /// Node "a" knowing b, c, d, e (so 3 helpers are available for any target).
    static func cluster(protocolMax: [String: UInt8] = [:]) -> SWIMHarness {
        var harness = SWIMHarness(settings: SWIMSettings(pushPullInterval: .zero))
        for (index, name) in ["b", "c", "d", "e"].enumerated() {
            harness.add(name, ip: [10, 0, 0, UInt8(index + 2)], protocolMax: protocolMax[name] ?? 5)
        }
        _ = harness.drain()
        return harness
    }

    @Test("a prompt ack ends the probe: no helpers are asked and health improves")
    func directAck() throws {
        var harness = Self.cluster()
        let sentPing = harness.nextPing(to: "b", within: .seconds(10))
        let ping = try #require(sentPing)
        #expect(ping.sourceNode == "a" && ping.sourceAddress == [10, 0, 0, 1] && ping.sourcePort == 7946)
        harness.receive(.ackResponse(AckResponseMessage(sequenceNumber: ping.sequenceNumber)))
        harness.advance(by: .milliseconds(900))
        let effects = harness.drain()
        #expect(!effects.sentMessages.contains { if case .indirectPing = $0.message { true } else { false } })
        #expect(effects.contains(.probeCompleted(target: NodeID("b"), result: .ack)), "the core reports how the probe ended")
        #expect(harness.state(of: "b") == .alive && harness.instance.awareness.score == 0)
    }

    @Test("silence brings indirect probes with nacks where understood, a TCP ping, then suspicion")
    func silenceLeadsToSuspicion() throws {
        var harness = Self.cluster(protocolMax: ["c": 3])
        let sentPing = harness.nextPing(to: "b", within: .seconds(10))
        let ping = try #require(sentPing)
        let sentAt = harness.now
        harness.advance(to: sentAt + .milliseconds(500))
        let effects = harness.drain()
        let requests = effects.sentMessages.compactMap { if case .indirectPing(let r) = $0.message { ($0.to, r) } else { nil } }
        #expect(Set(requests.map { $0.0 }) == [NodeID("c"), NodeID("d"), NodeID("e")])
        for (helper, request) in requests {
            #expect(request.sequenceNumber == ping.sequenceNumber && request.node == "b" && request.target == [10, 0, 0, 2])
            #expect(request.wantsNack == (helper != NodeID("c")), "c only understands protocol 3")
        }
        let tcp = effects.compactMap { if case .tcpPing(let p, let to, let deadline) = $0 { (p, to, deadline) } else { nil } }
        #expect(tcp.count == 1 && tcp.first?.1.name == NodeID("b") && tcp.first?.2 == sentAt + .seconds(1))
        // One of the two expected nacks arrives, the TCP ping fails.
        harness.receive(.nackResponse(NackResponseMessage(sequenceNumber: ping.sequenceNumber)))
        harness.effects += harness.instance.tcpPingCompleted(sequenceNumber: ping.sequenceNumber, reachable: false, now: harness.now)
        harness.advance(to: sentAt + .seconds(1))
        #expect(harness.state(of: "b") == .suspect)
        #expect(harness.instance.awareness.score == 1, "one missing nack")
        #expect(harness.drain().filter { if case .probeCompleted = $0 { true } else { false } } == [.probeCompleted(target: NodeID("b"), result: .failed)])
    }

    @Test("an ack relayed by a helper before the round ends saves the target")
    func indirectAck() throws {
        var harness = Self.cluster()
        let sentPing = harness.nextPing(to: "b", within: .seconds(10))
        let ping = try #require(sentPing)
        harness.advance(by: .milliseconds(700))
        harness.receive(.ackResponse(AckResponseMessage(sequenceNumber: ping.sequenceNumber)))
        harness.effects += harness.instance.tcpPingCompleted(sequenceNumber: ping.sequenceNumber, reachable: false, now: harness.now)
        harness.advance(by: .seconds(1))
        #expect(harness.state(of: "b") == .alive)
        #expect(harness.drain().contains(.probeCompleted(target: NodeID("b"), result: .indirectAck)))
    }

    @Test("a TCP answer without a UDP one is reported, not suspected")
    func tcpFallback() throws {
        var harness = Self.cluster()
        let sentPing = harness.nextPing(to: "b", within: .seconds(10))
        let ping = try #require(sentPing)
        harness.advance(by: .milliseconds(600))
        for _ in 0..<3 { harness.receive(.nackResponse(NackResponseMessage(sequenceNumber: ping.sequenceNumber))) }
        harness.advance(by: .milliseconds(400))
        #expect(harness.state(of: "b") == .alive, "the probe waits for the pending TCP ping")
        let effects = harness.instance.tcpPingCompleted(sequenceNumber: ping.sequenceNumber, reachable: true, now: harness.now)
        #expect(effects == [.udpUnreachable(NodeID("b")), .probeCompleted(target: NodeID("b"), result: .tcpOnly)])
        #expect(harness.state(of: "b") == .alive)
    }

    @Test("without nack-capable helpers a failed probe costs one awareness point; the probe interval stretches")
    func awarenessWithoutNacks() throws {
        var harness = SWIMHarness(settings: SWIMSettings(pushPullInterval: .zero))
        harness.add("b", ip: [10, 0, 0, 2], protocolMax: 2)
        let sentFirst = harness.nextPing(to: "b", within: .seconds(10))
        let first = try #require(sentFirst)
        let firstAt = harness.now
        harness.advance(by: .seconds(1))
        #expect(harness.instance.awareness.score == 1 && harness.state(of: "b") == .suspect)
        let sentSecond = harness.nextPing(to: "b", within: .seconds(10))
        let second = try #require(sentSecond)
        #expect(second.sequenceNumber > first.sequenceNumber)
        #expect(harness.now - firstAt == .seconds(1), "the failed round was not stretched yet")
        let secondAt = harness.now
        let third = harness.nextPing(to: "b", within: .seconds(10))
        #expect(third != nil)
        #expect(harness.now - secondAt == .seconds(2), "awareness 1 doubles the next interval")
    }

    @Test("probing a suspect carries the accusation with the ping (buddy system)")
    func buddySystem() throws {
        var harness = Self.cluster()
        harness.receive(.suspect(SuspectMessage(incarnation: 1, node: "b", from: "c")))
        #expect(harness.state(of: "b") == .suspect)
        let end = harness.now + .seconds(10)
        var buddy: [GossipMessage]?
        while buddy == nil, harness.now < end {
            harness.advance(to: harness.instance.nextDeadline)
            for effect in harness.drain() {
                if case .send(let messages, let to) = effect, to.name == NodeID("b"), case .ping = messages.first { buddy = messages }
            }
        }
        #expect(buddy?.count == 2)
        #expect(buddy?.last == .suspect(SuspectMessage(incarnation: 1, node: "b", from: "a")))
    }

    @Test("pings for another name are dropped; ours are acked to the named source")
    func answeringPings() {
        var harness = Self.cluster()
        let sender = MemberAddress(ip: [192, 168, 0, 9], port: 5000)
        harness.receive(.ping(PingMessage(sequenceNumber: 5, node: "someone-else")), from: sender)
        #expect(harness.drain().isEmpty)
        harness.receive(.ping(PingMessage(sequenceNumber: 6, node: "a", sourceAddress: [10, 0, 0, 3], sourcePort: 7946, sourceNode: "c")), from: sender)
        let reply = harness.drain()
        guard case .send(let messages, let to)? = reply.first else { Issue.record("no ack"); return }
        #expect(messages.first == .ackResponse(AckResponseMessage(sequenceNumber: 6)))
        #expect(to == MemberAddress(name: NodeID("c"), ip: [10, 0, 0, 3], port: 7946, protocolMax: 5))
        harness.receive(.ping(PingMessage(sequenceNumber: 7, node: "")), from: sender)
        #expect(harness.drain().sentMessages.first?.to == nil, "no source fields: reply to the sender")
    }

    @Test("an indirect request is relayed: the ack goes back under the requester's sequence number, or a nack")
    func relaying() throws {
        var harness = Self.cluster()
        let request = IndirectPingMessage(
            sequenceNumber: 900, target: [10, 0, 0, 4], port: 7946, node: "d", wantsNack: true,
            sourceAddress: [10, 0, 0, 3], sourcePort: 7946, sourceNode: "c"
        )
        harness.receive(.indirectPing(request))
        let forwarded = harness.drain().sentMessages
        guard case .ping(let ping)? = forwarded.first?.message else { Issue.record("no ping to the target"); return }
        #expect(forwarded.first?.to == NodeID("d") && ping.node == "d" && ping.sourceNode == "a")
        harness.receive(.ackResponse(AckResponseMessage(sequenceNumber: ping.sequenceNumber)))
        #expect(harness.drain().sentMessages.first.map { "\($0.to!) \($0.message)" } == "c \(GossipMessage.ackResponse(AckResponseMessage(sequenceNumber: 900)))")

        harness.receive(.indirectPing(request))
        _ = harness.drain()
        harness.advance(by: .milliseconds(500))
        let nacks = harness.drain().sentMessages.filter { if case .nackResponse = $0.message { true } else { false } }
        #expect(nacks.map(\.message) == [.nackResponse(NackResponseMessage(sequenceNumber: 900))])
    }
}
