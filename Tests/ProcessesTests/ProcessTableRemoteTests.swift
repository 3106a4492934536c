import CohortCore
@testable import Processes
@testable import ProcessCore
import Testing

/// The pure core's view of other nodes: boots, remote monitors and links, signals in and out, node departure.
@Suite("process table, remote")
struct ProcessTableRemoteTests {
    static let here = NodeID("a")
    static let peer = NodeID("b")
    var table = ProcessTable(node: here, incarnation: Incarnation(7))

    func remote(_ serial: UInt64, boot: UInt64 = 5) -> PID {
        PID(node: Self.peer, incarnation: Incarnation(boot), serial: serial)
    }

    @Test("remote PIDs: unknown node is down, an older boot is stale, the current boot is reachable")
    mutating func remoteRouting() {
        #expect(table.route(remote(1)) == .dropped(.nodeDown))
        #expect(table.nodeUp(Self.peer, incarnation: Incarnation(5)) == [])
        #expect(table.route(remote(1)) == .remote(Self.peer))
        #expect(table.route(remote(1, boot: 4)) == .dropped(.staleIncarnation))
        #expect(table.route(remote(1, boot: 6)) == .remote(Self.peer))
        _ = table.nodeDown(Self.peer)
        #expect(table.route(remote(1)) == .dropped(.nodeDown))
        _ = table.nodeUp(Self.peer, incarnation: Incarnation(6))
        #expect(table.route(remote(1)) == .dropped(.staleIncarnation))
    }

    @Test("monitoring a stale or unreachable remote PID fires at once; a reachable one is signalled")
    mutating func remoteMonitorImmediate() {
        let watcher = table.spawn(trapLinks: false)
        #expect(table.monitor(remote(1), by: watcher).1 == [.deliver(.exit(remote(1), .nodeDown), to: watcher)])
        _ = table.nodeUp(Self.peer, incarnation: Incarnation(5))
        #expect(table.monitor(remote(1, boot: 4), by: watcher).1 == [.deliver(.exit(remote(1, boot: 4), .noProcess), to: watcher)])
        let (ref, effects) = table.monitor(remote(1), by: watcher)
        #expect(effects == [.signal(.monitor(ref: ref, watcher: watcher, target: remote(1)), to: Self.peer)])
        #expect(table.demonitor(ref) == [.signal(.demonitor(ref: ref, target: remote(1)), to: Self.peer)])
    }

    @Test("nodeDown fires monitors on that node's processes locally, once, and sends nothing")
    mutating func nodeDownFiresMonitors() {
        _ = table.nodeUp(Self.peer, incarnation: Incarnation(5))
        let watcher = table.spawn(trapLinks: false)
        let (ref, _) = table.monitor(remote(1), by: watcher)
        #expect(table.nodeDown(Self.peer) == [.deliver(.exit(remote(1), .nodeDown), to: watcher)])
        #expect(table.nodeDown(Self.peer) == [])
        #expect(table.monitors.isEmpty)
        // A late `down` for that monitor finds nothing to fire.
        #expect(table.receive(.down(ref: ref, target: remote(1), outcome: .terminated), from: Self.peer) == [])
    }

