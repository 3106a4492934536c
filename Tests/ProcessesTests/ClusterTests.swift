import CohortCore
import CohortTestKit
@testable import Processes
@testable import ProcessCore
import Testing

struct Boom: Error, CustomStringConvertible {
    var description: String { "boom" }
}

/// Two and three runtimes joined by an in-memory network with the mesh's guarantees (reliable, FIFO per node pair),
/// which can lose a node (crash: cut off, and every other runtime is told `nodeDown`).
@Suite("process runtime, several nodes")
struct ClusterTests {
    let network = TestNetwork()

    @Test("per-sender FIFO across nodes under load: 15 000 messages from 5 senders on 3 nodes")
    func crossNodeFIFO() async throws {
        let registry = PrometheusRegistry()
        let a = network.runtime("a", metrics: registry)
        let b = network.runtime("b")
        let c = network.runtime("c")
        let perSender = 3_000
        let senders = [a, c, a, c, b]
        let receiver = b.spawn { context in
            var next: [PID: Int] = [:]
            var total = 0
            for await event in context.mailbox {
                guard case .message(let message) = event, let from = message.from else { continue }
                let expected = next[from, default: 0]
                guard number(message.payload) == expected else {
                    return .failed("from \(from): got \(number(message.payload)), expected \(expected)")
                }
                next[from] = expected + 1
                total += 1
                if total == senders.count * perSender { return .normal(nil) }
            }
            return .failed("mailbox ended")
        }
        let outcome = try await b.outcome(of: receiver) {
            for runtime in senders {
                runtime.spawn { context in
                    for index in 0..<perSender {
                        context.send(to: receiver, topic: "n", payload: bytes(index))
                    }
                    return nil
                }
            }
        }
        #expect(outcome == .normal(nil))
        #expect(metric(registry, #"processes_messages_total{path="remote_out"}"#) == Double(2 * perSender))
        await network.shutdown()
    }

