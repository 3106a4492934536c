import CohortTestKit
import CohortCore
import Foundation
import Gossip
import Logging
import NIOCore
import NIOPosix
import Prometheus
import ServiceLifecycle
import Synchronization

// Support for the GossipService tests: real sockets on distinct 127.x addresses, conditions awaited with a
// deadline (never a sleep), and each node's log printed when a test fails.

/// Polls `condition` until it holds, or throws `DeadlineExceeded` after `within` (CohortTestKit's
/// `waitUntil`, with this suite's default).
///
/// The default is generous on purpose: the services run on their own event loops, but this polling runs on
/// the cooperative pool, which CPU-bound tests running in parallel can hold for tens of seconds.
func waitFor(
    _ waitingFor: String, within: Duration = .seconds(60), pollEvery: Duration = .milliseconds(10),
    fileID: String = #fileID, line: Int = #line,
    _ condition: () async throws -> Bool
) async throws {
    try await waitUntil(within: within, waitingFor, pollEvery: pollEvery, fileID: fileID, line: line, condition)
}

/// SWIM settings fast enough for tests: probes every 200 ms, gossip every 50 ms, a dead node after
/// about 1–2 s at N = 3.
let fastSWIM = SWIMSettings(
    probeInterval: .milliseconds(200), probeTimeout: .milliseconds(100), indirectChecks: 1,
    suspicionMultiplier: 4, retransmitMultiplier: 3, gossipInterval: .milliseconds(50),
    gossipToTheDeadTime: .seconds(10), pushPullInterval: .seconds(2), deadNodeReclaimTime: .seconds(1)
)

/// One running GossipService inside its own ServiceGroup.
final class TestNode: Sendable {
    let name: String
    let host: String
    let port: Int
    let service: GossipService
    let registry: PrometheusCollectorRegistry
    let logs: LogBuffer
    private let running: RunningServices

    private init(
        name: String, host: String, port: Int, service: GossipService, registry: PrometheusCollectorRegistry,
        logs: LogBuffer, running: RunningServices
    ) {
        self.name = name
        self.host = host
        self.port = port
        self.service = service
        self.registry = registry
        self.logs = logs
        self.running = running
    }

    /// Where others join this node.
    var joinAddress: JoinAddress { JoinAddress(host: host, port: port) }

    /// Starts a node on `host` (a fresh loopback address by default) and waits until it has bound.
    /// `beforeRun` sees the service before it runs (to subscribe to its events from the first).
    static func start(
        _ name: String, host: String = uniqueLoopbackAddress(), port: Int = 0, joining seeds: [JoinAddress] = [],
        configure: (inout GossipServiceSettings) -> Void = { _ in }, beforeRun: (GossipService) -> Void = { _ in }
    ) async throws -> TestNode {
        var settings = GossipServiceSettings(
            name: NodeID(name), bindHost: host, bindPort: port, joinAddresses: seeds, swim: fastSWIM,
            rejoinInterval: .seconds(30), joinBackoffInitial: .milliseconds(100), joinBackoffMaximum: .milliseconds(400)
        )
        configure(&settings)
        let logs = LogBuffer()
        let logger = Logger(label: "gossip.\(name)") { _ in BufferLogHandler(buffer: logs) }
        let registry = PrometheusCollectorRegistry()
        let service = GossipService(settings: settings, logger: logger, metrics: registry)
        beforeRun(service)
        let running = RunningServices([service], logger: logger)
        var bound: Int?
        do {
            try await waitFor("\(name) to bind") {
                bound = await service.boundPort
                return bound != nil
            }
        } catch {
            await running.crash()
            for line in logs.all { print("[\(name)] \(line)") }
            throw error
        }
        return TestNode(
            name: name, host: host, port: bound ?? 0, service: service, registry: registry,
            logs: logs, running: running
        )
    }

    /// Graceful shutdown: the node leaves, then stops.
    func stop() async throws {
        try await running.stop()
    }

    /// A crash: the sockets close at once, without a leave.
    func crash() async {
        await running.crash()
    }

    /// The node's view: name → state.
    func view() async -> [String: MemberStateKind] {
        Dictionary(uniqueKeysWithValues: await service.members.map { ($0.name.rawValue, $0.state) })
    }

    /// The value of the sample of `name` whose labels include every pair of `labels`.
    func metric(_ name: String, _ labels: [String: String] = [:]) -> Double? {
        metricValue(in: registry.emitToString(), name, labels)
    }
}

/// The nodes of one test; prints their logs when the test throws, and stops whatever is still running.
final class TestCluster: Sendable {
    private let nodes = Mutex<[TestNode]>([])

    /// Starts a node and remembers it.
    func start(
        _ name: String, host: String = uniqueLoopbackAddress(), port: Int = 0, joining seeds: [JoinAddress] = [],
        configure: (inout GossipServiceSettings) -> Void = { _ in }, beforeRun: (GossipService) -> Void = { _ in }
    ) async throws -> TestNode {
        let node = try await TestNode.start(name, host: host, port: port, joining: seeds, configure: configure, beforeRun: beforeRun)
        nodes.withLock { $0.append(node) }
        return node
    }

    /// Starts the named nodes, every one after the first joining the first, and waits until all see all.
    func startConverged(_ names: String...) async throws -> [TestNode] {
        let seed = try await start(names[0])
        var nodes = [seed]
        for name in names.dropFirst() { nodes.append(try await start(name, joining: [seed.joinAddress])) }
        try await waitForConvergence(nodes, alive: Set(names))
        return nodes
    }

    /// Waits until every node in `nodes` sees exactly `expected` as alive.
    func waitForConvergence(_ nodes: [TestNode], alive expected: Set<String>, within: Duration = .seconds(60)) async throws {
        try await waitFor("\(nodes.map(\.name)) to see \(expected.sorted()) alive", within: within) {
            for node in nodes {
                let alive = Set(await node.view().filter { $0.value == .alive }.keys)
                if alive != expected { return false }
            }
            return true
        }
    }

    fileprivate func printLogs() {
        for node in nodes.withLock({ $0 }) {
            for line in node.logs.all { print("[\(node.name)] \(line)") }
        }
    }

    fileprivate func shutdown() async {
        for node in nodes.withLock({ $0 }) { await node.crash() }
    }
}

/// Runs `body` with a fresh cluster; on failure prints every node's log. Every node is stopped after.
func withCluster(_ body: (TestCluster) async throws -> Void) async throws {
    let cluster = TestCluster()
    do {
        try await body(cluster)
    } catch {
        cluster.printLogs()
        await cluster.shutdown()
        throw error
    }
    await cluster.shutdown()
}

