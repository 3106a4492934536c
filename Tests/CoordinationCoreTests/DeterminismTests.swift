import CohortCore
import CohortTestKit
@testable import CoordinationCore
import Testing

@Suite("Coordination state: replicas agree")
struct DeterminismTests {
    /// A random command over a small world (3 stores, 6 keys, 4 locks, 4 names, PIDs of 3 nodes with 2
    /// boots), so that conditions, conflicts, queues and departures all happen; one in twenty is garbage.
    /// `state`: what the proposer sees, so strong names get confirmed and cancelled by their holders.
    static func randomEntry(_ random: inout SplitMix64, time: inout UInt64, state: CoordinationState = CoordinationState()) -> [UInt8] {
        time += UInt64.random(in: 0...700, using: &random)
        let store = ["default", "a", "b"].randomElement(using: &random)!
        let key = ["k1", "k2", "k3", "p/1", "p/2", "caf\u{E9}"].randomElement(using: &random)!
        let lock = ["l1", "l2", "l3", "l4"].randomElement(using: &random)!
        let name = ["n1", "n2", "n3", "n4"].randomElement(using: &random)!
        let process = PID(
            node: NodeID(["x", "y", "z"].randomElement(using: &random)!), incarnation: Incarnation(UInt64.random(in: 1...2, using: &random)),
            serial: UInt64.random(in: 1...3, using: &random)
        )
        let ttl = Bool.random(using: &random) ? 0 : UInt64.random(in: 1...3000, using: &random)
        let condition: CoordinationCommand.Condition = [.none, .absent, .version(UInt64.random(in: 0...50, using: &random))].randomElement(using: &random)!
        let operation: CoordinationCommand.Operation
        switch Int.random(in: 0..<17, using: &random) {
        case 0, 1: operation = .put(store: store, key: key, value: [UInt8.random(in: 0...255, using: &random)], condition: condition, ttl: ttl)
        case 2: operation = .delete(store: store, key: key, condition: condition)
        case 3: operation = .read(store: store, key: key)
        case 4:
            operation = .transaction(
                store: store, compares: [.init(key: key, [.absent, .version(UInt64.random(in: 0...50, using: &random)), .value([1])].randomElement(using: &random)!)],
                success: [.put(key: key, value: [1], ttl: ttl), .get(key: "k1")], failure: [.delete(key: "k2")]
            )
        case 5, 6: operation = .acquireLock(name: lock, holder: process, wait: [0, 500, 5000].randomElement(using: &random)!, lockDelay: [0, 1000].randomElement(using: &random)!)
        case 7: operation = .releaseLock(name: lock, holder: process)
        case 8: operation = .registerName(name: name, pid: process)
        case 9: operation = .unregisterName(name: name, pid: process)
        case 10: operation = .releaseOwner(process)
        case 11: operation = .releaseNode(process.node, throughIncarnation: process.incarnation.rawValue)
        case 12: operation = .sweep
        case 13: operation = .reserveName(name: name, pid: process, timeout: [0, 500, 3000].randomElement(using: &random)!)
        case 14: operation = .confirmName(name: name, pid: process, token: UInt64.random(in: 0...10_000, using: &random))
        case 15:
            // Confirm (mostly) or cancel the name's reservation as its holder would.
            let reservation = state.reservation(name) ?? NameReservation(pid: process, token: 0, deadline: 0)
            operation = Int.random(in: 0..<4, using: &random) > 0
                ? .confirmName(name: name, pid: reservation.pid, token: reservation.token)
                : .cancelReservation(name: name, pid: reservation.pid, token: reservation.token)
        default:
            var garbage = CoordinationCommand(.sweep, time: time).encoded()
            garbage[Int.random(in: 0..<garbage.count, using: &random)] ^= 0x5A
            return garbage + [UInt8](repeating: 0xEE, count: Int.random(in: 0...3, using: &random))
        }
        return CoordinationCommand(operation, time: time).encoded()
    }