    @Test("nodeDown propagates through links: LINK_DOWN to a trapper, a forced stop otherwise")
    mutating func nodeDownFiresLinks() {
        _ = table.nodeUp(Self.peer, incarnation: Incarnation(5))
        let trapper = table.spawn(trapLinks: true)
        let plain = table.spawn(trapLinks: false)
        #expect(table.link(trapper, remote(1)) == [.signal(.link(trapper, remote(1)), to: Self.peer)])
        #expect(table.link(remote(2), plain) == [.signal(.link(plain, remote(2)), to: Self.peer)])
        #expect(table.nodeDown(Self.peer) == [
            .deliver(.linkDown(remote(1), .nodeDown), to: trapper),
            .kill(plain), .exited(plain, .linked(remote(2))),
        ])
        #expect(table.nodes[Self.peer]?.links.isEmpty == true)
    }

    @Test("nodeDown drops what the node's processes held here")
    mutating func nodeDownDropsRemoteHolders() {
        _ = table.nodeUp(Self.peer, incarnation: Incarnation(5))
        let target = table.spawn(trapLinks: true)
        let ref = MonitorReference(node: Self.peer, incarnation: Incarnation(5), serial: 1)
        #expect(table.receive(.monitor(ref: ref, watcher: remote(9), target: target), from: Self.peer) == [])
        #expect(table.receive(.link(remote(9), target), from: Self.peer) == [])
        #expect(table.nodeDown(Self.peer) == [.deliver(.linkDown(remote(9), .nodeDown), to: target)])
        // Nothing is owed to the departed node when the target exits later.
        #expect(table.exit(target, outcome: .failed("x")) == [.exited(target, .failed("x"))])
    }

    @Test("a newer boot of a node kills what referred to the older boot, and keeps the newer")
    mutating func newerBootFiresOlder() {
        _ = table.nodeUp(Self.peer, incarnation: Incarnation(5))
        let watcher = table.spawn(trapLinks: true)
        _ = table.monitor(remote(1), by: watcher)
        _ = table.monitor(remote(1, boot: 6), by: watcher)
        #expect(table.nodeUp(Self.peer, incarnation: Incarnation(4)) == [])
        #expect(table.nodeUp(Self.peer, incarnation: Incarnation(6)) == [.deliver(.exit(remote(1), .nodeDown), to: watcher)])
        #expect(table.monitors.count == 1)
    }

    @Test("an exiting process tells remote watchers and linked processes, and withdraws its remote monitors")
    mutating func exitSignalsRemoteEnds() {
        _ = table.nodeUp(Self.peer, incarnation: Incarnation(5))
        let local = table.spawn(trapLinks: false)
        let theirs = MonitorReference(node: Self.peer, incarnation: Incarnation(5), serial: 3)
        _ = table.receive(.monitor(ref: theirs, watcher: remote(9), target: local), from: Self.peer)
        let (ours, _) = table.monitor(remote(8), by: local)
        _ = table.link(local, remote(7))
        #expect(table.exit(local, outcome: .failed("x")) == [
            .exited(local, .failed("x")),
            .signal(.down(ref: theirs, target: local, outcome: .failed("x")), to: Self.peer),
            .signal(.demonitor(ref: ours, target: remote(8)), to: Self.peer),
            .signal(.linkDown(from: local, to: remote(7), outcome: .failed("x")), to: Self.peer),
        ])
        #expect(table.monitors.isEmpty && table.nodes[Self.peer]?.monitors.isEmpty == true)
    }

    @Test("a remote monitor or link of a dead process is answered with noProcess")
    mutating func receiveForDeadTarget() {
        let dead = PID(node: Self.here, incarnation: Incarnation(7), serial: 40)
        let ref = MonitorReference(node: Self.peer, incarnation: Incarnation(5), serial: 1)
        #expect(table.receive(.monitor(ref: ref, watcher: remote(1), target: dead), from: Self.peer) == [
            .signal(.down(ref: ref, target: dead, outcome: .noProcess), to: Self.peer),
        ])
        #expect(table.receive(.link(remote(1), dead), from: Self.peer) == [
            .signal(.linkDown(from: dead, to: remote(1), outcome: .noProcess), to: Self.peer),
        ])
        // The first signal taught the table the peer's boot.
        #expect(table.nodes[Self.peer]?.incarnation == Incarnation(5))
    }

    @Test("signals from an older boot, or after the node left, create no state")
    mutating func receiveStaleOrLate() {
        _ = table.nodeUp(Self.peer, incarnation: Incarnation(5))
        let target = table.spawn(trapLinks: false)
        #expect(table.receive(.link(remote(1, boot: 4), target), from: Self.peer) == [.dropped(.staleIncarnation)])
        _ = table.nodeDown(Self.peer)
        #expect(table.receive(.link(remote(1), target), from: Self.peer) == [.dropped(.nodeDown)])
        #expect(table.processes[target.serial]?.links.isEmpty == true)
    }

    @Test("a signal that does not fit the node it came from is dropped as invalid")
    mutating func receiveInvalid() {
        let target = table.spawn(trapLinks: false)
        let ref = MonitorReference(node: Self.peer, incarnation: Incarnation(5), serial: 1)
        let otherNodes = PID(node: NodeID("c"), incarnation: Incarnation(1), serial: 1)
        #expect(table.receive(.monitor(ref: ref, watcher: otherNodes, target: target), from: Self.peer) == [.dropped(.invalidSignal)])
        #expect(table.receive(.link(otherNodes, target), from: Self.peer) == [.dropped(.invalidSignal)])
        #expect(table.receive(.message(from: nil, to: remote(1), topic: "t", payload: []), from: Self.peer) == [.dropped(.invalidSignal)])
        #expect(table.receive(.terminate(target: otherNodes, from: nil), from: Self.peer) == [.dropped(.invalidSignal)])
        #expect(table.isAlive(target) && table.monitors.isEmpty)
    }

    @Test("an inbound LINK_DOWN propagates only over an existing link")
    mutating func receiveLinkDown() {
        _ = table.nodeUp(Self.peer, incarnation: Incarnation(5))
        let linked = table.spawn(trapLinks: false)
        let unlinked = table.spawn(trapLinks: false)
        _ = table.receive(.link(remote(1), linked), from: Self.peer)
        #expect(table.receive(.linkDown(from: remote(1), to: unlinked, outcome: .failed("x")), from: Self.peer) == [])
        #expect(table.receive(.linkDown(from: remote(1), to: linked, outcome: .failed("x")), from: Self.peer) == [
            .kill(linked), .exited(linked, .linked(remote(1))),
        ])
    }

    @Test("inbound messages, cancels and terminates reach live local processes only")
    mutating func receiveDirect() {
        let target = table.spawn(trapLinks: false)
        let message = ProcessMessage(from: remote(1), topic: "t", payload: [1])
        #expect(table.receive(.message(from: remote(1), to: target, topic: "t", payload: [1]), from: Self.peer) == [
            .deliver(.message(message), to: target),
        ])
        #expect(table.receive(.cancel(target: target, reason: "r", from: nil), from: Self.peer) == [
            .deliver(.cancel(reason: "r"), to: target),
        ])
        #expect(table.receive(.terminate(target: target, from: remote(1)), from: Self.peer) == [
            .kill(target), .exited(target, .terminated),
        ])
        #expect(table.receive(.message(from: nil, to: target, topic: "t", payload: []), from: Self.peer) == [.dropped(.noProcess)])
    }
}
