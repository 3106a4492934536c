import CohortCore
import CohortTestKit
@testable import RaftCore
import Testing

@Suite("Raft message codec")
struct MessageCodecTests {
    let codec = MessageCodec()

    @Test("every message kind round-trips")
    func everyKindRoundTrips() throws {
        for message in Self.examples {
            #expect(try codec.decode(codec.encode(message)) == message, "\(message)")
        }
    }

    @Test("the header is magic, version, kind, term, from, to")
    func headerLayout() {
        let bytes = codec.encode(Message(from: NodeID("a"), to: NodeID("bc"), term: 0x0102, kind: .timeoutNow))
        #expect(bytes == [0x52, 0x46, 1, 10, 0, 0, 0, 0, 0, 0, 1, 2, 1, 0x61, 2, 0x62, 0x63])
    }

    @Test("3000 seeded random messages round-trip, and decoding is canonical")
    func randomMessagesRoundTrip() throws {
        var generator = SplitMix64(seed: 2026)
        for _ in 0..<3000 {
            let message = Self.randomMessage(using: &generator)
            let bytes = codec.encode(message)
            let decoded = try codec.decode(bytes)
            #expect(decoded == message)
            #expect(codec.encode(decoded) == bytes)
        }
    }

    @Test("every truncation of every example fails with a typed error")
    func truncationsFail() {
        for message in Self.examples {
            let bytes = codec.encode(message)
            for length in 0..<bytes.count {
                #expect(throws: MessageDecodingError.self) { try codec.decode(Array(bytes.prefix(length))) }
            }
            #expect(throws: MessageDecodingError.trailingBytes(1)) { try codec.decode(bytes + [0]) }
        }
    }

    @Test("5000 seeded random byte strings and 5000 mutated messages never crash; what decodes re-encodes identically")
    func randomBytesAreTotal() {
        var generator = SplitMix64(seed: 7)
        var decodedCount = 0
        for round in 0..<10_000 {
            var bytes: [UInt8]
            if round % 2 == 0 {
                bytes = (0..<Int.random(in: 0..<64, using: &generator)).map { _ in UInt8.random(in: 0...255, using: &generator) }
                if bytes.count > 4, generator.chance(0.5) { bytes.replaceSubrange(0..<3, with: MessageCodec.magic + [MessageCodec.version]) }
            } else {
                bytes = codec.encode(Self.randomMessage(using: &generator))
                for _ in 0..<Int.random(in: 1...3, using: &generator) {
                    let position = Int.random(in: 0..<bytes.count, using: &generator)
                    bytes[position] = UInt8.random(in: 0...255, using: &generator)
                }
            }
            do {
                let message = try codec.decode(bytes)
                decodedCount += 1
                #expect(codec.encode(message) == bytes)
            } catch {
                // A typed error is the expected outcome for most inputs.
            }
        }
        #expect(decodedCount > 0)
    }

    @Test("limits are enforced before allocating")
    func limitsEnforced() {
        let small = MessageCodec(limits: .init(maxMessageBytes: 1 << 20, maxEntries: 2, maxCommandBytes: 4, maxMembers: 2))
        let entries = (1...3).map { LogEntry(term: 1, index: LogIndex($0), payload: .noop) }
        let tooMany = Message(from: NodeID("a"), to: NodeID("b"), term: 1, kind: .append(AppendRequest(previous: .zero, entries: entries, commit: 0)))
        #expect(throws: MessageDecodingError.limitExceeded(field: "entries", value: 3, limit: 2)) { try small.decode(small.encode(tooMany)) }
        let big = Message(from: NodeID("a"), to: NodeID("b"), term: 1, kind: .append(AppendRequest(previous: .zero, entries: [LogEntry(term: 1, index: 1, payload: .command([1, 2, 3, 4, 5]))], commit: 0)))
        #expect(throws: MessageDecodingError.limitExceeded(field: "command bytes", value: 5, limit: 4)) { try small.decode(small.encode(big)) }
        let crowd = Message(from: NodeID("a"), to: NodeID("b"), term: 1, kind: .snapshot(SnapshotMetadata(index: 1, term: 1, configuration: Configuration(voters: ["a", "b", "c"].map(NodeID.init)))))
        #expect(throws: MessageDecodingError.limitExceeded(field: "voters", value: 3, limit: 2)) { try small.decode(small.encode(crowd)) }
        // A huge entry count in a short message is refused without reserving memory for it.
        var header = small.encode(Message(from: NodeID("a"), to: NodeID("b"), term: 1, kind: .append(AppendRequest(previous: .zero, entries: [], commit: 0))))
        header.replaceSubrange(header.count - 4..<header.count, with: [0, 0, 0, 2])
        #expect(throws: MessageDecodingError.truncated(field: "entries")) { try small.decode(header) }
    }

