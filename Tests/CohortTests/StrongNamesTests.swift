@testable import Cohort
import CohortCore
import CohortTestKit
import Gossip
import Logging
import Synchronization
import Testing

@Suite("Strong names: conflict checks, acknowledgement answers, the scope without a cluster", .timeLimit(.minutes(1)))
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

    static func member(_ name: String, _ state: MemberStateKind = .alive) -> Member {
        Member(name: NodeID(name), ip: [127, 0, 0, 1], port: 7946, incarnation: 1, state: state, stateChange: .now)
    }

    /// A membership feed the test drives, and the asks made, in order.
    final class Harness: Sendable {
        let feed: AsyncStream<MembershipUpdate>
        let membership: AsyncStream<MembershipUpdate>.Continuation
        let asked = Mutex<[NodeID]>([])
        /// How each node answers; absent: it stays silent until the round ends.
        let answers: [String: StrongNames.Answer]

        init(_ answers: [String: StrongNames.Answer]) {
            (feed, membership) = AsyncStream.makeStream(of: MembershipUpdate.self)
            (silence, silenceKeeper) = AsyncStream.makeStream(of: Void.self)
            self.answers = answers
        }

        /// The nodes whose answers `ask` has returned.
        let answered = Mutex<Set<NodeID>>([])
        /// A stream that never yields: awaiting it lasts until the awaiting task is cancelled (a silent
        /// member, a deadline that never comes).
        let silence: AsyncStream<Void>
        private let silenceKeeper: AsyncStream<Void>.Continuation

        func ask(_ node: NodeID) async -> StrongNames.Answer? {
            asked.withLock { $0.append(node) }
            if let answer = answers[node.rawValue] {
                answered.withLock { _ = $0.insert(node) }
                return answer
            }
            for await _ in silence {}
            return nil
        }

        /// When a round's deadline comes: never (the round must end on its answers, or the test's time limit
        /// fails it), or once every node of `asked` has been asked and every answering one has answered.
        enum Deadline {
            case never
            case onceAsked(Set<NodeID>)
        }

        func round(deadline: Deadline) async -> StrongNames.RoundOutcome {
            let answering = Set(answers.keys.map(NodeID.init))
            return await StrongNames.round(
                self: NodeID("self"), membership: feed,
                expiry: {
                    guard case .onceAsked(let expected) = deadline else {
                        for await _ in self.silence {}
                        return
                    }
                    try? await waitUntil(within: .seconds(60), "every member to be asked and the answering to answer", pollEvery: .milliseconds(5)) {
                        expected.isSubset(of: Set(self.asked.withLock { $0 })) && self.answered.withLock { $0 } == answering
                    }
                }
            ) { await self.ask($0) }
        }
    }

    @Test("every live member but this node is asked; the round ends as soon as all answered clear")
    func everyMemberAnswers() async {
        let harness = Harness(["a": .clear, "b": .clear])
        harness.membership.yield(.snapshot([Self.member("self"), Self.member("a"), Self.member("b", .suspect), Self.member("gone", .dead)]))
        #expect(await harness.round(deadline: .never) == .acknowledged)
        #expect(Set(harness.asked.withLock { $0 }) == [NodeID("a"), NodeID("b")], "this node, and a dead member, are not asked over the mesh")
    }

    @Test("a conflict ends the round at once, naming the node and the owner, though another member is still silent")
    func conflictEndsTheRound() async {
        let owner = PID(node: NodeID("b"), incarnation: Incarnation(1), serial: 3)
        let harness = Harness(["b": .conflict(pid: owner, scope: .local)])
        harness.membership.yield(.snapshot([Self.member("a"), Self.member("b")]))
        #expect(await harness.round(deadline: .never) == .conflict(node: NodeID("b"), owner: owner, scope: .local))
    }

    @Test("at the deadline the round lists exactly the members that did not answer")
    func deadlineListsTheSilent() async {
        let harness = Harness(["a": .clear, "c": .clear])
        harness.membership.yield(.snapshot([Self.member("a"), Self.member("b"), Self.member("c"), Self.member("d")]))
        #expect(await harness.round(deadline: .onceAsked([NodeID("a"), NodeID("b"), NodeID("c"), NodeID("d")])) == .missing([NodeID("b"), NodeID("d")]))
    }

    @Test("a member that joins during the round is asked too; one that leaves is no longer waited for")
    func joinsAreAskedAndLeaversForgotten() async {
        let harness = Harness(["late": .clear])
        harness.membership.yield(.snapshot([Self.member("silent")]))
        harness.membership.yield(.joined(Self.member("late")))
        harness.membership.yield(.left(Self.member("silent", .dead), reason: .dead))
        #expect(await harness.round(deadline: .never) == .acknowledged)
        #expect(harness.asked.withLock { $0 } .contains(NodeID("late")))

        // A joiner that does not answer keeps the round waiting until the deadline, and is named.
        let second = Harness([:])
        second.membership.yield(.snapshot([Self.member("silent")]))
        second.membership.yield(.joined(Self.member("newcomer")))
        #expect(await second.round(deadline: .onceAsked([NodeID("newcomer"), NodeID("silent")])) == .missing([NodeID("newcomer"), NodeID("silent")]))
    }

    @Test("a resync drops the members it no longer lists and asks the new ones")
    func resync() async {
        let harness = Harness(["b": .clear])
        harness.membership.yield(.snapshot([Self.member("a")]))
        harness.membership.yield(.resync([Self.member("b")]))
        #expect(await harness.round(deadline: .never) == .acknowledged)
    }
}

