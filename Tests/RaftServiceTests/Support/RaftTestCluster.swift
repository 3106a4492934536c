import CohortCore
import CohortTestKit
import RaftCore
import RaftPersistence
import Logging
import Mesh
import Prometheus
import Raft
import ServiceLifecycle
import Synchronization

// Three (or more) RaftService + MeshService pairs in this process over real loopback TCP: each node's
// log is kept and printed if the test throws, every node is stopped at the end, and every wait has a
// deadline.

/// Polls `condition` until it holds; generous, as tests share two cores with builds.
func waitFor(
    _ waitingFor: String, within: Duration = .seconds(30), fileID: String = #fileID, line: Int = #line,
    _ condition: () async throws -> Bool
) async throws {
    try await waitUntil(within: within, waitingFor, pollEvery: .milliseconds(10), fileID: fileID, line: line, condition)
}

/// One node: a mesh and a Raft service in one ServiceGroup (Raft is stopped first on a graceful stop).
final class RaftTestNode: Sendable {
    let id: NodeID
    let incarnation: Incarnation
    let host: String
    let port: Int
    let mesh: MeshService
    let raft: RaftService
    let storage: any RaftStorage
    let machine: ListStateMachine
    let registry: PrometheusCollectorRegistry
    private let running: RunningServices

    private init(
        id: NodeID, incarnation: Incarnation, host: String, port: Int, mesh: MeshService, raft: RaftService,
        storage: any RaftStorage, machine: ListStateMachine, registry: PrometheusCollectorRegistry, running: RunningServices
    ) {
        self.id = id
        self.incarnation = incarnation
        self.host = host
        self.port = port
        self.mesh = mesh
        self.raft = raft
        self.storage = storage
        self.machine = machine
        self.registry = registry
        self.running = running
    }

    static func start(
        _ name: String, incarnation: UInt64, host: String, storage: any RaftStorage, logs: LogBuffer,
        bootstrapBeforeRun voters: [NodeID]? = nil, machine: ListStateMachine = ListStateMachine(),
        untilRunning: Bool = true, configure: (inout RaftServiceSettings) -> Void
    ) async throws -> RaftTestNode {
        var meshSettings = MeshSettings(nodeID: NodeID(name), incarnation: Incarnation(incarnation))
        meshSettings.bindHost = host
        meshSettings.reconnect.initial = .milliseconds(10)
        meshSettings.reconnect.maximum = .milliseconds(200)
        let logger = Logger(label: "raft.\(name)") { _ in BufferLogHandler(buffer: logs, name: name) }
        let registry = PrometheusCollectorRegistry()
        let mesh = MeshService(settings: meshSettings, logger: logger, metrics: registry)
        // A 1–2 s election timeout: the suite runs beside a dozen real daemons in CI, and a shorter one let
        // a starved test process churn through elections for 30 s (seen twice on a loaded 2-core machine).
        var settings = RaftServiceSettings(nodeID: NodeID(name), raft: RaftNodeSettings(electionTicks: 20, heartbeatTicks: 1))
        settings.tickInterval = .milliseconds(50)
        configure(&settings)
        let raft = RaftService(
            settings: settings, storage: storage, mesh: mesh, stateMachine: machine, logger: logger, metrics: registry
        )
        if let voters { try await raft.bootstrap(voters: voters) }
        let running = RunningServices([mesh, raft], logger: logger)
        guard let bound = await mesh.waitUntilBound() else {
            // The mesh could not start; its run() error says why.
            try await running.result()
            throw MeshDidNotBind(node: name)
        }
        // Until its storage is loaded the service takes no call (`stopped`, "not running"): a test that
        // proposes or reads at once would fail on how fast the thread pool is (seen in parallel runs).
        if untilRunning {
            try await waitFor("\(name)'s Raft service to load its storage and run") { await raft.status.state != .none }
        }
        return RaftTestNode(
            id: NodeID(name), incarnation: Incarnation(incarnation), host: host, port: bound, mesh: mesh, raft: raft,
            storage: storage, machine: machine, registry: registry, running: running
        )
    }

    /// Storage calls made on an event-loop thread (only `TestRaftStorage` counts them).
    var callsOnEventLoop: Int { (storage as? TestRaftStorage)?.callsOnEventLoop ?? 0 }

