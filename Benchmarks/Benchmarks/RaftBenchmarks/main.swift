import CohortCore
import RaftCore
import RaftPersistence
import Foundation
import Logging
import Mesh
import Raft
import Synchronization

// Three RaftService + MeshService nodes in this process over real loopback TCP, each with FileRaftStorage
// (fsync on) in a temporary directory; tick 100 ms, election timeout 1 s. Measures sequential proposal
// latency to the leader, throughput with concurrent proposers, and the time from a leader crash until a
// proposal commits again. Prints a Markdown report and, last, one `JSON: {...}` line for scripts.
// Options: --sequential N (default 2000), --concurrency N (default 64), --seconds S (default 5),
// --failovers N (default 3), --size B (default 64).

let arguments = CommandLine.arguments
func option(_ name: String, default value: Int) -> Int {
    guard let index = arguments.firstIndex(of: name), index + 1 < arguments.count, let parsed = Int(arguments[index + 1]) else {
        return value
    }
    return parsed
}

let sequentialCount = option("--sequential", default: 2000)
let concurrency = option("--concurrency", default: 64)
let concurrentSeconds = option("--seconds", default: 5)
let failoverCount = option("--failovers", default: 3)
let commandSize = option("--size", default: 64)
let logger = Logger(label: "raft-bench") { _ in SwiftLogNoOpLogHandler() }

/// A unique loopback address per node.
let addressCounter = Atomic<Int>(1)
func nextAddress() -> String {
    let n = addressCounter.add(1, ordering: .relaxed).newValue
    return "127.78.\(n / 250).\(n % 250 + 2)"
}

func seconds(_ duration: Duration) -> Double {
    Double(duration.components.seconds) + Double(duration.components.attoseconds) / 1e18
}

func percentile(_ sorted: [Double], _ p: Double) -> Double {
    sorted.isEmpty ? .nan : sorted[min(sorted.count - 1, Int(Double(sorted.count) * p))]
}

/// utime + stime of this process, in seconds.
func cpuSeconds() -> Double {
    guard let stat = try? String(contentsOfFile: "/proc/self/stat", encoding: .utf8), let close = stat.lastIndex(of: ")") else { return 0 }
    let fields = stat[stat.index(after: close)...].split(separator: " ")
    return Double((Int(fields[11]) ?? 0) + (Int(fields[12]) ?? 0)) / Double(sysconf(Int32(_SC_CLK_TCK)))
}

func loadAverage() -> String {
    (try? String(contentsOfFile: "/proc/loadavg", encoding: .utf8))?.split(separator: " ").prefix(3).joined(separator: " ") ?? "?"
}

/// Applies nothing and keeps nothing: the cost measured is Raft's, not the application's.
struct NullStateMachine: RaftStateMachine {
    func apply(_ entry: LogEntry) -> [UInt8] { [] }
    func snapshot() -> @Sendable () -> [UInt8] { { [] } }
    func restore(_ data: [UInt8]) {}
}

/// One running node: its mesh and Raft service run in one task; cancelling it is a crash.
struct Node {
    let id: NodeID
    let incarnation: UInt64
    let host: String
    let port: Int
    let mesh: MeshService
    let raft: RaftService
    let task: Task<Void, any Error>

    func crash() async {
        task.cancel()
        _ = try? await task.value
    }
}

let directory = FileManager.default.temporaryDirectory.appendingPathComponent("cohort-raft-bench-\(UUID().uuidString)").path


func start(_ name: String, incarnation: UInt64, host: String, bootstrap voters: [NodeID]?) async throws -> Node {
    var meshSettings = MeshSettings(nodeID: NodeID(name), incarnation: Incarnation(incarnation))
    meshSettings.bindHost = host
    let mesh = MeshService(settings: meshSettings, logger: logger)
    let settings = RaftServiceSettings(nodeID: NodeID(name), heartbeatInterval: .milliseconds(100), electionTimeout: .seconds(1))
    let storage = FileRaftStorage(directory: directory + "/" + name + "/_sys/raft")
    let raft = RaftService(settings: settings, storage: storage, mesh: mesh, stateMachine: NullStateMachine(), logger: logger)
    if let voters { try await raft.bootstrap(voters: voters) }
    let task = Task {
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { try await mesh.run() }
            group.addTask { try await raft.run() }
            try await group.next()
            group.cancelAll()
        }
    }
    while await mesh.boundPort == nil { try await Task.sleep(for: .milliseconds(1)) }
    return Node(id: NodeID(name), incarnation: incarnation, host: host, port: await mesh.boundPort!, mesh: mesh, raft: raft, task: task)
}

