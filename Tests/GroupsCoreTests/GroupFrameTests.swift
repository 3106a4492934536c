import CohortCore
import GroupsCore
import Testing

@Suite struct GroupFrameTests {
    static let messages: [GroupMessage] = [
        .update(firstSeq: 7, ops: [GroupOp(.join, group: "g", serials: [1, 1, 2]), GroupOp(.leave, group: "ü-group", serials: [3])]),
        .sync(seq: 9, groups: [SyncGroup(name: "g", members: [SyncMember(serial: 1, count: 2)]), SyncGroup(name: "h", members: [SyncMember(serial: 4, count: 1)])], have: nil),
        .sync(seq: 0, groups: [], have: ViewDigest(incarnation: Incarnation(2), seq: 1, hash: 3)),
        .syncRequest,
        .syncAck(seq: 42),
        .digest(seq: 3, hash: 0xdead_beef, view: nil),
        .digest(seq: 3, hash: 1, view: ViewDigest(incarnation: Incarnation(5), seq: 8, hash: 9)),
        .broadcast(group: "g", from: pid("n@x", 3), topic: "t", payload: [1, 2, 3]),
        .broadcast(group: "g", from: nil, topic: "", payload: []),
        .beat,
    ]

    @Test(arguments: messages) func everyMessageSurvivesTheCodec(_ message: GroupMessage) throws {
        let decoded = try GroupFrame.decode(GroupFrame.encode(scope: "jobs", message))
        #expect(decoded.scope == "jobs")
        #expect(decoded.message == message)
    }

    @Test func malformedFramesAreRefusedWithAReason() {
        #expect(throws: GroupFrameError.unsupportedVersion(9)) { try GroupFrame.decode([9, 1, 0x61, 7]) }
        #expect(throws: GroupFrameError.unknownKind(99)) { try GroupFrame.decode([1, 1, 0x61, 99]) }
        #expect(throws: GroupFrameError.self) { try GroupFrame.decode([]) }
        #expect(throws: GroupFrameError.self) { try GroupFrame.decode([1, 0, 7]) }
        // A count that cannot fit in what follows is refused before anything is allocated.
        var huge = Array(GroupFrame.encode(scope: "s", .update(firstSeq: 1, ops: [])).dropLast(4))
        huge += [0xff, 0xff, 0xff, 0xff]
        #expect(throws: GroupFrameError.self) { try GroupFrame.decode(huge) }
        // Trailing bytes, a zero sequence number, a member that joined zero times.
        #expect(throws: GroupFrameError.self) { try GroupFrame.decode(GroupFrame.encode(scope: "s", .beat) + [0]) }
        #expect(throws: GroupFrameError.self) { try GroupFrame.decode(GroupFrame.encode(scope: "s", .update(firstSeq: 0, ops: []))) }
        let zero = GroupFrame.encode(scope: "s", .sync(seq: 1, groups: [SyncGroup(name: "g", members: [SyncMember(serial: 1, count: 0)])], have: nil))
        #expect(throws: GroupFrameError.self) { try GroupFrame.decode(zero) }
    }

    @Test func everyTruncationOfAValidFrameIsRefused() {
        for message in Self.messages {
            let frame = GroupFrame.encode(scope: "s", message)
            for cut in 0..<frame.count {
                let prefix = Array(frame[..<cut])
                // A broadcast's payload is the rest of the frame: a cut inside it is a shorter payload.
                if case .broadcast = message, (try? GroupFrame.decode(prefix)) != nil { continue }
                #expect(throws: GroupFrameError.self) { try GroupFrame.decode(prefix) }
            }
        }
    }
}
