@testable import Cohort
import CohortCore
import CohortTestKit
import Logging
import Mesh
import Processes
import Prometheus
import Synchronization
import Testing

/// The process-group shell: the Swift API on a node with the cluster disabled (groups work locally there),
/// and two scopes joined by an in-memory channel for what crosses nodes.
@Suite("Process groups, the shell")
struct GroupScopeTests {
    static func node(pg: String = "") throws -> CohortNode {
        let settings = try ConfigLoader(environment: [:], hostName: "solo", homeDirectory: nil) { _ in [] }
            .load(yaml: "cluster:\n  enabled: false\n" + pg)
        return CohortNode(settings: settings, logger: Logger(label: "test"), boot: NodeBoot(incarnation: Incarnation(3)))
    }

    /// A process that keeps every message it receives until its mailbox ends.
    static func collector(_ node: CohortNode, into box: Shared<[PID: [String]]>) -> PID {
        node.processes.spawn { context in
            for await event in context.mailbox {
                if case .message(let message) = event { box.withLock { $0[context.pid, default: []].append(message.topic) } }
            }
            return nil
        }
    }

    @Test("docs/groups.md's example: join twice, broadcast once to each member, leave, and an exit takes the rest")
    func readmeExample() async throws {
        let node = try Self.node()
        let received = Shared<[PID: [String]]>([:])
        let workers = (0..<3).map { _ in Self.collector(node, into: received) }
        let jobs = try node.groups()
        try jobs.join("workers", workers)
        try jobs.join("workers", workers[0])
        #expect(jobs.members("workers").count == 4)
        #expect(jobs.localMembers("workers") == jobs.members("workers"))
        #expect(jobs.whichGroups() == ["workers"])
        #expect(jobs.groups(of: workers[0]) == ["workers"])
        #expect(jobs.broadcast("workers", topic: "job-1") == 3, "each distinct member once")
        #expect(jobs.broadcastLocal("workers", topic: "job-2") == 3)
        try await waitUntil(within: .seconds(10), "three members to receive both broadcasts") {
            received.withLock { $0.count == 3 && $0.values.allSatisfy { $0 == ["job-1", "job-2"] } }
        }
        #expect(jobs.leave("workers", workers[0]))
        #expect(jobs.members("workers").count == 3, "joined twice, left once: still a member")
        #expect(!jobs.leave("workers", node.processes.spawn { _ in nil }), "never joined: not_joined")
        // An exit takes every membership of the process.
        node.processes.terminate(workers[0], from: nil)
        try await waitUntil(within: .seconds(10), "the exited process to leave") { jobs.members("workers").count == 2 }
        #expect(throws: GroupError.unknownScope("nope")) { try node.groups("nope") }
    }

    @Test("only this node's live processes join; bad names and max_groups are refused and change nothing")
    func badInput() async throws {
        let node = try Self.node(pg: "pg:\n  scopes:\n    - name: default\n      max_groups: 1\n")
        let groups = try node.groups()
        let live = node.processes.spawn { context in
            for await _ in context.mailbox {}
            return nil
        }
        let dead = node.processes.spawn { _ in nil }
        _ = await node.processes.result(of: dead)
        #expect(throws: GroupError.notLocal(dead.description)) { try groups.join("g", [live, dead]) }
        let remote = PID(node: NodeID("elsewhere"), incarnation: Incarnation(3), serial: 1)
        #expect(throws: GroupError.notLocal(remote.description)) { try groups.join("g", remote) }
        #expect(throws: GroupError.self) { try groups.join(String(repeating: "x", count: 2000), live) }
        #expect(groups.whichGroups() == [], "a refused join adds no member, not even the valid ones")
        try groups.join("g", live)
        #expect(throws: GroupError.tooManyGroups(limit: 1)) { try groups.join("h", live) }
        #expect(groups.whichGroups() == ["g"])
    }