func introduce(_ nodes: [Node]) async {
    for node in nodes {
        for other in nodes where other.id != node.id {
            await node.mesh.setPeer(other.id, host: other.host, port: other.port, incarnation: Incarnation(other.incarnation))
        }
    }
}

/// Waits (at most 60 s) until one node leads and every node follows it in the same term, with all caught up.
func waitForLeader(_ nodes: [Node]) async throws -> Node {
    let deadline = ContinuousClock.now + .seconds(60)
    while ContinuousClock.now < deadline {
        var statuses: [RaftStatus] = []
        for node in nodes { statuses.append(await node.raft.status) }
        let leaders = statuses.indices.filter { statuses[$0].state == .leader }
        if leaders.count == 1 {
            let leader = statuses[leaders[0]]
            if statuses.allSatisfy({ $0.leader == nodes[leaders[0]].id && $0.term == leader.term && $0.appliedIndex == leader.appliedIndex }) {
                return nodes[leaders[0]]
            }
        }
        try await Task.sleep(for: .milliseconds(10))
    }
    fatalError("no leader within 60 s")
}

let names = ["a", "b", "c"]
var nodes: [Node] = []
for name in names {
    nodes.append(try await start(name, incarnation: 1, host: nextAddress(), bootstrap: names.map { NodeID($0) }))
}
await introduce(nodes)
var leader = try await waitForLeader(nodes)
let payload = [UInt8](repeating: 0x42, count: commandSize)
let startLoad = loadAverage()

// (a) One proposer, sequential, to the leader.
for _ in 0..<200 { _ = try await leader.raft.propose(payload, timeout: .seconds(10)) }
var sequential: [Double] = []
sequential.reserveCapacity(sequentialCount)
let sequentialStarted = ContinuousClock.now
for _ in 0..<sequentialCount {
    let started = ContinuousClock.now
    _ = try await leader.raft.propose(payload, timeout: .seconds(10))
    sequential.append(seconds(started.duration(to: .now)) * 1e3)
}
let sequentialRate = Double(sequentialCount) / seconds(sequentialStarted.duration(to: .now))
sequential.sort()

// (b) Many proposers (tasks), each proposing sequentially to the leader, for a bounded time.
let cpuBefore = cpuSeconds()
let concurrentResult: (count: Int, errors: Int, elapsed: Double, samples: [Double]) = try await {
    let raft = leader.raft
    let started = ContinuousClock.now
    let stopAt = started + .seconds(concurrentSeconds)
    return try await withThrowingTaskGroup(of: (samples: [Double], errors: Int).self) { group in
        for _ in 0..<concurrency {
            group.addTask {
                var samples: [Double] = []
                var errors = 0
                while ContinuousClock.now < stopAt {
                    let begun = ContinuousClock.now
                    do {
                        _ = try await raft.propose(payload, timeout: .seconds(10))
                        samples.append(seconds(begun.duration(to: .now)) * 1e3)
                    } catch {
                        errors += 1
                    }
                }
                return (samples, errors)
            }
        }
        var all: [Double] = []
        var errors = 0
        for try await result in group {
            all += result.samples
            errors += result.errors
        }
        return (all.count, errors, seconds(started.duration(to: .now)), all.sorted())
    }
}()
let concurrentRate = Double(concurrentResult.count) / concurrentResult.elapsed
let concurrentCores = (cpuSeconds() - cpuBefore) / concurrentResult.elapsed

