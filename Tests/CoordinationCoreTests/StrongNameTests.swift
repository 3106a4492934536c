import CohortCore
@testable import CoordinationCore
import Testing

@Suite("Coordination state: strong names (reservations)")
struct StrongNameTests {
    @Test("a reservation holds the name unseen; its confirmation binds it in the strong scope with the reservation's index as token")
    func reserveThenConfirm() {
        var replica = Replica()
        let owner = pid("n1")
        #expect(replica.apply(.reserveName(name: "db", pid: owner, timeout: 10_000), at: 1000) == .nameReserved(token: 1, deadline: 11_000))
        #expect(replica.state.name("db") == nil, "a reservation is never visible to a lookup")
        #expect(ReplicaQuery.names(prefix: "", limit: 10).answer(from: replica.state).namesCount == 0)
        #expect(replica.apply(.reserveName(name: "db", pid: owner, timeout: 10_000), at: 1000) == .nameReserved(token: 1, deadline: 11_000), "a retry is the same reservation")
        #expect(replica.apply(.confirmName(name: "db", pid: owner, token: 1), at: 2000) == .nameRegistered(token: 1))
        #expect(replica.state.name("db") == NameRecord(pid: owner, token: 1, scope: .strong))
        #expect(replica.state.reservation("db") == nil && replica.state.strongNames == 1)
        #expect(replica.apply(.confirmName(name: "db", pid: owner, token: 1), at: 2000) == .nameRegistered(token: 1), "a retried confirmation")
        #expect(replica.apply(.reserveName(name: "db", pid: owner, timeout: 10_000), at: 2000) == .nameRegistered(token: 1), "a retried registration")
        #expect(replica.changes == [.nameRegistered(name: ByteKey("db"), pid: owner, token: 1)])
        #expect(replica.state.nextDeadline == nil, "the confirmed reservation's deadline is gone")
    }

    @Test("conflicts both ways: a reserved or strong name refuses a consistent registration and a rival reservation, naming the owner; a consistent name refuses a reservation")
    func conflictsBothWays() {
        var replica = Replica()
        let owner = pid("n1"), rival = pid("n2")
        replica.apply(.reserveName(name: "a", pid: owner, timeout: 5000), at: 0)
        #expect(replica.apply(.registerName(name: "a", pid: rival), at: 0) == .nameTaken(owner: owner))
        #expect(replica.apply(.reserveName(name: "a", pid: rival, timeout: 5000), at: 0) == .nameTaken(owner: owner))
        replica.apply(.confirmName(name: "a", pid: owner, token: 1), at: 0)
        #expect(replica.apply(.registerName(name: "a", pid: rival), at: 0) == .nameTaken(owner: owner))
        #expect(replica.apply(.reserveName(name: "a", pid: rival, timeout: 5000), at: 0) == .nameTaken(owner: owner))
        replica.apply(.registerName(name: "b", pid: rival), at: 0)
        #expect(replica.apply(.reserveName(name: "b", pid: owner, timeout: 5000), at: 0) == .nameTaken(owner: rival))
        #expect(replica.apply(.reserveName(name: "b", pid: rival, timeout: 5000), at: 0) == .nameTaken(owner: rival), "a consistent name does not become strong")
        #expect(replica.apply(.unregisterName(name: "a", pid: rival), at: 0) == .notOwner(owner: owner))
        #expect(replica.apply(.unregisterName(name: "a", pid: owner), at: 0) == .nameUnregistered)
        #expect(replica.state.strongNames == 0)
    }

