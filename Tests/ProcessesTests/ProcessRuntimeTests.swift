import CohortCore
import CohortTestKit
@testable import Processes
@testable import ProcessCore
import Testing

/// One runtime, real tasks: mailboxes, outcomes, names, cancellation and shutdown.
@Suite("process runtime, one node")
struct ProcessRuntimeTests {
    let registry = PrometheusRegistry()
    let runtime: ProcessRuntime

    init() {
        runtime = ProcessRuntime(
            node: NodeID("solo"), incarnation: Incarnation(42), logger: quietLogger, metrics: registry, mailboxLimit: 10
        )
    }

    /// A fresh runtime with a large mailbox, for load.
    static func roomy() -> ProcessRuntime {
        ProcessRuntime(node: NodeID("solo"), incarnation: Incarnation(42), logger: quietLogger)
    }

    @Test("local messages from one sender arrive in send order")
    func localSendIsFIFO() async {
        let runtime = Self.roomy()
        let count = 10_000
        let receiver = runtime.spawn { context in
            var expected = 0
            for await event in context.mailbox {
                guard case .message(let message) = event else { continue }
                guard number(message.payload) == expected else { return .failed("got \(number(message.payload)) for \(expected)") }
                expected += 1
                if expected == count { return .normal(nil) }
            }
            return .failed("mailbox ended")
        }
        runtime.spawn { context in
            for index in 0..<count {
                context.send(to: receiver, topic: "n", payload: bytes(index))
            }
            return nil
        }
        #expect(await runtime.result(of: receiver) == .normal(nil))
    }

    @Test("send(toEach:) delivers one message to each live local PID in order with other sends, and counts the rest as drops")
    func sendToEach() async throws {
        let runtime = Self.roomy()
        let (reports, report) = AsyncStream.makeStream(of: String.self)
        let receivers = (0..<3).map { _ in
            runtime.spawn { context in
                var topics: [String] = []
                for await event in context.mailbox {
                    guard case .message(let message) = event else { continue }
                    topics.append(message.topic)
                    if topics.count == 3 { break }
                }
                report.yield(topics.joined(separator: ","))
                return nil
            }
        }
        let dead = runtime.spawn { _ in nil }
        _ = await runtime.result(of: dead)
        for receiver in receivers { runtime.send(from: nil, to: receiver, topic: "a", payload: []) }
        #expect(runtime.send(from: nil, toEach: receivers + [dead], topic: "b", payload: []) == 3)
        for receiver in receivers { runtime.send(from: nil, to: receiver, topic: "c", payload: []) }
        var seen: [String] = []
        for await line in reports {
            seen.append(line)
            if seen.count == 3 { break }
        }
        #expect(seen == ["a,b,c", "a,b,c", "a,b,c"])
    }

    @Test("a full mailbox drops the new message and counts it; notifications still arrive")
    func mailboxOverflow() async throws {
        let (gate, open) = AsyncStream<Void>.makeStream()
        let seen = Recorder()
        let receiver = runtime.spawn { context in
            for await _ in gate { break }
            for await event in context.mailbox {
                seen.append(event)
                if case .exit = event { return nil }
            }
            return nil
        }
        for index in 0..<15 {
            runtime.send(from: nil, to: receiver, topic: "n", payload: bytes(index))
        }
        let watched = runtime.spawnIdle()
        runtime.monitor(watched, by: receiver)
        runtime.terminate(watched, from: nil)
        open.yield()
        #expect(await runtime.result(of: receiver) == .normal(nil))
        let numbers = seen.events.compactMap { event -> Int? in
            if case .message(let message) = event { number(message.payload) } else { nil }
        }
        #expect(numbers == Array(0..<10))
        #expect(seen.events.last == .exit(watched, .terminated))
        #expect(metric(registry, #"processes_messages_dropped_total{reason="mailbox_full"}"#) == 5)
        #expect(metric(registry, #"processes_messages_total{path="local"}"#) == 10)
    }

    @Test("cancel delivers CANCEL(reason) and the process decides its outcome")
    func cancelDeliversEvent() async {
        let pid = runtime.spawnIdle()
        runtime.cancel(pid, reason: "maintenance", from: nil)
        #expect(await runtime.result(of: pid) == .cancelled("maintenance"))
    }

