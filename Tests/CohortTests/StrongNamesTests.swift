@testable import Cohort
import CohortCore
import Logging
import Testing

@Suite("Strong names: conflict checks, acknowledgement answers, the scope without a cluster")
struct StrongNamesTests {
    @Test("a conflict check combined with another reports the first binding either finds")
    func conflictChecksCombine() {
        let owner = PID(node: NodeID("a"), incarnation: Incarnation(1), serial: 1)
        let other = PID(node: NodeID("b"), incarnation: Incarnation(1), serial: 2)
        let local = NameConflictCheck { $0 == "x" ? (owner, .local) : nil }
        let eventual = NameConflictCheck { $0 == "x" || $0 == "y" ? (other, .eventual) : nil }
        let both = local.adding(eventual)
        #expect(both("x")?.pid == owner && both("x")?.scope == .local)
        #expect(both("y")?.pid == other && both("y")?.scope == .eventual)
        #expect(both("z") == nil && NameConflictCheck.none("x") == nil)
    }

    @Test("acknowledgement answers round-trip; bytes that are not one decode to nil")
    func answersRoundTrip() {
        let pid = PID(node: NodeID("node-1"), incarnation: Incarnation(9), serial: 4)
        for answer in [StrongNames.Answer.clear, .conflict(pid: pid, scope: .local), .conflict(pid: pid, scope: .eventual)] {
            let bytes = StrongNames.encodeAnswer(answer)
            #expect(StrongNames.decodeAnswer(bytes) == answer)
            for length in 0..<bytes.count { #expect(StrongNames.decodeAnswer(Array(bytes.prefix(length))) == nil) }
            #expect(StrongNames.decodeAnswer(bytes + [0]) == nil)
        }
        #expect(StrongNames.decodeAnswer([7]) == nil)
    }

    @Test("with the cluster disabled the strong scope says it needs the cluster")
    func strongNeedsTheCluster() async throws {
        let node = try CoordinationAPITests.node()
        let pid = PID(node: NodeID("solo"), incarnation: Incarnation(7), serial: 1)
        await #expect(throws: CoordinationError.unsupported("the strong scope needs the cluster enabled")) {
            try await node.names.register("x", pid: pid, scope: .strong)
        }
    }
}