    @Test("impossible messages are refused: gaps in entries, bad flags, bad node IDs, unknown kinds")
    func invalidContent() {
        let gap = Message(from: NodeID("a"), to: NodeID("b"), term: 2, kind: .append(AppendRequest(
            previous: LogPosition(term: 1, index: 1),
            entries: [LogEntry(term: 2, index: 3, payload: .noop)], commit: 0
        )))
        #expect(throws: MessageDecodingError.invalid("entries must follow the previous index without gaps")) { try codec.decode(codec.encode(gap)) }
        var flag = codec.encode(Message(from: NodeID("a"), to: NodeID("b"), term: 2, kind: .voteResponse(granted: true)))
        flag[flag.count - 1] = 2
        #expect(throws: MessageDecodingError.invalidFlag(2)) { try codec.decode(flag) }
        // An append response's first byte holds two flags (accepted, blank): anything above 3 is refused.
        var flags = codec.encode(Message(from: NodeID("a"), to: NodeID("b"), term: 2, kind: .appendResponse(.accept(1))))
        #expect(flags[flags.count - 25] == 1, "an ordinary acceptance encodes as version 1 did")
        flags[flags.count - 25] = 4
        #expect(throws: MessageDecodingError.invalidFlag(4)) { try codec.decode(flags) }
        var kind = codec.encode(Message(from: NodeID("a"), to: NodeID("b"), term: 2, kind: .timeoutNow))
        kind[3] = 99
        #expect(throws: MessageDecodingError.unknownKind(99)) { try codec.decode(kind) }
        var version = codec.encode(Message(from: NodeID("a"), to: NodeID("b"), term: 2, kind: .timeoutNow))
        version[2] = 2
        #expect(throws: MessageDecodingError.unsupportedVersion(2)) { try codec.decode(version) }
        var name = codec.encode(Message(from: NodeID("a"), to: NodeID("b"), term: 2, kind: .timeoutNow))
        name[13] = 0xFF
        #expect(throws: MessageDecodingError.invalidNodeID) { try codec.decode(name) }
    }

    // MARK: Fixtures

    static let examples: [Message] = {
        let a = NodeID("node-a"), b = NodeID("node-b")
        let configuration = Configuration(voters: [a, b, NodeID("c")], standbys: [NodeID("ü-standby")])
        let kinds: [MessageKind] = [
            .preVote(lastLog: LogPosition(term: 3, index: 9)),
            .preVoteResponse(granted: true),
            .vote(lastLog: LogPosition(term: 3, index: 9), transfer: true),
            .voteResponse(granted: false),
            .append(AppendRequest(previous: LogPosition(term: 2, index: 4), entries: [
                LogEntry(term: 2, index: 5, payload: .noop),
                LogEntry(term: 3, index: 6, payload: .command([1, 2, 3])),
                LogEntry(term: 4, index: 7, payload: .configuration(configuration)),
            ], commit: 4)),
            .appendResponse(.accept(7)),
            .appendResponse(.reject(9, hint: LogPosition(term: 2, index: 5))),
            .heartbeat(commit: 7, readSequence: 12),
            .heartbeatResponse(readSequence: 12),
            .snapshot(SnapshotMetadata(index: 100, term: 4, configuration: configuration)),
            .timeoutNow,
            .readIndex(context: .max),
            .readIndexResponse(context: 1, index: 77),
            .appendResponse(AppendResponse(accepted: true, index: 7, hint: .zero, blank: true)),
            .appendResponse(.blankNotice),
            .admit(through: LogPosition(term: 4, index: 7)),
        ]
        return kinds.map { Message(from: a, to: b, term: 4, kind: $0) }
    }()

    static func randomMessage(using generator: inout SplitMix64) -> Message {
        func node() -> NodeID { NodeID("n\(UInt8.random(in: 0...20, using: &generator))") }
        func u64() -> UInt64 { generator.next() >> UInt64.random(in: 0...63, using: &generator) }
        func position() -> LogPosition { LogPosition(term: u64(), index: u64()) }
        func configuration() -> Configuration {
            let voters = (0..<Int.random(in: 0...5, using: &generator)).map { _ in node() }
            return Configuration(voters: voters, standbys: (0..<Int.random(in: 0...3, using: &generator)).map { _ in node() })
        }
        let term = u64() | 1
        let kind: MessageKind
        switch Int.random(in: 0..<13, using: &generator) {
        case 0: kind = .preVote(lastLog: position())
        case 1: kind = .preVoteResponse(granted: Bool.random(using: &generator))
        case 2: kind = .vote(lastLog: position(), transfer: Bool.random(using: &generator))
        case 3: kind = .voteResponse(granted: Bool.random(using: &generator))
        case 4:
            let previous = LogPosition(term: UInt64.random(in: 0...term, using: &generator), index: UInt64.random(in: 0...1_000_000, using: &generator))
            var entryTerm = previous.term
            let entries = (0..<Int.random(in: 0...5, using: &generator)).map { offset -> LogEntry in
                entryTerm = UInt64.random(in: entryTerm...term, using: &generator)
                let payload: LogEntry.Payload = switch Int.random(in: 0..<3, using: &generator) {
                case 0: .noop
                case 1: .command((0..<Int.random(in: 0...40, using: &generator)).map { _ in UInt8.random(in: 0...255, using: &generator) })
                default: .configuration(configuration())
                }
                return LogEntry(term: entryTerm, index: previous.index + 1 + LogIndex(offset), payload: payload)
            }
            kind = .append(AppendRequest(previous: previous, entries: entries, commit: u64()))
        case 5: kind = .appendResponse(AppendResponse(accepted: Bool.random(using: &generator), index: u64(), hint: position(), blank: Bool.random(using: &generator)))
        case 6: kind = .heartbeat(commit: u64(), readSequence: u64())
        case 7: kind = .heartbeatResponse(readSequence: u64())
        case 8: kind = .snapshot(SnapshotMetadata(index: u64(), term: u64(), configuration: configuration()))
        case 9: kind = .timeoutNow
        case 10: kind = .readIndex(context: u64())
        case 11: kind = .readIndexResponse(context: u64(), index: u64())
        default: kind = .admit(through: position())
        }
        return Message(from: node(), to: node(), term: term, kind: kind)
    }
}
