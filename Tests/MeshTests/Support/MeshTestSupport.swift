import CohortCore
import CohortTestKit
import Logging
import NIOCore
import NIOPosix
import Prometheus
import ServiceLifecycle
import Synchronization
@testable import Mesh

// Support for the MeshService tests: real sockets on distinct 127.x addresses from CohortTestKit, conditions
// awaited with a deadline (never a sleep), each node's log printed when a test throws, every node stopped.

/// Polls `condition` until it holds or throws after `within` (generous: tests run in parallel on 2 cores).
func waitFor(
    _ waitingFor: String, within: Duration = .seconds(60), pollEvery: Duration = .milliseconds(5),
    fileID: String = #fileID, line: Int = #line, _ condition: () async throws -> Bool
) async throws {
    try await waitUntil(within: within, waitingFor, pollEvery: pollEvery, fileID: fileID, line: line, condition)
}

/// A test endpoint no Cohort subsystem uses.
let testEndpoint = MeshEndpoint(rawValue: 100)

/// Everything delivered to a node's message handlers, in delivery order.
final class Inbox: Sendable {
    private let messages = Mutex<[MeshInbound]>([])

    func append(_ message: MeshInbound) {
        messages.withLock { $0.append(message) }
    }

    var all: [MeshInbound] { messages.withLock { $0 } }
    var count: Int { messages.withLock { $0.count } }

    /// The messages to `endpoint` from `peer`.
    func from(_ peer: NodeID, endpoint: MeshEndpoint = testEndpoint) -> [MeshInbound] {
        messages.withLock { $0.filter { $0.from == peer && $0.endpoint == endpoint } }
    }
}

/// The payload `index` as 4 big-endian bytes, padded with its low byte to `size`.
func numbered(_ index: Int, size: Int = 4) -> [UInt8] {
    var bytes = withUnsafeBytes(of: UInt32(index).bigEndian, Array.init)
    if size > 4 { bytes += [UInt8](repeating: UInt8(truncatingIfNeeded: index), count: size - 4) }
    return bytes
}

/// The index of a ``numbered(_:size:)`` payload.
func number(of payload: [UInt8]) -> Int {
    payload.prefix(4).reduce(0) { $0 << 8 | Int($1) }
}

/// One running MeshService with recording handlers on every Cohort endpoint and ``testEndpoint``.
final class MeshTestNode: Sendable {
    let id: NodeID
    let incarnation: Incarnation
    let host: String
    let port: Int
    let service: MeshService
    let registry: PrometheusCollectorRegistry
    let logs: LogBuffer
    let inbox: Inbox
    private let running: RunningServices

    private init(
        id: NodeID, incarnation: Incarnation, host: String, port: Int, service: MeshService,
        registry: PrometheusCollectorRegistry, logs: LogBuffer, inbox: Inbox, running: RunningServices
    ) {
        self.id = id
        self.incarnation = incarnation
        self.host = host
        self.port = port
        self.service = service
        self.registry = registry
        self.logs = logs
        self.inbox = inbox
        self.running = running
    }

    /// Starts a node on `host` (a fresh loopback address by default) and waits until it has bound.
    /// `handlers` may register more handlers before `run()`.
    static func start(
        _ name: String, incarnation: UInt64 = 1, host: String = uniqueLoopbackAddress(), port: Int = 0,
        keyring: [[UInt8]] = [], configure: (inout MeshSettings) -> Void = { _ in },
        handlers: (MeshService) -> Void = { _ in }
    ) async throws -> MeshTestNode {
        var settings = MeshSettings(nodeID: NodeID(name), incarnation: Incarnation(incarnation))
        settings.bindHost = host
        settings.bindPort = port
        settings.keyring = keyring
        settings.reconnect.initial = .milliseconds(10)
        settings.reconnect.maximum = .milliseconds(200)
        configure(&settings)
        let logs = LogBuffer()
        let logger = Logger(label: "mesh.\(name)") { _ in BufferLogHandler(buffer: logs) }
        let registry = PrometheusCollectorRegistry()
        let service = MeshService(settings: settings, logger: logger, metrics: registry)
        let inbox = Inbox()
        for endpoint in [.processes, .raft, .raftSnapshot, .forward, .groups, .names, testEndpoint] as [MeshEndpoint] {
            service.setMessageHandler(for: endpoint) { inbox.append($0) }
        }
        handlers(service)
        let running = RunningServices([service], logger: logger)
        guard let bound = await service.waitUntilBound() else {
            for line in logs.all { print("[\(name)] \(line)") }
            try await running.result()
            throw MeshDidNotBind(node: name)
        }
        return MeshTestNode(
            id: NodeID(name), incarnation: Incarnation(incarnation), host: host, port: bound, service: service,
            registry: registry, logs: logs, inbox: inbox, running: running
        )
    }

    /// Graceful shutdown, waiting for `run()` to return.
    func stop() async throws {
        try await running.stop()
    }

    /// Cancels `run()`: everything closes at once.
    func crash() async {
        await running.crash()
    }

    /// Tells this node about `other` (its address and incarnation).
    func know(_ other: MeshTestNode) async {
        await service.setPeer(other.id, host: other.host, port: other.port, incarnation: other.incarnation)
    }

    /// The value of the sample of `name` whose labels include every pair of `labels`.
    func metric(_ name: String, _ labels: [String: String] = [:]) -> Double? {
        metricValue(in: registry.emitToString(), name, labels)
    }

    /// Whether the metric text has any sample of `name` with `labels`.
    func hasMetric(_ name: String, _ labels: [String: String]) -> Bool {
        metric(name, labels) != nil
    }
}

/// The nodes of one test: prints their logs when the test throws and stops every node at the end.
final class MeshCluster: Sendable {
    private let nodes = Mutex<[MeshTestNode]>([])

    /// Starts a node and remembers it.
    func start(
        _ name: String, incarnation: UInt64 = 1, host: String = uniqueLoopbackAddress(), port: Int = 0,
        keyring: [[UInt8]] = [], configure: (inout MeshSettings) -> Void = { _ in },
        handlers: (MeshService) -> Void = { _ in }
    ) async throws -> MeshTestNode {
        let node = try await MeshTestNode.start(
            name, incarnation: incarnation, host: host, port: port, keyring: keyring, configure: configure, handlers: handlers
        )
        nodes.withLock { $0.append(node) }
        return node
    }

    /// Introduces `a` and `b` to each other, has `a` dial `b` and waits until both see the connection.
    func connect(_ a: MeshTestNode, _ b: MeshTestNode) async throws {
        await a.know(b)
        await b.know(a)
        a.service.connect(to: b.id)
        try await waitFor("\(a.id) and \(b.id) to connect") {
            a.service.isConnected(to: b.id) && b.service.isConnected(to: a.id)
        }
    }

    fileprivate func printLogs() {
        for node in nodes.withLock({ $0 }) {
            for line in node.logs.all { print("[\(node.id)] \(line)") }
        }
    }

    fileprivate func shutdown() async {
        for node in nodes.withLock({ $0 }) { await node.crash() }
    }
}

/// Runs `body` with a fresh cluster; on a thrown failure prints every node's log. Every node is stopped.
func withMesh(_ body: (MeshCluster) async throws -> Void) async throws {
    let cluster = MeshCluster()
    do {
        try await body(cluster)
    } catch {
        cluster.printLogs()
        await cluster.shutdown()
        throw error
    }
    await cluster.shutdown()
}


/// A test node's mesh ended without binding a port (and without an error saying why).
struct MeshDidNotBind: Error {
    var node: String
}
