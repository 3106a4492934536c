import CohortCore
@testable import Processes
@testable import ProcessCore
import Testing

/// The pure core on one node: bookkeeping, monitors, links and names, with no tasks or clocks.
@Suite("process table, local")
struct ProcessTableTests {
    static let here = NodeID("a")
    var table = ProcessTable(node: here, incarnation: Incarnation(7))

    @Test("spawn issues serials from 1 that never repeat, and exit removes the process once")
    mutating func spawnAndExitBookkeeping() {
        let first = table.spawn(trapLinks: false)
        let second = table.spawn(trapLinks: false)
        #expect(first == PID(node: Self.here, incarnation: Incarnation(7), serial: 1))
        #expect(second.serial == 2)
        #expect(table.count == 2 && table.isAlive(first))
        #expect(table.exit(first, outcome: .normal([1])) == [.exited(first, .normal([1]))])
        #expect(table.exit(first, outcome: .normal(nil)) == [])
        #expect(!table.isAlive(first) && table.count == 1)
        #expect(table.spawn(trapLinks: false).serial == 3)
    }

    @Test("a monitor fires once, with the outcome, and is then gone")
    mutating func monitorFiresOnce() {
        let watcher = table.spawn(trapLinks: false)
        let target = table.spawn(trapLinks: false)
        let (ref, effects) = table.monitor(target, by: watcher)
        #expect(effects.isEmpty)
        #expect(ref.node == Self.here && ref.incarnation == Incarnation(7))
        #expect(table.exit(target, outcome: .failed("boom")) == [
            .exited(target, .failed("boom")), .deliver(.exit(target, .failed("boom")), to: watcher),
        ])
        #expect(table.monitors.isEmpty)
        #expect(table.demonitor(ref) == [])
    }

    @Test("two monitors on one target fire one event each")
    mutating func twoMonitorsTwoEvents() {
        let watcher = table.spawn(trapLinks: false)
        let target = table.spawn(trapLinks: false)
        _ = table.monitor(target, by: watcher)
        _ = table.monitor(target, by: watcher)
        let delivered = table.exit(target, outcome: .normal(nil)).filter { if case .deliver = $0 { true } else { false } }
        #expect(delivered.count == 2)
    }

    @Test("demonitor stops a monitor from firing")
    mutating func demonitorStopsFiring() {
        let watcher = table.spawn(trapLinks: false)
        let target = table.spawn(trapLinks: false)
        let (ref, _) = table.monitor(target, by: watcher)
        #expect(table.demonitor(ref) == [])
        #expect(table.exit(target, outcome: .normal(nil)) == [.exited(target, .normal(nil))])
    }

    @Test("monitoring a dead, unknown or other-boot process fires noProcess at once")
    mutating func monitorOfDeadFiresAtOnce() {
        let watcher = table.spawn(trapLinks: false)
        let dead = table.spawn(trapLinks: false)
        _ = table.exit(dead, outcome: .normal(nil))
        let unknown = PID(node: Self.here, incarnation: Incarnation(7), serial: 99)
        let earlierBoot = PID(node: Self.here, incarnation: Incarnation(6), serial: watcher.serial)
        for target in [dead, unknown, earlierBoot] {
            #expect(table.monitor(target, by: watcher).1 == [.deliver(.exit(target, .noProcess), to: watcher)])
        }
        #expect(table.monitors.isEmpty)
    }

    @Test("a watcher's monitors die with it")
    mutating func watcherExitDropsMonitors() {
        let watcher = table.spawn(trapLinks: false)
        let target = table.spawn(trapLinks: false)
        _ = table.monitor(target, by: watcher)
        _ = table.exit(watcher, outcome: .normal(nil))
        #expect(table.monitors.isEmpty)
        #expect(table.exit(target, outcome: .failed("x")) == [.exited(target, .failed("x"))])
    }

    @Test("a normal exit does not stop a linked process")
    mutating func normalExitDoesNotPropagate() {
        let a = table.spawn(trapLinks: false)
        let b = table.spawn(trapLinks: false)
        #expect(table.link(a, b) == [])
        #expect(table.exit(a, outcome: .normal(nil)) == [.exited(a, .normal(nil))])
        #expect(table.isAlive(b))
        #expect(table.processes[b.serial]?.links.isEmpty == true)
    }

    @Test("an abnormal exit stops linked processes, and their exits stop theirs")
    mutating func abnormalExitCascades() {
        let a = table.spawn(trapLinks: false)
        let b = table.spawn(trapLinks: false)
        let c = table.spawn(trapLinks: false)
        _ = table.link(a, b)
        _ = table.link(b, c)
        #expect(table.exit(a, outcome: .failed("boom")) == [
            .exited(a, .failed("boom")),
            .kill(b), .exited(b, .linked(a)),
            .kill(c), .exited(c, .linked(b)),
        ])
        #expect(table.count == 0)
    }

    @Test("a process that traps links gets LINK_DOWN for normal and abnormal exits and keeps running")
    mutating func trapLinksReceivesLinkDown() {
        let trapper = table.spawn(trapLinks: true)
        let normal = table.spawn(trapLinks: false)
        let failing = table.spawn(trapLinks: false)
        _ = table.link(trapper, normal)
        _ = table.link(failing, trapper)
        #expect(table.exit(normal, outcome: .normal(nil)).contains(.deliver(.linkDown(normal, .normal(nil)), to: trapper)))
        #expect(table.exit(failing, outcome: .terminated).contains(.deliver(.linkDown(failing, .terminated), to: trapper)))
        #expect(table.isAlive(trapper))
    }

    @Test("linking to a dead process is its abnormal exit: noProcess")
    mutating func linkToDeadProcess() {
        let dead = table.spawn(trapLinks: false)
        _ = table.exit(dead, outcome: .normal(nil))
        let trapper = table.spawn(trapLinks: true)
        #expect(table.link(trapper, dead) == [.deliver(.linkDown(dead, .noProcess), to: trapper)])
        let plain = table.spawn(trapLinks: false)
        #expect(table.link(dead, plain) == [.kill(plain), .exited(plain, .linked(dead))])
    }

    @Test("unlink removes the link on both sides")
    mutating func unlinkStopsPropagation() {
        let a = table.spawn(trapLinks: false)
        let b = table.spawn(trapLinks: false)
        _ = table.link(a, b)
        _ = table.link(a, b)
        #expect(table.unlink(b, a) == [])
        #expect(table.exit(a, outcome: .failed("x")) == [.exited(a, .failed("x"))])
        #expect(table.isAlive(b))
    }

    @Test("a long chain of links stops in one worklist, without deep recursion")
    mutating func longLinkChain() {
        let pids = (0..<20_000).map { _ in table.spawn(trapLinks: false) }
        for (a, b) in zip(pids, pids.dropFirst()) {
            _ = table.link(a, b)
        }
        let effects = table.exit(pids[0], outcome: .terminated)
        #expect(effects.count == 1 + 2 * (pids.count - 1))
        #expect(table.count == 0)
    }

    @Test("names: taken, released on exit, only for live local processes")
    mutating func names() throws {
        let a = table.spawn(trapLinks: false)
        let b = table.spawn(trapLinks: false)
        try table.register("db", a)
        try table.register("cache", a)
        #expect(throws: ProcessError.nameTaken("db", current: a)) { try table.register("db", b) }
        #expect(throws: ProcessError.invalidName("")) { try table.register("", b) }
        let remote = PID(node: NodeID("b"), incarnation: Incarnation(1), serial: 1)
        #expect(throws: ProcessError.notLocal(remote)) { try table.register("x", remote) }
        #expect(table.whereis("db") == a)
        _ = table.exit(a, outcome: .normal(nil))
        #expect(table.whereis("db") == nil && table.whereis("cache") == nil)
        #expect(throws: ProcessError.noProcess(a)) { try table.register("db", a) }
        try table.register("db", b)
        table.unregister("db")
        #expect(table.whereis("db") == nil)
        #expect(table.processes[b.serial]?.names.isEmpty == true)
    }

    @Test("messages to this node's PIDs of another boot are stale; to dead ones, no process")
    mutating func routeLocal() {
        let a = table.spawn(trapLinks: false)
        #expect(table.route(a) == .local(a))
        #expect(table.route(PID(node: Self.here, incarnation: Incarnation(6), serial: 1)) == .dropped(.staleIncarnation))
        #expect(table.route(PID(node: Self.here, incarnation: Incarnation(8), serial: 1)) == .dropped(.staleIncarnation))
        #expect(table.route(PID(node: Self.here, incarnation: Incarnation(7), serial: 2)) == .dropped(.noProcess))
    }

    @Test("cancel becomes a CANCEL event; terminate a forced exit")
    mutating func cancelAndTerminate() {
        let a = table.spawn(trapLinks: false)
        #expect(table.cancel(a, reason: "bye", from: nil) == [.deliver(.cancel(reason: "bye"), to: a)])
        #expect(table.terminate(a, from: nil) == [.kill(a), .exited(a, .terminated)])
        #expect(table.cancel(a, reason: "bye", from: nil) == [])
        #expect(table.terminate(a, from: nil) == [])
    }
}