    @Test("terminate stops the process by force with .terminated, even one that ignores its mailbox")
    func terminateGivesTerminated() async throws {
        let started = Recorder()
        let stubborn = runtime.spawn { _ in
            started.append(.cancel(reason: "started"))
            while !Task.isCancelled { await Task.yield() }
            return .normal([1])  // ignored: the outcome was decided when it was terminated
        }
        try await waitUntil(within: .seconds(10), "the body to start") { !started.events.isEmpty }
        #expect(try await runtime.outcome(of: stubborn) { runtime.terminate(stubborn, from: nil) } == .terminated)
        #expect(!runtime.isAlive(stubborn))
        #expect(runtime.processCount == 0)
        #expect(metric(registry, #"processes_exited_total{outcome="terminated"}"#) == 1)
    }

    @Test("result(of:) gives the returned value, nil as normal, the thrown error, or noProcess")
    func resultOfOutcomes() async throws {
        struct Boom: Error, CustomStringConvertible { var description: String { "boom" } }
        let (returning, openReturning) = runtime.spawnGated(.normal([1, 2]))
        let (silent, openSilent) = runtime.spawnGated(nil)
        let (throwing, openThrowing) = runtime.spawnGated(nil, throwing: Boom())
        #expect(try await runtime.outcome(of: returning) { openReturning.yield() } == .normal([1, 2]))
        #expect(try await runtime.outcome(of: silent) { openSilent.yield() } == .normal(nil))
        #expect(try await runtime.outcome(of: throwing) { openThrowing.yield() } == .failed("boom"))
        #expect(await runtime.result(of: returning) == .noProcess)
        #expect(await runtime.result(of: PID(node: NodeID("elsewhere"), incarnation: Incarnation(1), serial: 1)) == .noProcess)
        try await waitUntil(within: .seconds(10), "all exits counted") { runtime.processCount == 0 }
        #expect(metric(registry, #"processes_exited_total{outcome="normal"}"#) == 2)
        #expect(metric(registry, #"processes_exited_total{outcome="failed"}"#) == 1)
        #expect(metric(registry, "processes_spawned_total") == 3)
    }

    @Test("a process whose mailbox is never read still exits normally when its body returns")
    func unreadMailboxExitsNormally() async throws {
        let (pid, open) = runtime.spawnGated(nil)
        for index in 0..<5 {
            runtime.send(from: nil, to: pid, topic: "ignored", payload: bytes(index))
        }
        #expect(try await runtime.outcome(of: pid) { open.yield() } == .normal(nil))
    }

    @Test("send by local name; unknown names throw; names are released on exit")
    func sendByName() async throws {
        let (pid, recorder) = runtime.spawnRecorder()
        try runtime.register("inbox", pid)
        #expect(throws: ProcessError.nameTaken("inbox", current: pid)) { try runtime.register("inbox", runtime.spawnIdle()) }
        try runtime.send(from: nil, to: "inbox", topic: "hello", payload: [1])
        try await recorder.waitFor(.message(ProcessMessage(from: nil, topic: "hello", payload: [1])))
        #expect(throws: ProcessError.noSuchName("nobody")) { try runtime.send(from: nil, to: "nobody", topic: "t", payload: []) }
        runtime.terminate(pid, from: nil)
        #expect(runtime.whereis("inbox") == nil)
    }

    @Test("a process monitors, cancels and terminates by name, as by PID; an unknown name throws noSuchName at once")
    func actByName() async throws {
        let target = runtime.spawnIdle(), doomed = runtime.spawnIdle()
        try runtime.register("svc", target)
        try runtime.register("doomed", doomed)
        let watcher = runtime.spawn { context in
            do {
                try context.monitor("svc")
                try context.monitor("doomed")
                try context.terminate("doomed")
                try context.cancel("svc", reason: "by name")
            } catch {
                return .failed("\(error)")
            }
            do throws(ProcessError) {
                try context.link("nobody")
                return .failed("linking to an unknown name did not throw")
            } catch {
                guard error == .noSuchName("nobody") else { return .failed("\(error)") }
            }
            var exits: [PID: ProcessOutcome] = [:]
            for await event in context.mailbox {
                guard case .exit(let pid, let outcome) = event else { continue }
                exits[pid] = outcome
                if exits.count == 2 {
                    return exits == [target: .cancelled("by name"), doomed: .terminated] ? .normal(nil) : .failed("\(exits)")
                }
            }
            return .failed("mailbox ended")
        }
        #expect(await runtime.result(of: watcher) == .normal(nil))
    }

