import CohortCore
import RaftCore
import Testing
@testable import Raft

/// `raft_rpc_duration_seconds`: answers are matched to the oldest outstanding request of their kind to
/// their sender.
@Suite struct RPCTimerTests {
    let a = NodeID("a"), b = NodeID("b"), c = NodeID("c")
    let start = ContinuousClock.now

    func message(_ from: NodeID, _ to: NodeID, term: Term = 2, _ kind: MessageKind) -> Message {
        Message(from: from, to: to, term: term, kind: kind)
    }

    @Test func matchesAnswersInOrderPerPeerAndKind() {
        var timer = RPCTimer()
        let append = MessageKind.append(AppendRequest(previous: LogPosition(term: 1, index: 1), entries: [], commit: 1))
        timer.sent(message(a, b, append), at: start)
        timer.sent(message(a, b, append), at: start + .milliseconds(5))
        timer.sent(message(a, c, .heartbeat(commit: 1, readSequence: 0)), at: start + .milliseconds(1))
        let answer = MessageKind.appendResponse(AppendResponse(accepted: true, index: 1, hint: LogPosition(term: 1, index: 1)))
        let first = timer.received(message(b, a, answer), at: start + .milliseconds(7))
        #expect(first?.0 == .append && first?.1 == .milliseconds(7))
        let second = timer.received(message(b, a, answer), at: start + .milliseconds(8))
        #expect(second?.1 == .milliseconds(3))
        // Nothing outstanding for b any more; c's heartbeat is its own.
        #expect(timer.received(message(b, a, answer), at: start + .milliseconds(9)) == nil)
        #expect(timer.received(message(c, a, .heartbeatResponse(readSequence: 0)), at: start + .milliseconds(4))?.1 == .milliseconds(3))
        // Messages that answer nothing, or that are not requests, are ignored.
        #expect(timer.received(message(b, a, .timeoutNow), at: start) == nil)
    }

    @Test func aNewTermForgetsWhatWasOutstanding() {
        var timer = RPCTimer()
        timer.sent(message(a, b, term: 2, .preVote(lastLog: LogPosition(term: 1, index: 1))), at: start)
        timer.sent(message(a, c, term: 3, .vote(lastLog: LogPosition(term: 1, index: 1), transfer: false)), at: start)
        #expect(timer.received(message(b, a, .preVoteResponse(granted: true)), at: start + .milliseconds(1)) == nil)
        #expect(timer.received(message(c, a, .voteResponse(granted: true)), at: start + .milliseconds(2))?.0 == .vote)
    }

    @Test func lostAnswersNeverGrowTheQueueWithoutBound() {
        var timer = RPCTimer()
        for step in 0..<(timer.limit * 3) {
            timer.sent(message(a, b, .heartbeat(commit: 0, readSequence: 0)), at: start + .milliseconds(step))
        }
        var matched = 0
        while timer.received(message(b, a, .heartbeatResponse(readSequence: 0)), at: start + .seconds(1)) != nil { matched += 1 }
        #expect(matched <= timer.limit)
    }
}