    /// Graceful shutdown (a leader hands over first), waiting for both services to return.
    func stop() async throws {
        try await running.stop()
    }

    /// Cancels everything at once, as a crash would (storage survives: it is "durable").
    func crash() async {
        await running.crash()
    }

    func know(_ other: RaftTestNode) async {
        await mesh.setPeer(other.id, host: other.host, port: other.port, incarnation: other.incarnation)
    }

    var status: RaftStatus {
        get async { await raft.status }
    }

    /// The value of the sample of `name` whose labels include every pair of `labels`.
    func metric(_ name: String, _ labels: [String: String] = [:]) -> Double? {
        metricValue(in: registry.emitToString(), name, labels)
    }
}

/// The nodes of one test.
final class RaftTestCluster: Sendable {
    private let nodes = Mutex<[NodeID: RaftTestNode]>([:])
    private let stopped = Mutex<Set<NodeID>>([])
    let logs = LogBuffer()
    let configure: @Sendable (inout RaftServiceSettings) -> Void
    /// The storage of a node; called again on restart when ``reopensStorage`` (a fresh object over the
    /// same files, as a restarted process would have).
    let makeStorage: @Sendable (NodeID) -> any RaftStorage
    let reopensStorage: Bool

    init(
        configure: @escaping @Sendable (inout RaftServiceSettings) -> Void,
        makeStorage: @escaping @Sendable (NodeID) -> any RaftStorage = { _ in TestRaftStorage() },
        reopensStorage: Bool = false
    ) {
        self.configure = configure
        self.makeStorage = makeStorage
        self.reopensStorage = reopensStorage
    }

    /// Starts nodes `names`, introduces them to each other and bootstraps them all with the same voters
    /// (before their services run with `bootstrapFirst`, else once they run).
    func start(_ names: [String], bootstrapFirst: Bool = false) async throws -> [RaftTestNode] {
        var started: [RaftTestNode] = []
        for name in names {
            let node = try await RaftTestNode.start(
                name, incarnation: 1, host: uniqueLoopbackAddress(), storage: makeStorage(NodeID(name)), logs: logs,
                bootstrapBeforeRun: bootstrapFirst ? names.map { NodeID($0) } : nil, configure: configure
            )
            nodes.withLock { $0[node.id] = node }
            started.append(node)
        }
        for node in started {
            for other in started where other.id != node.id { await node.know(other) }
        }
        for node in started where !bootstrapFirst {
            do {
                try await node.raft.bootstrap(voters: started.map(\.id))
            } catch {
                // A founder that already won an election replicated the founding entry here first: fine.
                guard error == .alreadyBootstrapped else { throw error }
            }
        }
        return started
    }

    /// Starts node `name` with empty storage, not bootstrapped (it waits to be added), and introduces it
    /// to every running node; returns once its Raft service runs, or at once when not `untilRunning`.
    func join(_ name: String, untilRunning: Bool = true) async throws -> RaftTestNode {
        let node = try await RaftTestNode.start(
            name, incarnation: 1, host: uniqueLoopbackAddress(), storage: makeStorage(NodeID(name)), logs: logs,
            untilRunning: untilRunning, configure: configure
        )
        let others = running
        nodes.withLock { $0[node.id] = node }
        for other in others {
            await other.know(node)
            await node.know(other)
        }
        return node
    }

    /// Restarts `node` (which must be stopped) with its storage, a new incarnation and a new port, and
    /// tells every running node about it. `machine` is its (empty) state machine, prepared by the test if
    /// it likes (a gate set before any snapshot can arrive).
    func restart(_ node: RaftTestNode, machine: ListStateMachine = ListStateMachine()) async throws -> RaftTestNode {
        let fresh = try await RaftTestNode.start(
            node.id.rawValue, incarnation: node.incarnation.rawValue + 1, host: node.host,
            storage: reopensStorage ? makeStorage(node.id) : node.storage, logs: logs, machine: machine,
            configure: configure
        )
        let others = running.filter { $0.id != node.id }
        nodes.withLock { $0[node.id] = fresh }
        stopped.withLock { _ = $0.remove(node.id) }
        for other in others {
            await other.know(fresh)
            await fresh.know(other)
        }
        return fresh
    }