    @Test("a resolver's answer wins over a local name")
    func resolverPrecedence() async throws {
        struct Fixed: NameResolver {
            let names: [String: PID]
            func resolve(_ name: String) -> PID? { names[name] }
        }
        let (local, localEvents) = runtime.spawnRecorder()
        let (cluster, clusterEvents) = runtime.spawnRecorder()
        try runtime.register("svc", local)
        try runtime.register("only-local", local)
        runtime.addResolver(Fixed(names: [:]))
        runtime.addResolver(Fixed(names: ["svc": cluster]))
        #expect(runtime.resolve("svc") == cluster)
        try runtime.send(from: nil, to: "svc", topic: "a", payload: [])
        try runtime.send(from: nil, to: "only-local", topic: "b", payload: [])
        try await clusterEvents.waitFor(.message(ProcessMessage(from: nil, topic: "a", payload: [])))
        try await localEvents.waitFor(.message(ProcessMessage(from: nil, topic: "b", payload: [])))
        #expect(localEvents.events.count == 1)
    }

    @Test("a message to a PID of another boot of this node is dropped as stale")
    func staleIncarnationDropped() {
        let old = PID(node: runtime.node, incarnation: Incarnation(41), serial: 1)
        runtime.send(from: nil, to: old, topic: "t", payload: [])
        runtime.send(from: nil, to: PID(node: runtime.node, incarnation: runtime.incarnation, serial: 77), topic: "t", payload: [])
        #expect(metric(registry, #"processes_messages_dropped_total{reason="stale_incarnation"}"#) == 1)
        #expect(metric(registry, #"processes_messages_dropped_total{reason="no_process"}"#) == 1)
    }

    @Test("an abnormal exit stops a linked process; a trapping one gets LINK_DOWN")
    func linksWithTasks() async throws {
        struct Boom: Error {}
        let (failing, open) = runtime.spawnGated(nil, throwing: Boom())
        let plain = runtime.spawnIdle()
        let (trapper, events) = runtime.spawnRecorder(trapLinks: true)
        runtime.link(plain, failing)
        runtime.link(failing, trapper)
        #expect(try await runtime.outcome(of: plain) { open.yield() } == .linked(failing))
        try await events.waitFor("LINK_DOWN from the failed process") {
            if case .linkDown(failing, .failed) = $0 { true } else { false }
        }
        #expect(runtime.isAlive(trapper))
    }

    @Test("spawn with a link option is linked before the body runs")
    func spawnLinked() async throws {
        let parent = runtime.spawnIdle()
        let (watcher, events) = runtime.spawnRecorder()
        runtime.monitor(parent, by: watcher)
        let child = runtime.spawn(options: SpawnOptions(link: parent)) { _ in .failed("child died") }
        try await events.waitFor(.exit(parent, .linked(child)))
    }

    @Test("shutdown stops every process and waits for their bodies; later spawns are stopped at once")
    func shutdownStopsAll() async {
        let pids = (0..<10).map { _ in runtime.spawnIdle() }
        await runtime.shutdown()
        #expect(runtime.processCount == 0)
        for pid in pids {
            #expect(await runtime.result(of: pid) == .noProcess)
        }
        let late = runtime.spawn { _ in .normal([9]) }
        #expect(!runtime.isAlive(late))
        #expect(metric(registry, #"processes_exited_total{outcome="terminated"}"#) == 11)
        #expect(metric(registry, "processes_live") == 0)
    }

    @Test("every counter exists at zero before its first event")
    func metricsStartAtZero() {
        for sample in [
            "processes_spawned_total", "processes_live",
            #"processes_messages_total{path="local"}"#, #"processes_messages_total{path="remote_out"}"#,
            #"processes_messages_total{path="remote_in"}"#,
            #"processes_messages_dropped_total{reason="mailbox_full"}"#,
            #"processes_messages_dropped_total{reason="decode_error"}"#,
            #"processes_exited_total{outcome="normal"}"#, #"processes_exited_total{outcome="node_down"}"#,
        ] {
            #expect(metric(registry, sample) == 0, "\(sample)")
        }
        #expect(registry.emitToString().contains("# HELP processes_messages_dropped_total "))
    }
}
