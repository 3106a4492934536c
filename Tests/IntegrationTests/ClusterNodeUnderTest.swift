import CohortTestKit
import Foundation
import Synchronization

/// A real `cohortd` with the cluster enabled: gossip, mesh and admin all on its own loopback address,
/// a fresh data directory, and timers fast enough that a killed peer is declared dead in a few seconds.
/// Sendable: tasks of one test (contending clients, a watcher) may share a node; ``restart()`` swaps the
/// process under a lock.
final class ClusterNodeUnderTest: Sendable {
    let name: String
    let ip: String
    let dataDirectory: String
    let configPath: String
    private let current: Mutex<DaemonProcess>

    /// The daemon's current incarnation (replaced by ``restart()``).
    var process: DaemonProcess { current.withLock { $0 } }

    var base: String { "http://\(ip):7960" }

    /// - Parameters:
    ///   - raft: lines under `cluster.raft:` (two-space indented relative to `raft:`); by default the node
    ///     never founds a Raft group (`bootstrap_expect: 0`), as the gossip, mesh and process tests need none.
    ///   - failureDomain: `cluster.failure_domain`.
    ///   - membership: more lines under `cluster.membership:` (e.g. `rejoin_interval: 10m`).
    ///   - environment: extra environment for the daemon.
    ///   - launcher: a command that runs the daemon (e.g. `setpriv --bounding-set -net_admin --`); the
    ///     daemon's path and arguments follow it. Empty: the daemon is started directly.
    ///   - dataDirectory: the data directory to use (e.g. one `cohortd restore` prepared); a fresh one
    ///     inside the node's temporary directory by default.
    init(
        name: String, ip: String = uniqueLoopbackAddress(), join: [ClusterNodeUnderTest] = [], key: String? = nil,
        raft: [String] = ["bootstrap_expect: 0"], failureDomain: String? = nil, membership: [String] = [], extraYAML: String = "",
        environment: [String: String] = [:], launcher: [String] = [], dataDirectory: String? = nil
    ) throws {
        self.name = name
        self.ip = ip
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("cohort-cluster-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        self.dataDirectory = dataDirectory ?? directory.appendingPathComponent("data").path
        configPath = directory.appendingPathComponent("cohortd.yaml").path
        var yaml = """
            cluster:
              enabled: true
              name: \(name)\(failureDomain.map { "\n  failure_domain: \($0)" } ?? "")
              membership:
                bind_addr: \(ip)
                join_addrs: "\(join.map { "\($0.ip):7946" }.joined(separator: ","))"
                probe_interval: 400ms
                probe_timeout: 200ms
                gossip_interval: 100ms
                suspicion_mult: 3
                push_pull_interval: 5s
            """
        yaml += membership.map { "\n    \($0)" }.joined()
        if let key { yaml += "\n    secret_key: \(key)" }
        yaml += """

              internode:
                bind_addr: \(ip)
              raft:
                data_dir: \(self.dataDirectory)\(raft.map { "\n    \($0)" }.joined())
            admin:
              address: \(ip):7960
            \(extraYAML)
            """
        try yaml.write(toFile: configPath, atomically: false, encoding: .utf8)
        self.environment = environment
        self.launcher = launcher
        current = Mutex(try Self.launch(launcher, configPath: configPath, environment: environment))
    }

    private let environment: [String: String]
    private let launcher: [String]

    private static func launch(_ launcher: [String], configPath: String, environment: [String: String]) throws -> DaemonProcess {
        guard let program = launcher.first else {
            return try DaemonProcess(executable: "cohortd", arguments: ["--config", configPath], environment: environment)
        }
        let cohortd = DaemonProcess.productsDirectory.appendingPathComponent("cohortd").path
        return try DaemonProcess(path: program, arguments: launcher.dropFirst() + [cohortd, "--config", configPath], environment: environment)
    }

    /// Starts the daemon again on the same configuration and data directory (a new incarnation).
    func restart() throws {
        let next = try Self.launch(launcher, configPath: configPath, environment: environment)
        current.withLock { $0 = next }
    }

    func waitUntilServing(within: Duration = .seconds(30)) async throws {
        try await waitUntil(within: within, "cohortd \(name) to serve") {
            guard self.process.isRunning else { throw NodeExited(output: self.process.output) }
            return (try? await httpGet(self.base + "/livez")) != nil
        }
    }

    /// The names of the members this node sees alive.
    func aliveMembers() async -> Set<String> {
        guard let reply = try? await httpGet(base + "/v1/members"), reply.status == 200,
              let members = try? JSONSerialization.jsonObject(with: Data(reply.body.utf8)) as? [[String: Any]]
        else { return [] }
        return Set(members.filter { $0["state"] as? String == "alive" }.compactMap { $0["name"] as? String })
    }

    /// The value of a metric series (exact name with labels), or nil when absent.
    func metric(_ series: String) async -> Double? {
        guard let reply = try? await httpGet(base + "/metrics") else { return nil }
        for line in reply.body.split(separator: "\n") where line.hasPrefix(series + " ") {
            return Double(line.dropFirst(series.count + 1))
        }
        return nil
    }

    func post(_ path: String, _ body: String? = nil) async throws -> HTTPReply {
        try await httpRequest("POST", base + path, body: body)
    }

    func delete(_ path: String) async throws -> HTTPReply {
        try await httpRequest("DELETE", base + path)
    }

    /// Opens a session and returns its PID.
    func openSession(ttl: String = "60s") async throws -> String {
        let reply = try await post("/v1/sessions", #"{"ttl":"\#(ttl)"}"#)
        guard reply.status == 201,
              let object = try JSONSerialization.jsonObject(with: Data(reply.body.utf8)) as? [String: Any],
              let pid = object["pid"] as? String
        else { throw UnexpectedReply(reply: reply) }
        return pid
    }

    /// Takes the session's waiting events (waiting up to `wait` for the first).
    func events(_ pid: String, wait: String = "1s") async throws -> [[String: Any]] {
        let reply = try await httpGet(base + "/v1/sessions/\(pid)/events?wait=\(wait)")
        guard reply.status == 200, let events = try JSONSerialization.jsonObject(with: Data(reply.body.utf8)) as? [[String: Any]]
        else { throw UnexpectedReply(reply: reply) }
        return events
    }

    /// Collects the session's events until `done` holds for what was collected, or the deadline passes.
    func collectEvents(
        _ pid: String, within: Duration = .seconds(20), until done: @escaping ([[String: Any]]) -> Bool
    ) async throws -> [[String: Any]] {
        var collected: [[String: Any]] = []
        try await waitUntil(within: within, "events of \(pid) on \(name)") {
            collected += try await self.events(pid, wait: "500ms")
            return done(collected)
        }
        return collected
    }

    func stop() async {
        await process.stop()
        try? FileManager.default.removeItem(atPath: URL(fileURLWithPath: configPath).deletingLastPathComponent().path)
    }
}

/// An admin reply the test did not expect.
struct UnexpectedReply: Error, CustomStringConvertible {
    var reply: HTTPReply
    var description: String { "unexpected reply \(reply.status): \(reply.body)" }
}

/// Starts `count` nodes, the first a seed and each later one joining it, and waits until every node sees
/// every other alive.
func startCluster(_ count: Int, prefix: String = "n", key: String? = nil) async throws -> [ClusterNodeUnderTest] {
    var nodes: [ClusterNodeUnderTest] = []
    let seed = try ClusterNodeUnderTest(name: "\(prefix)1", key: key)
    nodes.append(seed)
    try await seed.waitUntilServing()
    for index in 2...max(2, count) where index <= count {
        nodes.append(try ClusterNodeUnderTest(name: "\(prefix)\(index)", join: [seed], key: key))
    }
    let names = Set(nodes.map(\.name))
    for node in nodes {
        try await node.waitUntilServing()
    }
    for node in nodes {
        try await waitUntil(within: .seconds(30), "\(node.name) to see every member alive") {
            guard node.process.isRunning else { throw NodeExited(output: node.process.output) }
            return await node.aliveMembers() == names
        }
    }
    return nodes
}

/// Runs `body` on a fresh cluster of `count` nodes, then stops every node; when `body` throws, the error
/// carries every node's output.
func withCluster(
    _ count: Int, prefix: String, key: String? = nil, _ body: ([ClusterNodeUnderTest]) async throws -> Void
) async throws {
    let nodes = try await startCluster(count, prefix: prefix, key: key)
    do {
        try await body(nodes)
    } catch {
        let logs = nodes.map { "--- \($0.name) ---\n\($0.process.output)" }.joined(separator: "\n")
        for node in nodes { await node.stop() }
        throw ClusterTestFailure(underlying: error, logs: logs)
    }
    for node in nodes { await node.stop() }
}

/// A cluster test failed; the nodes' logs are attached.
struct ClusterTestFailure: Error, CustomStringConvertible {
    var underlying: any Error
    var logs: String
    var description: String { "\(underlying)\n\(logs)" }
}