// (c) Failover: a proposer loops on a node that survives; the leader crashes (its services are cancelled);
// from that instant a prober proposes on a survivor (200 ms per attempt, 10 ms between failures) until one
// commits. The crashed node is then restarted over its files and the cluster settles before the next round.
var failovers: [Double] = []
for _ in 0..<failoverCount {
    let survivors = nodes.filter { $0.id != leader.id }
    let target = survivors[0].raft
    let looping = Atomic<Bool>(true)
    let loop = Task {
        while looping.load(ordering: .relaxed) {
            do { _ = try await target.propose(payload, timeout: .milliseconds(200)) } catch { try? await Task.sleep(for: .milliseconds(10)) }
        }
    }
    try await Task.sleep(for: .milliseconds(300))
    let crashed = ContinuousClock.now
    let crashing = Task { await leader.crash() }
    var recovered: Double?
    var attempt = 0
    while recovered == nil, ContinuousClock.now < crashed + .seconds(30) {
        let raft = survivors[attempt % survivors.count].raft
        attempt += 1
        do {
            _ = try await raft.propose(payload, timeout: .milliseconds(200))
            recovered = seconds(crashed.duration(to: .now)) * 1e3
        } catch {
            try await Task.sleep(for: .milliseconds(10))
        }
    }
    await crashing.value
    looping.store(false, ordering: .relaxed)
    await loop.value
    failovers.append(recovered ?? .infinity)
    let restarted = try await start(leader.id.rawValue, incarnation: leader.incarnation + 1, host: leader.host, bootstrap: nil)
    nodes = survivors + [restarted]
    await introduce(nodes)
    leader = try await waitForLeader(nodes)
    try await Task.sleep(for: .milliseconds(500))
}
let endLoad = loadAverage()
for node in nodes { await node.crash() }
try? FileManager.default.removeItem(atPath: directory)

print("# Cohort Raft benchmarks")
print()
print(
    "Cores: \(ProcessInfo.processInfo.activeProcessorCount), load average at start: \(startLoad), at end: \(endLoad). "
        + "Three RaftService + MeshService nodes in one process, loopback TCP, FileRaftStorage (fsync on) in \(FileManager.default.temporaryDirectory.path), "
        + "tick 100 ms, election timeout 1 s, \(commandSize) B commands, a state machine that keeps nothing."
)
print()
print("| workload | ops/s | p50 | p99 | errors |")
print("|---|---|---|---|---|")
print(String(
    format: "| (a) 1 proposer, %d sequential, to the leader | %.0f | %.2f ms | %.2f ms | 0 |",
    sequentialCount, sequentialRate, percentile(sequential, 0.5), percentile(sequential, 0.99)
))
print(String(
    format: "| (b) %d concurrent proposers, %.1f s, to the leader | %.0f | %.2f ms | %.2f ms | %d |",
    concurrency, concurrentResult.elapsed, concurrentRate, percentile(concurrentResult.samples, 0.5),
    percentile(concurrentResult.samples, 0.99), concurrentResult.errors
))
print()
print(String(format: "During (b) the process (three nodes and the proposers) used %.2f cores.", concurrentCores))
print()
print("(c) Leader crash (services cancelled) to the next committed proposal on a survivor: "
    + failovers.map { String(format: "%.0f ms", $0) }.joined(separator: ", "))
print()
func json(_ value: Double) -> String { value.isFinite ? String(format: "%.4f", value) : "null" }
print(
    "JSON: {\"sequential\": {\"n\": \(sequentialCount), \"ops\": \(json(sequentialRate)), \"p50_ms\": \(json(percentile(sequential, 0.5))), "
        + "\"p99_ms\": \(json(percentile(sequential, 0.99)))}, \"concurrent\": {\"clients\": \(concurrency), \"n\": \(concurrentResult.count), "
        + "\"errors\": \(concurrentResult.errors), \"seconds\": \(json(concurrentResult.elapsed)), \"ops\": \(json(concurrentRate)), "
        + "\"p50_ms\": \(json(percentile(concurrentResult.samples, 0.5))), \"p99_ms\": \(json(percentile(concurrentResult.samples, 0.99))), \"cores\": \(json(concurrentCores))}, "
        + "\"failover_ms\": [\(failovers.map(json).joined(separator: ", "))], \"load_start\": \"\(startLoad)\", \"load_end\": \"\(endLoad)\"}"
)
