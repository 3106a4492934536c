import CohortTestKit
import Foundation
import Synchronization
import Testing

/// The cluster the coordination suite shares: 3 voters (`co1`–`co3`) and 2 Raft clients (`co4`, `co5`,
/// `cluster.raft.role: client`), each declaring the store `config` and snapshotting every 50 entries (so a
/// restart restores a snapshot and a watch from before it is refused as compacted).
///
/// Started once for the suite by ``SharedCoordinationCluster``; a test that kills a node calls ``heal()``
/// (every test starts with it), which restarts what is down and waits until the group is whole again.
final class CoordinationCluster: Sendable {
    let nodes: [ClusterNodeUnderTest]

    @TaskLocal static var current: CoordinationCluster?

    static let storesYAML = """
        stores:
          - name: config
            kind: kv.raft
        """

    var voters: [ClusterNodeUnderTest] { Array(nodes.prefix(3)) }
    var clients: [ClusterNodeUnderTest] { Array(nodes.suffix(2)) }
    var voterNames: Set<String> { Set(voters.map(\.name)) }

    private init(nodes: [ClusterNodeUnderTest]) {
        self.nodes = nodes
    }

    static func start() async throws -> CoordinationCluster {
        let nodes = try await startRaftCluster(
            5, prefix: "co", founders: 3,
            raftLines: { ["snapshot_threshold: 50"] + ($0 > 3 ? ["role: client"] : []) },
            extraYAML: { _ in storesYAML }
        )
        let cluster = CoordinationCluster(nodes: nodes)
        do {
            try await cluster.heal()
        } catch {
            let logs = cluster.logs()
            await cluster.stop()
            throw ClusterTestFailure(underlying: error, logs: logs)
        }
        return cluster
    }

    /// The suite's cluster, whole: what a test starts with.
    static func ready() async throws -> CoordinationCluster {
        let cluster = try #require(current, "the suite's SharedCoordinationCluster trait starts the cluster")
        try await cluster.withLogs { try await cluster.heal() }
        return cluster
    }

    /// Restarts every node that is down; waits until the three voters agree on a leader, every node's mesh
    /// knows every other, and every node (clients through a member) answers a linearizable read.
    func heal() async throws {
        for node in nodes where !node.process.isRunning { try node.restart() }
        for node in nodes { try await node.waitUntilServing() }
        let voterNames = voterNames
        try await waitForAgreement(nodes, within: .seconds(90), "the three voters to agree") { Set($0.voters) == voterNames }
        for node in nodes {
            try await waitUntil(within: .seconds(30), "\(node.name)'s mesh peers") {
                await node.metric("internode_peers") == Double(self.nodes.count - 1)
            }
            try await waitUntil(within: .seconds(30), "\(node.name) to answer a linearizable read", pollEvery: .milliseconds(100)) {
                guard node.process.isRunning else { throw NodeExited(output: node.process.output) }
                return (try? await httpGet(node.base + "/v1/locks/heal-probe?consistency=linearizable"))?.status == 404
            }
        }
    }

    /// The current leader (waiting until the voters agree on one).
    func leader() async throws -> ClusterNodeUnderTest {
        let state = try await waitForAgreement(nodes.filter { $0.process.isRunning }, "a leader")
        return try #require(nodes.first { $0.name == state.leader })
    }

    /// A voter that is not the leader.
    /// A voter that is not the leader, and not the one the clients forward through: a client hands a write
    /// to the alive servers in node-ID order (`Ranking`), so when the leader is not the first of them, that
    /// first follower relays every client write — a test that kills "a follower" must not pick it, or a
    /// client's request in flight dies with it (`maybe_committed`). The follower last by name is never it.
    func follower() async throws -> ClusterNodeUnderTest {
        let leader = try await leader()
        return try #require(voters.filter { $0 !== leader }.max { $0.name < $1.name })
    }

    /// Runs `body`; when it throws, the error carries the tail of every node's output.
    func withLogs<T>(_ body: () async throws -> T) async throws -> T {
        do {
            return try await body()
        } catch {
            throw ClusterTestFailure(underlying: error, logs: logs())
        }
    }

    func logs() -> String {
        nodes.map { "--- \($0.name) ---\n\($0.process.output.suffix(6000))" }.joined(separator: "\n")
    }

    func stop() async {
        for node in nodes { await node.stop() }
    }
}

