import CohortCore
import Foundation
import Logging
import Mesh
import Synchronization

// Relay throughput, request/reply latency and memory per connection between in-process MeshService nodes
// over real loopback TCP. Prints a Markdown report. Options: --messages N (default 1,000,000),
// --requests N (default 20,000), --spokes N (default 50).

let arguments = CommandLine.arguments
func option(_ name: String, default value: Int) -> Int {
    guard let index = arguments.firstIndex(of: name), index + 1 < arguments.count, let parsed = Int(arguments[index + 1]) else {
        return value
    }
    return parsed
}

let messageCount = option("--messages", default: 1_000_000)
let requestCount = option("--requests", default: 20_000)
let spokeCount = option("--spokes", default: 50)
let key = [UInt8](repeating: 0x5A, count: 32)
let logger = Logger(label: "mesh-bench") { _ in SwiftLogNoOpLogHandler() }

/// A unique loopback address per node, so every node gets port 7950 on its own address.
let addressCounter = Atomic<Int>(1)
func nextAddress() -> String {
    let n = addressCounter.add(1, ordering: .relaxed).newValue
    return "127.77.\(n / 250).\(n % 250 + 2)"
}

/// Resident set size, in bytes.
func residentBytes() -> Int {
    guard let statm = try? String(contentsOfFile: "/proc/self/statm", encoding: .utf8) else { return 0 }
    let fields = statm.split(separator: " ")
    return (fields.count > 1 ? Int(fields[1]) ?? 0 : 0) * Int(sysconf(Int32(_SC_PAGESIZE)))
}

/// One running node.
struct Node {
    let id: NodeID
    let host: String
    let port: Int
    let service: MeshService
    let task: Task<Void, any Error>
}

func start(_ name: String, keyring: [[UInt8]] = [], handlers: (MeshService) -> Void = { _ in }) async throws -> Node {
    var settings = MeshSettings(nodeID: NodeID(name), incarnation: Incarnation(1))
    settings.bindHost = nextAddress()
    settings.keyring = keyring
    let service = MeshService(settings: settings, logger: logger)
    handlers(service)
    let task = Task { try await service.run() }
    while await service.boundPort == nil { try await Task.sleep(for: .milliseconds(1)) }
    return Node(id: settings.nodeID, host: settings.bindHost, port: await service.boundPort!, service: service, task: task)
}

func connect(_ a: Node, _ b: Node) async throws {
    await a.service.setPeer(b.id, host: b.host, port: b.port, incarnation: Incarnation(1))
    await b.service.setPeer(a.id, host: a.host, port: a.port, incarnation: Incarnation(1))
    // The mesh connects on demand (a peer it knows is dialed when something is sent, or when asked).
    a.service.connect(to: b.id)
    while !(a.service.isConnected(to: b.id) && b.service.isConnected(to: a.id)) { try await Task.sleep(for: .milliseconds(1)) }
}

func stop(_ nodes: [Node]) async {
    for node in nodes { node.task.cancel() }
    for node in nodes { _ = try? await node.task.value }
}

func seconds(_ duration: Duration) -> Double {
    Double(duration.components.seconds) + Double(duration.components.attoseconds) / 1e18
}

/// Sends `count` messages of `size` bytes from a to b in `trafficClass` as fast as the queue takes them;
/// returns messages per second, measured until the last one is delivered.
func throughput(encrypted: Bool, size: Int, count: Int, trafficClass: TrafficClass) async throws -> (rate: Double, retries: Int) {
    let received = Atomic<Int>(0)
    let keyring = encrypted ? [key] : []
    let a = try await start("a", keyring: keyring)
    let b = try await start("b", keyring: keyring) { service in
        service.setMessageHandler(for: .processes) { _ in received.add(1, ordering: .relaxed) }
    }
    try await connect(a, b)
    let payload = [UInt8](repeating: 0xA5, count: size)
    var retries = 0
    let started = ContinuousClock.now
    var sent = 0
    while sent < count {
        switch a.service.send(payload, to: b.id, endpoint: .processes, class: trafficClass) {
        case .queued:
            sent += 1
        case .dropped(.queueFull):
            retries += 1
            await Task.yield()
        case .dropped(let reason):
            fatalError("send failed: \(reason)")
        }
    }
    while received.load(ordering: .relaxed) < count { try await Task.sleep(for: .microseconds(200)) }
    let elapsed = seconds(started.duration(to: .now))
    await stop([a, b])
    return (Double(count) / elapsed, retries)
}