    @Test("a remote monitor fires with the exit's outcome, after the messages the process sent before exiting")
    func remoteMonitorOnExit() async throws {
        let a = network.runtime("a")
        let b = network.runtime("b")
        let (watcher, events) = a.spawnRecorder()
        let (gate, open) = AsyncStream<Void>.makeStream()
        let target = b.spawn { context in
            for await _ in gate { break }
            context.send(to: watcher, topic: "last words", payload: [1])
            throw Boom()
        }
        a.monitor(target, by: watcher)
        try await waitUntil(within: .seconds(10), "the monitor to reach b") { b.monitorCount == 1 }
        open.yield()
        try await events.waitFor(.exit(target, .failed("boom")))
        #expect(events.events == [
            .message(ProcessMessage(from: target, topic: "last words", payload: [1])), .exit(target, .failed("boom")),
        ])
        #expect(a.monitorCount == 0 && b.monitorCount == 0)
        await network.shutdown()
    }

    @Test("a remote monitor fires nodeDown, once, when the node leaves, with no word from it")
    func remoteMonitorOnNodeDown() async throws {
        let a = network.runtime("a")
        let b = network.runtime("b")
        let (watcher, events) = a.spawnRecorder()
        let target = b.spawnIdle()
        a.monitor(target, by: watcher)
        try await waitUntil(within: .seconds(10), "the monitor to reach b") { b.monitorCount == 1 }
        network.crash(b.node)
        try await events.waitFor(.exit(target, .nodeDown))
        a.nodeDown(b.node)
        #expect(events.events == [.exit(target, .nodeDown)])
        await network.shutdown()
    }

    @Test("monitoring a dead, never-spawned, earlier-boot or unreachable remote PID fires at once")
    func remoteMonitorOfDeadProcess() async throws {
        let a = network.runtime("a")
        let b = network.runtime("b", incarnation: 5)
        let (watcher, events) = a.spawnRecorder()
        let (dead, open) = b.spawnGated(nil)
        _ = try await b.outcome(of: dead) { open.yield() }
        let neverSpawned = PID(node: b.node, incarnation: b.incarnation, serial: 1_000)
        let earlierBoot = PID(node: b.node, incarnation: Incarnation(4), serial: 1)
        let nowhere = PID(node: NodeID("nowhere"), incarnation: Incarnation(1), serial: 1)
        for target in [dead, neverSpawned, earlierBoot] {
            a.monitor(target, by: watcher)
            try await events.waitFor(.exit(target, .noProcess))
        }
        a.monitor(nowhere, by: watcher)
        try await events.waitFor(.exit(nowhere, .nodeDown))
        #expect(a.monitorCount == 0 && b.monitorCount == 0)
        await network.shutdown()
    }

    @Test("remote links propagate both ways: abnormal exits stop or notify, normal exits do not stop")
    func remoteLinksBothWays() async throws {
        let a = network.runtime("a")
        let b = network.runtime("b")
        // a's plain process, linked to a failing process on b, is stopped.
        let plain = a.spawnIdle()
        let (failingOnB, openB) = b.spawnGated(nil, throwing: Boom())
        a.link(plain, failingOnB)
        try await waitUntil(within: .seconds(10), "the link to reach b") { b.linkCount == 1 }
        #expect(try await a.outcome(of: plain) { openB.yield() } == .linked(failingOnB))
        // b's trapping process, linked (from b) to a failing process on a, is told.
        let (trapper, events) = b.spawnRecorder(trapLinks: true)
        let (failingOnA, openA) = a.spawnGated(nil, throwing: Boom())
        b.link(trapper, failingOnA)
        try await waitUntil(within: .seconds(10), "the link to reach a") { a.linkCount == 1 }
        openA.yield()
        try await events.waitFor(.linkDown(failingOnA, .failed("boom")))
        #expect(b.isAlive(trapper))
        // A normal exit on b does not stop a's linked process: once a later message from b has arrived, the
        // LINK_DOWN before it has been handled, and the process still runs.
        let survivor = a.spawnIdle()
        let (normalOnB, openNormal) = b.spawnGated(nil)
        a.link(survivor, normalOnB)
        try await waitUntil(within: .seconds(10), "the link to reach b") { b.linkCount == 1 }
        let (probe, probeEvents) = a.spawnRecorder()
        _ = try await b.outcome(of: normalOnB) { openNormal.yield() }
        b.send(from: nil, to: probe, topic: "after", payload: [])
        try await probeEvents.waitFor(.message(ProcessMessage(from: nil, topic: "after", payload: [])))
        #expect(a.isAlive(survivor) && a.linkCount == 0)
        await network.shutdown()
    }

    @Test("remote links fire on nodeDown: LINK_DOWN to a trapper, a forced stop otherwise")
    func remoteLinksOnNodeDown() async throws {
        let a = network.runtime("a")
        let b = network.runtime("b")
        let c = network.runtime("c")
        let remote = b.spawnIdle()
        let (trapper, events) = a.spawnRecorder(trapLinks: true)
        let plain = a.spawnIdle()
        let onC = c.spawnIdle()
        a.link(trapper, remote)
        a.link(plain, remote)
        a.link(trapper, onC)
        try await waitUntil(within: .seconds(10), "the links to reach b and c") { b.linkCount == 2 && c.linkCount == 1 }
        #expect(try await a.outcome(of: plain) { network.crash(b.node) } == .linked(remote))
        try await events.waitFor(.linkDown(remote, .nodeDown))
        #expect(a.isAlive(trapper) && a.linkCount == 1)
        await network.shutdown()
    }

    @Test("cancel and terminate reach processes on other nodes")
    func remoteCancelAndTerminate() async throws {
        let a = network.runtime("a")
        let b = network.runtime("b")
        let (watcher, events) = a.spawnRecorder()
        let polite = b.spawnIdle()
        let stubborn = b.spawn { _ in
            while !Task.isCancelled { await Task.yield() }
            return .normal(nil)
        }
        a.monitor(polite, by: watcher)
        a.monitor(stubborn, by: watcher)
        try await waitUntil(within: .seconds(10), "the monitors to reach b") { b.monitorCount == 2 }
        a.cancel(polite, reason: "drain", from: watcher)
        a.terminate(stubborn, from: watcher)
        try await events.waitFor(.exit(polite, .cancelled("drain")))
        try await events.waitFor(.exit(stubborn, .terminated))
        await network.shutdown()
    }

    @Test("a node's new boot makes its old processes dead: monitors fire, messages are stale")
    func newBootKillsOldPIDs() async throws {
        let registry = PrometheusRegistry()
        let a = network.runtime("a", metrics: registry)
        let oldB = network.runtime("b", incarnation: 1)
        let (watcher, events) = a.spawnRecorder()
        let oldTarget = oldB.spawnIdle()
        a.monitor(oldTarget, by: watcher)
        try await waitUntil(within: .seconds(10), "the monitor to reach b") { oldB.monitorCount == 1 }
        let newB = network.runtime("b", incarnation: 2)
        try await events.waitFor(.exit(oldTarget, .nodeDown))
        a.send(from: nil, to: oldTarget, topic: "t", payload: [])
        #expect(metric(registry, #"processes_messages_dropped_total{reason="stale_incarnation"}"#) == 1)
        // The new boot is reachable as usual.
        let (fresh, freshEvents) = newB.spawnRecorder()
        a.send(from: watcher, to: fresh, topic: "hi", payload: [])
        try await freshEvents.waitFor(.message(ProcessMessage(from: watcher, topic: "hi", payload: [])))
        await oldB.shutdown()
        await network.shutdown()
    }

    @Test("messages to a node that left are dropped and counted")
    func sendToDepartedNode() async throws {
        let registry = PrometheusRegistry()
        let a = network.runtime("a", metrics: registry)
        let b = network.runtime("b")
        let target = b.spawnIdle()
        network.crash(b.node)
        a.send(from: nil, to: target, topic: "t", payload: [])
        #expect(metric(registry, #"processes_messages_dropped_total{reason="node_down"}"#) == 1)
        #expect(metric(registry, #"processes_messages_total{path="remote_out"}"#) == 0)
        await b.shutdown()
        await network.shutdown()
    }
}
