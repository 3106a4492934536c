@testable import Cohort
import CohortCore
import CohortTestKit
import Logging
import PlaneCore
import Synchronization
import Testing

/// The eventual name scope on one node (its `names` plane local): registration, lookup and resolution
/// order, release on exit, and the conflict rule — the earliest registration wins, and the loser's process
/// gets exactly one `CANCEL "name revoked: <name>"` and keeps running. Across nodes: `PlaneSyncTests` and
/// the daemon tests.
@Suite("Eventual names")
struct EventualNamesTests {
    static func node() throws -> CohortNode {
        let settings = try ConfigLoader(environment: [:], hostName: "solo", homeDirectory: nil) { _ in [] }
            .load(yaml: "cluster:\n  enabled: false\n")
        return CohortNode(settings: settings, logger: Logger(label: "test"), boot: NodeBoot(incarnation: Incarnation(7)))
    }

    /// A process that records every CANCEL reason it receives and keeps running.
    static func recorder(_ node: CohortNode) -> (PID, Reasons) {
        let reasons = Reasons()
        let pid = node.processes.spawn { context in
            for await event in context.mailbox {
                if case .cancel(let reason) = event { reasons.list.withLock { $0.append(reason) } }
            }
            return nil
        }
        return (pid, reasons)
    }

    @Test("register, look up in every way, refuse a second owner, unregister only by the owner, release on exit")
    func lifecycle() async throws {
        let node = try Self.node()
        let a = node.processes.spawn { context in for await _ in context.mailbox {}; return nil }
        let b = node.processes.spawn { context in for await _ in context.mailbox {}; return nil }
        #expect(try await node.names.register("svc", pid: a, scope: .eventual) == nil)
        #expect(try await node.names.register("svc", pid: a, scope: .eventual) == nil, "idempotent for its owner")
        await #expect(throws: CoordinationError.alreadyExists("name \"svc\" is registered to \(a) (eventual)", by: a)) {
            try await node.names.register("svc", pid: b, scope: .eventual)
        }
        #expect(try await node.names.lookup("svc", scope: .eventual)?.pid == a)
        #expect(try await node.names.lookup("svc")?.scope == .eventual, "no consistent binding: eventual answers")
        #expect(node.processes.resolve("svc") == a, "sends by name resolve eventual names")
        #expect(try await node.names.list(scope: .eventual).map(\.name) == ["svc"])
        await #expect(throws: CoordinationError.self) { try await node.names.unregister("svc", pid: b, scope: .eventual) }
        try await node.names.unregister("svc", pid: a, scope: .eventual)
        #expect(try await node.names.lookup("svc", scope: .eventual) == nil)

        try await node.names.register("svc", pid: b, scope: .eventual)
        node.processes.terminate(b, from: nil)
        try await waitUntil(within: .seconds(10), "the exited process's eventual name is released") {
            try await node.names.lookup("svc", scope: .eventual) == nil
        }
    }

    @Test("a consistent name shadows an eventual one, which shadows a local one")
    func resolutionOrder() async throws {
        let node = try Self.node()
        let local = node.processes.spawn { context in for await _ in context.mailbox {}; return nil }
        let eventual = node.processes.spawn { context in for await _ in context.mailbox {}; return nil }
        let consistent = node.processes.spawn { context in for await _ in context.mailbox {}; return nil }
        try await node.names.register("x", pid: local, scope: .local)
        #expect(node.processes.resolve("x") == local)
        try await node.names.register("x", pid: eventual, scope: .eventual)
        #expect(node.processes.resolve("x") == eventual)
        #expect(try await node.names.lookup("x")?.pid == eventual)
        try await node.names.register("x", pid: consistent, scope: .consistent)
        #expect(node.processes.resolve("x") == consistent)
        #expect(try await node.names.lookup("x")?.scope == .consistent)
    }

    @Test("an earlier registration from another node wins; the local loser gets one CANCEL and keeps running")
    func conflictRevokesTheLaterRegistrationOnce() async throws {
        let node = try Self.node()
        let (loser, reasons) = Self.recorder(node)
        try await node.names.register("leader", pid: loser, scope: .eventual)
        let mine = try #require(node.eventualNames.plane.state[EventualNameKey.key(name: "leader", pid: loser)])
        // Another registration of the same name, made one millisecond earlier, arrives (as from a peer; the
        // plane's owner rule takes entries only of alive members, and this single node is its only member, so
        // the other owner is a process of this node: the rule under test is the same).
        let remote = node.processes.spawn { context in for await _ in context.mailbox {}; return nil }
        let earlier = PlaneStamp(time: HLC(millis: mine.stamp.time.millis - 1, logical: 0), node: node.id)
        node.eventualNames.plane.load([PlaneEntry(key: EventualNameKey.key(name: "leader", pid: remote), stamp: earlier, value: EventualNameKey.value)])
        node.eventualNames.revokeLosers(of: ["leader"])
        node.eventualNames.revokeLosers(of: ["leader"])
        node.eventualNames.revokeLosers(of: nil)
        #expect(try await node.names.lookup("leader", scope: .eventual)?.pid == remote)
        try await waitUntil(within: .seconds(10), "the loser heard its revocation") { reasons.list.withLock { !$0.isEmpty } }
        #expect(reasons.list.withLock { $0 } == ["name revoked: leader"])
        #expect(node.processes.isAlive(loser), "the loser keeps running")
        #expect(node.eventualNames.plane.state[EventualNameKey.key(name: "leader", pid: loser)]?.isTombstone == true)
        #expect(node.names.eventual?.count == 1)
    }

    @Test("the winner does not depend on arrival order: the earliest stamp, then the node ID")
    func winnerIsOrderIndependent() throws {
        let node = try Self.node()
        let x = PID(node: node.id, incarnation: node.incarnation, serial: 1001)
        let y = PID(node: node.id, incarnation: node.incarnation, serial: 1002)
        let entries = [
            PlaneEntry(key: EventualNameKey.key(name: "n", pid: y), stamp: PlaneStamp(time: HLC(millis: 1000, logical: 1), node: node.id), value: EventualNameKey.value),
            PlaneEntry(key: EventualNameKey.key(name: "n", pid: x), stamp: PlaneStamp(time: HLC(millis: 1000, logical: 0), node: node.id), value: EventualNameKey.value),
        ]
        node.eventualNames.plane.load(entries)
        #expect(node.eventualNames.lookup("n")?.pid == x, "the earlier stamp wins")
        let other = try Self.node()
        other.eventualNames.plane.load(entries.reversed())
        #expect(other.eventualNames.lookup("n")?.pid == x)
        // (Equal clocks of two nodes: the smaller node ID wins — NamePlaneTests and the stamp order.)
    }

    @Test("keys: a name and a PID round-trip; NUL, empty and oversized names are refused")
    func keys() {
        let pid = PID(node: NodeID("n1"), incarnation: Incarnation(5), serial: 77)
        let decoded = EventualNameKey.decode(EventualNameKey.key(name: "a/b", pid: pid))
        #expect(decoded?.name == "a/b" && decoded?.pid == pid)
        #expect(EventualNameKey.decode(Array("no-separator".utf8)) == nil)
        #expect(throws: CoordinationError.self) { try EventualNameKey.validate("") }
        #expect(throws: CoordinationError.self) { try EventualNameKey.validate("a\u{0}b") }
        #expect(throws: CoordinationError.self) { try EventualNameKey.validate(String(repeating: "x", count: 2000)) }
    }
}

/// The CANCEL reasons one process received.
final class Reasons: Sendable {
    let list = Mutex<[String]>([])
}
