@testable import Cohort
import CohortCore
import Testing

@Suite("Raft operator: the operation log and the wire")
struct RaftOperatorUnitTests {
    @Test("the operation log keeps the last `capacity` records, oldest first, numbered in order")
    func boundedRing() {
        let log = RaftOperationLog(capacity: 3, now: { 1_000 })
        for index in 1...5 {
            log.record(op: "promote", node: NodeID("n\(index)"), source: "reconciler", reason: "r", term: 2)
        }
        log.record(op: "remove", node: NodeID("n9"), source: "operator", reason: "r", term: 3, error: "boom")
        #expect(log.records.map(\.sequence) == [4, 5, 6])
        #expect(log.records.map(\.node) == ["n4", "n5", "n9"])
        #expect(log.records.last?.outcome == "failed")
        #expect(log.records.last?.error == "boom")
        #expect(log.records.first?.outcome == "ok")
        #expect(log.records.allSatisfy { $0.time == 1_000 })
    }

    @Test("requests and replies round-trip; cut, oversized or unknown requests decode to nil")
    func wire() throws {
        let requests: [RaftOperator.Request] = [
            .peers, .removePeer(NodeID("n3")), .transfer(nil, timeout: .seconds(10)), .transfer(NodeID("n2"), timeout: .milliseconds(1500)),
        ]
        for request in requests {
            let bytes = RaftOperator.encode(request, hopsLeft: 1)
            let decoded = try #require(RaftOperator.decodeRequest(bytes))
            #expect(decoded.0 == request)
            #expect(decoded.1 == 1)
            // Every strict prefix is refused, as is a trailing byte.
            for cut in 0..<bytes.count { #expect(RaftOperator.decodeRequest(Array(bytes.prefix(cut))) == nil) }
            #expect(RaftOperator.decodeRequest(bytes + [0]) == nil)
        }
        #expect(RaftOperator.decodeRequest([2, 1, 1]) == nil, "another version")
        #expect(RaftOperator.decodeRequest([1, 9, 1]) == nil, "more hops than allowed")
        #expect(RaftOperator.decodeRequest([1, 1, 7]) == nil, "unknown kind")
        #expect(RaftOperator.decodeRequest([1, 1, 2, 0]) == nil, "remove-peer without a name")
        #expect(RaftOperator.decodeRequest(RaftOperator.encode(.transfer(nil, timeout: .seconds(3600)), hopsLeft: 0)) == nil, "timeout beyond 60 s")

        #expect(try RaftOperator.decodeReply(RaftOperator.encodeReply(.success([1, 2, 3])), from: NodeID("n1")) == [1, 2, 3])
        let errors: [RaftOperatorError] = [.notFound("a"), .conflict("b"), .noLeader("c"), .timeout("d"), .badRequest("e")]
        for error in errors {
            #expect(throws: error) { try RaftOperator.decodeReply(RaftOperator.encodeReply(.failure(error)), from: NodeID("n1")) }
        }
        #expect(throws: RaftOperatorError.self) { try RaftOperator.decodeReply([], from: NodeID("n1")) }
        #expect(throws: RaftOperatorError.noLeader("n1 answered with an unknown error code 77")) {
            try RaftOperator.decodeReply([77], from: NodeID("n1"))
        }
    }

    @Test("the leader's answers round-trip in binary; every cut, a trailing byte or an unknown flag or gossip code is refused")
    func answers() throws {
        let peers = RaftPeers(leader: "n1", term: 7, commitIndex: 42, lastLogIndex: 43, peers: [
            RaftPeerInfo(name: "n1", suffrage: "voter", leader: true, matchIndex: 43, lastContactMs: 0, caughtUp: true, gossip: "alive"),
            RaftPeerInfo(name: "n2", suffrage: "voter", leader: false, matchIndex: 40, lastContactMs: 250, caughtUp: true, gossip: "suspect"),
            RaftPeerInfo(name: "n4", suffrage: "standby", leader: false, matchIndex: 0, lastContactMs: 9000, caughtUp: false, gossip: "unknown"),
        ])
        let removal = RaftPeerRemoval(removed: "n3", suffrage: "voter", index: 58, gossip: "dead", note: "n3 is dead in gossip")
        let transfer = RaftLeaderTransfer(previous: "n1", target: "n2", leader: "n2")
        #expect(RaftPeers(wire: peers.wire) == peers)
        #expect(RaftPeerRemoval(wire: removal.wire) == removal)
        #expect(RaftLeaderTransfer(wire: transfer.wire) == transfer)
        for bytes in [peers.wire, removal.wire, transfer.wire] {
            for cut in 0..<bytes.count {
                let prefix = Array(bytes.prefix(cut))
                #expect(RaftPeers(wire: prefix) == nil && RaftPeerRemoval(wire: prefix) == nil && RaftLeaderTransfer(wire: prefix) == nil)
            }
        }
        #expect(RaftPeers(wire: peers.wire + [0]) == nil)
        #expect(RaftPeerRemoval(wire: removal.wire + [0]) == nil)
        #expect(RaftLeaderTransfer(wire: transfer.wire + [0]) == nil)
        // The first peer's flags byte, then its gossip code, made unknown.
        let flagsOffset = 8 * 3 + 3 + 2 + 3  // three u64, the leader's name, the count, the first peer's name
        var badFlags = peers.wire
        badFlags[flagsOffset] = 8
        #expect(RaftPeers(wire: badFlags) == nil)
        var badGossip = peers.wire
        badGossip[flagsOffset + 1 + 16] = 9
        #expect(RaftPeers(wire: badGossip) == nil)
    }
}
