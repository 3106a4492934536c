import CohortCore
import CohortTestKit
import Mesh
import NIOCore
import RaftCore
@testable import Raft
import Testing

/// Input from the mesh: on the service's event loop a running service steps a message into its core
/// before `deliver` returns; from another thread a message goes through the inbox and is stepped by the
/// input loop.
@Suite struct RaftInputDeliveryTests {
    /// A heartbeat from a made-up leader of a later term: stepping it raises the receiver's term.
    static func heartbeat(to node: RaftTestNode, from peer: NodeID, term: Term) -> RaftInput {
        let message = Message(from: peer, to: node.id, term: term, kind: .heartbeat(commit: 0, readSequence: 0))
        let payload = MessageCodec().encode(message)
        return .message(MeshInbound(from: peer, incarnation: Incarnation(1), endpoint: .raft, trafficClass: .raft, payload: payload))
    }

    @Test func onTheLoopARunningServiceStepsAMessageAtOnce() async throws {
        try await withRaftCluster { cluster in
            let node = try #require(try await cluster.start(["a"]).first)
            try await waitFor("a to run") { await node.raft.status.state != .none }
            let term = await node.raft.status.term
            let raft = node.raft
            let input = Self.heartbeat(to: node, from: NodeID("z"), term: term + 5)
            let steppedAtOnce = try await raft.executor.eventLoop.submit {
                raft.deliver(input)
                return raft.assumeIsolated { $0.node.term } == term + 5
            }.get()
            #expect(steppedAtOnce)
            #expect(raft.queuedInputs.load(ordering: .relaxed) == 0)
        }
    }

    @Test func offTheLoopAMessageGoesThroughTheInbox() async throws {
        try await withRaftCluster { cluster in
            let node = try #require(try await cluster.start(["a"]).first)
            try await waitFor("a to run") { await node.raft.status.state != .none }
            let term = await node.raft.status.term
            #expect(!node.raft.executor.eventLoop.inEventLoop)
            node.raft.deliver(Self.heartbeat(to: node, from: NodeID("z"), term: term + 3))
            // At least that term: a follower of the made-up leader, which never heard from it again, campaigns
            // after an election timeout (a later term), and a poll delayed that long on a loaded machine would
            // never see the term the heartbeat set (CI saw it once). Only the heartbeat can raise a lone
            // leader's term.
            try await waitFor("the input loop to step it") { await node.raft.status.term >= term + 3 }
            try await waitFor("the inbox to be empty") { node.raft.queuedInputs.load(ordering: .relaxed) == 0 }
        }
    }
}