/// Sequential request/reply round trips; returns the sorted latencies in microseconds.
func latencies(encrypted: Bool, count: Int) async throws -> [Double] {
    let keyring = encrypted ? [key] : []
    let a = try await start("a", keyring: keyring)
    let b = try await start("b", keyring: keyring) { service in
        service.setRequestHandler(for: .raft) { $0.payload }
    }
    try await connect(a, b)
    let payload = [UInt8](repeating: 1, count: 64)
    for _ in 0..<1000 { _ = try await a.service.request(payload, to: b.id, endpoint: .raft, class: .raft, timeout: .seconds(5)) }
    var samples: [Double] = []
    samples.reserveCapacity(count)
    for _ in 0..<count {
        let started = ContinuousClock.now
        _ = try await a.service.request(payload, to: b.id, endpoint: .raft, class: .raft, timeout: .seconds(5))
        samples.append(seconds(started.duration(to: .now)) * 1e6)
    }
    await stop([a, b])
    return samples.sorted()
}

/// Resident memory added per connection: a hub connected to `spokes` nodes, measured before and after
/// connecting (both ends of each connection live in this process) and after one message each way.
func memoryPerConnection(spokes: Int) async throws -> (idle: Double, used: Double) {
    let hub = try await start("hub") { $0.setMessageHandler(for: .processes) { _ in } }
    var nodes: [Node] = []
    for index in 0..<spokes {
        nodes.append(try await start(String(format: "spoke-%03d", index)) { $0.setMessageHandler(for: .processes) { _ in } })
    }
    try await Task.sleep(for: .milliseconds(200))
    let before = residentBytes()
    for node in nodes { try await connect(hub, node) }
    try await Task.sleep(for: .milliseconds(200))
    let connected = residentBytes()
    for node in nodes {
        _ = hub.service.send([UInt8](repeating: 1, count: 1024), to: node.id, endpoint: .processes, class: .relay)
        _ = node.service.send([UInt8](repeating: 1, count: 1024), to: hub.id, endpoint: .processes, class: .relay)
    }
    for node in nodes {
        while hub.service.queueDepth(to: node.id, class: .relay) > 0 || node.service.queueDepth(to: hub.id, class: .relay) > 0 {
            try await Task.sleep(for: .milliseconds(1))
        }
    }
    let used = residentBytes()
    await stop([hub] + nodes)
    return (Double(connected - before) / Double(spokes), Double(used - before) / Double(spokes))
}

func percentile(_ sorted: [Double], _ p: Double) -> Double {
    sorted[min(sorted.count - 1, Int(Double(sorted.count) * p))]
}

let load = (try? String(contentsOfFile: "/proc/loadavg", encoding: .utf8))?.split(separator: " ").prefix(3).joined(separator: " ") ?? "?"
print("# Mesh benchmarks")
print()
print("Cores: \(ProcessInfo.processInfo.activeProcessorCount), load average at start: \(load). Two MeshService nodes in one process, loopback TCP, default settings.")
print()
print("| workload | plaintext | encrypted (AES-256-GCM) |")
print("|---|---|---|")
for (name, size, trafficClass) in [("relay 1 KiB", 1024, TrafficClass.relay), ("raft 1 KiB", 1024, .raft), ("relay 64 B", 64, .relay)] {
    let plain = try await throughput(encrypted: false, size: size, count: messageCount, trafficClass: trafficClass)
    let sealed = try await throughput(encrypted: true, size: size, count: messageCount, trafficClass: trafficClass)
    func cell(_ result: (rate: Double, retries: Int)) -> String {
        String(format: "%.0f msg/s (%.1f MiB/s)", result.rate, result.rate * Double(size) / 1_048_576)
    }
    print("| \(name), \(messageCount) messages | \(cell(plain)) | \(cell(sealed)) |")
}
print()
print("| request/reply, 64 B, raft class, \(requestCount) sequential | p50 | p99 | p99.9 |")
print("|---|---|---|---|")
for encrypted in [false, true] {
    let samples = try await latencies(encrypted: encrypted, count: requestCount)
    print(String(
        format: "| %@ | %.0f µs | %.0f µs | %.0f µs |",
        encrypted ? "encrypted" : "plaintext", percentile(samples, 0.5), percentile(samples, 0.99), percentile(samples, 0.999)
    ))
}
let memory = try await memoryPerConnection(spokes: spokeCount)
print()
print(String(
    format: "Resident memory per connection (%d hub–spoke connections, both ends in-process): %.0f KiB idle, %.0f KiB after 1 KiB each way.",
    spokeCount, memory.idle / 1024, memory.used / 1024
))