    @Test("monitors: the snapshot and the events after it add up to the membership at the end, under concurrent joins and leaves")
    func monitorAtomicity() async throws {
        let node = try Self.node()
        let scope = try node.groups()
        let pids = (0..<16).map { _ in
            node.processes.spawn { context in
                for await _ in context.mailbox {}
                return nil
            }
        }
        let groups = ["g1", "g2", "g3"]
        // Monitors are taken at random moments while four tasks join and leave; each one replays its
        // snapshot and events into what it believes the membership is. When the writers are done, the
        // monitors are cancelled: each then ends after the events it has buffered.
        let monitors = Shared<[GroupMonitor]>([])
        let replays = try await withThrowingTaskGroup(of: [Replay].self) { group in
            // Four writers run throughout.
            async let writing: Void = withThrowingTaskGroup(of: Void.self) { writers in
                for worker in 0..<4 {
                    writers.addTask {
                        var rng = SplitMix64(seed: UInt64(100 + worker))
                        for _ in 0..<3_000 {
                            let pid = pids[Int(rng.next() % UInt64(pids.count))]
                            let name = groups[Int(rng.next() % 3)]
                            if rng.next() % 2 == 0 { try scope.join(name, pid) } else { scope.leave(name, pid) }
                            if rng.next() % 64 == 0 { await Task.yield() }
                        }
                    }
                }
                try await writers.waitForAll()
            }
            for taker in 0..<6 {
                // Taken while the writers write (after letting them run a little).
                for _ in 0..<(taker * 20) { await Task.yield() }
                let monitor = taker % 2 == 0 ? scope.monitorScope() : scope.monitor("g1")
                monitors.withLock { $0.append(monitor) }
                group.addTask {
                    var state = monitor.snapshot.mapValues { Self.counts($0) }
                    for await event in monitor {
                        switch event {
                        case .join(let name, let joined): for pid in joined { state[name, default: [:]][pid, default: 0] += 1 }
                        case .leave(let name, let left): for pid in left { state[name, default: [:]][pid, default: 0] -= 1 }
                        case .resync: Issue.record("the monitor fell behind")
                        }
                    }
                    let members = state.mapValues { counts in counts.flatMap { Array(repeating: $0.key, count: $0.value) }.sorted() }
                    return [Replay(wholeScope: taker % 2 == 0, members: members.filter { !$0.value.isEmpty })]
                }
            }
            try await writing
            // Cancelled, each monitor ends after the events it has buffered.
            for monitor in monitors.withLock({ $0 }) { monitor.cancel() }
            var replays: [Replay] = []
            for try await result in group { replays += result }
            return replays
        }
        let final = Dictionary(uniqueKeysWithValues: groups.map { ($0, scope.members($0)) }).filter { !$0.value.isEmpty }
        #expect(replays.count == 6)
        for replay in replays {
            let same = replay.members == (replay.wholeScope ? final : final.filter { $0.key == "g1" })
            #expect(same, "a \(replay.wholeScope ? "scope" : "group") monitor replays its snapshot and events to another membership than the scope's")
        }
        // Planted once: taking the snapshot before registering the monitor (outside the lock) fails this test.
    }

    @Test("a malformed pg frame, or one from a node that is not up, is counted and dropped; the scope is unaffected")
    func badFramesFromPeers() throws {
        let node = try Self.node()
        let scope = try node.groups()
        let member = node.processes.spawn { context in
            for await _ in context.mailbox {}
            return nil
        }
        try scope.join("g", member)
        func inbound(_ payload: [UInt8]) -> MeshInbound {
            MeshInbound(from: NodeID("peer"), incarnation: Incarnation(1), endpoint: .groups, trafficClass: .relay, payload: payload)
        }
        for garbage: [UInt8] in [[], [1], [9, 1, 0x61, 7], [1, 7, 100, 101, 102, 97, 117, 108, 116, 1, 0xff, 0xff, 0xff, 0xff]] {
            node.processGroups.receive(inbound(garbage))
        }
        node.processGroups.receive(inbound(GroupFrame.encode(scope: "elsewhere", .beat)))
        let update = GroupMessage.update(firstSeq: 1, ops: [GroupOp(.join, group: "g", serials: [5])])
        node.processGroups.receive(inbound(GroupFrame.encode(scope: "default", update)))
        let text = node.metrics.render()
        #expect(metricValue(in: text, "pg_dropped_total", ["scope": "_unknown", "reason": "malformed"]) == 4)
        #expect(metricValue(in: text, "pg_dropped_total", ["scope": "_unknown", "reason": "unknown_scope"]) == 1)
        #expect(metricValue(in: text, "pg_dropped_total", ["scope": "default", "reason": "unknown_node"]) == 1)
        #expect(scope.members("g") == [member])
        #expect(metricValue(in: text, "pg_members", ["scope": "default", "locality": "local"]) == 1)
    }