    @Test("a cancelled reservation frees the name; a stale token neither confirms nor cancels a newer reservation")
    func cancelAndStaleTokens() {
        var replica = Replica()
        let owner = pid("n1")
        replica.apply(.reserveName(name: "a", pid: owner, timeout: 5000), at: 0)
        #expect(replica.apply(.cancelReservation(name: "a", pid: owner, token: 1), at: 0) == .reservationCancelled)
        #expect(replica.state.reservation("a") == nil && replica.state.nextDeadline == nil)
        #expect(replica.apply(.cancelReservation(name: "a", pid: owner, token: 1), at: 0) == .reservationGone)
        #expect(replica.apply(.reserveName(name: "a", pid: owner, timeout: 5000), at: 0) == .nameReserved(token: 4, deadline: 5000))
        #expect(replica.apply(.confirmName(name: "a", pid: owner, token: 1), at: 0) == .reservationGone)
        #expect(replica.apply(.cancelReservation(name: "a", pid: owner, token: 1), at: 0) == .reservationGone)
        #expect(replica.apply(.confirmName(name: "a", pid: pid("n2"), token: 4), at: 0) == .reservationGone)
        #expect(replica.state.reservation("a")?.token == 4)
    }

    @Test("a reservation lapses at its leader-stamped deadline: a sweep drops it, a late confirmation fails, the name is free")
    func lapse() {
        var replica = Replica()
        let owner = pid("n1")
        replica.apply(.reserveName(name: "a", pid: owner, timeout: 3000), at: 10_000)
        #expect(replica.state.nextDeadline == 13_000)
        replica.apply(.sweep, at: 12_999)
        #expect(replica.state.reservation("a") != nil)
        replica.apply(.sweep, at: 13_000)
        #expect(replica.state.reservation("a") == nil && replica.state.nextDeadline == nil)
        #expect(replica.apply(.confirmName(name: "a", pid: owner, token: 1), at: 13_000) == .reservationGone)
        #expect(replica.apply(.registerName(name: "a", pid: pid("n2")), at: 13_000) == .nameRegistered(token: 5))

        // Without a sweep, the confirmation's own time lapses it first.
        var other = Replica()
        other.apply(.reserveName(name: "b", pid: owner, timeout: 3000), at: 10_000)
        #expect(other.apply(.confirmName(name: "b", pid: owner, token: 1), at: 13_001) == .reservationGone)
        #expect(other.state.name("b") == nil)
    }

    @Test("a process's exit and its node's departure release its strong names and its reservations")
    func releasedOnExitAndDeparture() {
        var replica = Replica()
        let owner = pid("n1", 1, 1), neighbour = pid("n1", 1, 2), other = pid("n2")
        replica.apply(.reserveName(name: "a", pid: owner, timeout: 5000), at: 0)
        replica.apply(.confirmName(name: "a", pid: owner, token: 1), at: 0)
        replica.apply(.reserveName(name: "b", pid: owner, timeout: 5000), at: 0)
        replica.apply(.reserveName(name: "c", pid: neighbour, timeout: 5000), at: 0)
        replica.apply(.reserveName(name: "d", pid: other, timeout: 5000), at: 0)
        #expect(Set(replica.state.holderNodes.keys) == [NodeID("n1"), NodeID("n2")])
        #expect(replica.apply(.releaseOwner(owner), at: 0) == .released(locks: 0, names: 1, waits: 0))
        #expect(replica.state.name("a") == nil && replica.state.reservation("b") == nil && replica.state.strongNames == 0)
        #expect(replica.state.reservation("c") != nil)
        replica.apply(.releaseNode(NodeID("n1"), throughIncarnation: 1), at: 0)
        #expect(replica.state.reservation("c") == nil)
        #expect(replica.state.reservation("d") != nil)
        #expect(Set(replica.state.holderNodes.keys) == [NodeID("n2")])
        #expect(replica.state.nextDeadline == 5000, "only the remaining reservation's deadline is left")
    }