    var running: [RaftTestNode] {
        let down = stopped.withLock { $0 }
        return nodes.withLock { Array($0.values) }.filter { !down.contains($0.id) }.sorted { $0.id < $1.id }
    }

    func crash(_ node: RaftTestNode) async {
        stopped.withLock { _ = $0.insert(node.id) }
        await node.crash()
    }

    func stop(_ node: RaftTestNode) async throws {
        stopped.withLock { _ = $0.insert(node.id) }
        try await node.stop()
    }

    /// Waits until exactly one running node leads and every running node follows it in the same term.
    func waitForLeader(within: Duration = .seconds(30), fileID: String = #fileID, line: Int = #line) async throws -> RaftTestNode {
        var leader: RaftTestNode?
        try await waitFor("a leader all running nodes agree on", within: within, fileID: fileID, line: line) {
            var statuses: [(RaftTestNode, RaftStatus)] = []
            for node in running { statuses.append((node, await node.status)) }
            let leaders = statuses.filter { $0.1.state == .leader }
            guard leaders.count == 1, let (candidate, status) = leaders.first else { return false }
            guard statuses.allSatisfy({ $0.1.leader == candidate.id && $0.1.term == status.term }) else { return false }
            leader = candidate
            return true
        }
        guard let leader else { throw DeadlineExceeded(waitingFor: "leader", within: within, fileID: fileID, line: line) }
        return leader
    }

    fileprivate func printLogs() {
        for line in logs.all { print(line) }
    }

    fileprivate func shutdown() async {
        for node in nodes.withLock({ Array($0.values) }) { await node.crash() }
    }
}

/// Runs `body` with a fresh cluster; on a thrown failure prints every node's log. Every node is stopped.
func withRaftCluster(
    configure: @escaping @Sendable (inout RaftServiceSettings) -> Void = { _ in },
    makeStorage: @escaping @Sendable (NodeID) -> any RaftStorage = { _ in TestRaftStorage() },
    reopensStorage: Bool = false,
    _ body: (RaftTestCluster) async throws -> Void
) async throws {
    let cluster = RaftTestCluster(configure: configure, makeStorage: makeStorage, reopensStorage: reopensStorage)
    do {
        try await body(cluster)
    } catch {
        cluster.printLogs()
        await cluster.shutdown()
        throw error
    }
    await cluster.shutdown()
}

/// Proposes `command` on `node`, retrying only failures that guarantee nothing was written (no leader
/// yet, superseded entry, refused before sending); any "may have committed" failure is rethrown.
func proposeSafely(_ command: [UInt8], on node: RaftTestNode, within: Duration = .seconds(30)) async throws -> LogIndex {
    let deadline = ContinuousClock.now + within
    while true {
        do {
            return try await node.raft.propose(command, timeout: .seconds(10)).index
        } catch {
            switch error {
            case .noLeader, .notLeader, .transferInProgress, .dropped, .forwardFailed(_, _, maybeCommitted: false):
                guard ContinuousClock.now < deadline else { throw error }
                try await waitFor("\(node.id) to know a leader") { await node.status.leader != nil }
            default:
                throw error
            }
        }
    }
}

/// What `operation` returns, or nil when it has not returned within `limit` (waited for with `waitUntil`).
/// The operation is left running then: a call into an actor whose thread is blocked cannot be cancelled,
/// and the test must not hang on it.
func answer<T: Sendable>(within limit: Duration, _ operation: @escaping @Sendable () async -> T) async -> T? {
    let result = Mutex<T?>(nil)
    Task { let value = await operation(); result.withLock { $0 = value } }
    guard (try? await waitUntil(within: limit, "an answer", pollEvery: .milliseconds(5), { result.withLock { $0 != nil } })) != nil else {
        return nil
    }
    return result.withLock { $0 }
}

/// `"name-i"` as bytes.
func command(_ name: String, _ index: Int) -> [UInt8] { Array("\(name)-\(index)".utf8) }

/// A test node's mesh ended without binding a port (and without an error saying why).
struct MeshDidNotBind: Error {
    var node: String
}