/// Starts the ``CoordinationCluster`` once for the suite it is applied to and stops it after the suite's
/// last test.
struct SharedCoordinationCluster: SuiteTrait, TestScoping {
    func provideScope(
        for test: Test, testCase: Test.Case?, performing function: @Sendable () async throws -> Void
    ) async throws {
        let cluster = try await CoordinationCluster.start()
        do {
            try await CoordinationCluster.$current.withValue(cluster) { try await function() }
        } catch {
            await cluster.stop()
            throw error
        }
        await cluster.stop()
    }
}

// MARK: Replies

/// A lock grant: `POST /v1/locks/{name}` → 200.
struct GrantReply: Decodable, Sendable {
    var name: String
    var holder: String
    var token: UInt64
}

/// `GET /v1/locks/{name}`.
struct LockInfoReply: Decodable, Sendable {
    var name: String
    var holder: String?
    var token: UInt64
    var waiters: [String]
    var delayedUntil: UInt64?

    enum CodingKeys: String, CodingKey {
        case name, holder, token, waiters
        case delayedUntil = "delayed_until"
    }
}

/// A key's entry: `GET /v1/kv/{key}`, a conflict's `current`, a transaction's `get`.
struct EntryReply: Decodable, Sendable, Equatable {
    var key: String
    var value: String?
    var version: UInt64
    var created: UInt64
    var expiresAt: UInt64?

    enum CodingKeys: String, CodingKey {
        case key, value, version, created
        case expiresAt = "expires_at"
    }
}

/// An error body `{"error", "code", ...details}`.
struct ErrorReply: Decodable, Sendable {
    var error: String
    var code: String
    var holder: String?
    var owner: String?
    var oldest: UInt64?
    var current: EntryReply?
}

/// `POST /v1/sessions` → 201 `{"pid", "ttl_ms"}`.
struct SessionReply: Decodable, Sendable {
    var pid: String
}

/// `POST /v1/names` → 201, `GET /v1/names/{name}`.
struct NameReply: Decodable, Sendable {
    var name: String
    var pid: String
    var node: String
    var scope: String
    var token: UInt64?
}

/// `POST /v1/txn`.
struct TransactionReply: Decodable, Sendable {
    struct Result: Decodable, Sendable {
        var op: String
        var key: String
        var version: UInt64?
        var existed: Bool?
        var entry: EntryReply?
    }

    var succeeded: Bool
    var version: UInt64
    var results: [Result]
}

/// Decodes a reply's body as `type`, or throws ``UnexpectedReply`` (which shows the status and body).
func decodeReply<T: Decodable>(_ type: T.Type, _ reply: HTTPReply) throws -> T {
    do {
        return try JSONDecoder().decode(type, from: Data(reply.body.utf8))
    } catch {
        throw UnexpectedReply(reply: reply)
    }
}

/// A JSON body from string fields.
func jsonBody(_ fields: [String: String]) -> String {
    let encoder = JSONEncoder()
    encoder.outputFormatting = .sortedKeys
    return String(decoding: (try? encoder.encode(fields)) ?? Data(), as: UTF8.self)
}

/// Percent-encodes a PID (or any text) for a query parameter.
func queryValue(_ text: String) -> String {
    text.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? text
}

// MARK: Calls

extension ClusterNodeUnderTest {
    /// `POST /v1/locks/{name}`; the HTTP timeout covers the wait.
    func acquire(_ lock: String, holder: String, wait: String? = nil, lockDelay: String? = nil, timeout: TimeInterval = 45) async throws -> HTTPReply {
        var fields = ["holder": holder]
        fields["wait"] = wait
        fields["lock_delay"] = lockDelay
        return try await httpRequest("POST", base + "/v1/locks/\(lock)", body: jsonBody(fields), timeout: timeout)
    }

    /// `POST /v1/locks/{name}` that must grant the lock.
    func acquireGranted(_ lock: String, holder: String, wait: String? = nil, lockDelay: String? = nil) async throws -> GrantReply {
        let reply = try await acquire(lock, holder: holder, wait: wait, lockDelay: lockDelay)
        guard reply.status == 200 else { throw UnexpectedReply(reply: reply) }
        return try decodeReply(GrantReply.self, reply)
    }

    /// `DELETE /v1/locks/{name}?holder=`.
    func release(_ lock: String, holder: String) async throws -> HTTPReply {
        try await httpRequest("DELETE", base + "/v1/locks/\(lock)?holder=\(queryValue(holder))", timeout: 15)
    }

    /// `GET /v1/locks/{name}` (stale: this node's replica), or nil when not held or unreadable.
    func lockInfo(_ lock: String) async -> LockInfoReply? {
        guard let reply = try? await httpGet(base + "/v1/locks/\(lock)"), reply.status == 200 else { return nil }
        return try? decodeReply(LockInfoReply.self, reply)
    }

