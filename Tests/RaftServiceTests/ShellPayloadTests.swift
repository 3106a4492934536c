import CohortCore
import RaftCore
import Testing
@testable import Raft

/// The shell's own payloads: forwarded proposals, their replies and snapshot frames round-trip, and their
/// decoders are total.
@Suite struct ShellPayloadTests {
    @Test func forwardedProposalsRoundTrip() {
        let proposal = ForwardedProposal(hopsLeft: 1, timeout: .milliseconds(2500), command: [1, 2, 3])
        #expect(ForwardedProposal.decode(proposal.encode()) == proposal)
        #expect(ForwardedProposal.decode([2, 1, 0, 0, 0, 0, 0, 0, 0, 1]) == nil)
        #expect(ForwardedProposal.decode([1, 1, 0]) == nil)
    }

    @Test func everyReplyRoundTrips() throws {
        let leader = NodeID("leader")
        let errors: [RaftServiceError] = [
            .notLeader(leader: NodeID("b")), .noLeader, .transferInProgress(transferee: NodeID("c")),
            .timeout(maybeCommitted: true), .timeout(maybeCommitted: false), .dropped(index: 7), .outcomeUnknown(index: 9), .stopped,
        ]
        for error in errors {
            let decoded = try #require(ForwardReply.decode(ForwardReply.encode(.failure(error)), leader: leader))
            #expect(throws: error) { try decoded.get() }
        }
        let success = try #require(ForwardReply.decode(ForwardReply.encode(.success((42, [9, 9]))), leader: leader))
        let value = try success.get()
        #expect(value.index == 42 && value.result == [9, 9])
        // Anything else becomes "may have committed", never a silent success.
        let other = try #require(ForwardReply.decode(ForwardReply.encode(.failure(.leadershipLost)), leader: leader))
        #expect(throws: RaftServiceError.forwardFailed(leader: leader, cause: .remote(RaftServiceError.leadershipLost.description), maybeCommitted: true)) {
            try other.get()
        }
        // A refusal says nothing was written.
        let refused = try #require(ForwardReply.decode(ForwardReply.encode(.failure(.proposalRefused(.leaderNotReady))), leader: leader))
        #expect(throws: RaftServiceError.forwardFailed(leader: leader, cause: .remote(RaftServiceError.proposalRefused(.leaderNotReady).description), maybeCommitted: false)) {
            try refused.get()
        }
    }

    @Test func decodersAreTotal() {
        var generator = SystemRandomNumberGenerator()
        for length in 0..<64 {
            for _ in 0..<50 {
                let bytes = (0..<length).map { _ in UInt8.random(in: 0...255, using: &generator) }
                _ = ForwardedProposal.decode(bytes)
                _ = ForwardReply.decode(bytes, leader: NodeID("x"))
                _ = SnapshotPayload.decode(bytes)
            }
        }
        let frame = SnapshotPayload.encode(message: [1, 2], data: [3, 4, 5])
        #expect(SnapshotPayload.decode(frame).map { [$0.message, $0.data] } == [[1, 2], [3, 4, 5]])
        #expect(SnapshotPayload.decode(Array(frame.prefix(5))) == nil)
    }

    @Test("a snapshot's data is checked end to end: any flipped bit, a cut and the unchecked old layout are refused")
    func snapshotDataIsChecksummed() {
        let data = (0..<300).map { UInt8(truncatingIfNeeded: $0 &* 7) }
        let frame = SnapshotPayload.encode(message: [9, 9, 9], data: data)
        for byte in 0..<frame.count {
            var damaged = frame
            damaged[byte] ^= 0x10
            let decoded = SnapshotPayload.decode(damaged)
            // A flip inside the message passes here and is the message codec's to refuse; anywhere else
            // (version, length, checksum, data) the payload is refused.
            if (5..<8).contains(byte) { #expect(decoded?.data == data) } else { #expect(decoded == nil, "flip at \(byte)") }
        }
        #expect(SnapshotPayload.decode(Array(frame.dropLast())) == nil)
        let unchecked = [0, 0, 0, 3, 9, 9, 9] + data
        #expect(SnapshotPayload.decode(unchecked) == nil)
    }
}