    @Test("a snapshot with strong names and reservations restores to the same state, deadlines and holdings included")
    func snapshotRoundTrip() throws {
        var replica = Replica()
        replica.apply(.registerName(name: "c", pid: pid("n3")), at: 100)
        replica.apply(.reserveName(name: "s", pid: pid("n1"), timeout: 5000), at: 100)
        replica.apply(.confirmName(name: "s", pid: pid("n1"), token: 2), at: 100)
        replica.apply(.reserveName(name: "r", pid: pid("n2"), timeout: 5000), at: 200)
        let bytes = replica.state.snapshot()
        #expect(bytes.starts(with: [0x43, 0x53, 0x4D, 2]))
        let restored = try CoordinationState(snapshot: bytes)
        #expect(restored.snapshot() == bytes)
        #expect(restored.name("s")?.scope == .strong && restored.name("c")?.scope == .consistent)
        #expect(restored.reservation("r") == NameReservation(pid: pid("n2"), token: 4, deadline: 5200))
        #expect(restored.deadlines == replica.state.deadlines && restored.holdings == replica.state.holdings)
        #expect(restored.strongNames == 1)
        for length in 0..<bytes.count {
            #expect(throws: CoordinationCodecError.self) { try CoordinationState(snapshot: Array(bytes.prefix(length))) }
        }
        // A scope byte this version does not know is refused.
        var unknownScope = bytes
        let scopeAt = bytes.count - (4 + 3 + 20 + 8 + 8) - 1  // the last name's scope byte, before the reservations (count, "r", n2@1.1, token, deadline)
        #expect(unknownScope[scopeAt] == 1)
        unknownScope[scopeAt] = 9
        #expect(throws: CoordinationCodecError.unknownKind(field: "name.scope", value: 9)) { try CoordinationState(snapshot: unknownScope) }
    }

    @Test("a snapshot of format 1 (before strong names) still restores, every name consistent")
    func formatOneSnapshot() throws {
        // "CSM" 1 | index 7 | clock 300 | no keys | no locks | one name "n" → n1@1.1, token 5
        var bytes: [UInt8] = [0x43, 0x53, 0x4D, 1, 0, 0, 0, 0, 0, 0, 0, 7, 0, 0, 0, 0, 0, 0, 1, 0x2C, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1]
        var writer = ByteWriter()
        writer.text("n")
        writer.pid(pid("n1"))
        writer.u64(5)
        bytes += writer.buffer
        let state = try CoordinationState(snapshot: bytes)
        #expect(state.name("n") == NameRecord(pid: pid("n1"), token: 5, scope: .consistent))
        #expect(state.index == 7 && state.clock == 300 && state.reservations.isEmpty)
        #expect(state.snapshot().starts(with: [0x43, 0x53, 0x4D, 2]), "written again in the current format")
    }

    @Test("commands before strong names keep format 0xC1 (an earlier node reads them); the strong-name ones use 0xC2, refused under 0xC1")
    func commandFormats() throws {
        #expect(CoordinationCommand(.registerName(name: "a", pid: pid("n1"))).encoded().first == 0xC1)
        let reserve = CoordinationCommand(.reserveName(name: "a", pid: pid("n1"), timeout: 1000)).encoded()
        #expect(reserve.first == 0xC2)
        var stamped = reserve
        CoordinationCommand.stamp(&stamped, time: 42)
        #expect(try CoordinationCommand.decode(stamped).time == 42)
        var downgraded = reserve
        downgraded[0] = 0xC1
        #expect(throws: CoordinationCodecError.unknownKind(field: "operation", value: 12)) { try CoordinationCommand.decode(downgraded) }
    }

    @Test("a replica answer carries each name's scope once a strong name is in it, and stays in the earlier form otherwise")
    func answersCarryScope() throws {
        let consistent: ReplicaAnswer = .names([("a", NameRecord(pid: pid("n1"), token: 1))])
        #expect(consistent.encoded().first == 4)
        let mixed: ReplicaAnswer = .names([("a", NameRecord(pid: pid("n1"), token: 1)), ("b", NameRecord(pid: pid("n2"), token: 2, scope: .strong))])
        #expect(mixed.encoded().first == 5)
        guard case .names(let names) = try ReplicaAnswer.decode(mixed.encoded()) else {
            Issue.record("not names")
            return
        }
        #expect(names.map(\.1) == [NameRecord(pid: pid("n1"), token: 1), NameRecord(pid: pid("n2"), token: 2, scope: .strong)])
    }
}

extension ReplicaAnswer {
    var namesCount: Int {
        if case .names(let names) = self { return names.count }
        return -1
    }
}
