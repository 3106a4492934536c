import CohortCore
import CohortTestKit
@testable import RaftCore
import Testing

@Suite("Raft orders and configurations")
struct OrderAndConfigurationTests {
    @Test("LogPosition orders by term, then index: a total order (checked on 2000 seeded triples)")
    func logPositionOrder() {
        var generator = SplitMix64(seed: 3)
        func position() -> LogPosition { LogPosition(term: generator.next() % 4, index: generator.next() % 4) }
        for _ in 0..<2000 {
            let a = position(), b = position(), c = position()
            #expect([a < b, b < a, a == b].filter { $0 }.count == 1, "exactly one holds")
            if a < b, b < c { #expect(a < c) }
            #expect((a < b) == (a.term < b.term || (a.term == b.term && a.index < b.index)))
        }
        #expect(LogPosition(term: 2, index: 1) > LogPosition(term: 1, index: 100), "a later term is more up to date")
    }

    @Test("configurations are sorted, disjoint, and changed one server at a time")
    func configurationChanges() throws {
        let a = NodeID("a"), b = NodeID("b"), c = NodeID("c")
        let base = Configuration(voters: [b, a], standbys: [c, a])
        #expect(base.voters == [a, b] && base.standbys == [c], "a voter listed as standby stays a voter")
        #expect(base.quorum == 2 && Configuration.empty.quorum == 0)
        let promoted = try base.applying(.promote(c))
        #expect(promoted.voters == [a, b, c] && promoted.standbys.isEmpty && promoted.quorum == 2)
        let demoted = try promoted.applying(.demote(a))
        #expect(demoted.voters == [b, c] && demoted.standbys == [a])
        let removed = try demoted.applying(.remove(a))
        #expect(removed.members == [b, c] && removed.role(of: a) == nil)
        let added = try removed.applying(.addStandby(a))
        #expect(added.role(of: a) == .standby)
        #expect(throws: ConfigurationChangeError.lastVoter(a)) { try Configuration(voters: [a]).applying(.demote(a)) }
    }

    @Test("the log finds the configuration in force at any index, and reverts it on truncation")
    func configurationHistory() {
        let a = NodeID("a"), b = NodeID("b")
        let first = Configuration(voters: [a]), second = Configuration(voters: [a], standbys: [b])
        var log = RaftLog(snapshot: SnapshotMetadata(index: 0, term: 0, configuration: .empty), entries: [
            LogEntry(term: 1, index: 1, payload: .configuration(first)),
            LogEntry(term: 1, index: 2, payload: .noop),
            LogEntry(term: 1, index: 3, payload: .configuration(second)),
        ], committed: 2, applied: 0)
        #expect(log.configuration == second && log.configurationIndex == 3)
        #expect(log.configuration(at: 2) == first)
        // A leader of term 2 replaces entry 3: the configuration falls back to entry 1's.
        #expect(log.tryAppend(after: LogPosition(term: 1, index: 2), [LogEntry(term: 2, index: 3, payload: .noop)]) == 3)
        #expect(log.configuration == first && log.configurationIndex == 1)
        #expect(log.tryAppend(after: LogPosition(term: 9, index: 3), []) == nil, "a mismatching previous entry is refused")
    }

    @Test("a configuration never grows past what every node's codec decodes: the cap is refused, the largest one round-trips")
    func memberCap() throws {
        let full = Configuration(voters: (1...5).map { NodeID("v\($0)") }, standbys: (1...(Configuration.maxMembers - 5)).map { NodeID("s\($0)") })
        #expect(full.members.count == Configuration.maxMembers)
        #expect(throws: ConfigurationChangeError.tooManyMembers(limit: Configuration.maxMembers)) {
            try full.applying(.addStandby(NodeID("one-more")))
        }
        // The largest allowed configuration, in an append, decodes with the default limits (it did not at
        // 66 members before: followers dropped the entry as malformed and the group stopped committing).
        let codec = MessageCodec()
        let entry = LogEntry(term: 2, index: 67, payload: .configuration(full))
        let message = Message(
            from: NodeID("v1"), to: NodeID("v2"), term: 2,
            kind: .append(AppendRequest(previous: LogPosition(term: 2, index: 66), entries: [entry], commit: 66))
        )
        #expect(try codec.decode(codec.encode(message)) == message)
    }
}