    /// `POST /v1/names`.
    func register(_ name: String, pid: String) async throws -> HTTPReply {
        try await httpRequest("POST", base + "/v1/names", body: jsonBody(["name": name, "pid": pid]), timeout: 15)
    }

    /// `GET /v1/names/{name}`.
    func lookup(_ name: String, consistency: String = "stale") async throws -> HTTPReply {
        try await httpGet(base + "/v1/names/\(name)?consistency=\(consistency)")
    }

    /// `GET /v1/kv/{key}?store=&consistency=` as an entry, nil when absent (404); throws on anything else.
    func entry(_ key: String, store: String = "default", consistency: String = "linearizable") async throws -> EntryReply? {
        let reply = try await httpGet(base + "/v1/kv/\(key)?store=\(store)&consistency=\(consistency)")
        if reply.status == 404 { return nil }
        guard reply.status == 200 else { throw UnexpectedReply(reply: reply) }
        return try decodeReply(EntryReply.self, reply)
    }

    /// `PUT /v1/kv/{key}?store=` with `{"value", "ttl"?}` and a query condition.
    func write(_ key: String, _ value: String, store: String = "default", ttl: String? = nil, condition: String = "") async throws -> HTTPReply {
        var fields = ["value": value]
        fields["ttl"] = ttl
        return try await httpRequest("PUT", base + "/v1/kv/\(key)?store=\(store)\(condition)", body: jsonBody(fields), timeout: 15)
    }

    /// `POST /v1/txn?store=` with a JSON body.
    func transaction(_ body: String, store: String = "default") async throws -> TransactionReply {
        let reply = try await httpRequest("POST", base + "/v1/txn?store=\(store)", body: body, timeout: 15)
        guard reply.status == 200 else { throw UnexpectedReply(reply: reply) }
        return try decodeReply(TransactionReply.self, reply)
    }

    /// Writes `key` = `value` exactly once (`if_absent`), retrying while no leader accepts it (a failover):
    /// an attempt whose outcome was unknown and that did commit shows up as a conflict whose current
    /// value is this one. Returns the version the write got.
    func putOnce(_ key: String, _ value: String, within: Duration = .seconds(30)) async throws -> UInt64 {
        var version: UInt64?
        try await waitUntil(within: within, "\(name) to commit \(key) once", pollEvery: .milliseconds(200)) {
            guard self.process.isRunning else { throw NodeExited(output: self.process.output) }
            guard let reply = try? await self.write(key, value, condition: "&if_absent=true") else { return false }
            switch reply.status {
            case 200:
                version = try decodeReply([String: UInt64].self, reply)["version"]
                return true
            case 409:
                let current = try decodeReply(ErrorReply.self, reply).current
                guard let current, current.value == value else { throw UnexpectedReply(reply: reply) }
                version = current.version
                return true
            default:
                return false
            }
        }
        return try #require(version)
    }
}

/// Server-Sent Events read by `curl -sN` (killed when the test lets go of it).
struct EventStream {
    struct Event: Equatable {
        var kind: String
        var data: String
    }

    let curl: DaemonProcess

    init(_ url: String) throws {
        curl = try DaemonProcess(path: "/usr/bin/curl", arguments: ["-sN", url])
    }

    /// The complete events so far (an event ends with a blank line).
    var events: [Event] {
        var events: [Event] = []
        for block in curl.output.components(separatedBy: "\n\n").dropLast() {
            var kind = "message", data = ""
            for line in block.split(separator: "\n") {
                if line.hasPrefix("event: ") { kind = String(line.dropFirst(7)) }
                if line.hasPrefix("data: ") { data = String(line.dropFirst(6)) }
            }
            if !data.isEmpty { events.append(Event(kind: kind, data: data)) }
        }
        return events
    }

    func waitUntilOpen() async throws {
        try await waitUntil(within: .seconds(10), "the event stream to open") {
            guard curl.isRunning || curl.output.contains(": watching") else { throw UnexpectedStreamEnd(output: curl.output) }
            return curl.output.contains(": watching")
        }
    }

    func close() async {
        await curl.stop()
    }
}

struct UnexpectedStreamEnd: Error, CustomStringConvertible {
    var output: String
    var description: String { "the event stream ended: \(output)" }
}

/// A line in the test output with a figure the suite measures.
func report(_ line: String) {
    print("[coordination] \(line)")
}