    @Test("a peer whose queue refuses every send is retried, then its breaker opens; the other peer gets every update meanwhile")
    func aStuckPeerDoesNotHoldTheOthers() throws {
        let clock = Shared<UInt64>(1)
        let sent = Shared<[NodeID: [GroupMessage]]>([:])
        let transport = GroupTransport(
            send: { frame, peer in
                guard peer != NodeID("stuck") else { return "queue_full" }
                let message = try! GroupFrame.decode(frame).message
                sent.withLock { $0[peer, default: []].append(message) }
                return nil
            },
            deliver: { _, recipients, _, _ in recipients.count },
            isAlive: { _ in true },
            now: { clock.withLock { $0 } }
        )
        let registry = PrometheusCollectorRegistry()
        let settings = ProcessGroupScopeSettings(name: "s", syncInterval: .milliseconds(100), antiEntropyInterval: .seconds(10), maxRetries: 2)
        let scope = GroupScope(
            settings: settings, node: NodeID("me"), incarnation: Incarnation(1), transport: transport,
            metrics: GroupMetrics(scope: "s", registry: registry), clustered: true
        )
        scope.nodeUp(NodeID("fine"), incarnation: Incarnation(1))
        scope.nodeUp(NodeID("stuck"), incarnation: Incarnation(1))
        // The fine peer acknowledges what it gets.
        let ack = { scope.receive(.syncAck(seq: .max), from: NodeID("fine"), incarnation: Incarnation(1)) }
        ack()
        for serial in 1...3 {
            try scope.join("g", PID(node: NodeID("me"), incarnation: Incarnation(1), serial: UInt64(serial)))
            scope.flush()
            clock.withLock { $0 += 100 }
            scope.tick(random: 0)
            ack()
        }
        // The stuck peer: the first sync and two retries failed, then the breaker opened.
        var text = registry.emitToString()
        #expect(metricValue(in: text, "pg_sync_total", ["scope": "s", "result": "failed"]) == 1)
        #expect(metricValue(in: text, "pg_sync_total", ["scope": "s", "result": "retried"]) == 2)
        #expect((metricValue(in: text, "pg_dropped_total", ["scope": "s", "reason": "queue_full"]) ?? 0) >= 3)
        // While open, nothing is even tried for it; the fine peer gets each change.
        try scope.join("g", PID(node: NodeID("me"), incarnation: Incarnation(1), serial: 9))
        scope.flush()
        text = registry.emitToString()
        #expect(metricValue(in: text, "pg_dropped_total", ["scope": "s", "reason": "breaker_open"]) == 1)
        let updates = sent.withLock { $0[NodeID("fine")] ?? [] }.filter { if case .update = $0 { true } else { false } }
        #expect(updates.count == 4)
    }

    struct Replay: Sendable {
        var wholeScope: Bool
        var members: [String: [PID]]
    }

    static func counts(_ pids: [PID]) -> [PID: Int] {
        pids.reduce(into: [:]) { $0[$1, default: 0] += 1 }
    }

    /// The next event, or nil once `stop` is set and no event came within a moment.
    static func next(_ iterator: inout GroupMonitor.AsyncIterator, stop: Shared<Bool>) async -> GroupMonitorEvent? {
        let monitor = iterator.monitor
        while true {
            if let event = monitor.channel.poll() { return event }
            if stop.withLock({ $0 }) { return monitor.channel.poll() }
            await Task.yield()
        }
    }
}

/// A value shared between tasks, behind a lock.
final class Shared<Value: Sendable>: Sendable {
    private let mutex: Mutex<Value>

    init(_ value: Value) {
        mutex = Mutex(value)
    }

    func withLock<T: Sendable>(_ body: (inout Value) -> T) -> T {
        mutex.withLock { body(&$0) }
    }
}