    @Test("10,000 random commands (a twentieth of them garbage) give every replica the same results, changes and state, also one restored from a snapshot midway")
    func replicasAgree() throws {
        var random = SplitMix64(seed: 0xC0FFEE)
        var time: UInt64 = 1_000_000
        var first = CoordinationState(), second = CoordinationState()
        var restored: CoordinationState?
        var malformed = 0, granted = 0, expired = 0, strong = 0
        for index in 1...10_000 {
            let entry = Self.randomEntry(&random, time: &time, state: first)
            let (result, changes) = first.apply(encoded: entry, index: UInt64(index))
            let (again, sameChanges) = second.apply(encoded: entry, index: UInt64(index))
            #expect(result == again && changes == sameChanges, "entry \(index) applied differently")
            if var copy = restored {
                let (fromSnapshot, fromSnapshotChanges) = copy.apply(encoded: entry, index: UInt64(index))
                #expect(result == fromSnapshot && changes == fromSnapshotChanges, "entry \(index) applied differently after a restore")
                restored = copy
            }
            if index == 5000 { restored = try CoordinationState(snapshot: first.snapshot()) }
            if (try? CoordinationResult.decode(result)) == .malformed { malformed += 1 }
            granted += changes.filter { if case .lockGranted = $0 { true } else { false } }.count
            expired += changes.filter { if case .lockWaitEnded = $0 { true } else { false } }.count
            strong = max(strong, first.strongNames)
        }
        #expect(first.snapshot() == second.snapshot())
        #expect(first.snapshot() == restored?.snapshot())
        #expect(malformed > 300 && granted > 100 && expired > 100, "the run exercised garbage (\(malformed)), grants (\(granted)) and ended waits (\(expired))")
        // The derived indexes agree with a rebuild from scratch.
        var rebuilt = first
        rebuilt.rebuildDerived()
        #expect(rebuilt.deadlines == first.deadlines && rebuilt.holdings == first.holdings && rebuilt.keyCounts == first.keyCounts)
        #expect(rebuilt.heldLocks == first.heldLocks && first.heldLocks == first.locks.filter { $0.value.holder != nil }.count)
        #expect(strong > 0, "the run bound strong names")
        #expect(rebuilt.strongNames == first.strongNames && first.strongNames == first.names.filter { $0.value.scope == .strong }.count)
        // A name is bound or reserved, never both.
        #expect(first.reservations.allSatisfy { first.names[$0.key] == nil })
    }

    @Test("a lock's fencing tokens strictly increase across grants, releases, departures and a restore from a snapshot")
    func fencingTokensIncrease() throws {
        var random = SplitMix64(seed: 7)
        var replica = Replica()
        var tokens: [String: UInt64] = [:]
        for step in 0..<3000 {
            if step == 1500 { replica.state = try CoordinationState(snapshot: replica.state.snapshot()) }
            let holder = PID(node: NodeID(["x", "y"].randomElement(using: &random)!), incarnation: Incarnation(1), serial: UInt64.random(in: 1...4, using: &random))
            let lock = ["a", "b"].randomElement(using: &random)!
            switch Int.random(in: 0..<4, using: &random) {
            case 0, 1: replica.apply(.acquireLock(name: lock, holder: holder, wait: 2000, lockDelay: 0), at: UInt64(step * 10))
            case 2: replica.apply(.releaseLock(name: lock, holder: holder), at: UInt64(step * 10))
            default: replica.apply(.releaseNode(holder.node, throughIncarnation: 1), at: UInt64(step * 10))
            }
            for change in replica.changes {
                guard case .lockGranted(let name, _, let token) = change else { continue }
                #expect(token > tokens[name.string, default: 0], "lock \(name) granted token \(token) after \(tokens[name.string, default: 0])")
                tokens[name.string] = token
            }
            replica.changes = []
        }
        #expect(tokens.count == 2)
    }
}
